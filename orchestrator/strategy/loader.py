# SPDX-License-Identifier: MIT
"""The strategy file (TOML) -> a validated spec -> native tables.

    network = "mainnet"            # mainnet | testnet3 | signet | regtest

    [whale]                        # optional
    threshold_btc = 1000           # total output value
    action = "whale"

    [[exchanges]]                  # one table per exchange, at most 64
    name = "exchange-a"
    deposit_threshold_btc = 50     # sum of outputs to this exchange's addresses
    action = "exchange_a_deposit"
    addresses = ["bc1q...", "3...", "1...", "bc1p..."]

Action names get ids 1, 2, ... in order of first use. Every error names the
key and the problem; unknown keys are refused (a typo must not be ignored).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from orchestrator._native import lib
from orchestrator.btc import Strategy
from orchestrator.errors import ConfigError
from orchestrator.strategy.addresses import CHAINS, script_for

SATS_PER_BTC = 100_000_000


@dataclass(frozen=True)
class ExchangeRule:
    name: str
    deposit_threshold_sats: int
    action: str
    scripts: tuple[bytes, ...]


@dataclass(frozen=True)
class StrategySpec:
    network: str
    whale_threshold_sats: int | None
    whale_action: str | None
    exchanges: tuple[ExchangeRule, ...]
    actions: dict[str, int]  # action name -> id carried by events


def _fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}")


def _table(source: str, key: str, value: Any, allowed: set[str], required: set[str]
           ) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, key, f"must be a table, not {type(value).__name__}")
    for extra in sorted(set(value) - allowed):
        raise _fail(source, f"{key}.{extra}" if key else extra, "unknown key")
    for missing in sorted(required - set(value)):
        raise _fail(source, f"{key}.{missing}" if key else missing, "missing")
    return value


def _text(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, key, "must be a non-empty string")
    return value


def _sats(source: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail(source, key, f"must be an amount in BTC, not {type(value).__name__}")
    try:
        sats = Decimal(str(value)) * SATS_PER_BTC
    except InvalidOperation:
        raise _fail(source, key, f"{value!r} is not a number") from None
    if sats != sats.to_integral_value() or sats <= 0 or sats > 21_000_000 * SATS_PER_BTC:
        raise _fail(source, key, f"{value} BTC is not a positive amount in whole satoshis "
                                 "up to 21,000,000 BTC")
    return int(sats)


def parse_strategy(data: dict[str, Any], source: str = "strategy") -> StrategySpec:
    top = _table(source, "", data, {"network", "whale", "exchanges"}, {"network"})
    network = _text(source, "network", top["network"])
    if network not in CHAINS:
        raise _fail(source, "network", f"{network!r} is not one of {', '.join(CHAINS)}")
    actions: dict[str, int] = {}

    def action_id(key: str, value: Any) -> str:
        name = _text(source, key, value)
        actions.setdefault(name, len(actions) + 1)
        return name

    whale_sats = whale_action = None
    if "whale" in top:
        whale = _table(source, "whale", top["whale"], {"threshold_btc", "action"},
                       {"threshold_btc", "action"})
        whale_sats = _sats(source, "whale.threshold_btc", whale["threshold_btc"])
        whale_action = action_id("whale.action", whale["action"])

    exchanges_raw = top.get("exchanges", [])
    if not isinstance(exchanges_raw, list):
        raise _fail(source, "exchanges", "must be an array of tables ([[exchanges]])")
    if len(exchanges_raw) > lib.ST_STRATEGY_MAX_EXCHANGES:
        raise _fail(source, "exchanges",
                    f"at most {lib.ST_STRATEGY_MAX_EXCHANGES}, got {len(exchanges_raw)}")
    owner: dict[bytes, str] = {}
    exchanges = []
    for i, raw in enumerate(exchanges_raw):
        key = f"exchanges[{i}]"
        ex = _table(source, key, raw, {"name", "deposit_threshold_btc", "action", "addresses"},
                    {"name", "deposit_threshold_btc", "action", "addresses"})
        name = _text(source, f"{key}.name", ex["name"])
        addresses = ex["addresses"]
        if not isinstance(addresses, list) or not addresses:
            raise _fail(source, f"{key}.addresses", "must be a non-empty array of addresses")
        scripts = []
        for j, address in enumerate(addresses):
            akey = f"{key}.addresses[{j}]"
            try:
                script = script_for(_text(source, akey, address), network)
            except ConfigError as exc:
                raise _fail(source, akey, str(exc)) from None
            if script in owner:
                raise _fail(source, akey, f"{address} is listed already (by {owner[script]})")
            owner[script] = name
            scripts.append(script)
        exchanges.append(ExchangeRule(
            name, _sats(source, f"{key}.deposit_threshold_btc", ex["deposit_threshold_btc"]),
            action_id(f"{key}.action", ex["action"]), tuple(scripts)))
    return StrategySpec(network, whale_sats, whale_action, tuple(exchanges), actions)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's contents; ConfigError names the file and what is wrong."""
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_strategy(path: str | Path) -> StrategySpec:
    """Read and validate a strategy file; ConfigError names what is wrong."""
    return parse_strategy(read_toml(Path(path)), str(path))


def build_strategy(spec: StrategySpec) -> Strategy:
    """Native tables for a spec, ready to hand to a watcher (or to swap in)."""
    strategy = Strategy(max_scripts=max(16, sum(len(e.scripts) for e in spec.exchanges)))
    for index, ex in enumerate(spec.exchanges):
        for script in ex.scripts:
            strategy.add_script(script, index)
        strategy.set_deposit(index, ex.deposit_threshold_sats, spec.actions[ex.action])
    if spec.whale_threshold_sats is not None and spec.whale_action is not None:
        strategy.set_whale(spec.whale_threshold_sats, spec.actions[spec.whale_action])
    return strategy
