# SPDX-License-Identifier: MIT
"""The lab end to end at packet level, with the floor as the system under test:
a kernel-timestamped capture on the host side of the veth, read back with
scapy, every trigger matched to exactly one record towards the venue, and no
venue packet before the first trigger. Orders of events only; no timing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.lab.topology import Topology, topology

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="network namespaces need root (CAP_NET_ADMIN)")
pytest.importorskip("scapy", reason="the lab extra (scapy)")

from bitcoin.core import CTxOut  # noqa: E402
from bitcoin.wallet import CBitcoinAddress  # noqa: E402

from orchestrator.lab.matching import match, read_capture, trigger_times  # noqa: E402
from orchestrator.sim import mainnet_block  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
SATS = 50 * 100_000_000
REPEATS = 5
RECORD = 400
FLOOR = ROOT / "native/build/release/tools/wire_floor"


def wait_file(path: Path, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return path.read_text().strip()


def start(topo: Topology, ns: str, argv: list[str], tmp: Path, name: str
          ) -> tuple[subprocess.Popen[bytes], str]:
    ready, log = tmp / f"{name}.ready", tmp / f"{name}.log"
    proc = topo.spawn(ns, [*argv, "--ready-file", str(ready)], log)
    return proc, wait_file(ready, proc, log)


def test_each_trigger_has_one_record_and_none_comes_first(tmp_path: Path) -> None:
    subprocess.run(["make", "-s", "-C", str(ROOT / "native"), "tools", "SANITIZE=0"],
                   check=True, capture_output=True, timeout=300)
    output = bytes(CTxOut(SATS, CBitcoinAddress(ADDRESS).to_scriptPubKey()).serialize())
    pcap = tmp_path / "host.pcap"
    with topology() as topo:
        py = sys.executable
        start(topo, topo.market, [py, "-m", "orchestrator.sim.btc_peer", "--block",
                                  str(mainnet_block()), "--host", topo.market_addr, "--port",
                                  "8333", "--deposit", f"{ADDRESS}:{SATS}",
                                  "--deposit-every", f"30:{REPEATS}"], tmp_path, "peer")
        start(topo, topo.market, [py, "-m", "orchestrator.lab.sink", "--host", topo.market_addr,
                                  "--port", "9000"], tmp_path, "sink")
        capture, _ = start(topo, topo.host, [py, "-m", "orchestrator.lab.capture",
                                             "--interface", topo.host_if, "--out", str(pcap)],
                           tmp_path, "capture")
        out = topo.run(topo.host, [str(FLOOR), "--peer", f"{topo.market_addr}:8333",
                                   "--venue", f"{topo.market_addr}:9000", "--marker",
                                   output.hex(), "--record-size", str(RECORD),
                                   "--count", str(1 + REPEATS)], timeout=120)
        assert out.split() == [f"triggers={1 + REPEATS}", "txs=3320"]
        time.sleep(0.2)   # let the capture read what is still queued (not a timing assertion)
        capture.terminate()
        capture.wait(timeout=10)
    packets = read_capture(pcap)
    triggers = trigger_times(packets, (topo.market_addr, 8333), output)
    assert len(triggers) == 1 + REPEATS
    venue = (topo.market_addr, 9000)
    records = sorted(p.ts_ns for p in packets if p.dst == venue and p.payload)
    assert len(records) == 1 + REPEATS
    assert records[0] > triggers[0]                      # nothing before the first trigger
    matched = match(triggers, packets, venue, min_order_bytes=RECORD)
    assert matched.missed == 0 and len(matched.latencies_ns) == 1 + REPEATS
    assert all(latency > 0 for latency in matched.latencies_ns)
    # one record per trigger, each after its own trigger and before the next
    for i, t in enumerate(triggers):
        assert sum(t < r < (triggers[i + 1] if i + 1 < len(triggers) else 2**63)
                   for r in records) == 1
