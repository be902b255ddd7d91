# SPDX-License-Identifier: MIT
"""The operator's line to the daemon: a Unix socket (mode 0600) carrying one
JSON request and one JSON reply per connection.

    {"cmd": "status"} -> {"ok": true, ...}
    {"cmd": "kill"} | {"cmd": "resume"} | {"cmd": "stop"} | {"cmd": "failover", "venue": NAME}
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator import safefs
from orchestrator.errors import StratumError

MAX_REQUEST = 4096
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlError(StratumError):
    """The daemon is not there, or said no."""


class NotRunningError(ControlError):
    """Nothing listens on the socket: the daemon is not running."""


class ControlServer:
    """Accepts one request at a time, without blocking the daemon's loop."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path, self.handler = path, handler
        safefs.remove_socket(path)  # a dead daemon's; a symlink or file there is refused
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)       # the socket is created 0600: no window at 0777
        try:
            self.sock.bind(str(path))   # bind creates; it never follows a symlink
        finally:
            os.umask(old)
        self.sock.listen(8)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def serve_one(self) -> None:
        """Answers one waiting client, if any (bad requests get an error reply)."""
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(2.0)
            try:
                request = _read_line(conn)
                reply = self._dispatch(request)
            except (OSError, ValueError) as exc:
                reply = {"ok": False, "error": f"bad request: {type(exc).__name__}"}
            with contextlib.suppress(OSError):   # the client went away: its loss
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def _dispatch(self, raw: bytes) -> dict[str, Any]:
        request = json.loads(raw)
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            return {"ok": False, "error": 'a request is {"cmd": NAME, ...}'}
        return self.handler(request)

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()      # unlink removes the entry itself, never a target


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    return data


def request(path: Path, cmd: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
    """Sends one request to the daemon at `path`; ControlError if nobody answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
            raw = _read_line(sock)
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunningError(f"no daemon listening on {path}") from None
        except (OSError, ValueError) as exc:
            raise ControlError(f"{path}: no answer ({exc})") from None
    try:
        reply = json.loads(raw)
    except ValueError:
        raise ControlError(f"{path}: the answer is not JSON") from None
    if not isinstance(reply, dict):
        raise ControlError(f"{path}: the answer is not a JSON object")
    return reply
