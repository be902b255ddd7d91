# SPDX-License-Identifier: MIT
"""One WebSocket connection as the protocol handlers see it: the messages it receives
and replies sent now or later.

A text frame that is not UTF-8 fails the connection with 1007 and a message over the
size limit with 1009, as RFC 6455 requires (the ``websockets`` library does both);
a binary frame is handed on as undecodable, for the handler to answer with an error."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed


class Link:
    def __init__(self, ws: ServerConnection, serial: int, path: str) -> None:
        self.ws = ws
        self.serial = serial
        self.path = path
        remote = ws.remote_address
        self.ip = str(remote[0]) if remote else "?"
        self._later: set[asyncio.Task[None]] = set()

    async def messages(self) -> AsyncIterator[tuple[int, str | None, str]]:
        """Yields ``(t_ns, text, raw)`` per message until the connection closes.
        ``text`` is None for a binary frame; ``raw`` is what arrived, bytes that are not
        UTF-8 backslash-escaped."""
        while True:
            try:
                message = await self.ws.recv()
            except ConnectionClosed:
                return
            t_ns = time.time_ns()
            if isinstance(message, str):
                yield t_ns, message, message
            else:
                yield t_ns, None, message.decode("utf-8", "backslashreplace")

    async def send(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    def send_later(self, make: Callable[[], str], delay_ms: int) -> None:
        """Sends ``make()`` after ``delay_ms`` without holding up the receive loop."""

        async def later() -> None:
            await asyncio.sleep(delay_ms / 1000)
            await self.send(make())

        task = asyncio.create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def finish(self) -> None:
        """Drops replies still waiting: the connection they were for has closed."""
        for task in list(self._later):
            task.cancel()
