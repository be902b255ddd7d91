# SPDX-License-Identifier: MIT
"""`stratum bench wire --json` end to end at its smallest (two rounds of one
trigger per competitor: the engine in each loop mode, the floor, the Python
bot), and the CDF plot of its report. The figures are noise
at this size and are not looked at; the shape of the report is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.bench.wire import COMPETITORS
from orchestrator.lab.topology import NS_PREFIX
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0,
                                 reason="network namespaces need root (CAP_NET_ADMIN)")]
pytest.importorskip("scapy", reason="the lab extra (scapy)")


def test_bench_wire_reports_every_competitor_and_plots(tmp_path: Path) -> None:
    subprocess.run(["make", "-s", "-C", str(ROOT / "native"), "tools", "SANITIZE=0"],
                   check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    bench = subprocess.Popen([sys.executable, "-m", "orchestrator", "bench", "wire", "--json",
                              "--samples", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT, env=env)
    try:
        stdout, stderr = bench.communicate(timeout=600)
    finally:
        bench.kill()
    assert bench.returncode == 0, stderr[-2000:]
    report = json.loads(stdout)
    assert report["suite"] == "wire"
    assert [r["name"] for r in report["results"]] == list(COMPETITORS)
    for row in report["results"]:
        assert row["unit"] == "us" and row["n"] == len(row["samples_us"]) == 2, row["name"]
        assert report["missed"][row["name"]] == 0
        assert 0 < row["min"] <= row["p50"] <= row["p90"] <= row["p99"]
        if "/engine/" in row["name"]:     # the engine's own clock, beside the wire
            inside = row["internal_trigger_to_send"]
            assert inside["n"] == 2 and 0 < inside["p50"] <= inside["p99"]
            mode = row["name"].rsplit("/", 1)[1]
            assert report["internal_to_wire_p50"][mode] > 0
            assert set(row["internal_stages_p50"]) >= {"receive", "parse", "order"}
    saved = tmp_path / "wire.json"
    saved.write_text(stdout)
    png = tmp_path / "wire.png"
    subprocess.run([sys.executable, "-m", "orchestrator.lab.plot", str(saved), str(png)],
                   check=True, timeout=120, env=env)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ours = f"{NS_PREFIX}{bench.pid}-"      # other runs' labs may exist meanwhile
    assert not any(line.startswith(ours) for line in subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines())
