# SPDX-License-Identifier: MIT
"""The mempool watcher from Python: native Bitcoin peers on an io_uring loop.

A Watcher owns the seen-sets and the event ring; each Peer is one outbound
TCP connection to a Bitcoin node. The loop (orchestrator.hotline.Loop) drives
them; events come out with `events()`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
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
    lib.ST_PEER_PARKED: "parked",
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
    # CLOCK_MONOTONIC ns of an action: the kernel received it, its completion
    # was reaped, parsed, decided, orders submitted (0 without an engine)
    times_ns: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)


@dataclass(frozen=True)
class PeerPolicy:
    """What a peer may get away with (seconds; 0 turns a timer off). Each drop
    adds its reason's penalty to the peer's score; at park_score the peer is
    parked for park_time, doubled per park up to park_max."""

    backoff: tuple[float, float] = (0.2, 30.0)
    handshake_timeout: float = 10.0
    good_after: float = 60.0       # open this long (or a tx delivered): backoff starts over
    ping_interval: float = 30.0
    ping_timeout: float = 60.0
    idle_timeout: float = 600.0    # no inv of transactions, no tx, this long: dropped
    park_score: int = 100
    park_time: float = 600.0
    park_max: float = 86400.0
    penalty_malformed: int = 50     # bad bytes, handshake out of order
    penalty_unresponsive: int = 20  # handshake or ping timeout, does not read
    penalty_idle: int = 10
    penalty_network: int = 0        # refused, reset, closed

    def native(self) -> Any:
        ms = {name: round(getattr(self, name) * 1000) for name in (
            "handshake_timeout", "good_after", "ping_interval", "ping_timeout",
            "idle_timeout", "park_time", "park_max")}
        for name, value in (*ms.items(), ("backoff", min(self.backoff))):
            if value < 0:
                raise ValueError(f"peer policy: {name} must not be negative")
        if not 0 < self.backoff[0] <= self.backoff[1]:
            raise ValueError(f"peer policy: backoff {self.backoff} is not (min > 0, max >= min)")
        if ms["handshake_timeout"] <= 0 or (ms["ping_interval"] and ms["ping_timeout"] <= 0):
            raise ValueError("peer policy: handshake_timeout and ping_timeout must be positive")
        return ffi.new("st_peer_policy *", {
            "backoff_base_ms": round(self.backoff[0] * 1000),
            "backoff_max_ms": round(self.backoff[1] * 1000),
            "handshake_timeout_ms": ms["handshake_timeout"], "good_after_ms": ms["good_after"],
            "ping_interval_ms": ms["ping_interval"], "ping_timeout_ms": ms["ping_timeout"],
            "idle_timeout_ms": ms["idle_timeout"], "park_score": self.park_score,
            "park_ms": ms["park_time"], "park_max_ms": ms["park_max"],
            "penalty_malformed": self.penalty_malformed,
            "penalty_unresponsive": self.penalty_unresponsive,
            "penalty_idle": self.penalty_idle, "penalty_network": self.penalty_network,
        })


def _counters(struct: Any) -> dict[str, int]:
    return {name: int(getattr(struct, name)) for name in dir(struct)}


class Watcher:
    def __init__(self, loop: Loop, strategy: Strategy, network: str = "mainnet",
                 seen_slots: int = 1 << 16, request_slots: int = 1 << 18) -> None:
        """request_slots: requests in flight at once, with room to spare (an inv
        flood has tens of thousands in flight while its notfounds queue)."""
        if network not in MAGIC:
            raise ValueError(f"unknown network {network!r}; choose from {', '.join(MAGIC)}")
        self.loop = loop
        self._strategy = strategy
        self._received = ffi.new("uint8_t[][32]", 3 * seen_slots)
        self._acted = ffi.new("uint8_t[][32]", 3 * seen_slots)
        self._requests = ffi.new("st_mempool_request[]", request_slots)
        self.cdata = ffi.new("st_mempool *")
        seed = int.from_bytes(os.urandom(8), "little")
        native.ensure(lib.st_mempool_init(self.cdata, MAGIC[network], strategy.cdata,
                                          self._received, self._acted, self._requests,
                                          request_slots, seen_slots, seed),
                      "mempool watcher")
        self.peers: list[Peer] = []
        loop.keep(self)

    def add_peer(self, ip: str, port: int, backoff: tuple[float, float] | None = None,
                 max_message: int = lib.ST_BTC_MAX_MESSAGE,
                 policy: PeerPolicy | None = None) -> Peer:
        """A peer; `backoff`, when given, overrides the policy's."""
        policy = policy or PeerPolicy()
        if backoff is not None:
            policy = dataclasses.replace(policy, backoff=backoff)
        peer = Peer(self, len(self.peers), ip, port, policy, max_message)
        self.peers.append(peer)
        return peer

    def set_strategy(self, strategy: Strategy) -> None:
        """Swap the strategy atomically; the old one stays alive until replaced."""
        lib.st_mempool_set_strategy(self.cdata, strategy.cdata)
        self._strategy = strategy

    def events(self) -> list[Event]:
        out, ev = [], ffi.new("st_mempool_event *")
        while lib.st_mempool_next_event(self.cdata, ev):
            out.append(Event(
                kind=EVENT_KINDS.get(ev.kind, str(ev.kind)), peer=ev.peer, action=ev.action,
                exchange=ev.exchange, amount=ev.amount, total=ev.total,
                txid=bytes(ev.txid)[::-1].hex() if ev.kind == lib.ST_EVENT_ACTION else "",
                error=native.error_name(ev.error) if ev.error else "",
                announcers=ev.announcers,
                times_ns=(ev.t_recv_ns, ev.t_reaped_ns, ev.t_parsed_ns, ev.t_decided_ns,
                          ev.t_sent_ns),
            ))
        return out

    @property
    def stats(self) -> dict[str, int]:
        return _counters(lib.st_mempool_get_stats(self.cdata))


class Peer:
    def __init__(self, watcher: Watcher, peer_id: int, ip: str, port: int,
                 policy: PeerPolicy, max_message: int) -> None:
        self._buf = ffi.new("uint8_t[]", max_message)
        self.cdata = ffi.new("st_peer *")
        native.ensure(lib.st_peer_init(self.cdata, watcher.loop.cdata, watcher.cdata, peer_id,
                                       ip.encode(), port, self._buf, max_message),
                      f"peer {ip}:{port}")
        native.ensure(lib.st_peer_set_policy(self.cdata, policy.native()), "peer policy")
        self.policy = policy
        self.address = f"{ip}:{port}"

    def open(self) -> None:
        native.ensure(lib.st_peer_open(self.cdata), f"connect to peer {self.address}")

    @property
    def state(self) -> str:
        return PEER_STATES[lib.st_peer_state(self.cdata)]

    @property
    def last_error(self) -> str:
        code = lib.st_peer_last_error(self.cdata)
        return str(native.error_for(code)) if code else ""

    @property
    def stats(self) -> dict[str, int]:
        return _counters(lib.st_peer_get_stats(self.cdata))

    def status(self) -> dict[str, Any]:
        """For `stratum status`: its state and, when parked, why and until when."""
        stats = self.stats
        out: dict[str, Any] = {"address": self.address, "state": self.state,
                               "last_error": self.last_error, "score": stats["score"],
                               "parks": stats["parks"], "connects": stats["connects"]}
        if self.state == "parked":
            left = max(0.0, (stats["parked_until_ns"] - time.monotonic_ns()) / 1e9)
            until = datetime.fromtimestamp(time.time() + left, UTC)
            out["parked_until"] = until.isoformat(timespec="seconds")
        return out
