# SPDX-License-Identifier: MIT
"""Venue profiles: what each exchange needs, handed to the native side as data.

A profile knows its venue's URLs, how it authenticates, how to write an
order (a template with slots the native side fills in place), how to sign,
what its answers look like and its rate limits. Nothing venue-specific lives
in C: the C side only fills slots, signs per the template's mode and reads
the answer fields named in st_venue.c.

Slots in a template are the byte 0x00 followed by the slot number (see
native/include/st_order.h); :func:`slot` gives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from orchestrator._native import lib
from orchestrator.errors import ConfigError


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
class Profile:
    """What the engine needs to know about a venue beyond its templates."""

    name: str
    kind: int                           # ST_VENUE_*
    ws_url: str
    order_limits: tuple[RateLimit, ...] = field(default_factory=tuple)


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
