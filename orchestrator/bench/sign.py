# SPDX-License-Identifier: MIT
"""`stratum bench sign`: HMAC-SHA256 of a real order payload.

The payload and secret are the signing example of the demo venue's
documentation, as its Python reference client holds it
(`VenueAdapter.reference.signing_example`; also the first case of
tests/data/signing.json, a test keeps them equal). Results:
hmac_sha256/shani, hmac_sha256/portable (native, key state precomputed, hex
out) and hmac_sha256/python (hmac with a reused key object, hexdigest).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from orchestrator import native
from orchestrator.bench import Report, alternate, cpu_description, python_timer, result
from orchestrator.signing import HmacSha256, Sha256Impl
from orchestrator.venues.registry import ADAPTERS, DEMO_VENUE


def _example() -> tuple[bytes, bytes, str]:
    reference = ADAPTERS[DEMO_VENUE].reference
    assert reference is not None, "the demo venue has a Python reference client"
    return reference.signing_example


SECRET, PAYLOAD, SIGNATURE = _example()


def _native_measure(impl: Sha256Impl, batch: int) -> Any:
    key = HmacSha256(SECRET, impl)
    if key.hexdigest(PAYLOAD) != SIGNATURE:
        raise RuntimeError(f"hmac_sha256/{impl.label} gives a wrong signature; not timing it")
    return lambda n: native.bench_hmac_sha256_hex(key.cdata, PAYLOAD, batch, n)


def _python_measure(batch: int) -> Any:
    base = hmac.new(SECRET, digestmod=hashlib.sha256)

    def sign() -> str:
        h = base.copy()
        h.update(PAYLOAD)
        return h.hexdigest()

    if sign() != SIGNATURE:
        raise RuntimeError("Python's hmac gives a wrong signature")
    return python_timer(sign, batch)


def run(samples: int = 2000, batch: int = 32) -> Report:
    competitors = {}
    skipped = []
    for impl in (Sha256Impl.SHANI, Sha256Impl.PORTABLE):
        if impl.available:
            competitors[f"hmac_sha256/{impl.label}"] = _native_measure(impl, batch)
        else:
            skipped.append({"name": f"hmac_sha256/{impl.label}", "reason": "CPU lacks it"})
    competitors["hmac_sha256/python"] = _python_measure(batch)

    measured = alternate(competitors, samples)
    results = [result(name, values, batch) for name, values in measured.items()]
    p50 = {r["name"]: r["p50"] for r in results}
    fastest = min(p50, key=lambda name: p50[name])
    # "python/shani": how many times the fastest one's p50 the other one takes.
    short = {name: name.rsplit("/", 1)[1] for name in p50}
    ratios = {
        f"{short[name]}/{short[fastest]}": round(p50[name] / p50[fastest], 2)
        for name in p50
        if name != fastest
    }
    report: Report = {
        "suite": "sign",
        "cpu": cpu_description(),
        "payload_bytes": len(PAYLOAD),
        "batch": batch,
        "results": results,
        "ratios_p50": ratios,
    }
    if skipped:
        report["skipped"] = skipped
    return report
