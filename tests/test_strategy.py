# SPDX-License-Identifier: MIT
"""Native strategy tables: the same decisions as the Python rules over the
real block, and refusals that name the problem."""

from __future__ import annotations

import pytest
from bitcoin.core import CBlock
from bitcoin.wallet import CBitcoinAddress

from orchestrator.bench import mempool
from orchestrator.btc import Strategy
from orchestrator.errors import NativeError
from orchestrator.sim import mainnet_block


def test_native_decisions_equal_the_python_rules_on_every_block_transaction() -> None:
    path = mainnet_block()
    txs = CBlock.deserialize(path.read_bytes()).vtx
    scripts = mempool.exchange_scripts(list(txs))
    strategy = mempool.build_strategy(scripts)
    actions = {0: 0, mempool.DEPOSIT_ACTION: 0, mempool.WHALE_ACTION: 0}
    for tx in txs:
        ours = strategy.match(bytes(tx.serialize()))[0]
        assert ours == mempool.python_match(tx, scripts), tx.GetTxid()[::-1].hex()
        actions[ours] += 1
    # The block has both kinds, so both rules were really exercised.
    assert actions[mempool.DEPOSIT_ACTION] > 0 and actions[mempool.WHALE_ACTION] > 0


def test_deposit_beats_whale_and_names_the_exchange() -> None:
    path = mainnet_block()
    txs = CBlock.deserialize(path.read_bytes()).vtx
    big = max(txs[1:], key=lambda tx: sum(o.nValue for o in tx.vout))
    top = max(big.vout, key=lambda o: o.nValue)
    strategy = Strategy()
    strategy.add_script(bytes(top.scriptPubKey), 3)
    strategy.set_deposit(3, top.nValue, 7)
    strategy.set_whale(1, 9)
    action, exchange, amount, total = strategy.match(bytes(big.serialize()))
    assert (action, exchange) == (7, 3)
    assert amount >= top.nValue and total == sum(o.nValue for o in big.vout)
    strategy.set_deposit(3, top.nValue * 1000, 7)  # out of reach: the whale rule fires
    assert strategy.match(bytes(big.serialize()))[:2] == (9, -1)


@pytest.mark.parametrize(
    "address",
    ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
     "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
     "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"],
)
def test_address_scripts_are_found(address: str) -> None:
    strategy = Strategy()
    script = bytes(CBitcoinAddress(address).to_scriptPubKey())
    strategy.add_script(script, 1)
    assert strategy.lookup(script) == 1
    assert strategy.lookup(script[:-1] + bytes([script[-1] ^ 1])) is None


def test_refusals_are_named() -> None:
    strategy = Strategy(max_scripts=8)
    strategy.add_script(b"\x51", 0)
    with pytest.raises(NativeError, match="EEXIST"):
        strategy.add_script(b"\x51", 1)
    with pytest.raises(ValueError, match="EINVAL"):
        strategy.add_script(b"x" * 41, 0)
    with pytest.raises(ValueError, match="EINVAL"):
        strategy.add_script(b"\x52", 64)
    with pytest.raises(NativeError, match="ENOSPC"):
        for i in range(100):
            strategy.add_script(bytes([0x60, i]), 0)


def test_a_deposit_among_many_exchanges_in_one_transaction_is_seen() -> None:
    """Nine exchanges paid by one transaction: the last one's deposit counts."""
    from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint

    strategy = Strategy()
    outputs = []
    for ex in range(9):
        script = b"\x00\x14" + bytes([ex]) * 20
        strategy.add_script(script, ex)
        strategy.set_deposit(ex, 50 * 100_000_000, 10 + ex)
        outputs.append(CMutableTxOut(1 if ex < 8 else 60 * 100_000_000, script))
    tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x01" * 32, 0))], outputs)
    action, exchange, amount, _ = strategy.match(bytes(tx.serialize()))
    assert (action, exchange, amount) == (18, 8, 60 * 100_000_000)
