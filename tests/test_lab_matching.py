# SPDX-License-Identifier: MIT
"""Trigger/order matching on crafted captures: the trigger is the segment that
completes the deposit's tx (not the one starting it), retransmissions add
nothing, a gap in the capture is an error, and each trigger takes the first
order-sized venue packet before the next trigger."""

from __future__ import annotations

import itertools

import bitcoin
import pytest
from bitcoin.core import CBlock, CTxOut
from bitcoin.messages import msg_ping, msg_tx
from bitcoin.wallet import CBitcoinAddress

from orchestrator.sim import mainnet_block
from orchestrator.sim.btc_peer import made_up_tx

pytest.importorskip("scapy", reason="the lab extra (scapy)")
from orchestrator.lab.matching import Packet, match, stream, trigger_times

PEER, HOST, VENUE = ("198.18.0.1", 8333), ("198.18.0.2", 40000), ("198.18.0.1", 9000)
ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def segments(data: bytes, cuts: list[int], t0: int, seq: int = 1000) -> list[Packet]:
    """data cut at cuts, one packet each, stamped t0, t0+1000, ..."""
    edges = [0, *cuts, len(data)]
    return [Packet(t0 + 1000 * i, PEER, HOST, seq + a, data[a:b])
            for i, (a, b) in enumerate(itertools.pairwise(edges))]


def test_the_trigger_is_the_packet_completing_the_deposit() -> None:
    bitcoin.SelectParams("mainnet")
    block = CBlock.deserialize(mainnet_block().read_bytes())
    script = CBitcoinAddress(ADDRESS).to_scriptPubKey()
    output = bytes(CTxOut(10**9, script).serialize())
    deposit, other = msg_tx(), msg_tx()
    deposit.tx = made_up_tx("t", [(script, 10**9)])
    other.tx = block.vtx[5]
    first = other.to_bytes() + msg_ping(nonce=1).to_bytes()
    data = first + deposit.to_bytes() + other.to_bytes()
    # the deposit starts in packet 1, runs through packet 2, ends in packet 3
    cuts = [len(first) - 5, len(first) + 30, len(first) + 60]
    packets = segments(data, cuts, 1_000_000)
    retransmitted = Packet(1_001_500, PEER, HOST, packets[1].seq, packets[1].payload)
    packets.insert(2, retransmitted)
    assert stream(packets, PEER)[0] == data
    assert trigger_times(packets, PEER, output) == [1_000_000 + 3000]
    with pytest.raises(ValueError, match="lost 35 bytes"):   # packet 1 and its copy missed
        stream([p for i, p in enumerate(packets) if i not in (1, 2)], PEER)


def test_each_trigger_takes_the_first_order_before_the_next() -> None:
    venue = [Packet(ts, HOST, VENUE, 0, b"x" * size) for ts, size in [
        (50, 500),      # before any trigger: nobody's order
        (150, 40),      # too small to be an order (a ping)
        (170, 500),     # trigger 100's order
        (180, 500),     # its second leg: not counted again
        (400, 500),     # after trigger 350: its order; trigger 300 got none before 350
        (600, 500),     # trigger 500's
    ]]
    matched = match([100, 300, 350, 500], venue, VENUE, min_order_bytes=100)
    assert matched.latencies_ns == [70, 50, 100] and matched.missed == 1
