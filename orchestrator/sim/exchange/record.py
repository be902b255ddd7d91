# SPDX-License-Identifier: MIT
"""What the simulator writes for tests to read while it runs.

* ``<venue>.jsonl`` (one per venue, by its name) and ``rest.jsonl``: one JSON line per request
  received: ``{"t_ns", "conn", "path", "raw", "method", "verdict", "code",
  "client_order_id"}``, verdict ``accepted`` / ``rejected`` / ``error``.
* ``connections.jsonl``: one line per WebSocket connection when it ends:
  ``{"conn", "path", "close_code", "close_reason", "server_close_code"}``, the close
  code and reason the client sent (null when it sent no close frame) and the code the
  simulator sent (null if none: e.g. 1007 for bad UTF-8, 1009 for a message too big).
* ``orders.json``: every accepted order with its status, rewritten atomically.

Every line is flushed as it is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

SHARED_LOGS = ("rest", "connections")


class Recorder:
    def __init__(self, directory: Path, venue_logs: Iterable[str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._files: dict[str, IO[str]] = {
            name: (directory / f"{name}.jsonl").open("a", encoding="utf-8")
            for name in (*venue_logs, *SHARED_LOGS)
        }
        self.write_orders([])

    def _line(self, log: str, obj: dict[str, Any]) -> None:
        f = self._files[log]
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        f.flush()

    def request(
        self,
        log: str,
        *,
        t_ns: int,
        conn: int,
        path: str,
        raw: str,
        method: str | None,
        verdict: str,
        code: int | str | None,
        client_order_id: str | None,
    ) -> None:
        self._line(log, {
            "t_ns": t_ns, "conn": conn, "path": path, "raw": raw, "method": method,
            "verdict": verdict, "code": code, "client_order_id": client_order_id,
        })

    def connection(
        self,
        conn: int,
        path: str,
        close_code: int | None,
        close_reason: str | None,
        server_close_code: int | None,
    ) -> None:
        self._line("connections", {
            "conn": conn, "path": path, "close_code": close_code, "close_reason": close_reason,
            "server_close_code": server_close_code,
        })

    def write_orders(self, orders: list[dict[str, Any]]) -> None:
        final = self.directory / "orders.json"
        tmp = self.directory / f".orders.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(orders, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, final)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
