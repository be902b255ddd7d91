# SPDX-License-Identifier: MIT
"""The venues the simulator speaks: one module each, by name.  Adding a venue adds
its module and one line here."""

from __future__ import annotations

from .binance import VENUE as BINANCE
from .bybit import VENUE as BYBIT
from .kraken import VENUE as KRAKEN
from .okx import VENUE as OKX
from .venue import SimVenue

VENUES: dict[str, SimVenue] = {v.name: v for v in (BINANCE, KRAKEN, OKX, BYBIT)}
