# SPDX-License-Identifier: MIT
"""Listening: the WebSocket port (routing by path) and the REST port, both TLS.

WebSocket paths are routed to the venue (:mod:`.venues`) that handles them; anything
else is refused in the handshake with 404.  Messages are limited to 64 KiB (a bigger
one closes the connection with 1009).  The server pings every 20 s and drops a client
silent for a minute after a ping.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from .context import Context
from .link import Link
from .rest import RestServer
from .venue import RestApi, VenueService
from .venues import VENUES

MAX_MESSAGE = 64 * 1024


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 and up (the engine's client speaks 1.2)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def write_ready_file(path: Path, ws_port: int, rest_port: int) -> None:
    """``{"ws_port", "rest_port", "pid"}``, written whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"ws_port": ws_port, "rest_port": rest_port, "pid": os.getpid()}))
    os.replace(tmp, path)


class Simulator:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.services: list[VenueService] = [venue.start(ctx) for venue in VENUES.values()]
        apis: list[RestApi] = [api for s in self.services if (api := s.rest()) is not None]
        self.rest = RestServer(ctx, apis)

    def _service(self, path: str) -> VenueService | None:
        route = urlsplit(path).path
        return next((s for s in self.services if s.handles(route)), None)

    def cut_last_order_links(self) -> None:
        for service in self.services:
            service.cut_last_order_link()

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self._service(request.path) is None:
            return conn.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        link = Link(ws, self.ctx.next_serial(), path)
        service = self._service(path)
        assert service is not None  # process_request refused every other path
        try:
            await service.serve(link)
        finally:
            link.finish()
            rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
            self.ctx.recorder.connection(
                link.serial, path, rcvd.code if rcvd else None, rcvd.reason if rcvd else None,
                sent.code if sent else None)

    async def run(
        self,
        *,
        host: str,
        ws_port: int,
        rest_port: int,
        ssl_ctx: ssl.SSLContext,
        book_interval_ms: int,
        ready_file: Path,
        stop: asyncio.Event,
    ) -> None:
        ws_server: Server = await serve(
            self.handler, host, ws_port, ssl=ssl_ctx, process_request=self.process_request,
            max_size=MAX_MESSAGE, compression=None, ping_interval=20, ping_timeout=60,
            close_timeout=1,  # a client that never answers our close is dropped after 1 s
        )
        rest_server = await self.rest.start(host, rest_port, ssl_ctx)
        ticker = asyncio.create_task(self.ctx.book.run(book_interval_ms))
        try:
            ws_bound = ws_server.sockets[0].getsockname()[1]
            rest_bound = rest_server.sockets[0].getsockname()[1]
            write_ready_file(ready_file, ws_bound, rest_bound)
            print(f"READY ws_port={ws_bound} rest_port={rest_bound}", flush=True)
            await stop.wait()
        finally:
            ticker.cancel()
            rest_server.close()
            ws_server.close()  # closes every connection with 1001 going away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws_server.wait_closed(), 3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rest_server.wait_closed(), 3)
