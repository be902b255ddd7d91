# SPDX-License-Identifier: MIT
"""The simulators `stratum demo` and the tests run the engine against, shipped in
the package so that an installed wheel can run the demo:

- `orchestrator.sim.exchange`: a TLS WebSocket exchange (`python -m orchestrator.sim.exchange`);
- `orchestrator.sim.btc_peer`: a Bitcoin peer replaying a real block as mempool traffic
  (`python -m orchestrator.sim.btc_peer`);
- `data/`: the mainnet block both replay (May 2019, 3315 transactions; from btcsuite/btcd's
  `wire/testdata`, never edited).
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def mainnet_block() -> Path:
    """The path of the shipped mainnet block (raw serialization)."""
    [block] = sorted(DATA.glob("block-*.blk"))
    return block
