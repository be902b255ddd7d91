# SPDX-License-Identifier: MIT
"""Binance raw market streams: ``/ws/<symbol lowercase>@bookTicker``.

Each book step pushes ``{"u", "s", "b", "B", "a", "A"}`` for the symbol, prices and
quantities as 8-decimal strings.  Anything the client sends is logged and ignored.
"""

from __future__ import annotations

import asyncio
import json
import re

from .binance import fmt8
from .book import Book, Quote
from .context import Context
from .link import Link

STREAM_RE = re.compile(r"/ws/([a-z0-9]{1,32})@bookTicker")


def stream_symbol(book: Book, path: str) -> str | None:
    """The book symbol a stream path names, or None if it names none."""
    found = STREAM_RE.fullmatch(path)
    if not found:
        return None
    for symbol in book.quotes:
        if "/" not in symbol and symbol.lower() == found.group(1):
            return symbol
    return None


def book_ticker(quote: Quote) -> str:
    return json.dumps({
        "u": quote.update_id, "s": quote.symbol, "b": fmt8(quote.bid), "B": fmt8(quote.bid_qty),
        "a": fmt8(quote.ask), "A": fmt8(quote.ask_qty),
    })


class MarketStreams:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def serve(self, link: Link, symbol: str) -> None:
        pump = asyncio.create_task(self._pump(link, symbol))
        try:
            async for t_ns, _text, raw in link.messages():
                self.ctx.recorder.request(
                    "binance", t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                    method=None, verdict="error", code=None, client_order_id=None,
                )
        finally:
            pump.cancel()

    async def _pump(self, link: Link, symbol: str) -> None:
        book = self.ctx.book
        while True:
            async with book.changed:
                await book.changed.wait()
            quote = book.get(symbol)
            assert quote is not None
            await link.send(book_ticker(quote))
