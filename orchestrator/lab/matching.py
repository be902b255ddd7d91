# SPDX-License-Identifier: MIT
"""From a capture on the host side of the veth to wire-to-wire latencies.

How a trigger is matched to its order:

1. The peer's TCP stream towards the host (source address and port given) is
   put back together by sequence number; each captured segment keeps its
   kernel timestamp and the stream offsets it carried (a retransmission
   carries nothing new and is skipped).
2. The stream is cut into Bitcoin messages with the scapy layer
   (`orchestrator.lab.btcp2p`); a `tx` message whose transaction has an output
   equal to the deposit's (value and script) is a trigger. Its time is that of
   the first segment carrying its last byte: the packet that completes it.
3. Its order is the first packet towards the venue (destination address and
   port given) that carries at least `min_order_bytes` of TCP payload and was
   stamped after the trigger and before the next trigger (smaller packets,
   such as keepalive pings and TCP ACKs, are not orders). A trigger with no
   such packet is counted as missed.

The latency is order time - trigger time, both stamped by the same kernel on
the same interface.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader

from orchestrator.lab.btcp2p import BTCTx, split_messages


@dataclass(frozen=True)
class Packet:
    ts_ns: int
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    payload: bytes


@dataclass
class Matched:
    latencies_ns: list[int]
    triggers: int
    missed: int


def read_capture(path: Path) -> list[Packet]:
    """The TCP/IPv4 packets of a pcap (nanosecond timestamps required)."""
    out = []
    reader = RawPcapReader(str(path))
    try:
        if not reader.nano:
            raise ValueError(f"{path}: microsecond pcap; the lab needs nanosecond timestamps")
        for data, meta in reader:
            frame = Ether(data)
            if IP not in frame or TCP not in frame:
                continue
            ip, tcp = frame[IP], frame[TCP]
            payload = bytes(tcp.payload)
            # the IP length excludes the Ethernet padding of short frames
            payload = payload[:max(0, ip.len - ip.ihl * 4 - tcp.dataofs * 4)]
            out.append(Packet(meta.sec * 1_000_000_000 + meta.usec, (ip.src, tcp.sport),
                              (ip.dst, tcp.dport), tcp.seq, payload))
    finally:
        reader.close()
    return out


def stream(packets: list[Packet], src: tuple[str, int]) -> tuple[bytes, list[tuple[int, int]]]:
    """The bytes `src` sent, in order, and (stream offset of each segment's end,
    its timestamp) for every segment that brought new bytes, in arrival order."""
    flow = [p for p in packets if p.src == src and p.payload]
    if not flow:
        return b"", []
    base = flow[0].seq
    data = bytearray()
    ends: list[tuple[int, int]] = []
    for p in flow:
        start = (p.seq - base) % (1 << 32)
        end = start + len(p.payload)
        if end <= len(data):
            continue                            # a retransmission: nothing new
        if start > len(data):
            raise ValueError(f"capture lost {start - len(data)} bytes of the stream from {src}")
        data += p.payload[len(data) - start:]
        ends.append((end, p.ts_ns))
    return bytes(data), ends


def trigger_times(packets: list[Packet], peer: tuple[str, int], deposit_output: bytes
                  ) -> list[int]:
    """The timestamp of the packet completing each tx that pays deposit_output
    (the serialized output: value and script)."""
    data, ends = stream(packets, peer)
    messages, _ = split_messages(data)
    out = []
    offset = 0
    end_offsets = [e for e, _ in ends]
    for msg in messages:
        size = len(bytes(msg))
        offset += size
        if msg.cmd != b"tx" or BTCTx not in msg:
            continue
        outputs = msg[BTCTx].txout
        if any(bytes(o) == deposit_output for o in outputs):
            k = bisect.bisect_left(end_offsets, offset)   # first segment reaching the end
            out.append(ends[k][1])
    return out


def match(triggers: list[int], packets: list[Packet], venue: tuple[str, int],
          min_order_bytes: int) -> Matched:
    """Each trigger's latency to the first order-sized packet towards venue."""
    orders = sorted(p.ts_ns for p in packets
                    if p.dst == venue and len(p.payload) >= min_order_bytes)
    latencies, missed = [], 0
    for i, t in enumerate(triggers):
        k = bisect.bisect_right(orders, t)
        limit = triggers[i + 1] if i + 1 < len(triggers) else None
        if k < len(orders) and (limit is None or orders[k] < limit):
            latencies.append(orders[k] - t)
        else:
            missed += 1
    return Matched(latencies, len(triggers), missed)
