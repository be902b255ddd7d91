# SPDX-License-Identifier: MIT
"""The REST port: HTTPS, one request per connection, routed by path to the venues'
REST endpoints (each venue's ``VenueService.rest``).

An HTTP request that cannot be parsed gets a 400, one that is too big a 413, one for
a path no venue serves a 404, each in the shape of the first venue with REST
endpoints (the port's house style).  ``Connection: close``; sizes and waits are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from urllib.parse import urlsplit

from .context import Context
from .venue import RestAnswer, RestApi

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
READ_TIMEOUT_S = 10.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large"}


class HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class RestServer:
    def __init__(self, ctx: Context, apis: list[RestApi]) -> None:
        self.ctx = ctx
        self.routes = {path: api for api in apis for path in api.paths}
        self.house = apis[0] if apis else None
        # Headers a request must not repeat: its length and what the venues read.
        self.single = {"content-length", *(h for api in apis for h in api.headers)}

    async def start(self, host: str, port: int, ssl_ctx: ssl.SSLContext) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, ssl=ssl_ctx, limit=MAX_HEAD,
                                          ssl_handshake_timeout=READ_TIMEOUT_S)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        serial = self.ctx.next_serial()
        try:
            await self._handle(serial, reader, writer)
        except (ConnectionError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), READ_TIMEOUT_S)

    async def _handle(
        self, serial: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        t_ns = time.time_ns()
        raw = ""
        path = ""
        method: str | None = None
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            except asyncio.LimitOverrunError:
                raise HttpError(413) from None
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    return  # connected and left without a request
                raise HttpError(400) from None
            t_ns = time.time_ns()
            raw = head.decode("latin-1")
            method, path, headers = _parse_head(raw, self.single)
            length_text = headers.get("content-length", "0")
            if "transfer-encoding" in headers or not length_text.isdigit():
                raise HttpError(400)
            if int(length_text) > MAX_BODY:
                raise HttpError(413)
            body = await asyncio.wait_for(reader.readexactly(int(length_text)), READ_TIMEOUT_S)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raw += body.decode("utf-8", "backslashreplace")
                raise HttpError(400) from None
            raw += text
            api = self.routes.get(urlsplit(path).path)
            if api is None:
                raise HttpError(404)
            answer = api.answer(method, path, headers, text)
        except HttpError as exc:
            answer = self._http_error(exc.status)
        self.ctx.recorder.request(
            "rest", t_ns=t_ns, conn=serial, path=path, raw=raw, method=method,
            verdict=answer.verdict, code=answer.code, client_order_id=None,
        )
        status = answer.status
        payload = json.dumps(answer.body).encode()
        writer.write(
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload
        )
        await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)

    def _http_error(self, status: int) -> RestAnswer:
        if self.house is None:
            return RestAnswer(status, {"error": REASONS.get(status, "Error")}, "error", status)
        return self.house.http_error(status)


def _parse_head(head: str, single: set[str]) -> tuple[str, str, dict[str, str]]:
    """Request line and headers (names lower-cased); HttpError(400) if malformed."""
    lines = head[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise HttpError(400)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400)
        key = name.lower()
        if key in headers and key in single:
            raise HttpError(400)
        headers[key] = value.strip()
    return parts[0], parts[1], headers
