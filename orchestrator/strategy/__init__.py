# SPDX-License-Identifier: MIT
"""Strategies: what the mempool watcher looks for, loaded from TOML."""

from orchestrator.strategy.addresses import script_for
from orchestrator.strategy.loader import (
    ExchangeRule,
    StrategySpec,
    build_strategy,
    load_strategy,
    parse_strategy,
)

__all__ = ["ExchangeRule", "StrategySpec", "build_strategy", "load_strategy",
           "parse_strategy", "script_for"]
