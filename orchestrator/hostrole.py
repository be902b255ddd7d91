# SPDX-License-Identifier: MIT
"""The daemon's side of host failover (docs/HA.md §4.3, §4.5, §4.7).

The Elector's thread hands each Tenure over a socketpair; the daemon's main
thread, the engine ring's one producer, posts it (ARM / DISARM), reads back
what the engine applied from the shared page, and writes one log line per
change with the engine's own CLOCK_MONOTONIC times:

    ha: armed epoch=E mono_ns=<armed_since_ns>
    ha: disarmed epoch=E reason=R mono_ns=<disarmed_ns>

(a deadline disarm gives the deadline itself: the moment the engine stopped).
A post that comes late only makes the disarm earlier: the old deadline runs
out in the engine by itself.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from orchestrator import native
from orchestrator.config import HaConfig
from orchestrator.engine import Engine
from orchestrator.ha import Elector, Tenure

log = logging.getLogger("stratum")
APPLIED_WAIT_S = 0.2          # the engine applies a command within a pass (~1 ms)
ROLES = ("active", "standby", "disarmed")


class HostRole:
    def __init__(self, cfg: HaConfig, engine: Engine,
                 before_arm: Callable[[int], None] | None = None) -> None:
        self.cfg, self.engine, self.before_arm = cfg, engine, before_arm
        self._tenures: queue.SimpleQueue[Tenure] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.elector = Elector(cfg, self._on_change)
        self.epoch = 0                   # of the tenure posted last
        self.until_ns = 0                # the deadline posted last (0: disarmed)
        self.prepared_epoch = 0          # the epoch before_arm ran for
        self.last_disarm = "starting"
        self._said = ""                  # the last disarmed/standby reason logged

    # -- the Elector's thread ---------------------------------------------------------

    def _on_change(self, tenure: Tenure) -> None:
        self._tenures.put(tenure)
        with contextlib.suppress(BlockingIOError):
            self._wake_w.send(b"!")

    # -- the daemon's main thread ----------------------------------------------------------

    def fileno(self) -> int:
        """Readable when the Elector has told something (for the daemon's selector)."""
        return self._wake_r.fileno()

    def start(self) -> None:
        """The engine is disarmed already (disarm() before its thread starts)."""
        self.elector.start()

    def disarm_engine(self) -> None:
        self.engine.disarm()

    def apply(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)
        while True:
            try:
                tenure = self._tenures.get_nowait()
            except queue.Empty:
                return
            if tenure.armed_until_ns:
                self._arm(tenure)
            else:
                self._disarm(tenure.epoch, tenure.reason)

    def tick(self) -> None:
        """The engine stopped at the deadline by itself; this says so (once)."""
        if self.until_ns and time.monotonic_ns() >= self.until_ns:
            self._disarm(self.epoch, "deadline")
        if not self.until_ns:      # why not armed: logged when it changes
            reason = self.elector.state().reason
            if reason not in ("won", "renewed") and reason.split(" (")[0] != self._said:
                self._said = reason.split(" (")[0]
                log.warning("ha: not armed: %s", reason)

    def _arm(self, tenure: Tenure) -> None:
        if tenure.epoch != self.prepared_epoch and self.before_arm:
            log.info("ha: takeover epoch=%d: reconciling before arming", tenure.epoch)
            self.before_arm(tenure.epoch)       # reconcile: may take a moment
        self.prepared_epoch = tenure.epoch
        if time.monotonic_ns() >= tenure.armed_until_ns:
            return                              # too late: the next renewal arms
        was_armed = self.until_ns > time.monotonic_ns()
        self.engine.arm(tenure.epoch, tenure.armed_until_ns)
        self.epoch, self.until_ns = tenure.epoch, tenure.armed_until_ns
        if was_armed:
            return
        state = self._applied(lambda s: s["armed_until_ns"] == tenure.armed_until_ns
                              or s["arm_error"] != 0)
        if state["arm_error"]:
            self.until_ns = 0
            self.last_disarm = f"arm refused: {native.error_name(state['arm_error'])}"
            log.error("ha: arm refused epoch=%d: %s", tenure.epoch,
                      native.error_name(state["arm_error"]))
            return
        log.info("ha: armed epoch=%d mono_ns=%d reason=%s", tenure.epoch,
                 state["armed_since_ns"], tenure.reason)

    def _disarm(self, epoch: int, reason: str) -> None:
        was_armed = self.until_ns != 0
        self.engine.disarm()
        self.until_ns = 0
        self.last_disarm = reason
        if not was_armed:
            return
        state = self._applied(lambda s: s["armed_until_ns"] == 0)
        log.warning("ha: disarmed epoch=%d reason=%s mono_ns=%d", epoch, reason,
                    state["disarmed_ns"])

    def _applied(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + APPLIED_WAIT_S
        while not done(state := self.engine.state()) and time.monotonic() < deadline:
            time.sleep(0.0005)
        return state

    # -- operator verbs -------------------------------------------------------------------------

    def failover(self, host: str) -> dict[str, Any]:
        """Hands over on purpose: disarm, resign; the other host's watch sees the key
        go and it arms (no TTL in the path)."""
        state = self.elector.state()
        if state.role != "active":
            holder = f"; the active host is {state.holder}" if state.holder else ""
            return {"ok": False, "error": f"this host ({self.cfg.name}) is {state.role}{holder}"}
        if host not in state.peers:
            peers = ", ".join(state.peers) or "none"
            return {"ok": False, "error": f"no host {host!r} registered; peers: {peers}"}
        self._disarm(self.epoch, f"handover to {host}")
        resigned = self.elector.resign()
        return {"ok": True, "resigned": resigned}

    def close(self) -> None:
        """`stratum stop`: disarm and resign first, so the peer takes over at once."""
        if self.until_ns:
            self._disarm(self.epoch, "stopping")
        self.elector.close()
        self._wake_r.close()
        self._wake_w.close()

    def status(self) -> dict[str, Any]:
        s = self.elector.state()
        engine = self.engine.state()
        armed = self.until_ns > time.monotonic_ns()
        role = "active" if armed else s.role if s.role != "active" else "disarmed"
        return {"name": self.cfg.name, "role": role, "epoch": engine["epoch"] or s.epoch,
                "holder": s.holder, "peers": list(s.peers),
                "lease_remaining_s": round(max(0, self.until_ns - time.monotonic_ns()) / 1e9, 3)
                if armed else 0.0,
                "reason": s.reason if armed or s.role == "standby" else
                f"{self.last_disarm}; {s.reason}", "etcd_ok": s.etcd_ok}


class HaCollector(Collector):
    """stratum_ha_* metrics (the risk counter's reason="disarmed" is in health.py's)."""

    def __init__(self, role: HostRole) -> None:
        self.role = role

    def collect(self) -> Iterator[Any]:
        s = self.role.status()
        yield GaugeMetricFamily("stratum_ha_armed", "1 when this host may trade (holds the lease)",
                                value=int(s["role"] == "active"))
        roles = GaugeMetricFamily("stratum_ha_role", "this host's role", labels=["role"])
        for role in ROLES:
            roles.add_metric([role], int(s["role"] == role))
        yield roles
        yield GaugeMetricFamily("stratum_ha_epoch", "the tenure of this host's client ids",
                                value=s["epoch"])
        yield GaugeMetricFamily("stratum_ha_lease_remaining_seconds",
                                "until the engine disarms unless the lease is renewed",
                                value=s["lease_remaining_s"])
        yield GaugeMetricFamily("stratum_ha_etcd_up", "1 when etcd answered the last request",
                                value=int(s["etcd_ok"]))
