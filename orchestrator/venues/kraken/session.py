# SPDX-License-Identifier: MIT
"""A Kraken session: orders carry the REST-issued token, so a connection is
ready as soon as it is open; refused tokens surface as errors."""

from __future__ import annotations

from typing import Any

from orchestrator.desk import Event
from orchestrator.venues.session import VenueSession


class KrakenSession(VenueSession):
    name = "kraken"

    def request_id(self, answer: dict[str, Any]) -> str | None:
        request_id = answer.get("req_id")
        return f"{self.name}-{request_id}" if isinstance(request_id, int) else None

    def prepare(self, conn: int) -> None:
        self.mark_ready(conn)

    def on_event(self, event: Event) -> None:
        if event.kind == "auth":
            self.state.errors.append("kraken refused the order's token or key "
                                     f"(order {event.seq}): fetch a new token")
