# SPDX-License-Identifier: MIT
"""Venue profiles: what each exchange needs, handed to the native side as data.

A profile knows its venue's URLs, how it authenticates, how to write an
order (a template with slots the native side fills in place), how to sign,
where its answers keep what the desk reads (an AnswerSchema) and its rate
limits. Nothing venue-specific lives in C: the C side only fills slots,
signs per the template's mode and reads answers through the schema.

Slots in a template are the byte 0x00 followed by the slot number (see
native/include/st_order.h); :func:`slot` gives them.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from orchestrator._native import ffi, lib
from orchestrator.errors import ConfigError, StratumError
from orchestrator.native import CData


class Slot(Enum):
    REQUEST_ID = lib.ST_SLOT_REQUEST_ID
    CLIENT_ID = lib.ST_SLOT_CLIENT_ID
    TIMESTAMP = lib.ST_SLOT_TIMESTAMP
    PRICE = lib.ST_SLOT_PRICE
    QUANTITY = lib.ST_SLOT_QUANTITY
    SIGNATURE = lib.ST_SLOT_SIGNATURE


def slot(which: Slot) -> str:
    """The marker of a slot inside template text."""
    return "\x00" + chr(which.value)


CLIENT_ID_DIGITS: int = lib.ST_ORDER_CLIENT_ID_DIGITS


class Side(Enum):
    BUY = lib.ST_SIDE_BUY
    SELL = lib.ST_SIDE_SELL


class Secret:
    """Bytes that must never be printed: repr, str and format show nothing."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes | str) -> None:
        self._value = value.encode() if isinstance(value, str) else bytes(value)

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("a Secret is not pickled")


@dataclass(frozen=True)
class Leg:
    """One order of a trigger's order set."""

    symbol: str
    side: Side
    quantity: Decimal
    order_type: str = "LIMIT"          # LIMIT, LIMIT_MAKER (post only) or MARKET
    time_in_force: str = "IOC"         # GTC, IOC, FOK (LIMIT only)
    offset_bps: int = 10               # limit price this far through the book (< 0: behind)
    tick: Decimal = Decimal("0.01")    # price step of the symbol
    price_decimals: int = 2
    quantity_decimals: int = 8

    @property
    def has_price(self) -> bool:
        return self.order_type in ("LIMIT", "LIMIT_MAKER")

    @property
    def rests(self) -> bool:
        """Whether the order can stay on the book after it is accepted."""
        return self.order_type == "LIMIT_MAKER" or (
            self.order_type == "LIMIT" and self.time_in_force == "GTC")

    def fixed(self, value: Decimal, decimals: int, what: str) -> int:
        """value as a fixed-point integer with `decimals` places; exact or refused."""
        scaled = value.scaleb(decimals)
        if scaled != scaled.to_integral_value() or scaled <= 0:
            raise ConfigError(
                f"{self.symbol}: {what} {value} is not a positive multiple of 1e-{decimals}"
            )
        return int(scaled)


@dataclass(frozen=True)
class Template:
    """An order template as the native side takes it."""

    message: bytes
    payload: bytes | None = None       # what is signed, when sign is HMAC
    sign: int = lib.ST_ORDER_SIGN_NONE
    price_decimals: int = 2
    quantity_decimals: int = 8


@dataclass(frozen=True)
class RateLimit:
    """A venue limit: `count` requests per `seconds`."""

    count: int
    seconds: float
    name: str = ""


@dataclass(frozen=True)
class Field:
    """Where an answer keeps one value: member `key` of the object under `parent`
    ("" at the top level or inside an array), `depth` containers deep (1: top)."""

    key: str
    parent: str = ""
    depth: int = 1


@dataclass(frozen=True)
class Rule:
    """A refusal whose code (on="code") or HTTP status (on="status") is `value`
    means `event`: "unknown", "rate_limit", "clock", "auth" or "rejected"."""

    value: int
    event: str
    on: str = "code"


_RULE_EVENTS = {"rejected": lib.ST_VEVENT_REJECTED, "unknown": lib.ST_VEVENT_UNKNOWN,
                "rate_limit": lib.ST_VEVENT_RATE_LIMIT, "clock": lib.ST_VEVENT_CLOCK,
                "auth": lib.ST_VEVENT_AUTH}
_RULE_ON = {"code": lib.ST_DESK_ON_CODE, "status": lib.ST_DESK_ON_STATUS}


@dataclass(frozen=True)
class AnswerSchema:
    """How the native desk reads a venue's answers to orders (st_desk_schema).

    Numbers may be JSON numbers or strings of digits. An answer is ok when
    `status` is true or equals `ok_value`; a refusal's code is the last
    nonzero of `codes`, else what its `error_text` starts with (`text_codes`),
    else `default_code`; the first matching rule names its event.
    """

    request_id: Field
    status: Field
    ok_value: int = 0
    status_is_http: bool = False
    client_id: Field | None = None       # matched when an answer has no request id
    codes: tuple[Field, ...] = ()
    error_text: Field | None = None
    text_codes: tuple[tuple[str, int], ...] = ()
    default_code: int = 0
    order_status: Field | None = None
    statuses: tuple[tuple[str, int], ...] = ()   # status word -> ST_ORDER_STATUS_*
    order_id: Field | None = None
    retry_at: Field | None = None        # wall ms when a rate limit lifts
    rules: tuple[Rule, ...] = ()

    def native(self) -> CData:
        """The st_desk_schema; ConfigError names what does not fit."""
        out = ffi.new("st_desk_schema *")
        _field(out.request_id, self.request_id, "request_id")
        _field(out.status, self.status, "status")
        _field(out.client_id, self.client_id, "client_id")
        _field(out.error_text, self.error_text, "error_text")
        _field(out.order_status, self.order_status, "order_status")
        _field(out.order_id, self.order_id, "order_id")
        _field(out.retry_at, self.retry_at, "retry_at")
        out.ok_value = self.ok_value
        out.status_is_http = int(self.status_is_http)
        out.default_code = self.default_code
        _fits(self.codes, lib.ST_DESK_CODE_FIELDS, "codes")
        for i, code_field in enumerate(self.codes):
            _field(out.codes[i], code_field, "codes")
        _fits(self.rules, lib.ST_DESK_RULES, "rules")
        for i, rule in enumerate(self.rules):
            if rule.event not in _RULE_EVENTS or rule.on not in _RULE_ON:
                raise ConfigError(f"answer schema: rule {rule}: event one of "
                                  f"{sorted(_RULE_EVENTS)}, on one of {sorted(_RULE_ON)}")
            out.rules[i].value, out.rules[i].on = rule.value, _RULE_ON[rule.on]
            out.rules[i].event = _RULE_EVENTS[rule.event]
        _fits(self.text_codes, lib.ST_DESK_TEXT_CODES, "text_codes")
        for i, (prefix, code) in enumerate(self.text_codes):
            out.text_codes[i].prefix = _name(prefix, "text_codes")
            out.text_codes[i].code = code
        _fits(self.statuses, lib.ST_DESK_STATUS_NAMES, "statuses")
        for i, (word, status) in enumerate(self.statuses):
            out.statuses[i].name = _name(word, "statuses")
            out.statuses[i].status = status
        return out


def _fits(items: tuple[object, ...], most: int, what: str) -> None:
    if len(items) > most:
        raise ConfigError(f"answer schema: {len(items)} {what}, at most {most}")


def _name(text: str, what: str) -> bytes:
    raw = text.encode()
    if not raw or len(raw) >= lib.ST_DESK_NAME or b"\0" in raw:
        raise ConfigError(f"answer schema {what}: {text!r} is empty or longer than "
                          f"{lib.ST_DESK_NAME - 1} bytes")
    return raw


def _field(out: CData, where: Field | None, what: str) -> None:
    if where is None:
        return
    if not 1 <= where.depth <= 16:
        raise ConfigError(f"answer schema {what}: depth {where.depth} is not 1 to 16")
    out.depth = where.depth
    out.key = _name(where.key, what)
    if where.parent:
        out.parent = _name(where.parent, what)


@dataclass(frozen=True)
class BookSpec:
    """A venue's top-of-book stream (st_desk_book_schema): where its messages
    keep the best bid and ask (a value, or the first element of a level array
    under that key), what to send once connected (None: nothing, the URL
    names the stream) and the venue's own URL, each for one symbol."""

    bid: Field
    ask: Field
    subscribe: Callable[[str], str | None]
    default_url: Callable[[str], str]

    def native(self) -> CData:
        """The st_desk_book_schema; ConfigError names what does not fit."""
        out = ffi.new("st_desk_book_schema *")
        _field(out.bid, self.bid, "book bid")
        _field(out.ask, self.ask, "book ask")
        return out


@dataclass(frozen=True)
class Profile:
    """What the engine needs to know about a venue beyond its templates."""

    name: str
    schema: AnswerSchema                # how its answers read
    ws_url: str
    order_limits: tuple[RateLimit, ...] = field(default_factory=tuple)
    book: BookSpec | None = None        # its top-of-book stream, when it has one


def _token(which: Slot) -> str:
    return f"@@slot{which.value}@@"


def render_json(obj: object, numeric: frozenset[Slot] = frozenset()) -> str:
    """Compact JSON of obj in which every value slot_value(s) becomes slot s.

    A numeric slot loses its quotes (the venue wants a JSON number there).
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for which in Slot:
        if which in numeric:
            text = text.replace(f'"{_token(which)}"', slot(which))
        text = text.replace(_token(which), slot(which))
    return text


def render_text(text: str) -> str:
    """text (not JSON) in which every slot_value(s) becomes slot s."""
    for which in Slot:
        text = text.replace(_token(which), slot(which))
    return text


def slot_value(which: Slot) -> str:
    """A placeholder for slot `which` inside a value given to render_json."""
    return _token(which)


def check_text(value: str, what: str, forbidden: str = "") -> str:
    """A value that goes into a template verbatim: printable, none of `forbidden`."""
    if not value or any(c in forbidden or not c.isprintable() or c == "@" for c in value):
        raise ConfigError(f"{what} {value!r} is empty or holds a character it may not")
    return value


def fetch_json(request: urllib.request.Request, *, context: ssl.SSLContext | None,
               timeout: float, what: str, error: type[StratumError],
               limit: int = 1 << 20) -> Any:
    """The decoded JSON answer to one HTTPS request of a venue's REST API, an HTTP
    error's body included (venues answer refusals in JSON); `error` says what
    failed, under `what`, when the network does or the body is not JSON."""
    status = None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body = response.read(limit)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(limit)
    except OSError as exc:          # a refused connection, a timeout, a TLS failure
        raise error(f"{what}: {exc}") from None
    try:
        return json.loads(body)
    except ValueError:
        said = f"HTTP {status}, " if status else ""
        raise error(f"{what}: {said}not JSON ({body[:80]!r})") from None
