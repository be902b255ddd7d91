# SPDX-License-Identifier: MIT
"""Takeover's venue query (docs/HA.md §4.6): the exchange simulator's
openOrders.status lists an account's open orders, of one symbol or all (and
charges 6 or 80 weight); BinanceSession.open_orders reads them over our own
connection stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.venues import binance
from tests.simutil import DOC_KEY, DOC_SECRET, run_sim
from tests.test_exchange_sim import Binance, error_of, hmac_signed, now_ms, order
from tests.tlsutil import Pki
from tests.venueutil import HMAC, binance_venue


def test_open_orders_status_lists_the_accounts_open_orders(pki: Pki, tmp_path: Path) -> None:
    with run_sim(tmp_path, pki) as sim, sim.connect() as ws:
        client = Binance(ws)
        client.call("order.place", hmac_signed(order("st0000042000000001")))
        client.call("order.place", hmac_signed(order("st0000042000000002")))
        client.call("order.place", hmac_signed(order("gone")))
        client.call("order.cancel", hmac_signed({"symbol": "BTCUSDT", "timestamp": now_ms(),
                                                 "origClientOrderId": "gone"}))
        client.call("order.place", hmac_signed(order("theirs")))

        def listed(**params: Any) -> dict[str, Any]:
            return client.call("openOrders.status", hmac_signed({"timestamp": now_ms(),
                                                                 **params}))

        one = listed(symbol="BTCUSDT")
        assert one["status"] == 200
        assert sorted(o["clientOrderId"] for o in one["result"]) == [
            "st0000042000000001", "st0000042000000002", "theirs"]
        assert all(o["status"] == "NEW" for o in one["result"])
        assert [o["clientOrderId"] for o in listed()["result"]].count("gone") == 0
        assert error_of(listed(symbol="NOPE"))[1] == -1121
        other = client.call("openOrders.status", hmac_signed(
            {"symbol": "BTCUSDT", "timestamp": now_ms()}, key=DOC_KEY, secret=DOC_SECRET))
        assert other["result"] == []                     # another account's orders: not shown
        used = {w["rateLimitType"]: w["count"] for w in listed(symbol="BTCUSDT")
                ["rateLimits"] if w["rateLimitType"] == "REQUEST_WEIGHT"}
        after_all = {w["rateLimitType"]: w["count"] for w in listed()["rateLimits"]
                     if w["rateLimitType"] == "REQUEST_WEIGHT"}
        assert after_all["REQUEST_WEIGHT"] - used["REQUEST_WEIGHT"] == 80


def test_session_reads_open_orders(pki: Pki, tmp_path: Path) -> None:
    with run_sim(tmp_path, pki) as sim:
        with sim.connect() as ws:
            Binance(ws).call("order.place", hmac_signed(order("st0000007000000003")))
        venue = binance_venue(sim.ws_port, pki.root_ca, tmp_path / "j", HMAC)
        listed = venue.session.open_orders({"BTCUSDT"}, timeout=10)
    assert [o.client_id for o in listed] == ["st0000007000000003"]
    assert listed[0].status == binance.ORDER_STATUS["NEW"]
