# SPDX-License-Identifier: MIT
"""The lab's Python reference bot against the real simulators on loopback: one
signed order.place per deposit at or over the threshold, none for a smaller
one, every order accepted by the exchange simulator (which checks the HMAC
signature exactly as Binance documents it). No timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from orchestrator.lab.pybot import signed_order
from tests.conftest import signing_cases
from tests.simutil import HMAC_KEY, HMAC_SECRET, peer_sim, run_sim
from tests.tlsutil import Pki

ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
COIN = 100_000_000
BLOCK_TXS = 3314
REPEATS = 3


def test_one_signed_order_per_deposit_over_the_threshold(tmp_path: Path, pki: Pki) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"apiKey": HMAC_KEY, "hmacSecret": HMAC_SECRET}))
    total = BLOCK_TXS + 2 + REPEATS
    with run_sim(tmp_path, pki) as sim, \
            peer_sim(tmp_path, "--deposit", f"{ADDRESS}:{50 * COIN}",
                     "--deposit", f"{ADDRESS}:{5 * COIN}",
                     "--deposit-every", f"5:{REPEATS}") as port:
        run = subprocess.run(
            [sys.executable, "-m", "orchestrator.lab.pybot", "--peer", f"127.0.0.1:{port}",
             "--venue", sim.url("/ws-api/v3"), "--ca", str(pki.root_ca),
             "--credentials", str(creds), "--address", ADDRESS,
             "--threshold-sats", str(10 * COIN), "--txs", str(total)],
            capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        # (python-bitcoinlib prints "Command not known" for feefilter and such first)
        assert run.stdout.splitlines()[-1].split() == [f"triggers={1 + REPEATS}", f"txs={total}"]
        assert HMAC_SECRET not in run.stdout + run.stderr
        orders = [o for o in sim.orders() if o["client_order_id"].startswith("pybot-")]
        calls = [c for c in sim.log("binance") if c.get("method") == "order.place"]
    assert len(orders) == 1 + REPEATS and len(calls) == 1 + REPEATS
    assert {(o["side"], o["type"], o["time_in_force"], o["status"]) for o in orders} == \
        {("SELL", "LIMIT", "IOC", "FILLED")}
    assert len({o["client_order_id"] for o in orders}) == len(orders)


def test_the_signature_is_binances() -> None:
    """The Binance documentation's own example (tests/data/signing.json), exactly."""
    [case] = [c for c in signing_cases() if c["name"] == "binance-wsapi-hmac-1"]
    params = {k: v for k, v in case["params"].items() if k not in ("apiKey", "timestamp")}
    signed = signed_order(case["params"]["apiKey"], case["secret"], params,
                          clock=lambda: int(case["params"]["timestamp"]))
    assert signed["signature"] == case["signature"]
    assert list(signed)[-1] == "signature"
