# SPDX-License-Identifier: MIT
"""Bybit v5 trade WebSocket as the engine sees it (see __init__.py)."""

from __future__ import annotations

import ssl
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.desk import Desk
from orchestrator.venues import Leg, Secret, Side, Template, bybit
from orchestrator.venues.adapter import Built, Capabilities, PaperVenue, VenueAdapter
from orchestrator.venues.bybit.session import BybitSession

if TYPE_CHECKING:
    from orchestrator.config import VenueConfig


class BybitAdapter(VenueAdapter):
    profile = bybit.PROFILE
    auth_choices = ("hmac",)
    options = frozenset({"rest_url", "recv_window_ms"})
    capabilities = Capabilities(reconcile=True, cancel=True, open_orders=True)

    def build(self, desk: Desk, venue: VenueConfig, state_dir: Path) -> Built:
        credentials = bybit.Credentials(venue.api_key.reveal().decode(), venue.secret)
        context = ssl.create_default_context(cafile=str(venue.trust) if venue.trust else None)
        templates = tuple(bybit.order_template(leg, recv_window_ms=venue.recv_window_ms,
                                               client_prefix=venue.client_prefix)
                          for leg in venue.legs)
        rest = bybit.Rest(venue.rest_url or bybit.REST_URL, context)
        return Built(templates, BybitSession(desk, credentials, rest,
                                             recv_window_ms=venue.recv_window_ms,
                                             client_prefix=venue.client_prefix))

    def paper_venue(self, host: str, ws_port: int, rest_port: int) -> PaperVenue:
        return PaperVenue({
            "profile": self.name, "url": f"wss://{host}:{ws_port}/v5/trade",
            "book_url": f"wss://{host}:{ws_port}/v5/public/spot",
            "rest_url": f"https://{host}:{rest_port}"},
            {"symbol": "BTCUSDT"},
            {"orders_per_second": 4, "burst": 8})

    def example_templates(self) -> dict[str, tuple[Template, Secret | None]]:
        leg = Leg("BTCUSDT", Side.BUY, Decimal("0.01"), time_in_force="IOC")
        return {"bybit": (bybit.order_template(leg), None)}


ADAPTER = BybitAdapter()
