# SPDX-License-Identifier: MIT
"""Packets of one interface with the kernel's nanosecond timestamps, into a
pcap file (nanosecond variant, magic a1b23c4d; scapy's rdpcap reads it).

An AF_PACKET socket bound to the interface sees both directions: a received
packet is stamped when the interface hands it to the stack, a sent one when
the stack hands it to the interface (where tcpdump sees them too). The
timestamps are the kernel's (SO_TIMESTAMPNS), so how slowly this Python loop
runs does not move them; a receive buffer of 64 MiB keeps it from dropping,
and the kernel's drop count is printed at the end.

    python -m orchestrator.lab.capture --interface IF --out FILE.pcap
        [--ready-file PATH] [--snaplen N]

Run it in the namespace that holds IF. Stops on SIGTERM/SIGINT, then prints
"packets=N drops=M".
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
from pathlib import Path
from types import FrameType

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
PACKET_STATISTICS = 6
SOL_PACKET = 263
PCAP_NS_MAGIC = 0xA1B23C4D
LINKTYPE_ETHERNET = 1


def pcap_header(snaplen: int) -> bytes:
    return struct.pack("<IHHiIII", PCAP_NS_MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET)


def pcap_record(ts_ns: int, data: bytes, wire_len: int) -> bytes:
    sec, nsec = divmod(ts_ns, 1_000_000_000)
    return struct.pack("<IIII", sec, nsec, len(data), wire_len) + data


def run(interface: str, out: Path, ready: Path | None, snaplen: int) -> tuple[int, int]:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, 0))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    sock.settimeout(0.2)                        # to notice a stop
    count = 0
    with out.open("wb") as f:
        f.write(pcap_header(snaplen))
        if ready:
            ready.write_text("capturing\n")
        while not stopping:
            try:
                data, ancillary, _, _ = sock.recvmsg(snaplen, 64)
            except (TimeoutError, InterruptedError):
                continue
            ts_ns = None
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    ts_ns = sec * 1_000_000_000 + nsec
            if ts_ns is None:
                raise RuntimeError("the kernel gave no timestamp (SO_TIMESTAMPNS)")
            f.write(pcap_record(ts_ns, data, len(data)))
            count += 1
    stats = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    sock.close()
    return count, struct.unpack("II", stats)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interface", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--snaplen", type=int, default=262144,
                        help="bytes kept per packet (a GSO packet on a veth can be 64 KiB)")
    args = parser.parse_args(argv)
    try:
        packets, drops = run(args.interface, args.out, args.ready_file, args.snaplen)
    except OSError as e:
        print(f"capture: {args.interface}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"packets={packets} drops={drops}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
