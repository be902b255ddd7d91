# SPDX-License-Identifier: MIT
"""The simulated top of book: one best bid and ask per symbol, random-walking by a tick.

Orders execute against it with unlimited size at the touch: a buy at or above the ask
fills at the ask, a sell at or below the bid fills at the bid, a market order fills at
the touch.  ``changed`` is notified after every step so stream connections can push.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
from decimal import Decimal, InvalidOperation

_SPEC = re.compile(r"^([A-Za-z0-9/._-]{1,32})=([0-9]+(?:\.[0-9]+)?):([0-9]+(?:\.[0-9]+)?)$")


@dataclasses.dataclass
class Quote:
    symbol: str
    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal
    tick: Decimal
    update_id: int = 1


def parse_book_spec(spec: str) -> Quote:
    """``SYMBOL=BID:ASK`` → a quote; ValueError naming the problem."""
    found = _SPEC.match(spec)
    if not found:
        raise ValueError(
            f"--book {spec!r}: expected SYMBOL=BID:ASK, e.g. BTCUSDT=52000.00:52000.10")
    symbol, bid_text, ask_text = found.groups()
    try:
        bid, ask = Decimal(bid_text), Decimal(ask_text)
    except InvalidOperation:
        raise ValueError(f"--book {spec!r}: prices must be decimals") from None
    if not 0 < bid < ask:
        raise ValueError(f"--book {spec!r}: needs 0 < bid < ask")
    places = max(len(t.partition(".")[2]) for t in (bid_text, ask_text))
    tick = Decimal(1).scaleb(-places)
    return Quote(symbol, bid, ask, Decimal("1.50000000"), Decimal("2.25000000"), tick)


class Book:
    def __init__(self, quotes: list[Quote], *, static: bool, seed: int | None = None) -> None:
        self.quotes = {q.symbol: q for q in quotes}
        self.static = static
        self.rng = random.Random(seed)
        self.changed = asyncio.Condition()

    def get(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    def step(self) -> None:
        """One update per symbol: prices move by at most a tick (never crossing)."""
        for q in self.quotes.values():
            q.update_id += 1
            if self.static:
                continue
            move = self.rng.choice((-1, 0, 0, 1)) * q.tick
            if q.bid + move > 0:
                q.bid += move
                q.ask += move
            q.bid_qty = Decimal(self.rng.randint(1, 500)).scaleb(-2)
            q.ask_qty = Decimal(self.rng.randint(1, 500)).scaleb(-2)

    async def run(self, interval_ms: int) -> None:
        """Steps the book forever, every ``interval_ms``."""
        while True:
            await asyncio.sleep(interval_ms / 1000)
            self.step()
            async with self.changed:
                self.changed.notify_all()


def crossing_price(quote: Quote, buy: bool, limit: Decimal | None) -> Decimal | None:
    """The price an order trades at now (None: it does not cross).  ``limit`` None is
    a market order."""
    touch = quote.ask if buy else quote.bid
    if limit is None:
        return touch
    if (buy and limit >= touch) or (not buy and limit <= touch):
        return touch
    return None
