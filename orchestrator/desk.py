# SPDX-License-Identifier: MIT
"""The order desk of one venue: the native st_desk seen from Python.

Python sets it up (legs and their templates, key, risk limits, journal) and
drives the slow side (logon, clock, reconciliation); the native side fires
order sets, parses answers, journals and applies risk.

A desk runs in one of two modes, chosen once: on its own loop (`OwnLoop`:
tests and benches; whoever calls `pump()` runs the loop and polls the desk,
and changes apply at once), or on an engine (`OnEngine`, from
`Engine.add_desk`: everything that changes the desk goes to the engine's
thread as a command, in order, and Python only reads).
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.errors import ConfigError
from orchestrator.hotline import Connection, HotStandby
from orchestrator.journal import Journal
from orchestrator.native import CData
from orchestrator.venues import AnswerSchema, BookSpec, Leg, Secret, Template

if TYPE_CHECKING:   # the engine imports desks: only the annotation here
    from orchestrator.engine import Engine

SWAP_WAIT_S = 1.0   # the engine takes a prepared template within a pass; past this it is stuck
RISK_REASONS = {i: str(ffi.string(lib.st_risk_reason_name(i)).decode())
                for i in range(lib.ST_RISK_REASONS)}

EVENT_NAMES = {
    lib.ST_VEVENT_SENT: "sent",
    lib.ST_VEVENT_RISK_REJECT: "risk_reject",
    lib.ST_VEVENT_ACK: "ack",
    lib.ST_VEVENT_REJECTED: "rejected",
    lib.ST_VEVENT_UNKNOWN: "unknown",
    lib.ST_VEVENT_RATE_LIMIT: "rate_limit",
    lib.ST_VEVENT_CLOCK: "clock",
    lib.ST_VEVENT_AUTH: "auth",
    lib.ST_VEVENT_CONN: "conn",
}


@dataclass(frozen=True)
class RiskLimits:
    """Pre-trade limits of one venue (quantities and prices as decimals)."""

    max_quantity: Decimal
    max_notional: Decimal
    max_open_orders: int = 16
    orders_per_second: float = 4.0       # our bucket, kept under the venue's limit
    burst: int = 4
    max_price_age: float = 2.0           # seconds

    def native(self, price_decimals: int, quantity_decimals: int) -> CData:
        limits = ffi.new("st_risk_limits *")
        max_quantity = self.max_quantity.scaleb(quantity_decimals)
        max_notional = self.max_notional.scaleb(price_decimals + quantity_decimals)
        if max_quantity <= 0 or max_notional <= 0 or self.max_open_orders <= 0 or \
                self.burst <= 0 or self.orders_per_second <= 0 or self.max_price_age <= 0:
            raise ConfigError(f"risk limits must all be positive: {self}")
        if self.max_open_orders > lib.ST_DESK_INFLIGHT:
            raise ConfigError(f"risk: max_open_orders {self.max_open_orders} is above "
                              f"{lib.ST_DESK_INFLIGHT}")
        limits.max_quantity = int(max_quantity)
        limits.max_notional = int(max_notional)
        limits.max_open_orders = self.max_open_orders
        limits.burst = self.burst
        limits.interval_ns = int(1e9 / self.orders_per_second)
        limits.max_price_age_ns = int(self.max_price_age * 1e9)
        return limits


@dataclass(frozen=True)
class Event:
    kind: str
    code: int
    http_status: int
    order_status: int
    leg: int
    conn: int
    seq: int
    venue_order_id: int
    price: int
    quantity: int
    latency_ns: int
    retry_at_ms: int
    time_ns: int

    @property
    def reason(self) -> str:
        """For risk_reject: why."""
        return RISK_REASONS.get(self.code, str(self.code))


class OrderBuilder:
    """One native order template (and HMAC key when it signs), built on demand:
    the same code fire() runs, without a venue around it."""

    def __init__(self, template: Template, secret: Secret | None = None) -> None:
        self.cdata = ffi.new("st_order_template *")
        payload = template.payload
        native.ensure(lib.st_order_template_init(
            self.cdata, template.message, len(template.message),
            payload if payload is not None else ffi.NULL,
            len(payload) if payload is not None else 0,
            template.sign, template.price_decimals, template.quantity_decimals),
            "order template")
        self.key_cdata = ffi.gc(ffi.new("st_hmac_sha256_key *"), lib.st_hmac_sha256_key_wipe)
        if secret is not None:
            raw = secret.reveal()
            native.ensure(lib.st_hmac_sha256_key_init(self.key_cdata, lib.ST_SHA256_AUTO, raw,
                                                      len(raw)), "HMAC key")
        self._fields = ffi.new("st_order_fields *")
        self._out = ffi.new("uint8_t[]", lib.ST_ORDER_MAX_TEXT + 256)

    def build(self, *, request_id: int, client_id: int, timestamp_ms: int, price: int,
              quantity: int) -> bytes:
        f = self._fields
        f.request_id, f.client_id, f.timestamp_ms = request_id, client_id, timestamp_ms
        f.price, f.quantity = price, quantity
        n = native.ensure(lib.st_order_build(self.cdata, self.key_cdata, f, self._out,
                                             len(self._out)), "build order")
        return bytes(ffi.buffer(self._out, n))


class OwnLoop:
    """The desk on its own loop: changes apply at once, `pump` runs the loop
    and polls the desk."""

    engine = None

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def set_book(self, bid: int, ask: int, now_ns: int) -> None:
        lib.st_desk_set_book(self.desk.cdata, bid, ask, now_ns)

    def set_ready(self, conn: int) -> None:
        lib.st_desk_set_ready(self.desk.cdata, conn)

    def set_clock(self, offset_ms: int, resend: bool) -> None:
        if resend:
            lib.st_desk_clock_synced(self.desk.cdata, offset_ms, time.monotonic_ns())
        else:
            lib.st_desk_set_clock_offset(self.desk.cdata, offset_ms)

    def send(self, conn: int, data: bytes) -> None:
        native.ensure(lib.st_desk_send_control(self.desk.cdata, conn, data, len(data)),
                      "venue control message")

    def resolve(self, seq: int, status: int, venue_order_id: int, error_code: int) -> None:
        native.ensure(lib.st_desk_resolve(self.desk.cdata, seq, status, venue_order_id,
                                           error_code), f"resolve order {seq}")

    def set_limits(self, limits: CData) -> None:
        native.ensure(lib.st_risk_set_limits(lib.st_desk_risk(self.desk.cdata), limits),
                      "risk limits")

    def swap_template(self, index: int) -> None:
        native.ensure(lib.st_desk_swap_template(self.desk.cdata, index),
                      f"order template of leg {index}")

    def killed(self) -> None:
        """What a kill drops besides the risk flag: what the connections still queue."""
        for conn in self.desk.conns:
            conn.drop_queued()

    def pump(self, timeout: float) -> None:
        self.desk.conns[0].loop.run(timeout)
        self.desk.poll()


class OnEngine:
    """The desk on an engine: each change is a command for the engine's thread,
    applied in order; `pump` is one engine pass (or a wait, when threaded)."""

    def __init__(self, engine: Engine, index: int) -> None:
        self.engine, self.index = engine, index

    def _post(self, kind: int, **fields: Any) -> None:
        self.engine.post(kind, venue=self.index, **fields)

    def set_book(self, bid: int, ask: int, now_ns: int) -> None:
        self._post(lib.ST_CMD_SET_BOOK, a=bid, b=ask)   # the engine's clock stamps it

    def set_ready(self, conn: int) -> None:
        self._post(lib.ST_CMD_SET_READY, conn=conn)

    def set_clock(self, offset_ms: int, resend: bool) -> None:
        self._post(lib.ST_CMD_CLOCK, a=offset_ms, d=int(resend))

    def send(self, conn: int, data: bytes) -> None:
        self._post(lib.ST_CMD_SEND, conn=conn, data=data)

    def resolve(self, seq: int, status: int, venue_order_id: int, error_code: int) -> None:
        self._post(lib.ST_CMD_RESOLVE, c=seq, d=status, a=venue_order_id, b=error_code)

    def set_limits(self, limits: CData) -> None:
        self._post(lib.ST_CMD_SET_LIMITS, limits=limits[0])

    def swap_template(self, index: int) -> None:
        self._post(lib.ST_CMD_SWAP_TEMPLATE, a=index)

    def killed(self) -> None:
        """The engine drops the queued orders itself, on its KILL command."""

    def pump(self, timeout: float) -> None:
        self.engine.pump(timeout)


def _event(e: CData) -> Event:
    return Event(EVENT_NAMES.get(e.type, str(e.type)), int(e.code), int(e.http_status),
                 int(e.order_status), int(e.leg), int(e.conn), int(e.seq),
                 int(e.venue_order_id), int(e.price), int(e.quantity), int(e.latency_ns),
                 int(e.retry_at_ms), int(e.time_ns))


class Desk:
    """One venue's native order desk over a connection pair and a journal; its
    answers read as `schema` (the venue profile's) says."""

    def __init__(self, schema: AnswerSchema, conns: HotStandby | Connection, journal: Journal,
                 limits: RiskLimits, *, price_decimals: int, quantity_decimals: int,
                 index: int = 0, ack_timeout: float = 5.0, seed: int | None = None) -> None:
        if isinstance(conns, HotStandby):
            self.pair = conns.cdata
            self.conns: tuple[Connection, ...] = conns.conns
        else:
            self.pair = ffi.new("st_conn_pair *")
            lib.st_conn_pair_init(self.pair, conns.cdata, ffi.NULL)
            self.conns = (conns,)
        self.journal = journal
        self.price_decimals, self.quantity_decimals = price_decimals, quantity_decimals
        self.legs: list[Leg] = []
        self.cdata = ffi.gc(ffi.new("st_desk *"), lib.st_desk_exit)
        native.ensure(
            lib.st_desk_init(self.cdata, schema.native(), index, self.pair, journal.cdata,
                              limits.native(price_decimals, quantity_decimals),
                              int(ack_timeout * 1e9),
                              seed if seed is not None else time.monotonic_ns()),
            "venue desk",
        )
        self.index = index
        self.mode: OwnLoop | OnEngine = OwnLoop(self)
        self.book_conn: Connection | None = None
        self._bid, self._ask = ffi.new("int64_t *"), ffi.new("int64_t *")
        self._book_ns = ffi.new("uint64_t *")
        self._event = ffi.new("st_desk_event *")
        self._msg = ffi.new("uint8_t[]", lib.ST_DESK_MAX_MESSAGE)
        self._conn = ffi.new("int *")

    def attach(self, engine: Engine, index: int) -> None:
        """The desk now belongs to `engine` (Engine.add_desk calls this), as its
        venue `index`: from here on its changes are the engine thread's commands."""
        self.index, self.mode = index, OnEngine(engine, index)

    @property
    def engine(self) -> Engine | None:
        """The engine this desk belongs to, if any."""
        return self.mode.engine

    # -- set-up ---------------------------------------------------------------

    def set_hmac_secret(self, secret: Secret) -> None:
        raw = secret.reveal()
        native.ensure(lib.st_desk_set_key(self.cdata, raw, len(raw)), "venue HMAC key")

    def add_leg(self, leg: Leg, template: Template) -> int:
        if (leg.price_decimals, leg.quantity_decimals) != (self.price_decimals,
                                                          self.quantity_decimals):
            raise ConfigError(f"{leg.symbol}: every leg of a venue uses the same decimals")
        spec = ffi.new("st_desk_leg_spec *")
        spec.side = leg.side.value
        spec.quantity = leg.fixed(leg.quantity, leg.quantity_decimals, "quantity")
        spec.offset_bps = leg.offset_bps
        spec.tick = leg.fixed(leg.tick, leg.price_decimals, "tick")
        spec.has_price = int(leg.has_price)
        spec.rests = int(leg.rests)
        payload = template.payload
        index = native.ensure(
            lib.st_desk_add_leg(
                self.cdata, spec, template.message, len(template.message),
                payload if payload is not None else ffi.NULL,
                len(payload) if payload is not None else 0,
                template.sign, template.price_decimals, template.quantity_decimals),
            f"order leg {leg.symbol} {leg.side.name}",
        )
        self.legs.append(leg)
        return index

    def replace_template(self, index: int, template: Template) -> None:
        """Leg `index` sends `template` from the next order on (the same order
        with a new token, say). It is compiled here into the leg's spare and
        swapped in by the engine thread, in command order: a set_ready() posted
        after this finds the new template in place."""
        payload = template.payload
        deadline = time.monotonic() + SWAP_WAIT_S
        while (rc := lib.st_desk_prepare_template(
                self.cdata, index, template.message, len(template.message),
                payload if payload is not None else ffi.NULL,
                len(payload) if payload is not None else 0,
                template.sign, template.price_decimals, template.quantity_decimals)
               ) == -errno.EBUSY and time.monotonic() < deadline:
            self.pump(0.001)     # the engine has not taken the last one yet
        native.ensure(rc, f"order template of leg {index}")
        self.mode.swap_template(index)

    def set_book(self, bid: Decimal, ask: Decimal, now_ns: int | None = None) -> None:
        scale = self.price_decimals
        self.mode.set_book(int(bid.scaleb(scale)), int(ask.scaleb(scale)),
                           now_ns if now_ns is not None else time.monotonic_ns())

    def set_book_feed(self, book: BookSpec, symbol: str, conn: Connection | None = None
                      ) -> None:
        """Prices from `book`'s stream of `symbol` on conn, read natively by
        whoever polls this desk (the engine thread, once added): no Python per
        update. Set-up, before the desk is added to an engine; conn is on the
        desk's loop and opened with its connections. Without conn, messages
        come through on_book()."""
        if self.engine is not None:
            raise native.invalid_argument("book feed", "set it before adding the desk to "
                                                       "an engine")
        text = book.subscribe(symbol)
        data = text.encode() if text else b""
        native.ensure(lib.st_desk_set_book_feed(
            self.cdata, book.native(), self.price_decimals,
            conn.cdata if conn is not None else ffi.NULL, data or ffi.NULL, len(data)),
            "book feed")
        self.book_conn = conn

    def on_book(self, text: bytes, now_ns: int | None = None) -> int:
        """Reads one book message as the feed does: 1 price set, 0 not a book
        message, -EBADMSG dropped."""
        return int(lib.st_desk_on_book(self.cdata, text, len(text),
                                        now_ns if now_ns is not None else time.monotonic_ns()))

    @property
    def book(self) -> tuple[Decimal, Decimal, float | None]:
        """Best bid, ask and their age in seconds (None: no price yet). Read
        while the engine may write: for display, not for decisions."""
        lib.st_desk_get_book(self.cdata, self._bid, self._ask, self._book_ns)
        bid, ask, at_ns = int(self._bid[0]), int(self._ask[0]), int(self._book_ns[0])
        age = (time.monotonic_ns() - at_ns) / 1e9 if at_ns else None
        return (Decimal(bid).scaleb(-self.price_decimals),
                Decimal(ask).scaleb(-self.price_decimals), age)

    def set_ready(self, conn: int) -> None:
        self.mode.set_ready(conn)

    def set_clock_offset(self, offset_ms: int) -> None:
        self.mode.set_clock(offset_ms, resend=False)

    def clock_synced(self, offset_ms: int) -> None:
        """Sets the offset after a -1021 and sends the refused orders again."""
        self.mode.set_clock(offset_ms, resend=True)

    # -- the hot side, driven from Python until the engine thread exists -------

    def fire(self, txid: bytes, now_ns: int | None = None) -> int:
        """Fires the order set for a trigger: orders sent, or -(risk reason)."""
        if len(txid) != 32:
            raise native.invalid_argument("fire", "a trigger txid is 32 bytes")
        return int(lib.st_desk_fire(self.cdata, txid,
                                     now_ns if now_ns is not None else time.monotonic_ns()))

    def poll(self) -> int:
        return int(lib.st_desk_poll(self.cdata, time.monotonic_ns()))

    def pump(self, timeout: float) -> None:
        """Lets the connections make progress for up to `timeout` seconds: runs
        the loop and polls (alone), one engine pass, or just waits (threaded)."""
        self.mode.pump(timeout)

    def on_message(self, text: bytes, conn: int = 0) -> None:
        lib.st_desk_on_message(self.cdata, conn, text, len(text), time.monotonic_ns())

    def events(self) -> list[Event]:
        out = []
        while lib.st_desk_next_event(self.cdata, self._event):
            out.append(_event(self._event))
        return out

    def messages(self) -> list[tuple[int, bytes]]:
        """Messages that are not answers to orders, with their connection index."""
        out = []
        while (n := native.ensure(
                lib.st_desk_next_message(self.cdata, self._msg, len(self._msg), self._conn),
                "venue inbox")) > 0:
            out.append((int(self._conn[0]), bytes(ffi.buffer(self._msg, n))))
        return out

    def send_control(self, text: str, conn: int = -1) -> None:
        self.mode.send(conn, text.encode())

    def resolve(self, seq: int, status: int, venue_order_id: int = 0, error_code: int = 0
                ) -> None:
        self.mode.resolve(seq, status, venue_order_id, error_code)

    # -- risk and state -------------------------------------------------------

    def kill(self, killed: bool = True) -> None:
        """No further order leaves (or, with False, they may again). The risk
        flag is atomic and takes effect at once, from any thread; on its own
        (no engine thread) the desk also drops what its connections still queue,
        which the engine does itself on its KILL command."""
        lib.st_risk_kill(lib.st_desk_risk(self.cdata), int(killed))
        if killed:
            self.mode.killed()

    @property
    def killed(self) -> bool:
        return bool(lib.st_risk_killed(lib.st_desk_risk(self.cdata)))

    def set_limits(self, limits: RiskLimits) -> None:
        self.mode.set_limits(limits.native(self.price_decimals, self.quantity_decimals))

    @property
    def rejections(self) -> dict[str, int]:
        """Orders refused by risk, by reason."""
        risk = lib.st_desk_risk(self.cdata)
        return {RISK_REASONS[i]: int(lib.st_risk_rejected(risk, i))
                for i in range(1, lib.ST_RISK_REASONS)}

    @property
    def open_orders(self) -> int:
        return int(lib.st_risk_open_orders(lib.st_desk_risk(self.cdata)))

    @property
    def risk_accepted(self) -> int:
        return int(lib.st_risk_accepted(lib.st_desk_risk(self.cdata)))

    @property
    def stats(self) -> dict[str, int]:
        s = lib.st_desk_get_stats(self.cdata)
        return {name: int(getattr(s, name)) for name in dir(s)}
