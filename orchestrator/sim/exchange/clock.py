# SPDX-License-Identifier: MIT
"""The simulator's server time: the wall clock shifted by ``--clock-skew-ms``."""

from __future__ import annotations

import datetime
import time


class Clock:
    def __init__(self, skew_ms: int = 0) -> None:
        self.skew_ms = skew_ms

    def ms(self) -> int:
        """Server time in milliseconds since the epoch."""
        return time.time_ns() // 1_000_000 + self.skew_ms

    def rfc3339(self) -> str:
        """Server time as RFC 3339 with microseconds, UTC (``2022-12-25T09:30:59.123456Z``)."""
        us = time.time_ns() // 1000 + self.skew_ms * 1000
        when = datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
