# SPDX-License-Identifier: MIT
"""The engine from Python: the hot thread, its commands and what it publishes.

The native engine (native/include/st_engine.h) runs one loop over the
watcher's peers and the venue desks on a pinned thread: a transaction that
fires an action becomes orders in the same pass. Python posts commands
(kill, failover, strategy swap, control messages) and reads the shared
state: counters, connection and peer states, a heartbeat, and latency
histograms per stage.
"""

from __future__ import annotations

import errno
import mmap
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import native, safefs
from orchestrator._native import ffi, lib
from orchestrator.btc import Strategy
from orchestrator.desk import Desk
from orchestrator.errors import StratumError
from orchestrator.hotline import STATES, Loop
from orchestrator.mempool import PEER_STATES, Watcher
from orchestrator.native import CData

STAGES = {
    lib.ST_STAGE_RECEIVE: "receive",
    lib.ST_STAGE_PARSE: "parse",
    lib.ST_STAGE_DECIDE: "decide",
    lib.ST_STAGE_ORDER: "order",
    lib.ST_STAGE_TRIGGER_SEND: "trigger_to_send",
    lib.ST_STAGE_ACK: "ack",
    lib.ST_STAGE_TRIGGER_ACK: "trigger_to_ack",
}
COUNTERS = ("publishes", "triggers", "too_few_announcers", "orders_sent", "acks", "rejects",
            "risk_rejects", "unknown", "commands", "bad_commands")
# The shared page's counters as the operator sees them (status, top, metrics),
# the refusals among them: each reason a trigger or an order went nowhere.
COUNTER_HELP = {
    "triggers": "actions the watcher fired",
    "too_few_announcers": "triggers announced by fewer peers than min_announcers: no order",
    "orders_sent": "orders queued for send",
    "acks": "orders the venues accepted",
    "rejects": "orders the venues refused",
    "risk_rejects": "orders our risk checks refused",
    "unknown": "orders whose outcome is unknown",
    "bad_commands": "commands the engine refused",
}
HA_FIELDS = ("epoch", "armed_until_ns", "armed_since_ns", "disarmed_ns", "arm_error")
POST_RETRY_S = 1.0


class EngineError(StratumError):
    """The engine refused or could not take a command."""


@dataclass(frozen=True)
class Histogram:
    count: int
    sum_ns: int
    max_ns: int
    buckets: tuple[int, ...]

    def percentile(self, q: float) -> int:
        """The lower bound (ns) of the bucket holding the q-quantile (0 if empty)."""
        if not self.count:
            return 0
        rank = max(1, int(q * self.count + 0.999999))
        seen = 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return int(lib.st_histogram_bucket_low(index))
        return self.max_ns


def histogram(h: CData) -> Histogram:
    return Histogram(int(h.count), int(h.sum_ns), int(h.max_ns),
                     tuple(int(b) for b in h.buckets))


def snapshot(shared: CData) -> dict[str, Any]:
    """A plain copy of st_engine_shared: counters, states, histograms."""
    nvenues, npeers = int(shared.nvenues), int(shared.npeers)
    return {
        "pid": int(shared.pid),
        "running": bool(shared.running),
        "hot_tid": int(shared.hot_tid),
        "killed": bool(shared.killed),
        "heartbeat_ns": int(shared.heartbeat_ns),
        **{name: int(getattr(shared, name)) for name in COUNTERS},
        "venues": [{"conns": [STATES.get(int(shared.conn_state[v][c]), "none")
                              for c in range(2)],
                    "active": int(shared.conn_active[v])} for v in range(nvenues)],
        "peers": [PEER_STATES.get(int(shared.peer_state[p]), "none") for p in range(npeers)],
        "stages": {name: histogram(shared.stages[i]) for i, name in STAGES.items()},
        # host failover (CLOCK_MONOTONIC ns; armed_until_ns all ones: no [ha])
        **{name: int(getattr(shared, name)) for name in HA_FIELDS},
    }


def read_shared(path: Path) -> dict[str, Any]:
    """What a running engine publishes, read from another process."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as view:
        data = bytes(view[:ffi.sizeof("st_engine_shared")])
    shared = ffi.from_buffer("st_engine_shared *", data)
    if shared.magic != lib.ST_ENGINE_MAGIC or shared.version != lib.ST_ENGINE_VERSION:
        raise EngineError(f"{path} is not an engine state file of this version")
    return snapshot(shared)


class Engine:
    """One hot thread over a loop, an optional watcher and venue desks."""

    def __init__(self, loop: Loop, watcher: Watcher | None = None,
                 shared_path: Path | None = None) -> None:
        self.loop, self.watcher = loop, watcher
        self.desks: list[Desk] = []
        self.shared_path = shared_path
        self.cdata = ffi.new("st_engine *")
        # Opened here without following a symlink; the engine owns the descriptor.
        fd = safefs.open_file(shared_path, os.O_RDWR | os.O_CREAT) if shared_path else -1
        native.ensure(lib.st_engine_init(
            self.cdata, loop.cdata, watcher.cdata if watcher else ffi.NULL, fd), "engine")
        self._cmd = ffi.new("st_engine_command *")
        self._strategies: list[Strategy] = []   # kept alive: the thread may hold one
        self.threaded = False

    def add_desk(self, desk: Desk) -> int:
        index = native.ensure(lib.st_engine_add_venue(self.cdata, desk.cdata), "engine venue")
        desk.attach(self, index)
        self.desks.append(desk)
        return index

    def route(self, action: int, venues: Sequence[int]) -> None:
        """Transactions that fire `action` fire the order sets of these venues."""
        mask = sum(1 << v for v in venues)
        native.ensure(lib.st_engine_route(self.cdata, action, mask), f"route action {action}")

    def set_min_announcers(self, n: int) -> None:
        lib.st_engine_set_min_announcers(self.cdata, n)

    def set_rehearsal(self, every_us: int) -> None:
        """Between triggers each desk rehearses its order once per every_us
        (0: never): nothing sent or journaled, the path kept warm."""
        lib.st_engine_set_rehearsal(self.cdata, every_us)

    # -- running ---------------------------------------------------------------

    def start(self, cpu: int = -1) -> None:
        native.ensure(lib.st_engine_start(self.cdata, cpu), "engine thread")
        self.threaded = True

    def pump(self, timeout: float) -> None:
        """One pass when no thread runs the engine; otherwise just wait."""
        if self.threaded:
            time.sleep(timeout)
        else:
            native.ensure(lib.st_engine_run_once(self.cdata, int(timeout * 1e9)), "engine pass")

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful: no further triggering, close every venue connection
        (WebSocket close, then TLS close_notify), sync journals, end the thread."""
        self.post(lib.ST_CMD_STOP)
        if self.threaded:
            native.ensure(lib.st_engine_join(self.cdata), "engine join")
            self.threaded = False
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if native.ensure(lib.st_engine_run_once(self.cdata, 10_000_000), "engine pass"):
                return

    def close(self) -> None:
        lib.st_engine_exit(self.cdata)

    # -- commands ---------------------------------------------------------------

    def post(self, kind: int, *, venue: int = -1, conn: int = -1, a: int = 0, b: int = 0,
             c: int = 0, d: int = 0, limits: CData | None = None, ptr: CData | None = None,
             data: bytes = b"") -> None:
        cmd = self._cmd
        cmd.type, cmd.venue, cmd.conn, cmd.len = kind, venue, conn, len(data)
        cmd.a, cmd.b, cmd.c, cmd.d = a, b, c, d
        if limits is not None:
            cmd.limits = limits
        cmd.ptr = ptr if ptr is not None else ffi.NULL
        if len(data) > lib.ST_ENGINE_COMMAND_BYTES:
            raise EngineError(f"command data of {len(data)} bytes: at most "
                              f"{lib.ST_ENGINE_COMMAND_BYTES}")
        ffi.memmove(cmd.data, data, len(data))
        deadline = time.monotonic() + POST_RETRY_S
        while (rc := lib.st_engine_command_post(self.cdata, cmd)) == -errno.EAGAIN:
            if time.monotonic() > deadline:
                raise EngineError("the engine's command ring stays full: is the thread alive?")
            self.pump(0.001)
        native.ensure(rc, "engine command")

    def kill(self, killed: bool = True) -> None:
        """Every venue refuses further orders. The risk flag is atomic, so it is
        set here at once; the command records it in the shared state too."""
        for desk in self.desks:
            desk.kill(killed)
        self.post(lib.ST_CMD_KILL, a=int(killed))

    def arm(self, epoch: int, until_ns: int) -> None:
        """Host failover: orders may leave until until_ns (time.monotonic_ns()),
        their client ids in tenure `epoch`. The engine disarms by itself at the
        deadline; shared state says whether it took the arm (arm_error)."""
        self.post(lib.ST_CMD_ARM, a=epoch, b=until_ns)

    def disarm(self) -> None:
        """Host failover: no order leaves. The risk deadline is atomic, so it
        is cleared here at once; the command records it in the shared state."""
        for desk in self.desks:
            lib.st_risk_arm(lib.st_desk_risk(desk.cdata), 0)
        self.post(lib.ST_CMD_DISARM)

    def seen(self, txids: Sequence[bytes]) -> None:
        """Takeover: triggers the old host traded are never fired here."""
        per = lib.ST_ENGINE_COMMAND_BYTES // 32
        for at in range(0, len(txids), per):
            self.post(lib.ST_CMD_SEEN, data=b"".join(txids[at:at + per]))

    def failover(self, venue: int) -> None:
        self.post(lib.ST_CMD_FAILOVER, venue=venue)

    def set_strategy(self, strategy: Strategy) -> None:
        self._strategies = [*self._strategies[-1:], strategy]
        self.post(lib.ST_CMD_SET_STRATEGY, ptr=strategy.cdata)

    # -- reading ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return snapshot(lib.st_engine_get_shared(self.cdata))
