# SPDX-License-Identifier: MIT
"""Binance's HMAC order written the way users write it in Python: a params
dict, the sorted `k=v&...` string signed with `hmac` (HMAC-SHA256, hex), then
`json.dumps` of the `order.place` request. Nothing here is tuned: the benches
and the lab's Python bot time the engine against it.

The signing example is the first of Binance's Spot WebSocket API documentation
("SIGNED request example (HMAC)"), also the first case of
tests/data/signing.json (a test keeps them equal).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from orchestrator.venues import Side, binance
from orchestrator.venues.adapter import Reference

EXAMPLE_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
EXAMPLE_SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = (
    b"apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    b"&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
    b"&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
)
DOC_SIGNATURE = "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def _example_params(client_id: int, timestamp_ms: int, price: int, quantity: int
                    ) -> dict[str, str]:
    """The adapter's example leg (BUY 0.01 BTCUSDT LIMIT IOC) with these values."""
    return {
        "apiKey": EXAMPLE_KEY, "newClientOrderId": binance.client_order_id("st", client_id),
        "newOrderRespType": "ACK", "price": f"{price // 100}.{price % 100:02d}",
        "quantity": f"{quantity // 10**8}.{quantity % 10**8:08d}", "recvWindow": "5000",
        "side": "BUY", "symbol": "BTCUSDT", "timeInForce": "IOC",
        "timestamp": str(timestamp_ms), "type": "LIMIT",
    }


def _request(request_id: int, params: dict[str, str], mac: Any) -> str:
    mac.update(binance.signing_payload(params).encode())
    params["signature"] = mac.hexdigest()
    return json.dumps({"id": request_id, "method": "order.place", "params": params},
                      separators=(",", ":"))


class BinanceReference(Reference):
    row = "binance-hmac"
    signing_example = (EXAMPLE_SECRET, DOC_PAYLOAD, DOC_SIGNATURE)

    def __init__(self) -> None:
        # the key's state, made once as a user's bot would
        self._example_mac = hmac.new(EXAMPLE_SECRET, digestmod=hashlib.sha256)

    def example_order(self, request_id: int, client_id: int, timestamp_ms: int, price: int,
                      quantity: int) -> str:
        return _request(request_id, _example_params(client_id, timestamp_ms, price, quantity),
                        self._example_mac.copy())

    def example_signed_bytes(self) -> tuple[bytes, bytes]:
        params = _example_params(10**15 + 7, 1700000000007, 5200000, 1000000)
        return EXAMPLE_SECRET, binance.signing_payload(params).encode()

    def order(self, credentials: Mapping[str, str], request_id: int, symbol: str, side: Side,
              price: str, quantity: str, client_id: str) -> str:
        params = {"symbol": symbol, "side": side.name, "type": "LIMIT", "timeInForce": "IOC",
                  "price": price, "quantity": quantity, "newClientOrderId": client_id,
                  "apiKey": credentials["api_key"], "timestamp": str(time.time_ns() // 10**6)}
        return _request(request_id, params,
                        hmac.new(credentials["secret"].encode(), digestmod=hashlib.sha256))
