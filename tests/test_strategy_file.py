# SPDX-License-Identifier: MIT
"""Strategy files: the example loads; every broken file fails naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.strategy import build_strategy, load_strategy, parse_strategy, script_for
from tests.conftest import ROOT

GOOD_EXCHANGE = {"name": "x", "deposit_threshold_btc": 1, "action": "buy",
                 "addresses": ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]}


def test_the_example_file_loads_and_builds() -> None:
    spec = load_strategy(ROOT / "examples" / "strategy.toml")
    assert spec.actions == {"whale": 1, "deposit_a": 2, "deposit_b": 3}
    assert spec.exchanges[1].deposit_threshold_sats == 2_550_000_000
    strategy = build_strategy(spec)
    taproot = script_for("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    assert strategy.lookup(taproot) == 1


@pytest.mark.parametrize(
    ("address", "script"),
    [  # BIP 350's valid mainnet examples of witness v1+ and BIP 173's v0
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
         "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
        ("BC1SW50QGDZ25J", "6002751e"),
        ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
         "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
    ],
)
def test_address_scripts(address: str, script: str) -> None:
    assert script_for(address).hex() == script


@pytest.mark.parametrize(
    "address",
    [  # BIP 350's invalid examples: wrong checksum kind, bad padding, bad lengths
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "bc1pw5dgrnzv",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47zagq",  # testnet here
        "not an address",
    ],
)
def test_invalid_addresses_are_refused(address: str) -> None:
    with pytest.raises(ConfigError, match="not a valid mainnet address"):
        script_for(address)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "network: missing"),
        ({"network": "moonnet"}, "network: 'moonnet' is not one of"),
        ({"network": "mainnet", "whales": {}}, "whales: unknown key"),
        ({"network": "mainnet", "whale": {"threshold_btc": 1}}, "whale.action: missing"),
        ({"network": "mainnet", "whale": {"threshold_btc": "lots", "action": "w"}},
         "whale.threshold_btc: 'lots' is not a number"),
        ({"network": "mainnet", "whale": {"threshold_btc": -1, "action": "w"}},
         "whale.threshold_btc: -1 BTC is not a positive amount"),
        ({"network": "mainnet", "whale": {"threshold_btc": 0.000000001, "action": "w"}},
         "whole satoshis"),
        ({"network": "mainnet", "whale": {"threshold_btc": True, "action": "w"}},
         "must be an amount in BTC, not bool"),
        ({"network": "mainnet", "exchanges": {"name": "x"}},
         "exchanges: must be an array of tables"),
        ({"network": "mainnet", "exchanges": [{**GOOD_EXCHANGE, "addresses": []}]},
         "exchanges[0].addresses: must be a non-empty array"),
        ({"network": "mainnet", "exchanges": [{**GOOD_EXCHANGE, "addresses": ["xyz"]}]},
         "exchanges[0].addresses[0]: 'xyz' is not a valid mainnet address"),
        ({"network": "testnet3", "exchanges": [GOOD_EXCHANGE]},
         "is not a valid testnet3 address"),
        ({"network": "mainnet", "exchanges": [GOOD_EXCHANGE, {**GOOD_EXCHANGE, "name": "y"}]},
         "exchanges[1].addresses[0]: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa is listed already (by x)"),
        ({"network": "mainnet", "exchanges": [{**GOOD_EXCHANGE, "fee": 1}]},
         "exchanges[0].fee: unknown key"),
        ({"network": "mainnet", "exchanges": [{"name": f"e{i}", "deposit_threshold_btc": 1,
                                               "action": "a", "addresses": ["x"]}
                                              for i in range(65)]},
         "exchanges: at most 64, got 65"),
    ],
)
def test_broken_strategies_name_the_problem(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_strategy(data, "s.toml")
    assert str(info.value).startswith("s.toml: ")
    assert message in str(info.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_strategy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("network = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_strategy(bad)
