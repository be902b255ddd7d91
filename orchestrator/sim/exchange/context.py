# SPDX-License-Identifier: MIT
"""State every protocol handler shares, built once at startup."""

from __future__ import annotations

import dataclasses
import itertools
import re

from .accounts import Accounts
from .book import Book
from .clock import Clock
from .limits import RateLimits
from .orders import OrderStore
from .record import Recorder


@dataclasses.dataclass
class Context:
    accounts: Accounts
    clock: Clock
    recorder: Recorder
    book: Book
    orders: OrderStore
    limits: RateLimits
    client_id_re: re.Pattern[str] | None = None  # replaces the venues' documented rule
    outcome_unknown_re: re.Pattern[str] | None = None
    ack_delay_ms: int = 0
    tokens_die_on_close: bool = False   # a WebSocket token is refused once its connection closed
    pair_counter_max: int = 60          # per-pair order counter threshold (token venues)
    serials: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def next_serial(self) -> int:
        return next(self.serials)
