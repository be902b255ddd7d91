# SPDX-License-Identifier: MIT
"""The hot line from Python: native TLS WebSocket connections on an io_uring loop.

Python sets things up (trust anchors, addresses, options) and reads state and
counters; the native loop does the I/O. A Loop is driven by whoever calls
`run()`: tests and tools call it from Python; the engine runs it on its own
pinned thread.
"""

from __future__ import annotations

import errno
import socket
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.errors import ConfigError, NativeError


class LoopMode(Enum):
    INTERRUPT = lib.ST_LOOP_INTERRUPT
    BUSY = lib.ST_LOOP_BUSY
    SQPOLL = lib.ST_LOOP_SQPOLL

    @property
    def label(self) -> str:
        return str(ffi.string(lib.st_loop_mode_name(self.value)).decode())


TEXT = lib.ST_WS_OP_TEXT
BINARY = lib.ST_WS_OP_BINARY

STATES = {
    lib.ST_CONN_CLOSED: "closed",
    lib.ST_CONN_CONNECTING: "connecting",
    lib.ST_CONN_TLS: "tls",
    lib.ST_CONN_UPGRADING: "upgrading",
    lib.ST_CONN_OPEN: "open",
    lib.ST_CONN_CLOSING: "closing",
    lib.ST_CONN_BACKOFF: "backoff",
}


class Trust:
    """Trust anchors for server certificates: the system bundle or a PEM file."""

    def __init__(self, pem_file: str | None = None) -> None:
        self.cdata = ffi.gc(ffi.new("st_tls_trust *"), lib.st_tls_trust_free)
        lib.st_tls_trust_init(self.cdata)
        path = pem_file or ffi.string(lib.st_tls_system_bundle()).decode()
        self.path = path
        self.count = native.ensure(
            lib.st_tls_trust_load_file(self.cdata, path.encode()), f"trust anchors {path}"
        )


class Loop:
    """One io_uring ring in one mode; owns the connections made on it."""

    def __init__(self, mode: LoopMode = LoopMode.INTERRUPT, sqpoll_cpu: int = -1) -> None:
        self.mode = mode
        self.cdata = ffi.gc(ffi.new("st_loop *"), lib.st_loop_exit)
        native.ensure(lib.st_loop_init(self.cdata, mode.value, sqpoll_cpu), f"{mode.label} loop")
        # Connections and their buffers must outlive the loop's use of them.
        self._keep: list[Any] = []

    def keep(self, owner: Any) -> None:
        """Keeps `owner` (whose native objects this loop now drives) alive as long
        as the loop."""
        self._keep.append(owner)

    def run(self, timeout: float = 0.0) -> int:
        """Process completions and deadlines for up to `timeout` seconds."""
        return native.ensure(lib.st_loop_run(self.cdata, int(timeout * 1e9)), "loop")

    def run_until(self, done: Any, timeout: float) -> bool:
        """Run until done() is true or timeout passes; returns done()."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return bool(done())
            self.run(min(left, 0.05))
        return True


@dataclass(frozen=True)
class Message:
    opcode: int
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode()


def _resolve(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"venue host {host!r}: cannot resolve ({exc.strerror})") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)  # IPv4 first
    return str(infos[0][4][0])


def _parse_url(url: str) -> tuple[str, int, str, int]:
    """(host, port, path, proto) from wss://host[:port]/path or tls://host:port."""
    parts = urlsplit(url)
    if parts.scheme not in ("wss", "tls") or not parts.hostname:
        raise ConfigError(f"venue URL {url!r}: expected wss://host[:port]/path or tls://host:port")
    try:
        port = parts.port or 443
    except ValueError:
        raise ConfigError(f"venue URL {url!r}: invalid port") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    proto = lib.ST_CONN_PROTO_WS if parts.scheme == "wss" else lib.ST_CONN_PROTO_TLS
    return parts.hostname, port, path, proto


class Connection:
    """A persistent TLS WebSocket (or raw TLS) connection, kept open by the loop."""

    def __init__(
        self,
        loop: Loop,
        url: str,
        trust: Trust,
        *,
        address: str | None = None,
        pins: tuple[bytes, ...] = (),
        extra_headers: dict[str, str] | None = None,
        max_message: int = 1 << 20,
        handshake_timeout: float = 10.0,
        ping_interval: float = 0.0,
        close_timeout: float = 1.0,
        backoff: tuple[float, float] = (0.1, 30.0),
        auto_reconnect: bool = True,
        busy_poll_us: int = 0,
    ) -> None:
        host, port, path, proto = _parse_url(url)
        self.url = url
        self.loop = loop
        self._trust = trust
        self._msg = ffi.new("uint8_t[]", max_message)
        self._out = ffi.new("uint8_t[]", max_message)
        self._opcode = ffi.new("int *")
        headers = "".join(f"{k}: {v}\r\n" for k, v in (extra_headers or {}).items())
        self.cdata = ffi.new("st_conn *")
        native.ensure(
            lib.st_conn_init(
                self.cdata, loop.cdata, trust.cdata, host.encode(),
                (address or _resolve(host, port)).encode(), port, proto,
                path.encode(), headers.encode(), self._msg, max_message,
            ),
            f"connection {url}",
        )
        loop.keep(self)
        lib.st_conn_set_timeouts(
            self.cdata, int(handshake_timeout * 1000), int(ping_interval * 1000),
            int(close_timeout * 1000),
        )
        lib.st_conn_set_backoff(
            self.cdata, int(backoff[0] * 1000), int(backoff[1] * 1000), int(auto_reconnect)
        )
        lib.st_conn_set_busy_poll(self.cdata, busy_poll_us)
        for pin in pins:
            if len(pin) != 32:
                raise native.invalid_argument(url, "an SPKI pin is 32 bytes (SHA-256)")
            native.ensure(lib.st_conn_add_pin(self.cdata, pin), f"pin for {url}")

    # -- control --------------------------------------------------------------

    def open(self) -> None:
        native.ensure(lib.st_conn_open(self.cdata), f"connect {self.url}")

    def wait_open(self, timeout: float = 10.0) -> None:
        """Run the loop until OPEN. Raises the connection's error if it closed for
        good, or TimeoutError (naming the last error) if it is still trying."""
        self.loop.run_until(lambda: self.state in ("open", "closed"), timeout)
        if self.state == "open":
            return
        error = self.last_error
        if self.state == "closed" and error is not None:
            raise error
        raise TimeoutError(
            f"{self.url} not open after {timeout}s (state {self.state}; last error: {error})"
        )

    def close(self, timeout: float = 2.0) -> None:
        """Graceful close: WebSocket close 1000, then TLS close_notify."""
        lib.st_conn_close(self.cdata)
        self.loop.run_until(lambda: self.state == "closed", timeout)

    def drop_queued(self) -> int:
        """Drops messages not yet handed to TLS; returns how many."""
        return int(lib.st_conn_drop_queued(self.cdata))

    def abort(self) -> None:
        """Drop the connection as a failure would (it reconnects per backoff)."""
        lib.st_conn_abort(self.cdata, -errno.ECONNRESET)

    # -- data -----------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            payload, opcode = data.encode(), TEXT
        else:
            payload, opcode = data, BINARY
        native.ensure(
            lib.st_conn_send(self.cdata, opcode, ffi.from_buffer(payload), len(payload)),
            f"send on {self.url}",
        )

    def poll(self) -> Message | None:
        """The next received message, without running the loop."""
        n = native.ensure(
            lib.st_conn_recv(self.cdata, self._out, len(self._out), self._opcode),
            f"recv on {self.url}",
        )
        if not self._opcode[0]:
            return None
        return Message(self._opcode[0], bytes(ffi.buffer(self._out, n)))

    def recv(self, timeout: float = 5.0) -> Message:
        deadline = time.monotonic() + timeout
        while (msg := self.poll()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no message on {self.url} within {timeout}s")
            self.loop.run(min(left, 0.05))
        return msg

    # -- state ----------------------------------------------------------------

    @property
    def state(self) -> str:
        return STATES[lib.st_conn_state(self.cdata)]

    @property
    def last_error(self) -> NativeError | None:
        code = lib.st_conn_last_error(self.cdata)
        return native.error_for(code, self.url) if code else None

    @property
    def tls_resumed(self) -> bool:
        return bool(lib.st_conn_tls_resumed(self.cdata))

    @property
    def peer_close_code(self) -> int:
        return int(lib.st_conn_peer_close_code(self.cdata))

    @property
    def stats(self) -> dict[str, int]:
        s = lib.st_conn_get_stats(self.cdata)
        return {name: int(getattr(s, name)) for name in dir(s)}


class HotStandby:
    """Two connections to one venue, both open; failover switches with no handshake."""

    def __init__(self, primary: Connection, standby: Connection) -> None:
        self.conns = (primary, standby)
        self.cdata = ffi.new("st_conn_pair *")
        lib.st_conn_pair_init(self.cdata, primary.cdata, standby.cdata)

    @property
    def active(self) -> Connection:
        return self.conns[lib.st_conn_pair_active(self.cdata)]

    def failover(self) -> None:
        native.ensure(lib.st_conn_pair_failover(self.cdata), "failover")

    def send(self, data: bytes | str) -> None:
        payload = data.encode() if isinstance(data, str) else data
        opcode = TEXT if isinstance(data, str) else BINARY
        native.ensure(
            lib.st_conn_pair_send(self.cdata, opcode, ffi.from_buffer(payload), len(payload)),
            "send on hot standby pair",
        )
