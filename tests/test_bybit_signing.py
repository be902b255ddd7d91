# SPDX-License-Identifier: MIT
"""Bybit signing. Bybit's documentation gives the plaintexts but no secret with its
signatures, so the plaintexts are checked against its own examples and the HMAC
against an independent computation (hashlib/hmac here); the simulator's verifier
must accept what the engine signs and refuse a changed byte."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from orchestrator.sim.exchange import bybit as sim_bybit
from orchestrator.venues import Leg, Secret, Side, bybit

SECRET = "made-up-secret-for-this-test"


def test_rest_plaintext_is_the_documented_one() -> None:
    # Bybit "Integration Guidance", GET example: timestamp+api_key+recv_window+queryString.
    assert bybit.rest_payload(1658384314791, "XXXXXXXXXX", 5000,
                              "category=option&symbol=BTC-29JUL22-25000-C") == \
        "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"


def test_auth_plaintext_is_the_documented_one() -> None:
    # Bybit websocket "Authentication": sign "GET/realtime" + expires.
    assert bybit.auth_payload(1711010121452) == "GET/realtime1711010121452"


def test_signatures_are_hex_hmac_sha256() -> None:
    expected = hmac.new(SECRET.encode(), b"GET/realtime1711010121452",
                        hashlib.sha256).hexdigest()
    assert bybit.auth_signature(Secret(SECRET), 1711010121452) == expected
    query = "category=spot&orderLinkId=st0000000001"
    expected = hmac.new(SECRET.encode(), f"1700000000000key5000{query}".encode(),
                        hashlib.sha256).hexdigest()
    assert bybit.rest_signature(Secret(SECRET), 1700000000000, "key", 5000, query) == expected


def test_simulator_accepts_our_signature_and_refuses_a_changed_one() -> None:
    signature = bybit.auth_signature(Secret(SECRET), 1711010121452)
    assert sim_bybit.sign_ok(SECRET, "GET/realtime1711010121452", signature)
    assert sim_bybit.sign_ok(SECRET, "GET/realtime1711010121452", signature.upper())
    assert not sim_bybit.sign_ok(SECRET, "GET/realtime1711010121453", signature)
    assert not sim_bybit.sign_ok("another secret", "GET/realtime1711010121452", signature)


def test_auth_request_carries_key_expiry_and_signature() -> None:
    credentials = bybit.Credentials("key1", Secret(SECRET))
    text = bybit.auth_request("bybit-1", credentials, 1711010121452)
    assert text == ('{"reqId":"bybit-1","op":"auth","args":["key1",1711010121452,"'
                    + bybit.auth_signature(Secret(SECRET), 1711010121452) + '"]}')
    assert SECRET not in repr(credentials)


def test_the_default_receive_window_is_not_sent() -> None:
    """Bybit's documented default (5000 ms) needs no header: 27 bytes less per order;
    any other window is sent."""
    leg = Leg("BTCUSDT", Side.BUY, Decimal("0.01"), time_in_force="IOC")
    assert b"RECV-WINDOW" not in bybit.order_template(leg).message
    assert b'"X-BAPI-RECV-WINDOW":"3000"' in bybit.order_template(leg, recv_window_ms=3000).message
