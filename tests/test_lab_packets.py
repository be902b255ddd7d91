# SPDX-License-Identifier: MIT
"""The engine seen on the wire (the lab's topology, a kernel-timestamped capture
on the host side of the veth; orders of events only, no timing):

- once the venue is ready, no order-sized packet towards it before the first
  trigger;
- each trigger's two orders leave as exactly two whole TLS application-data
  records, and no packet from the venue comes between the first and the last
  segment carrying them (with Nagle on, the second would wait for an ACK);
- after `stratum kill`, deposits still arrive and no order leaves."""

from __future__ import annotations

import os
import struct
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0,
                                 reason="network namespaces need root (CAP_NET_ADMIN)")]
pytest.importorskip("scapy", reason="the lab extra (scapy)")

from orchestrator.bench.wire import (  # noqa: E402
    MIN_ORDER_BYTES,
    PEER_PORT,
    VENUE_PORT,
    Lab,
    deposit_output,
)
from orchestrator.control import request  # noqa: E402
from orchestrator.lab.matching import read_capture, trigger_times  # noqa: E402
from orchestrator.lab.topology import topology  # noqa: E402

LEGS = 2
BEFORE_KILL, AFTER_KILL = 3, 3


def tls_records(data: bytes) -> list[tuple[int, int]]:
    """(content type, length) of each TLS record; AssertionError if one is cut."""
    out, at = [], 0
    while at < len(data):
        assert at + 5 <= len(data), "a TLS record header cut across segments"
        kind, _, length = struct.unpack_from(">BHH", data, at)
        assert at + 5 + length <= len(data), "a TLS record cut across segments"
        out.append((kind, length))
        at += 5 + length
    return out


def test_orders_on_the_wire_and_none_after_kill(tmp_path: Path) -> None:
    with topology() as topo:
        work = tmp_path
        lab = Lab(topo, work)
        pcap = work / "engine.pcap"
        capture = lab.start("capture", topo.host, [
            sys.executable, "-m", "orchestrator.lab.capture", "--interface", topo.host_if,
            "--out", str(pcap)], cpu=None)
        daemon, sock = lab.start_engine("busy", legs=LEGS)
        ready_at = time.time_ns()             # logon, upgrade, clock sync: done
        lab.start_market_round(BEFORE_KILL - 1 + AFTER_KILL)   # + the block's deposit
        deadline = time.monotonic() + 120
        while request(sock, "status")["triggers"] < BEFORE_KILL:
            assert daemon.poll() is None and time.monotonic() < deadline, "no triggers"
            time.sleep(0.02)
        assert request(sock, "kill")["killed"] is True
        killed_at = time.time_ns()            # the capture's clock (CLOCK_REALTIME)
        while request(sock, "status")["triggers"] < BEFORE_KILL + AFTER_KILL:
            assert daemon.poll() is None and time.monotonic() < deadline, "deposits stopped"
            time.sleep(0.05)
        time.sleep(0.5)                       # anything the engine would still send
        request(sock, "stop")
        daemon.wait(timeout=30)
        capture.terminate()
        capture.wait(timeout=10)
    packets = read_capture(pcap)
    market = topo.market_addr
    triggers = trigger_times(packets, (market, PEER_PORT), deposit_output())
    assert len(triggers) == BEFORE_KILL + AFTER_KILL
    to_venue = [p for p in packets if p.dst == (market, VENUE_PORT)
                and len(p.payload) >= MIN_ORDER_BYTES]
    assert not [p for p in to_venue if ready_at < p.ts_ns < triggers[0]]   # none before
    fired = [t for t in triggers if t < killed_at]
    assert len(fired) >= BEFORE_KILL
    for i, t in enumerate(fired):
        end = triggers[i + 1] if i + 1 < len(triggers) else killed_at
        orders = [p for p in to_venue if t < p.ts_ns < end]
        assert orders, f"trigger {i}: no order"
        conns = {p.src for p in orders}
        assert len(conns) == 1, f"trigger {i}: orders on {len(conns)} connections"
        records = tls_records(b"".join(p.payload for p in orders))
        assert [kind for kind, _ in records] == [0x17] * LEGS, f"trigger {i}: {records}"
        first, last = orders[0].ts_ns, orders[-1].ts_ns
        answers = [p for p in packets if p.src == (market, VENUE_PORT)
                   and p.dst == orders[0].src and first < p.ts_ns < last]
        assert not answers, f"trigger {i}: the venue answered between its segments"
    late = [p for p in to_venue if p.ts_ns > killed_at]
    assert not late, f"{len(late)} order-sized packets after the kill"


def test_tls_records_reject_a_cut_record() -> None:
    whole = b"\x17\x03\x03\x00\x02ab" + b"\x17\x03\x03\x00\x01c"
    assert tls_records(whole) == [(0x17, 2), (0x17, 1)]
    with pytest.raises(AssertionError, match="cut"):
        tls_records(whole[:-1])
