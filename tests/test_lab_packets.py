# SPDX-License-Identifier: MIT
"""The engine seen on the wire (the lab's topology, a kernel-timestamped capture
on the host side of the veth; orders of events only, no timing):

- once the venue is ready, no order-sized packet towards it before the first
  trigger;
- each trigger's two orders leave as exactly two whole TLS application-data
  records, and no packet from the venue comes between the first and the last
  segment carrying them (with Nagle on, the second would wait for an ACK);
- after `stratum kill`, deposits still arrive and no order leaves;
- a malformed tx crafted with the scapy layer, sent by one of two peers when
  the engine asks for it, drops that peer only: the other's deposits still
  become orders;
- each venue connection, the book stream included, pings at the configured
  interval (`ping_interval`):
  counted as small TLS records in a window of a few intervals, loosely."""

from __future__ import annotations

import os
import struct
import subprocess
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


def _stop(sock: Path, daemon: subprocess.Popen[bytes], capture: subprocess.Popen[bytes]
          ) -> None:
    """The daemon stopped, then the capture (its pcap is whole once it exits)."""
    request(sock, "stop")
    daemon.wait(timeout=30)
    capture.terminate()
    capture.wait(timeout=10)


def test_orders_on_the_wire_and_none_after_kill(tmp_path: Path) -> None:
    with topology() as topo:
        work = tmp_path
        lab = Lab(topo, work)
        pcap = work / "engine.pcap"
        capture = lab.start_capture(pcap, cpu=None)
        daemon, sock = lab.start_engine("busy", legs=LEGS)
        ready_at = time.time_ns()             # logon, upgrade, clock sync: done
        lab.start_peer(BEFORE_KILL - 1 + AFTER_KILL)   # + the block's deposit
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
        _stop(sock, daemon, capture)
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


def test_keepalive_pings(tmp_path: Path) -> None:
    interval, window_s = 1.0, 5.0
    with topology() as topo:
        lab = Lab(topo, tmp_path)
        pcap = tmp_path / "engine.pcap"
        capture = lab.start_capture(pcap, cpu=None)
        daemon, sock = lab.start_engine("interrupt", ping_interval=interval)
        start = time.time_ns()                # both connections open and ready
        time.sleep(window_s)                  # no peer: no trigger, nothing else to say
        end = time.time_ns()
        _stop(sock, daemon, capture)
    per_conn: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for p in read_capture(pcap):
        if p.dst == (topo.market_addr, VENUE_PORT) and p.payload and start < p.ts_ns < end:
            per_conn.setdefault(p.src, []).extend(tls_records(p.payload))
    # The desk's primary and standby, and its book stream (on the engine too,
    # pinging at the venue's interval).
    pinging = {src: recs for src, recs in per_conn.items() if len(recs) > 1}
    assert len(pinging) == 3, per_conn
    expected = window_s / interval
    for src, records in pinging.items():
        assert all(kind == 0x17 and length < MIN_ORDER_BYTES for kind, length in records)
        assert expected / 2 <= len(records) <= expected * 2, (src, records)


def test_tls_records_reject_a_cut_record() -> None:
    whole = b"\x17\x03\x03\x00\x02ab" + b"\x17\x03\x03\x00\x01c"
    assert tls_records(whole) == [(0x17, 2), (0x17, 1)]
    with pytest.raises(AssertionError, match="cut"):
        tls_records(whole[:-1])


# A peer in "market" that answers the handshake, announces one transaction and,
# when asked for it, sends a tx whose output count runs past its end (built with
# the scapy layer: length and checksum are right, the transaction is not). It
# prints when the engine asked and when the engine dropped it.
EVIL_PEER = r"""
import socket, sys, time
from orchestrator.lab.btcp2p import (BTCGetData, BTCInv, BTCInvVector, BTCMessage, BTCTx,
    BTCTxIn, BTCTxOut, BTCVerack, BTCVersion, sha256d, split_messages)
host, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = socket.create_server((host, port))
open(ready, "w").write("listening\n")
conn, _ = srv.accept()
tx = bytes(BTCTx(txin=[BTCTxIn(script_sig=b"\x51")], txout_count=5,
                 txout=[BTCTxOut(value=1, script_pubkey=b"\x51")]))
announce = BTCMessage() / BTCInv(inventory=[BTCInvVector(type=1, hash=sha256d(tx))])
rest, said_hello = b"", False
try:
    while True:
        data = conn.recv(65536)
        if not data:
            break
        msgs, rest = split_messages(rest + data)
        for m in msgs:
            if m.cmd == b"version" and not said_hello:
                conn.sendall(bytes(BTCMessage() / BTCVersion()) + bytes(BTCMessage() / BTCVerack()))
                said_hello = True
            elif m.cmd == b"verack":
                conn.sendall(bytes(announce))
            elif m.cmd == b"getdata":
                print("asked", flush=True)
                conn.sendall(bytes(BTCMessage(cmd=b"tx") / tx))
except ConnectionResetError:
    pass
print("dropped", time.time_ns(), flush=True)
"""


def test_a_malformed_tx_drops_that_peer_only(tmp_path: Path) -> None:
    evil_port, deposits = PEER_PORT + 1, 4
    with topology() as topo:
        lab = Lab(topo, tmp_path)
        pcap = tmp_path / "engine.pcap"
        capture = lab.start_capture(pcap, cpu=None)
        ready, log = tmp_path / "evil.ready", tmp_path / "evil.log"
        evil = topo.spawn(topo.market, [sys.executable, "-c", EVIL_PEER, topo.market_addr,
                                        str(evil_port), str(ready)], log)
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert evil.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        daemon, sock = lab.start_engine("busy", peer_ports=(PEER_PORT, evil_port))
        lab.start_peer(deposits)
        assert evil.wait(timeout=60) == 0, log.read_text()
        said = log.read_text().split()
        assert said[:2] == ["asked", "dropped"], said
        dropped_at = int(said[2])
        while request(sock, "status")["triggers"] < deposits + 1:
            assert daemon.poll() is None and time.monotonic() < deadline, "deposits stopped"
            time.sleep(0.05)
        time.sleep(0.5)
        _stop(sock, daemon, capture)
    packets = read_capture(pcap)
    market = topo.market_addr
    triggers = trigger_times(packets, (market, PEER_PORT), deposit_output())
    after = [t for t in triggers if t > dropped_at]
    assert len(triggers) == deposits + 1 and after, (len(triggers), len(after))
    orders = [p.ts_ns for p in packets if p.dst == (market, VENUE_PORT)
              and len(p.payload) >= MIN_ORDER_BYTES]
    for t in after:      # the good peer's deposits still trade after the drop
        assert any(o > t for o in orders)
    assert sum(o > after[0] for o in orders) >= len(after)
