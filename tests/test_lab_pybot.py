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

from orchestrator.venues import Side, binance
from orchestrator.venues.binance.adapter import ADAPTER as BINANCE
from tests.conftest import signing_cases
from tests.simutil import HMAC_KEY, HMAC_SECRET, peer_sim, run_sim
from tests.tlsutil import Pki

ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
COIN = 100_000_000
BLOCK_TXS = 3314
REPEATS = 3


def test_one_signed_order_per_deposit_over_the_threshold(tmp_path: Path, pki: Pki) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"api_key": HMAC_KEY, "secret": HMAC_SECRET}))
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


def test_the_reference_client_signs_as_binance_documents() -> None:
    """The Binance documentation's own example (tests/data/signing.json), exactly,
    and the bot's orders signed over their own parameters."""
    reference = BINANCE.reference
    assert reference is not None
    [case] = [c for c in signing_cases() if c["name"] == "binance-wsapi-hmac-1"]
    assert reference.signing_example == (case["secret"].encode(), case["payload"].encode(),
                                         case["signature"])
    order = json.loads(reference.order({"api_key": case["params"]["apiKey"],
                                        "secret": case["secret"]}, 7, "BTCUSDT", Side.SELL,
                                       "52000.00", "0.01000000", "pybot-1"))
    params = order["params"]
    assert order["method"] == "order.place" and list(params)[-1] == "signature"
    assert params["signature"] == binance.sign_hmac(binance.Secret(case["secret"]), params)
