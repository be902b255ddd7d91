# SPDX-License-Identifier: MIT
"""The service: builds the engine from a Config, runs it, and answers the operator.

`stratum run --config FILE` runs this in the foreground (what systemd runs).
The hot thread does the trading; this process keeps each venue connection
ready (logon, clock), fails over when a primary
connection dies, and answers `status`, `kill`, `resume` (which clears the
kill switch), `failover` and `stop` on the control socket. Nothing here logs a
secret: credentials are Secret objects whose repr is hidden, and errors name
keys, never values.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from orchestrator import __version__, cpu, native, safefs
from orchestrator._native import lib
from orchestrator.config import Config, VenueConfig
from orchestrator.control import ControlServer
from orchestrator.desk import Desk
from orchestrator.engine import COUNTER_HELP, Engine
from orchestrator.errors import ListenError, StratumError
from orchestrator.health import MetricsServer, failover_target, heartbeat_stale
from orchestrator.hostrole import HaCollector, HostRole
from orchestrator.hotline import STATES, Connection, HotStandby, Loop, Trust
from orchestrator.instance import InstanceLock
from orchestrator.journal import Journal
from orchestrator.mempool import Watcher
from orchestrator.outcomes import OutcomeAsker
from orchestrator.strategy.loader import build_strategy
from orchestrator.takeover import remember_own_triggers, takeover
from orchestrator.venues.registry import ADAPTERS
from orchestrator.venues.session import VenueError, VenueSession

log = logging.getLogger("stratum")
TICK_S = 0.005
READY_TIMEOUT_S = 30.0


def _trust(venue: VenueConfig) -> Trust:
    return Trust(str(venue.trust)) if venue.trust else Trust()


def _connections(loop: Loop, venue: VenueConfig, trust: Trust) -> HotStandby | Connection:
    def one() -> Connection:
        return Connection(loop, venue.url, trust, address=venue.address,
                          ping_interval=venue.ping_interval)

    return HotStandby(one(), one()) if venue.standby else one()


def build_venue(config: Config, venue: VenueConfig, loop: Loop, index: int
                ) -> tuple[Desk, VenueSession]:
    """The desk and session of one configured venue (connections not opened yet)."""
    adapter = ADAPTERS[venue.profile]
    legs = venue.legs
    decimals = (legs[0].price_decimals, legs[0].quantity_decimals)
    journal = Journal(config.engine.state_dir / f"{venue.name}.journal",
                      config.engine.journal_records)
    desk = Desk(adapter.profile.schema, _connections(loop, venue, _trust(venue)), journal,
                venue.risk, price_decimals=decimals[0], quantity_decimals=decimals[1], index=index,
                ack_timeout=config.engine.ack_timeout)
    built = adapter.build(desk, venue, config.engine.state_dir)
    for leg, template in zip(legs, built.templates, strict=True):
        desk.add_leg(leg, template)
    book = adapter.profile.book
    if venue.book_url and book:
        # read on the engine's loop (the hot thread), opened with the desk's
        desk.set_book_feed(book, legs[0].symbol,
                           Connection(loop, venue.book_url, _trust(venue), address=venue.address,
                                      ping_interval=venue.ping_interval,
                                      max_message=lib.ST_DESK_MAX_MESSAGE))
    return desk, built.session


def _book_status(desk: Desk, conn: Connection, stats: dict[str, int]) -> dict[str, Any]:
    bid, ask, age = desk.book
    return {"connection": conn.state, "bid": str(bid), "ask": str(ask),
            "age_s": round(age, 3) if age is not None else None,
            "updates": stats["book_updates"], "dropped": stats["book_dropped"]}


def _ready(session: VenueSession) -> Any:
    return lambda: bool(session.ready)


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.started = time.time()
        self.stopping = False
        self.errors: list[str] = []
        self.error_count = 0
        self.heartbeat_stale = False
        engine_cfg = config.engine
        # Before anything is created or opened: our folders are checked (never
        # chmod'ed), and one daemon per configuration holds the lock.
        safefs.prepare_folder(engine_cfg.run_dir)
        self.lock = InstanceLock(engine_cfg.run_dir)
        safefs.prepare_folder(engine_cfg.state_dir)
        safefs.remove_socket(self.socket_path)      # a dead daemon's; refused if not a socket
        spec = config.bitcoin.strategy
        self.loop = Loop(engine_cfg.loop_mode,
                         sqpoll_cpu=config.cpus.sqpoll if config.cpus.sqpoll is not None else -1)
        self.strategy = build_strategy(spec)
        self.watcher = Watcher(self.loop, self.strategy, network=spec.network)
        self.peers = [self.watcher.add_peer(ip, port, policy=config.bitcoin.policy)
                      for ip, port in config.bitcoin.peers]
        self.operator_actions: list[dict[str, str]] = []
        try:
            self._listen()
        except BaseException:
            self.lock.release()
            raise
        try:
            self._build()
        except BaseException:
            self._close_listeners()
            self.lock.release()
            raise

    def _listen(self) -> None:
        """Binds every port and socket the daemon serves on before the engine (and
        its shared page) exists: one that is taken ends the start here, with
        nothing half-started."""
        metrics = self.config.metrics
        self.metrics = MetricsServer(metrics.host, metrics.port) if metrics else None
        try:
            self.control = ControlServer(self.socket_path, self.answer)
        except OSError as exc:
            if self.metrics:
                self.metrics.close()
            raise ListenError(f"control socket {self.socket_path}: {exc.strerror or exc}"
                              ) from None

    def _close_listeners(self) -> None:
        self.control.close()
        if self.metrics:
            self.metrics.close()

    def _build(self) -> None:
        config, spec = self.config, self.config.bitcoin.strategy
        self.engine = Engine(self.loop, self.watcher, shared_path=self.state_path)
        try:
            self.engine.set_min_announcers(config.engine.min_announcers)
            self.engine.set_rehearsal(config.engine.rehearse_every_us)
            self.desks: list[Desk] = []
            self.sessions: list[VenueSession] = []
            for venue in config.venues:
                desk, session = build_venue(config, venue, self.loop, len(self.desks))
                self.engine.add_desk(desk)
                self.desks.append(desk)
                self.sessions.append(session)
            for action, action_id in spec.actions.items():
                venues = [i for i, v in enumerate(config.venues) if action in v.on]
                if venues:
                    self.engine.route(action_id, venues)
            self.askers = [OutcomeAsker(venue.name, session)
                           for venue, session in zip(config.venues, self.sessions, strict=True)
                           if ADAPTERS[venue.profile].capabilities.reconcile]
        except BaseException:
            self.engine.close()                      # never started: no page left behind
            self.state_path.unlink(missing_ok=True)
            raise
        # [ha]: disarmed until this host holds the lease (docs/HA.md)
        self.ha = HostRole(config.ha, self.engine, lambda epoch: takeover(self, epoch)) \
            if config.ha else None
        if self.ha:
            self.ha.disarm_engine()
        if self.metrics:
            self.metrics.export(self)
            if self.ha:
                self.metrics.registry.register(HaCollector(self.ha))

    @property
    def socket_path(self) -> Path:
        return self.config.engine.run_dir / "control.sock"

    @property
    def state_path(self) -> Path:
        return self.config.engine.run_dir / "engine.state"

    # -- running ---------------------------------------------------------------

    def run(self) -> int:
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ)
        if self.ha:
            selector.register(self.ha, selectors.EVENT_READ)
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._start()
            log.info("stratum %s running: %d venue(s), %d peer(s)", __version__,
                     len(self.desks), len(self.peers))
            self._reconcile_at_start()
            if self.ha:
                remember_own_triggers(self)
                self.ha.start()
            while not self.stopping:
                for key, _ in selector.select(TICK_S):
                    if key.fileobj is self.ha and self.ha:
                        self.ha.apply()
                    else:
                        self.control.serve_one()
                self.tick()
        finally:
            self.shutdown()                 # whatever failed above: the thread is joined
            self._close_listeners()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.lock.release()
        return 0

    def _start(self) -> None:
        interface = self.config.network.interface if self.config.network else None
        core_plan = cpu.plan(self.config.cpus, interface)
        for item in cpu.apply(core_plan, self.config.cpus):
            log.info("cpu: %s: %s (%s)", item.name, item.status, item.detail)
        for desk in self.desks:
            for conn in desk.conns:
                conn.open()
            if desk.book_conn:
                desk.book_conn.open()
        for peer in self.peers:
            peer.open()
        self.engine.start(core_plan.hot)
        if self.config.cpus.sched_fifo:
            deadline = time.monotonic() + 5
            while not self.engine.state()["hot_tid"] and time.monotonic() < deadline:
                time.sleep(0.01)
            item = cpu.set_fifo(self.engine.state()["hot_tid"], self.config.cpus.sched_fifo)
            log.info("cpu: %s: %s (%s)", item.name, item.status, item.detail)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def tick(self) -> None:
        for venue, session in zip(self.config.venues, self.sessions, strict=True):
            try:
                events = session.handle()
            except VenueError as exc:
                self._error(f"{venue.name}: {exc}")
                continue
            for event in events:
                if event.kind == "conn":
                    log.info("%s: connection %d %s%s", venue.name, event.conn,
                             STATES.get(event.code, event.code),
                             f" ({native.error_name(event.http_status)})"
                             if event.http_status else "")
        now = time.monotonic()
        for asker in self.askers:
            try:
                asker.tick(now)
            except StratumError as exc:       # a question that could not be sent
                self._error(f"{asker.name}: {exc}")
        if self.ha:
            self.ha.tick()
        for peer_event in self.watcher.events():
            if peer_event.kind != "action":
                log.info("peer %d %s %s", peer_event.peer, peer_event.kind, peer_event.error)
        self._watch_health()

    def _watch_health(self) -> None:
        """Fails over from a dead primary (the standby is kept ready, so it costs
        no handshake) and says when the engine thread stops beating."""
        for index, (desk, session) in enumerate(zip(self.desks, self.sessions, strict=True)):
            active = int(lib.st_conn_pair_active(desk.pair))
            target = failover_target([c.state for c in desk.conns], active, session.ready)
            if target is not None:
                log.warning("%s: active connection %s, failing over to connection %d",
                            self.config.venues[index].name, desk.conns[active].state, target)
                self.engine.failover(index)
                session.ready.discard(active)
        stale = heartbeat_stale(self.engine.state())
        if stale and not self.heartbeat_stale:
            self._error("the engine thread's heartbeat is stale")
        self.heartbeat_stale = stale

    def _reconcile_at_start(self) -> None:
        """Orders a crash left unknown are asked about before trading starts."""
        for venue, session in zip(self.config.venues, self.sessions, strict=True):
            unknown = session.desk.journal.unknown()
            if not unknown:
                continue
            if not ADAPTERS[venue.profile].capabilities.reconcile:
                self._error(f"{venue.name}: {len(unknown)} order(s) of unknown outcome; "
                            "check them on the venue (no automatic reconciliation here)")
                continue
            session.run_until(_ready(session), READY_TIMEOUT_S)
            try:
                resolved = session.reconcile(unknown)
            except VenueError as exc:     # the venue did not say: asked again while running
                self._error(f"{venue.name}: reconciling at start: {exc}")
                resolved = {o.seq: session.resolved[o.seq] for o in unknown
                            if o.seq in session.resolved}
            log.info("%s: reconciled %d of %d order(s) of unknown outcome", venue.name,
                     len(resolved), len(unknown))
            # the rest are asked about again while running (orchestrator/outcomes.py)
            session.state.unknown.extend((o.seq, o.leg) for o in unknown
                                         if o.seq not in resolved)

    def _cancel_open_orders(self) -> None:
        for venue, session in zip(self.config.venues, self.sessions, strict=True):
            if not venue.cancel_on_stop:
                continue
            resting = {i for i, leg in enumerate(venue.legs) if leg.rests}
            orders = session.desk.journal.open_orders(resting)
            if not orders:
                continue
            if not ADAPTERS[venue.profile].capabilities.cancel:
                self._error(f"{venue.name}: {len(orders)} open order(s) not cancelled "
                            "(no cancel for this venue yet)")
                continue
            try:
                cancelled = session.cancel(orders)
            except VenueError as exc:
                self._error(f"{venue.name}: cancelling open orders: {exc}")
                continue
            log.info("%s: cancelled %d of %d open order(s)", venue.name, len(cancelled),
                     len(orders))

    def _error(self, text: str) -> None:
        log.error("%s", text)
        self.error_count += 1
        self.errors = [*self.errors[-19:], text]

    def shutdown(self) -> None:
        """Stop triggering, cancel open orders where configured, close every venue
        connection properly, flush the journals."""
        if self.ha:
            self.ha.close()              # disarm and resign first: the peer arms at once
        if self.engine.threaded:
            self.engine.kill()
            self._cancel_open_orders()
            self.engine.stop()
        for desk in self.desks:
            desk.journal.sync()
        for session in self.sessions:
            session.close()
        log.info("stratum stopped")

    # -- the operator ----------------------------------------------------------

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request["cmd"]
        if cmd == "status":
            return {"ok": True, **self.status()}
        if cmd == "kill":
            self.engine.kill()
            self._operator("kill", "kill switch set by the operator: no further order leaves")
            return {"ok": True, "killed": True}
        if cmd == "resume":
            self.engine.kill(False)
            self._operator("resume", "kill switch cleared by the operator: orders may leave "
                                     "again")
            return {"ok": True, "killed": False}
        if cmd == "stop":
            self.stopping = True
            return {"ok": True, "stopping": True}
        if cmd == "failover" and "host" in request:
            if not self.ha:
                return {"ok": False, "error": "no [ha] in the configuration"}
            reply = self.ha.failover(str(request["host"]))
            if reply["ok"]:
                self._operator("failover", f"handover to host {request['host']} by the operator")
            return reply
        if cmd == "failover":
            names = [v.name for v in self.config.venues]
            if request.get("venue") not in names:
                return {"ok": False, "error": f"no venue {request.get('venue')!r}; "
                                              f"venues: {', '.join(names)}"}
            try:
                self.engine.failover(names.index(request["venue"]))
            except StratumError as exc:
                return {"ok": False, "error": str(exc)}
            self._operator("failover", f"{request['venue']}: failover to the standby "
                                       "connection by the operator")
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def _operator(self, action: str, text: str) -> None:
        """What the operator did: logged, and the last few shown by status."""
        log.warning("%s", text)
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.operator_actions = [*self.operator_actions[-9:], {"at": at, "action": action}]

    def status(self) -> dict[str, Any]:
        state = self.engine.state()
        venues = []
        for venue, desk, session in zip(self.config.venues, self.desks, self.sessions,
                                        strict=True):
            stats = desk.stats
            venues.append({
                "name": venue.name, "profile": venue.profile,
                "connections": [c.state for c in desk.conns],
                "active": int(lib.st_conn_pair_active(desk.pair)),
                "ready": sorted(session.ready),
                "orders_sent": stats["orders_sent"], "acks": stats["acks"],
                "rejects": stats["rejects"], "unknown": stats["unknown"],
                "open_orders": desk.open_orders, "killed": desk.killed,
                "risk_rejections": {k: v for k, v in desk.rejections.items() if v},
                **({"book": _book_status(desk, desk.book_conn, stats)}
                   if desk.book_conn else {}),
            })
        stages = {name: {"count": h.count, "p50_ns": h.percentile(0.5),
                         "p99_ns": h.percentile(0.99), "max_ns": h.max_ns}
                  for name, h in state["stages"].items()}
        return {
            "state": "running", "version": __version__, "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started, 1),
            "killed": state["killed"], "heartbeat_age_ms": round(
                (time.monotonic_ns() - state["heartbeat_ns"]) / 1e6, 1),
            **{name: state[name] for name in COUNTER_HELP},
            "venues": venues,
            "peers": [p.status() for p in self.peers],
            "mempool": self.watcher.stats, "latency": stages, "errors": self.errors,
            "operator": self.operator_actions,
            **({"ha": self.ha.status()} if self.ha else {}),
        }
