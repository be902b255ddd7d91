# SPDX-License-Identifier: MIT
"""Runs the standalone C tests in native/tests (exit 0 pass, 1 fail, 77 skip)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator._native import ffi
from orchestrator.venues.registry import ADAPTERS
from tests.conftest import ROOT, SANITIZE
from tools.fuzz_schemas import write_schemas

NATIVE = ROOT / "native"
FLAVOR = "sanitize" if SANITIZE else "release"
C_TESTS = sorted(p.stem for p in (NATIVE / "tests").glob("test_*.c"))


def _clean_env() -> dict[str, str]:
    # The sanitizer runtime preloaded into pytest has no business in make or gcc.
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


@pytest.fixture(scope="session")
def built_c_tests() -> None:
    subprocess.run(
        ["make", "-s", "-C", str(NATIVE), "tests", f"SANITIZE={int(SANITIZE)}"],
        check=True,
        env=_clean_env(),
    )


@pytest.mark.parametrize("name", C_TESTS)
def test_native(name: str, built_c_tests: None) -> None:
    binary = NATIVE / "build" / FLAVOR / "tests" / name
    proc = subprocess.run(
        [str(binary)], capture_output=True, text=True, timeout=300, env=_clean_env()
    )
    if proc.returncode == 77:
        pytest.skip(f"{name}: {proc.stdout.strip() or 'skipped by the test itself'}")
    assert proc.returncode == 0, f"{name} exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


# Every venue adapter's example rows (its order templates as the bench sends them).
ORDER_ROWS = sorted((name, row) for name, adapter in ADAPTERS.items()
                    for row in adapter.example_templates())


@pytest.mark.parametrize(("venue", "row"), ORDER_ROWS)
def test_order_alloc_per_venue(venue: str, row: str, built_c_tests: None,
                               tmp_path: Path) -> None:
    """test_order_alloc over each venue's own template and answer schema: zero
    allocations per order for every venue, not only the built-in order."""
    adapter = ADAPTERS[venue]
    template, _key = adapter.example_templates()[row]
    prefix = tmp_path / row
    prefix.with_suffix(".message").write_bytes(template.message)
    if template.payload is not None:
        prefix.with_suffix(".payload").write_bytes(template.payload)
    prefix.with_suffix(".schema").write_bytes(
        bytes(ffi.buffer(adapter.profile.schema.native())))
    prefix.with_suffix(".decimals").write_text(
        f"{template.price_decimals} {template.quantity_decimals}")
    binary = NATIVE / "build" / FLAVOR / "tests" / "test_order_alloc"
    proc = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300,
                          env={**_clean_env(), "ST_ORDER_ROW": str(prefix)})
    if proc.returncode == 77:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, f"{row}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "during 200 orders" in proc.stdout and proc.stdout.rstrip().endswith(": 0")


FUZZERS = sorted(p.stem for p in (NATIVE / "fuzz").glob("fuzz_*.c"))
# The answer fuzzer runs once per venue, reading answers through its schema.
FUZZ_RUNS = [(name, venue) for name in FUZZERS
             for venue in (sorted(ADAPTERS) if name == "fuzz_answer" else [""])]


@pytest.mark.parametrize(("name", "venue"), FUZZ_RUNS)
def test_fuzzer_smoke(name: str, venue: str, tmp_path: Path) -> None:
    """Each libFuzzer target builds and survives a bounded run from its seeds
    (`make fuzz` runs them for longer)."""
    env = _clean_env()
    if venue:
        [schema] = [p for p in write_schemas(tmp_path / "schemas") if p.stem == venue]
        env["ST_FUZZ_SCHEMA"] = str(schema)
    subprocess.run(["make", "-s", "-C", str(NATIVE), f"build/fuzz/{name}"], check=True, env=env)
    seeds = NATIVE / "fuzz" / "corpus" / name.removeprefix("fuzz_")
    assert any(seeds.iterdir()), f"{name} has no seed corpus"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    proc = subprocess.run(
        # A per-input allocation limit catches a parser that blows up; the process
        # limit is generous (once, in a full run, ASan's RSS was 2 GB at start-up).
        [str(NATIVE / "build" / "fuzz" / name), "-runs=30000", "-seed=1",
         "-malloc_limit_mb=256", "-rss_limit_mb=8192",
         f"-artifact_prefix={NATIVE / 'build' / 'fuzz'}/{name}-",
         str(corpus), str(seeds)],  # new inputs go to tmp_path, never to the seeds
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
