# SPDX-License-Identifier: MIT
"""Kraken's REST ``POST /0/private/GetWebSocketsToken``, over HTTPS on its own port.

Headers ``API-Key`` and ``API-Sign``, form-encoded body with ``nonce``.  Checked in this
order: the key (``EAPI:Invalid key``), ``API-Sign`` (``EAPI:Invalid signature``), the
nonce, which must be an integer above the last one accepted for the key
(``EAPI:Invalid nonce``).  Answers are Kraken's ``{"error": [...], "result": {...}}``
with HTTP 200; an HTTP request that cannot be parsed gets a 400, one that is too big a
413.  One request per connection (``Connection: close``); sizes and waits are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import signing
from .context import Context

TOKEN_PATH = "/0/private/GetWebSocketsToken"
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
READ_TIMEOUT_S = 10.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large"}


class HttpError(Exception):
    def __init__(self, status: int, error: str = "EGeneral:Invalid arguments") -> None:
        super().__init__(error)
        self.status, self.error = status, error


class KrakenRest:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.last_nonce: dict[str, int] = {}

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
            method, path, headers = _parse_head(raw)
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
            status, answer = self.answer(method, path, headers, text)
        except HttpError as exc:
            status, answer = exc.status, {"error": [exc.error], "result": {}}
        verdict = "accepted" if not answer["error"] else "error" if status != 200 else "rejected"
        self.ctx.recorder.request(
            "rest", t_ns=t_ns, conn=serial, path=path, raw=raw, method=method,
            verdict=verdict, code=answer["error"][0] if answer["error"] else None,
            client_order_id=None,
        )
        payload = json.dumps(answer).encode()
        writer.write(
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload
        )
        await asyncio.wait_for(writer.drain(), READ_TIMEOUT_S)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any]]:
        if urlsplit(path).path != TOKEN_PATH:
            raise HttpError(404, "EGeneral:Unknown method")
        if method != "POST":
            raise HttpError(405)
        form = parse_qs(body, keep_blank_values=True)
        account = self.ctx.accounts.kraken.get(headers.get("api-key", ""))
        if account is None:
            return 200, {"error": ["EAPI:Invalid key"], "result": {}}
        nonce_values = form.get("nonce", [])
        nonce = nonce_values[0] if len(nonce_values) == 1 else ""
        if not signing.kraken_sign_ok(account.secret, urlsplit(path).path, nonce, body,
                                      headers.get("api-sign", "")):
            return 200, {"error": ["EAPI:Invalid signature"], "result": {}}
        if not nonce.isdigit() or int(nonce) <= self.last_nonce.get(account.api_key, -1):
            return 200, {"error": ["EAPI:Invalid nonce"], "result": {}}
        self.last_nonce[account.api_key] = int(nonce)
        token = self.ctx.tokens.issue(account.api_key)
        return 200, {"error": [], "result": {"token": token,
                                             "expires": int(self.ctx.tokens.lifetime_s)}}


def _parse_head(head: str) -> tuple[str, str, dict[str, str]]:
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
        if key in headers and key in ("content-length", "api-key", "api-sign"):
            raise HttpError(400)
        headers[key] = value.strip()
    return parts[0], parts[1], headers
