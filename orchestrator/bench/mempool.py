# SPDX-License-Identifier: MIT
"""`stratum bench mempool`: ns per transaction to parse and match the strategy.

Input: the 3315 transactions of the real mainnet block shipped in
orchestrator/sim/data, as if each arrived in a `tx` message. Strategy: 200 of the block's own output
scripts split over 5 exchanges plus 20,000 other scripts (a realistic table),
deposit rule 1 BTC per exchange, whale rule 100 BTC.

`mempool/native`: st_btc_tx_parse + st_strategy_match in C, each sample the
mean over one pass through the block. `mempool/python`: python-bitcoinlib's
CTransaction.deserialize + the same rules in Python over a dict, same passes.
Both must fire the same number of actions, or the bench refuses to report.
"""

from __future__ import annotations

import hashlib
import time

from bitcoin.core import CBlock, CTransaction

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.bench import Report, alternate, cpu_description, result
from orchestrator.btc import Strategy
from orchestrator.sim import mainnet_block

COIN = 100_000_000
DEPOSIT_SATS, WHALE_SATS = 1 * COIN, 100 * COIN
DEPOSIT_ACTION, WHALE_ACTION = 1, 2
EXCHANGES = 5


def shared_block() -> bytes:
    return mainnet_block().read_bytes()


def exchange_scripts(txs: list[CTransaction]) -> dict[bytes, int]:
    """200 real output scripts from the block, split over the exchanges, plus
    20,000 made-up P2WPKH scripts that never match."""
    seen: dict[bytes, int] = {}
    for tx in txs[1:]:
        for out in tx.vout:
            script = bytes(out.scriptPubKey)
            if 0 < len(script) <= 40 and script not in seen and len(seen) < 200:
                seen[script] = len(seen) % EXCHANGES
    for i in range(20_000):
        seen[b"\x00\x14" + hashlib.sha256(i.to_bytes(4, "little")).digest()[:20]] = i % EXCHANGES
    return seen


def python_match(tx: CTransaction, scripts: dict[bytes, int]) -> int:
    """The strategy rules in Python: returns the action (0 when none)."""
    total = 0
    per_exchange: dict[int, int] = {}
    for out in tx.vout:
        value = max(out.nValue, 0)
        total += value
        ex = scripts.get(bytes(out.scriptPubKey))
        if ex is not None:
            per_exchange[ex] = per_exchange.get(ex, 0) + value
    if any(s >= DEPOSIT_SATS for s in per_exchange.values()):
        return DEPOSIT_ACTION
    return WHALE_ACTION if total >= WHALE_SATS else 0


def build_strategy(scripts: dict[bytes, int]) -> Strategy:
    strategy = Strategy(max_scripts=len(scripts))
    for script, ex in scripts.items():
        strategy.add_script(script, ex)
    for ex in range(EXCHANGES):
        strategy.set_deposit(ex, DEPOSIT_SATS, DEPOSIT_ACTION)
    strategy.set_whale(WHALE_SATS, WHALE_ACTION)
    return strategy


def run(samples: int = 100, batch: int = 1) -> Report:
    """`samples` passes over the block per competitor (`batch` is ignored)."""
    del batch
    block = CBlock.deserialize(shared_block())
    raws = [bytes(tx.serialize()) for tx in block.vtx]
    blob = b"".join(raws)
    scripts = exchange_scripts(list(block.vtx))
    strategy = build_strategy(scripts)
    fired: dict[str, int] = {}

    def measure_native(n: int) -> list[float]:
        out, actions = ffi.new("double[]", n), ffi.new("uint32_t *")
        native.ensure(lib.st_bench_parse_match(strategy.cdata, blob, len(blob), len(raws), n,
                                               out, actions), "mempool/native")
        fired["mempool/native"] = int(actions[0])
        return list(out)

    def measure_python(n: int) -> list[float]:
        values = []
        for _ in range(n):
            start, count = time.perf_counter_ns(), 0
            for raw in raws:
                count += python_match(CTransaction.deserialize(raw), scripts) != 0
            values.append((time.perf_counter_ns() - start) / len(raws))
            fired["mempool/python"] = count
        return values

    measured = alternate({"mempool/native": measure_native, "mempool/python": measure_python},
                         samples, rounds=5)
    if fired["mempool/native"] != fired["mempool/python"]:
        raise RuntimeError(f"native and Python disagree on actions fired: {fired}")
    results = [result(name, values, len(raws)) for name, values in measured.items()]
    p50 = {r["name"]: r["p50"] for r in results}
    return {
        "suite": "mempool",
        "cpu": cpu_description(),
        "transactions": len(raws),
        "exchange_scripts": len(scripts),
        "actions_per_pass": fired["mempool/native"],
        "results": results,
        "ratios_p50": {"python/native": round(p50["mempool/python"] / p50["mempool/native"], 1)},
    }
