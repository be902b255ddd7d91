# SPDX-License-Identifier: MIT
"""What every venue session does around its native desk.

A session keeps each connection of the desk ready (whatever the venue needs
after a connect: a clock sync, a logon), routes answers to the requests it
made, and turns the desk's events into state an operator can read. Until the
engine thread exists it also drives the loop: `step()` runs the loop once,
polls the desk and handles what came back.

A venue's REST requests (a token, the clock) block: a session runs them on a
thread of its own (`later()`) and takes the result in `handle()`, so that whoever
handles sessions (the daemon: its control socket, `kill`, the other venues) never
waits on one venue's REST API, and a failed request is an error, not a crash.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from orchestrator.desk import Desk, Event
from orchestrator.errors import StratumError
from orchestrator.journal import OrderState

log = logging.getLogger(__name__)

Handler = Callable[[int, dict[str, Any], int], None]
T = TypeVar("T")


class VenueError(StratumError):
    """The venue refused us in a way that needs an operator (credentials, ban)."""


@dataclass
class Pending:
    """A request Python sent and is waiting to hear about."""

    handler: Handler
    sent_ns: int          # time.time_ns() when sent


@dataclass
class Later:
    """A blocking request running on the session's thread, and what to do with it."""

    future: Future[Any]
    then: Callable[[Any], None]
    failed: Callable[[StratumError], None]
    conn: int | None          # for this connection's current opening only
    opens: int


@dataclass(frozen=True)
class OpenOrder:
    """One open order as a venue lists it."""

    client_id: str            # as the venue shows it: our prefix + digits, or someone else's
    status: int               # ST_ORDER_STATUS_*, 0 for a status word we do not know


EVENTS_KEPT = 10_000     # the latest desk events a session keeps (tests, debugging)


@dataclass
class SessionState:
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    errors: list[str] = field(default_factory=list)
    resyncs: int = 0
    # (client id, leg) of orders whose outcome became unknown, for whoever asks the
    # venue about them (the daemon's OutcomeAsker takes them)
    unknown: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))


class VenueSession:
    """Base of the per-venue sessions: request ids, answers, readiness per connection."""

    name = "venue"

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.state = SessionState()
        self._ids = itertools.count(1)
        self._pending: dict[str, Pending] = {}
        self._prepared_opens = [0] * len(desk.conns)   # conn opens already prepared
        self.ready: set[int] = set()                   # connections orders may use
        self._worker: ThreadPoolExecutor | None = None
        self._later: list[Later] = []
        self.resolved: dict[int, int] = {}   # client id -> ST_ORDER_STATUS_* the venue said

    # -- to be provided by each venue ----------------------------------------

    def prepare(self, conn: int) -> None:
        """Make connection `conn` ready for orders (it has just opened)."""
        raise NotImplementedError

    def request_id(self, answer: dict[str, Any]) -> str | None:
        """The id of the request an answer is for, if any."""
        raise NotImplementedError

    def on_event(self, event: Event) -> None:
        """React to one desk event (resync the clock, note an error...)."""

    def new_request_id(self, n: int) -> str:
        """The id of Python's n-th request: never a number, so the desk leaves
        its answer to Python (a venue with rules for ids changes the shape)."""
        return f"{self.name}-{n}"

    def answer_key(self, conn: int, answer: dict[str, Any]) -> str | None:
        """The pending request an answer on `conn` is for: by default its request
        id; a venue whose answers to some requests carry none keys them here."""
        return self.request_id(answer)

    # -- what a venue may be able to do (its adapter's capabilities say) -------

    def ask_outcome(self, seq: int, leg: int, done: Callable[[], None]) -> None:
        """Asks the venue about one order of unknown outcome, without waiting:
        handle() journals the answer (`desk.resolve`, and `resolved`), then calls
        done(); also when the question failed (handle() raises the error)."""
        raise NotImplementedError(f"{self.name}: no reconciliation")

    def reconcile(self, orders: list[OrderState], timeout: float = 10.0) -> dict[int, int]:
        """Asks the venue about orders of unknown outcome and waits (stepping the
        session) until each is answered or `timeout` passes; the answers are
        journaled. Returns {client id: ST_ORDER_STATUS_*} for those resolved;
        VenueError for a question that failed."""
        answered: set[int] = set()
        for order in orders:
            self.ask_outcome(order.seq, order.leg, functools.partial(answered.add, order.seq))
        self.run_until(lambda: {o.seq for o in orders} <= answered, timeout)
        self.handle()
        return {o.seq: self.resolved[o.seq] for o in orders if o.seq in self.resolved}

    def cancel(self, orders: list[OrderState], timeout: float = 10.0) -> dict[int, int]:
        """Cancels open orders; returns {client id: ST_ORDER_STATUS_*} of those done."""
        raise NotImplementedError(f"{self.name}: no cancel")

    def ask_open_orders(self, symbols: set[str]) -> dict[str, list[OpenOrder]]:
        """Asks the account's open orders of these symbols; the dict fills per
        symbol as the answers come (whoever steps the session)."""
        raise NotImplementedError(f"{self.name}: no open-orders query")

    # -- driving ---------------------------------------------------------------

    def send(self, conn: int, build: Callable[[str], str], handler: Handler) -> str:
        """Sends the request build(id) on connection conn; handler gets the answer."""
        request_id = self.new_request_id(next(self._ids))
        self._pending[request_id] = Pending(handler, time.time_ns())
        self.desk.send_control(build(request_id), conn)
        return request_id

    def later(self, work: Callable[[], T], then: Callable[[T], None], *,
              conn: int | None = None,
              failed: Callable[[StratumError], None] | None = None) -> None:
        """Runs `work` (a blocking request) on the session's own thread; `handle()`
        then gives `then` its result, or `failed` the StratumError it raised (by
        default: an error for handle() to raise). Tied to `conn`, the result is
        dropped if that connection has closed or reopened since (it is prepared
        again)."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-rest")
        opens = self._prepared_opens[conn] if conn is not None else 0
        self._later.append(Later(self._worker.submit(work), then,
                                 failed or (lambda exc: self.state.errors.append(str(exc))),
                                 conn, opens))

    def close(self) -> None:
        """Drops the requests still running (their answers are not waited for)."""
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
        self._later.clear()

    def _finish_later(self) -> None:
        for job in [j for j in self._later if j.future.done()]:
            self._later.remove(job)
            if job.conn is not None and (self._prepared_opens[job.conn] != job.opens
                                         or self.desk.conns[job.conn].state != "open"):
                continue          # for an opening that is gone
            try:
                result = job.future.result()
            except StratumError as exc:
                job.failed(exc)
            else:
                job.then(result)

    def step(self, timeout: float = 0.0) -> list[Event]:
        """Lets the connections progress (see Desk.pump), then handles answers,
        events and (re)opened connections. Raises VenueError for what needs
        an operator."""
        self.desk.pump(timeout)
        return self.handle()

    def handle(self) -> list[Event]:
        """Handles what the desk has for Python, without running anything."""
        self._finish_later()
        for conn, raw in self.desk.messages():
            self._on_message(conn, raw)
        events = self.desk.events()
        for event in events:
            self.on_event(event)
        self.state.events.extend(events)
        self.state.unknown.extend((e.seq, e.leg) for e in events if e.kind == "unknown")
        for i, connection in enumerate(self.desk.conns):
            opens = connection.stats["opens"]
            if connection.state != "open":
                self.ready.discard(i)
            elif opens != self._prepared_opens[i]:
                self._prepared_opens[i] = opens
                self.ready.discard(i)
                self.prepare(i)
        if self.state.errors:
            errors, self.state.errors = self.state.errors, []
            raise VenueError("; ".join(errors))
        return events

    def mark_ready(self, conn: int) -> None:
        self.desk.set_ready(conn)
        self.ready.add(conn)

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.step(min(left, 0.01))
        return True

    def _on_message(self, conn: int, raw: bytes) -> None:
        text = raw.decode(errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            log.warning("%s: a message that is not a JSON object: %.200s", self.name, text)
            return
        request_id = self.answer_key(conn, answer)
        pending = self._pending.pop(request_id, None) if request_id else None
        if pending is None:
            log.debug("%s: message nobody waits for: %.200s", self.name, text)
            return
        pending.handler(conn, answer, pending.sent_ns)


class RestClockSession(VenueSession):
    """A session whose venue's clock is read over REST (`server_time_ms`, on the
    session's thread): once before the first connection logs in, and again each
    time the desk asks for a resync (an answer said our timestamp was off)."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(desk)
        self.clock_offset_ms: int | None = None   # the venue's clock minus ours

    def server_time_ms(self) -> int:
        """The venue's clock (blocking; a StratumError when it does not say)."""
        raise NotImplementedError

    def log_in(self, conn: int) -> None:
        """Logs connection `conn` in; the answer marks it ready."""
        raise NotImplementedError

    def desk_offset(self, offset_ms: int) -> int:
        """What the desk adds to our clock in the order's timestamp slot."""
        return offset_ms

    def measure_clock(self) -> int:
        """The venue's clock minus ours, the flight taken as symmetric. Blocks."""
        sent = time.time_ns()
        server = self.server_time_ms()
        return server - (sent + time.time_ns()) // 2_000_000

    def _now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + (self.clock_offset_ms or 0)

    def prepare(self, conn: int) -> None:
        """The clock first (once), then log in. Without a clock the connection is
        not logged in: the error says why."""
        if self.clock_offset_ms is None:
            self.later(self.measure_clock, lambda offset: self._first_clock(conn, offset),
                       conn=conn)
        else:
            self.log_in(conn)

    def _first_clock(self, conn: int, offset: int) -> None:
        if self.clock_offset_ms is None:      # (the other connection may have set it)
            self.clock_offset_ms = offset
            self.desk.set_clock_offset(self.desk_offset(offset))
        self.log_in(conn)

    def resync(self) -> None:
        self.state.resyncs += 1
        self.later(self.measure_clock, self._resynced)

    def _resynced(self, offset: int) -> None:
        self.clock_offset_ms = offset
        self.desk.clock_synced(self.desk_offset(offset))
