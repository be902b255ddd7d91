# SPDX-License-Identifier: MIT
"""Benchmark suites behind `stratum bench SUITE --json`.

Each suite returns one report in the format of docs/ARCHITECTURE.md §7;
competitors are measured in the same run, alternating round by round so a
noisy neighbour hurts them alike. Benchmarks measure; tests never assert on
time.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator import native

Report = dict[str, Any]


def cpu_description() -> str:
    """e.g. "AMD EPYC (sha_ni, aes, pclmulqdq)": the model and what matters to us."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    wanted = [f for f in native.cpu_features() if f in ("sha_ni", "aes", "pclmulqdq")]
    return f"{model} ({', '.join(wanted) or 'no sha_ni/aes/pclmulqdq'})"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..1)."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def result(name: str, samples: Sequence[float], calls_per_sample: int) -> dict[str, Any]:
    """One result row: p50/p99 over samples, n = calls timed."""
    ordered = sorted(samples)
    return {
        "name": name,
        "unit": "ns",
        "p50": round(percentile(ordered, 0.50), 1),
        "p99": round(percentile(ordered, 0.99), 1),
        "n": len(ordered) * calls_per_sample,
        "samples": len(ordered),
    }


def python_timer(job: Callable[[], object], batch: int) -> Callable[[int], list[float]]:
    """A measure for `alternate`: n samples, each the mean ns of `batch` calls of job."""
    def measure(n: int) -> list[float]:
        out = []
        clock = time.perf_counter_ns
        for _ in range(n):
            start = clock()
            for _ in range(batch):
                job()
            out.append((clock() - start) / batch)
        return out

    return measure


def alternate(
    competitors: dict[str, Callable[[int], list[float]]], samples: int, rounds: int = 10
) -> dict[str, list[float]]:
    """Run each competitor for samples/rounds samples per round, in turn."""
    per_round = max(1, samples // rounds)
    out: dict[str, list[float]] = {name: [] for name in competitors}
    for _ in range(rounds):
        for name, measure in competitors.items():
            out[name] += measure(per_round)
    return out


SUITES = ("sign", "wsecho", "mempool", "order", "wire")


def suite(name: str) -> Callable[..., Report]:
    """The `run` of one suite, imported only when asked for: some suites need
    developer-only packages (picows) that an installed wheel does not carry."""
    module = importlib.import_module(f"orchestrator.bench.{name}")
    run: Callable[..., Report] = module.run
    return run
