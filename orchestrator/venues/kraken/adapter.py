# SPDX-License-Identifier: MIT
"""Kraken WS v2 as the engine sees it (see __init__.py): a token is fetched at
build (the templates need one; bad credentials fail the start) and again on
every connection's (re)open by the session."""

from __future__ import annotations

import ssl
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.desk import Desk
from orchestrator.venues import Leg, Secret, Side, Template, kraken
from orchestrator.venues.adapter import Built, Capabilities, PaperVenue, VenueAdapter
from orchestrator.venues.kraken.session import KrakenSession

if TYPE_CHECKING:
    from orchestrator.config import VenueConfig


class KrakenAdapter(VenueAdapter):
    profile = kraken.PROFILE
    auth_choices = ("token",)
    options = frozenset({"rest_url"})
    capabilities = Capabilities(reconcile=True, cancel=True, open_orders=True)

    def build(self, desk: Desk, venue: VenueConfig, state_dir: Path) -> Built:
        credentials = kraken.Credentials(venue.api_key.reveal().decode(), venue.secret)
        context = ssl.create_default_context(cafile=str(venue.trust) if venue.trust else None)
        rest = kraken.Rest(credentials, kraken.NonceSource(state_dir / f"{venue.name}.nonce"),
                           rest_url=venue.rest_url or kraken.REST_URL, context=context)
        token = rest.ws_token()
        templates = tuple(kraken.order_template(leg, token, client_prefix=venue.client_prefix)
                          for leg in venue.legs)
        return Built(templates, KrakenSession(desk, rest, venue.legs,
                                              client_prefix=venue.client_prefix))

    def paper_venue(self, host: str, ws_port: int, rest_port: int) -> PaperVenue:
        return PaperVenue({
            "profile": self.name, "url": f"wss://{host}:{ws_port}/v2",
            "book_url": f"wss://{host}:{ws_port}/v2",
            "rest_url": f"https://{host}:{rest_port}"},
            {"symbol": "BTC/USD", "tick": "0.1", "price_decimals": 1},
            {"orders_per_second": 0.5, "burst": 16})

    def example_templates(self) -> dict[str, tuple[Template, Secret | None]]:
        leg = Leg("BTC/USD", Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)
        token = Secret("example" + "T" * 41)    # as long as the tokens Kraken hands out
        return {"kraken": (kraken.order_template(leg, token), None)}


ADAPTER = KrakenAdapter()
