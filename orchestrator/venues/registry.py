# SPDX-License-Identifier: MIT
"""The venues the engine knows: one adapter each, by profile name. Adding a
venue adds its folder and one line here."""

from __future__ import annotations

from orchestrator.venues.adapter import VenueAdapter
from orchestrator.venues.binance.adapter import ADAPTER as BINANCE
from orchestrator.venues.bybit.adapter import ADAPTER as BYBIT
from orchestrator.venues.kraken.adapter import ADAPTER as KRAKEN
from orchestrator.venues.okx.adapter import ADAPTER as OKX

ADAPTERS: dict[str, VenueAdapter] = {a.name: a for a in (BINANCE, KRAKEN, OKX, BYBIT)}

# The demo's and the lab's venue unless told otherwise; the benches time its
# Python reference client (`VenueAdapter.reference`) against the engine.
DEMO_VENUE = BINANCE.name
