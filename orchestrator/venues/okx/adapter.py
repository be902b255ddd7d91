# SPDX-License-Identifier: MIT
"""OKX v5 private WebSocket as the engine sees it (see __init__.py): logged in
once per connection, orders unsigned; the passphrase is a third secret."""

from __future__ import annotations

import ssl
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.desk import Desk
from orchestrator.errors import ConfigError
from orchestrator.venues import Leg, Secret, Side, Template, okx
from orchestrator.venues.adapter import Built, Capabilities, PaperVenue, VenueAdapter
from orchestrator.venues.okx.session import OkxSession

if TYPE_CHECKING:
    from orchestrator.config import VenueConfig


class OkxAdapter(VenueAdapter):
    profile = okx.PROFILE
    auth_choices = ("login",)
    options = frozenset({"passphrase", "rest_url", "recv_window_ms"})
    capabilities = Capabilities(reconcile=True, cancel=True, open_orders=True)

    def build(self, desk: Desk, venue: VenueConfig, state_dir: Path) -> Built:
        if venue.passphrase is None:
            raise ConfigError(f"venue {venue.name}: okx needs a passphrase")
        credentials = okx.Credentials(venue.api_key.reveal().decode(), venue.secret,
                                      venue.passphrase)
        context = ssl.create_default_context(cafile=str(venue.trust) if venue.trust else None)
        templates = tuple(okx.order_template(leg, client_prefix=venue.client_prefix)
                          for leg in venue.legs)
        return Built(templates, OkxSession(
            desk, credentials, rest_url=venue.rest_url or okx.REST_URL, context=context,
            window_ms=venue.recv_window_ms, client_prefix=venue.client_prefix))

    def paper_venue(self, host: str, ws_port: int, rest_port: int) -> PaperVenue:
        return PaperVenue({
            "profile": self.name, "url": f"wss://{host}:{ws_port}/ws/v5/private",
            "book_url": f"wss://{host}:{ws_port}/ws/v5/public",
            "rest_url": f"https://{host}:{rest_port}"},
            {"symbol": "BTC-USDT", "tick": "0.1", "price_decimals": 1},
            {"orders_per_second": 4, "burst": 8})

    def example_templates(self) -> dict[str, tuple[Template, Secret | None]]:
        leg = Leg("BTC-USDT", Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)
        return {"okx": (okx.order_template(leg), None)}


ADAPTER = OkxAdapter()
