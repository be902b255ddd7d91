# SPDX-License-Identifier: MIT
"""State every protocol handler shares, built once at startup."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import re
import secrets
import time

from .accounts import Accounts
from .book import Book
from .clock import Clock
from .limits import RateLimits
from .orders import OrderStore
from .record import Recorder

TOKEN_LIFETIME_S = 900  # Kraken: "The token should be used within 15 minutes of creation"


class KrakenTokens:
    """WebSocket tokens handed out by the REST endpoint, in memory only.

    A token is good for 15 minutes after it was issued; once a connection has used it
    successfully it stays good on that connection (Kraken: it "does not expire once a
    connection ... is maintained")."""

    def __init__(self, lifetime_s: float = TOKEN_LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (api key, issued)

    def issue(self, api_key: str) -> str:
        # Like Kraken's: 32 random bytes in standard base64, padding dropped.
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self._tokens[token] = (api_key, time.monotonic())
        return token

    def check(self, token: str, used_here: set[str]) -> str | None:
        """The API key ``token`` belongs to, or None if it is unknown or expired."""
        entry = self._tokens.get(token)
        if entry is None:
            return None
        api_key, issued = entry
        if token not in used_here and time.monotonic() - issued > self.lifetime_s:
            return None
        return api_key


@dataclasses.dataclass
class Context:
    accounts: Accounts
    clock: Clock
    recorder: Recorder
    book: Book
    orders: OrderStore
    limits: RateLimits
    tokens: KrakenTokens
    client_id_re: re.Pattern[str]
    outcome_unknown_re: re.Pattern[str] | None = None
    ack_delay_ms: int = 0
    serials: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def next_serial(self) -> int:
        return next(self.serials)
