# SPDX-License-Identifier: MIT
"""Binance Spot WebSocket API as the engine sees it (see __init__.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.desk import Desk
from orchestrator.venues import Leg, Secret, Side, Template, binance
from orchestrator.venues.adapter import Built, Capabilities, PaperVenue, VenueAdapter
from orchestrator.venues.binance import reference as python_reference
from orchestrator.venues.binance.session import BinanceSession

if TYPE_CHECKING:
    from orchestrator.config import VenueConfig


class BinanceAdapter(VenueAdapter):
    profile = binance.PROFILE
    auth_choices = ("hmac", "session")
    options = frozenset({"response_type", "recv_window_ms"})
    capabilities = Capabilities(reconcile=True, cancel=True, open_orders=True)
    reference = python_reference.BinanceReference()

    def build(self, desk: Desk, venue: VenueConfig, state_dir: Path) -> Built:
        credentials = binance.Credentials(
            venue.api_key.reveal().decode(),
            hmac_secret=venue.secret if venue.auth == "hmac" else None,
            ed25519_pem=venue.secret if venue.auth == "session" else None)
        if venue.auth == "hmac":
            desk.set_hmac_secret(venue.secret)
        templates = tuple(binance.order_template(
            leg, credentials, response_type=venue.response_type,
            recv_window_ms=venue.recv_window_ms, client_prefix=venue.client_prefix)
            for leg in venue.legs)
        return Built(templates, BinanceSession(desk, credentials,
                                               client_prefix=venue.client_prefix))

    def example_templates(self) -> dict[str, tuple[Template, Secret | None]]:
        leg = Leg("BTCUSDT", Side.BUY, Decimal("0.01"), time_in_force="IOC")
        hmac_creds = binance.Credentials(EXAMPLE_KEY, hmac_secret=EXAMPLE_SECRET)
        session_creds = binance.Credentials(EXAMPLE_KEY, ed25519_pem=Secret(b"(not used)"))
        return {"binance-hmac": (binance.order_template(leg, hmac_creds), EXAMPLE_SECRET),
                "binance-session": (binance.order_template(leg, session_creds), None)}

    def paper_venue(self, host: str, ws_port: int, rest_port: int) -> PaperVenue:
        return PaperVenue({
            "profile": self.name, "url": f"wss://{host}:{ws_port}/ws-api/v3",
            "book_url": f"wss://{host}:{ws_port}/ws/btcusdt@bookTicker",
            "auth": "hmac", "response_type": "RESULT"},
            {"symbol": "BTCUSDT"},
            {"orders_per_second": 4, "burst": 8})


# The API key and secret of Binance's own signing examples (its docs' "SIGNED
# endpoint examples"), for benches and tests: never a real account.
EXAMPLE_KEY = python_reference.EXAMPLE_KEY
EXAMPLE_SECRET = Secret(python_reference.EXAMPLE_SECRET)
ADAPTER = BinanceAdapter()
