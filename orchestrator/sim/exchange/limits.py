# SPDX-License-Identifier: MIT
"""Rate limits: request weight per IP, order counts per account, and bans.

Limits are counted in fixed intervals, as the venue modules that use them document: a
1 MINUTE interval starts every minute, 10 SECOND ones at :00, :10, :20..., 1 DAY at
00:00 UTC.  A request over a
limit is refused with status 429 and ``retryAfter`` = the end of the interval.  A client
that keeps being refused before that ``retryAfter`` gets a strike each time; the
``ban_after``-th strike bans the IP for ``ban_ms``: everything it sends is answered 418
until then.  Every client here is on loopback, so one IP bucket is normal.
"""

from __future__ import annotations

import dataclasses
from typing import Any

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
DAY_MS = 86_400_000


@dataclasses.dataclass(frozen=True)
class Refusal:
    status: int  # 429 or 418
    code: int
    msg: str
    retry_after: int  # ms since the epoch, server time


class Window:
    """Counts per key within fixed intervals of ``interval_ms`` since the epoch."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self._counts: dict[str, tuple[int, int]] = {}

    def count(self, key: str, now: int) -> int:
        index, count = self._counts.get(key, (-1, 0))
        return count if index == now // self.interval_ms else 0

    def add(self, key: str, now: int, n: int) -> None:
        self._counts[key] = (now // self.interval_ms, self.count(key, now) + n)

    def end(self, now: int) -> int:
        return (now // self.interval_ms + 1) * self.interval_ms


@dataclasses.dataclass
class _Ip:
    backoff_until: int = 0
    strikes: int = 0
    banned_until: int = 0


class RateLimits:
    def __init__(
        self,
        *,
        weight_per_minute: int,
        orders_per_10s: int,
        orders_per_day: int,
        ban_after: int,
        ban_ms: int,
    ) -> None:
        self.weight_limit = weight_per_minute
        self.orders_10s_limit = orders_per_10s
        self.orders_day_limit = orders_per_day
        self.ban_after = ban_after  # 0: never ban
        self.ban_ms = ban_ms
        self.weight = Window(MINUTE_MS)
        self.orders_10s = Window(TEN_SECONDS_MS)
        self.orders_day = Window(DAY_MS)
        self._ips: dict[str, _Ip] = {}

    def _ip(self, ip: str) -> _Ip:
        return self._ips.setdefault(ip, _Ip())

    def _ban(self, until: int) -> Refusal:
        return Refusal(418, -1003, f"Way too much request weight used; IP banned until {until}. "
                       "Please use WebSocket Streams for live updates to avoid bans.", until)

    def _refuse(self, ip: str, now: int, refusal: Refusal) -> Refusal:
        state = self._ip(ip)
        if now < state.backoff_until:
            state.strikes += 1
            if self.ban_after > 0 and state.strikes >= self.ban_after:
                state.banned_until = now + self.ban_ms
                state.strikes = 0
                state.backoff_until = 0
                return self._ban(state.banned_until)
        else:
            state.strikes = 0
        state.backoff_until = max(state.backoff_until, refusal.retry_after)
        return refusal

    def banned(self, ip: str, now: int) -> Refusal | None:
        """The 418 answer while ``ip`` is banned."""
        until = self._ip(ip).banned_until
        return self._ban(until) if now < until else None

    def charge(self, ip: str, weight: int, now: int) -> Refusal | None:
        """Adds a request's weight, or refuses it (429, or 418 on the strike that bans)."""
        if self.weight.count(ip, now) + weight > self.weight_limit:
            return self._refuse(ip, now, Refusal(
                429, -1003,
                f"Too much request weight used; current limit is {self.weight_limit} request "
                "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                "polling the API.", self.weight.end(now)))
        self.weight.add(ip, now, weight)
        return None

    def order_refusal(self, ip: str, account: str, now: int) -> Refusal | None:
        """Refuses a new order when the account's order count is at a limit."""
        if self.orders_10s.count(account, now) >= self.orders_10s_limit:
            return self._refuse(ip, now, Refusal(
                429, -1015, f"Too many new orders; current limit is {self.orders_10s_limit} "
                "orders per 10 SECOND.", self.orders_10s.end(now)))
        if self.orders_day.count(account, now) >= self.orders_day_limit:
            return self._refuse(ip, now, Refusal(
                429, -1015, f"Too many new orders; current limit is {self.orders_day_limit} "
                "orders per 1 DAY.", self.orders_day.end(now)))
        return None

    def count_order(self, account: str, now: int) -> None:
        self.orders_10s.add(account, now, 1)
        self.orders_day.add(account, now, 1)

    def report(self, ip: str, account: str | None, now: int) -> list[dict[str, Any]]:
        """The ``rateLimits`` array: ORDERS (when an order's account is known) and
        REQUEST_WEIGHT, with current counts."""
        out: list[dict[str, Any]] = []
        if account is not None:
            out.append({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                        "limit": self.orders_10s_limit,
                        "count": self.orders_10s.count(account, now)})
            out.append({"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                        "limit": self.orders_day_limit,
                        "count": self.orders_day.count(account, now)})
        out.append({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                    "limit": self.weight_limit, "count": self.weight.count(ip, now)})
        return out
