# SPDX-License-Identifier: MIT
"""The mempool watcher from Python: native Bitcoin peers on an io_uring loop.

A Watcher owns the seen-sets and the event ring; each Peer is one outbound
TCP connection to a Bitcoin node. The loop (orchestrator.hotline.Loop) drives
them; events come out with `events()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.btc import MAGIC, Strategy
from orchestrator.hotline import Loop

PEER_STATES = {
    lib.ST_PEER_CLOSED: "closed",
    lib.ST_PEER_CONNECTING: "connecting",
    lib.ST_PEER_HANDSHAKE: "handshake",
    lib.ST_PEER_OPEN: "open",
    lib.ST_PEER_BACKOFF: "backoff",
}
EVENT_KINDS = {lib.ST_EVENT_ACTION: "action", lib.ST_EVENT_PEER_UP: "peer_up",
               lib.ST_EVENT_PEER_DOWN: "peer_down"}


@dataclass(frozen=True)
class Event:
    kind: str
    peer: int
    action: int = 0
    exchange: int = -1
    amount: int = 0
    total: int = 0
    txid: str = ""
    error: str = ""
    announcers: int = 0  # peers that had announced the transaction when it fired


def _counters(struct: Any) -> dict[str, int]:
    return {name: int(getattr(struct, name)) for name in dir(struct)}


class Watcher:
    def __init__(self, loop: Loop, strategy: Strategy, network: str = "mainnet",
                 seen_slots: int = 1 << 16) -> None:
        if network not in MAGIC:
            raise ValueError(f"unknown network {network!r}; choose from {', '.join(MAGIC)}")
        self.loop = loop
        self._strategy = strategy
        self._received = ffi.new("uint8_t[][32]", 3 * seen_slots)
        self._acted = ffi.new("uint8_t[][32]", 3 * seen_slots)
        self._requests = ffi.new("st_mempool_request[]", seen_slots)
        self._ptr = ffi.new("st_mempool *")
        seed = int.from_bytes(os.urandom(8), "little")
        native.ensure(lib.st_mempool_init(self._ptr, MAGIC[network], strategy._ptr,
                                          self._received, self._acted, self._requests,
                                          seen_slots, seed),
                      "mempool watcher")
        self.peers: list[Peer] = []
        loop._keep.append(self)

    def add_peer(self, ip: str, port: int, backoff: tuple[float, float] = (0.2, 30.0),
                 max_message: int = lib.ST_BTC_MAX_MESSAGE) -> Peer:
        peer = Peer(self, len(self.peers), ip, port, backoff, max_message)
        self.peers.append(peer)
        return peer

    def set_strategy(self, strategy: Strategy) -> None:
        """Swap the strategy atomically; the old one stays alive until replaced."""
        lib.st_mempool_set_strategy(self._ptr, strategy._ptr)
        self._strategy = strategy

    def events(self) -> list[Event]:
        out, ev = [], ffi.new("st_mempool_event *")
        while lib.st_mempool_next_event(self._ptr, ev):
            out.append(Event(
                kind=EVENT_KINDS.get(ev.kind, str(ev.kind)), peer=ev.peer, action=ev.action,
                exchange=ev.exchange, amount=ev.amount, total=ev.total,
                txid=bytes(ev.txid)[::-1].hex() if ev.kind == lib.ST_EVENT_ACTION else "",
                error=native.error_name(ev.error) if ev.error else "",
                announcers=ev.announcers,
            ))
        return out

    @property
    def stats(self) -> dict[str, int]:
        return _counters(lib.st_mempool_get_stats(self._ptr))


class Peer:
    def __init__(self, watcher: Watcher, peer_id: int, ip: str, port: int,
                 backoff: tuple[float, float], max_message: int) -> None:
        self._buf = ffi.new("uint8_t[]", max_message)
        self._ptr = ffi.new("st_peer *")
        native.ensure(lib.st_peer_init(self._ptr, watcher.loop._ptr, watcher._ptr, peer_id,
                                       ip.encode(), port, self._buf, max_message),
                      f"peer {ip}:{port}")
        lib.st_peer_set_backoff(self._ptr, int(backoff[0] * 1000), int(backoff[1] * 1000))
        self.address = f"{ip}:{port}"

    def open(self) -> None:
        native.ensure(lib.st_peer_open(self._ptr), f"connect to peer {self.address}")

    @property
    def state(self) -> str:
        return PEER_STATES[lib.st_peer_state(self._ptr)]

    @property
    def last_error(self) -> str:
        code = lib.st_peer_last_error(self._ptr)
        return str(native.error_for(code)) if code else ""

    @property
    def stats(self) -> dict[str, int]:
        return _counters(lib.st_peer_get_stats(self._ptr))
