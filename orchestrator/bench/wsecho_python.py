# SPDX-License-Identifier: MIT
"""Python competitors of `stratum bench wsecho`: wss round-trip time.

`wsecho/websockets` is the `websockets` asyncio client, `wsecho/picows` the
picows client. Each opens one TLS WebSocket to a running echo server
(orchestrator/bench/echo_server.py), does `warmup` unmeasured round trips, then times
`samples` round trips of one text message (the ASCII payload) with
time.perf_counter_ns: from just before the send until the echo reaches user
code (recv() returning for websockets, WSListener.on_ws_frame for picows,
whose callback API is its fast path). Every echo is checked byte for byte,
outside the timed span. Both run on the stock asyncio loop, and both are
bounded: a round trip that makes no progress for RTT_TIMEOUT_S seconds, or a
whole run longer than its total budget, raises TimeoutError.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.asyncio.client import connect as websockets_connect

RTT_TIMEOUT_S = 5.0  # no round trip may stall longer than this
CONNECT_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0
TOTAL_BASE_S = 30.0  # plus per-message budget below, for the whole run
TOTAL_PER_MESSAGE_S = 0.01
SERVER_HOSTNAME = "localhost"

_T = TypeVar("_T")


def _client_context(cafile: str) -> ssl.SSLContext:
    """Client context trusting only cafile, hostname checked."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _check_args(payload: bytes, samples: int, warmup: int) -> None:
    if samples < 1 or warmup < 0:
        raise ValueError(f"need samples >= 1 and warmup >= 0, got {samples}, {warmup}")
    if not payload.isascii():
        raise ValueError("payload must be ASCII: it is sent as a text frame")


def _total_budget(samples: int, warmup: int) -> float:
    return TOTAL_BASE_S + TOTAL_PER_MESSAGE_S * (samples + warmup)


async def _bounded(
    body: Callable[[Callable[[], None]], Awaitable[_T]], total_s: float, what: str
) -> _T:
    """Run body(progress) under a total deadline and a stall deadline.

    body calls progress() after each round trip; if RTT_TIMEOUT_S passes
    without a call, or total_s passes at all, TimeoutError is raised. The
    stall check is a timer ticking every 0.5 s, so a round trip costs
    only one counter increment.
    """
    loop = asyncio.get_running_loop()
    count = 0
    seen = 0
    stall_deadline = loop.time() + CONNECT_TIMEOUT_S + RTT_TIMEOUT_S
    tick: asyncio.TimerHandle | None = None

    def progress() -> None:
        nonlocal count
        count += 1

    try:
        async with asyncio.timeout(total_s), asyncio.timeout(None) as stall_cm:

            def check() -> None:
                nonlocal seen, stall_deadline, tick
                now = loop.time()
                if count != seen:
                    seen = count
                    stall_deadline = now + RTT_TIMEOUT_S
                if now >= stall_deadline:
                    stall_cm.reschedule(now)  # expires at once: body is cancelled
                    return
                tick = loop.call_later(0.5, check)

            tick = loop.call_later(0.5, check)
            try:
                return await body(progress)
            finally:
                if tick is not None:
                    tick.cancel()
    except TimeoutError as exc:
        raise TimeoutError(
            f"{what}: no progress for {RTT_TIMEOUT_S:.0f} s or over {total_s:.0f} s in all"
            f" ({count} round trips done)"
        ) from exc
    raise AssertionError("unreachable")  # asyncio.timeout never swallows an exception


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run coro on a fresh stock asyncio loop."""
    return asyncio.run(coro)


# --------------------------------------------------------------------------- websockets


def _measure(session: Callable[..., Awaitable[list[float]]], name: str, url: str,
             cafile: str, payload: bytes, samples: int, warmup: int) -> list[float]:
    _check_args(payload, samples, warmup)
    return _run(
        _bounded(
            lambda progress: session(url, cafile, payload, samples, warmup, progress),
            _total_budget(samples, warmup),
            name,
        )
    )


def measure_websockets(
    url: str, cafile: str, payload: bytes, samples: int, warmup: int = 200
) -> list[float]:
    """RTT in ns of `samples` text round trips with the websockets asyncio client."""
    return _measure(_websockets_session, "wsecho/websockets", url, cafile, payload, samples,
                    warmup)


async def _websockets_session(
    url: str,
    cafile: str,
    payload: bytes,
    samples: int,
    warmup: int,
    progress: Callable[[], None],
) -> list[float]:
    clock = time.perf_counter_ns
    out: list[float] = []
    async with websockets_connect(
        url,
        ssl=_client_context(cafile),
        server_hostname=SERVER_HOSTNAME,
        compression=None,
        max_size=max(len(payload), 1) * 2 + 1024,
        open_timeout=CONNECT_TIMEOUT_S,
        close_timeout=CLOSE_TIMEOUT_S,
        ping_interval=None,  # no keepalive pings in the middle of timing
    ) as ws:
        for i in range(warmup + samples):
            start = clock()
            await ws.send(payload, text=True)  # bytes sent as a text frame, no re-encoding
            echo = await ws.recv(decode=False)  # text frame returned as bytes, no decoding
            end = clock()
            if echo != payload:
                raise RuntimeError(f"wsecho/websockets: echo {i} differs from what was sent")
            if i >= warmup:
                out.append(float(end - start))
            progress()
    return out


# --------------------------------------------------------------------------- picows


class _PingPong(WSListener):
    """Callback-driven round trips: on_ws_frame times the echo and sends the next."""

    def __init__(self, payload: bytes, samples: int, warmup: int) -> None:
        self.payload = payload
        self.samples = samples
        self.warmup = warmup
        self.out: list[float] = []
        self.sent = 0
        self.start = 0
        self.progress: Callable[[], None] = lambda: None
        self.done: asyncio.Future[None] | None = None
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def begin(self, progress: Callable[[], None]) -> asyncio.Future[None]:
        """Send the first message; the future ends after the last echo."""
        assert self.transport is not None
        self.progress = progress
        self.done = asyncio.get_running_loop().create_future()
        self._send_next(self.transport)
        return self.done

    def _send_next(self, transport: WSTransport) -> None:
        self.sent += 1
        self.start = time.perf_counter_ns()
        transport.send(WSMsgType.TEXT, self.payload)

    def _fail(self, exc: BaseException) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        end = time.perf_counter_ns()
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT and frame.fin:
            if self.done is None or self.done.done():
                return
            if frame.get_payload_as_bytes() != self.payload:
                self._fail(RuntimeError(f"wsecho/picows: echo {self.sent} differs"))
                return
            if self.sent > self.warmup:
                self.out.append(float(end - self.start))
            self.progress()
            if self.sent < self.warmup + self.samples:
                self._send_next(transport)
            else:
                self.done.set_result(None)
        elif msg_type == WSMsgType.CLOSE:
            transport.disconnect()
            self._fail(ConnectionError("wsecho/picows: server closed the connection"))
        elif msg_type != WSMsgType.PONG:
            self._fail(RuntimeError(f"wsecho/picows: unexpected frame {msg_type.name}"))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._fail(ConnectionError("wsecho/picows: disconnected"))


def measure_picows(
    url: str, cafile: str, payload: bytes, samples: int, warmup: int = 200
) -> list[float]:
    """RTT in ns of `samples` text round trips with the picows client."""
    return _measure(_picows_session, "wsecho/picows", url, cafile, payload, samples, warmup)


async def _picows_session(
    url: str,
    cafile: str,
    payload: bytes,
    samples: int,
    warmup: int,
    progress: Callable[[], None],
) -> list[float]:
    transport, listener = await ws_connect(
        lambda: _PingPong(payload, samples, warmup),
        url,
        ssl_context=_client_context(cafile),
        server_hostname=SERVER_HOSTNAME,
        websocket_handshake_timeout=CONNECT_TIMEOUT_S,
        max_frame_size=max(len(payload), 1) * 2 + 1024,
        enable_auto_ping=False,
    )
    assert isinstance(listener, _PingPong)
    try:
        await listener.begin(progress)
    finally:
        if not transport.is_disconnected:
            transport.send_close(WSCloseCode.OK)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await transport.wait_disconnected()
            transport.disconnect(graceful=False)
    return listener.out
