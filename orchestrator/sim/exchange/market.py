# SPDX-License-Identifier: MIT
"""Market streams: a connection that gets one message per book step for one symbol.

The venue module says which paths are streams (or which messages subscribe), which
symbol each names and how a quote is written; on a stream path anything the client
sends is logged in the venue's log and ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .book import Quote
from .context import Context
from .link import Link


async def serve_stream(
    ctx: Context, log: str, link: Link, symbol: str, render: Callable[[Quote], str]
) -> None:
    """Pushes ``render(quote)`` of ``symbol`` on every book step until ``link`` ends."""
    pump = push_quotes(ctx, link, symbol, render)
    try:
        async for t_ns, _text, raw in link.messages():
            ctx.recorder.request(
                log, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                method=None, verdict="error", code=None, client_order_id=None,
            )
    finally:
        pump.cancel()


def push_quotes(ctx: Context, link: Link, symbol: str, render: Callable[[Quote], str]
                ) -> asyncio.Task[None]:
    """Sends ``render(quote)`` of ``symbol`` on ``link`` after every book step, until
    the task is cancelled."""
    return asyncio.create_task(_pump(ctx, link, symbol, render))


async def _pump(ctx: Context, link: Link, symbol: str, render: Callable[[Quote], str]) -> None:
    book = ctx.book
    while True:
        async with book.changed:
            await book.changed.wait()
        quote = book.get(symbol)
        assert quote is not None
        await link.send(render(quote))
