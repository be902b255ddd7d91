# SPDX-License-Identifier: MIT
"""OKX signing and order text (orchestrator/venues/okx).

OKX's documentation gives the signing rule and example inputs (the secretKey
22582BD0CFF14C41EDBF1AB98506286D and the timestamp 1704876947) but no
signature computed from them, so the signatures here are checked against an
independent computation with hashlib/hmac, and against the simulator's
verifier (a second implementation written from the same text)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from orchestrator.errors import ConfigError
from orchestrator.sim.exchange import okx as sim_okx
from orchestrator.venues import Leg, Secret, Side, okx

DOC_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"     # the docs' example secretKey
DOC_TIMESTAMP = "1704876947"                        # the docs' example timestamp (s)
CREDENTIALS = okx.Credentials("doc-key", Secret(DOC_SECRET), Secret("doc passphrase"))


def independent(prehash: str) -> str:
    mac = hmac.new(DOC_SECRET.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def test_login_sign_is_base64_hmac_of_timestamp_get_verify() -> None:
    signed = okx.sign(CREDENTIALS.secret, DOC_TIMESTAMP, "GET", "/users/self/verify")
    assert signed == independent("1704876947GET/users/self/verify")
    assert len(base64.b64decode(signed)) == 32


def test_login_request_carries_what_the_docs_list() -> None:
    request = json.loads(okx.login_request(CREDENTIALS, int(DOC_TIMESTAMP)))
    assert request["op"] == "login" and "id" not in request
    [arg] = request["args"]
    assert arg == {"apiKey": "doc-key", "passphrase": "doc passphrase",
                   "timestamp": DOC_TIMESTAMP,
                   "sign": independent(DOC_TIMESTAMP + "GET/users/self/verify")}
    assert sim_okx.sign_ok(DOC_SECRET, DOC_TIMESTAMP + "GET" + sim_okx.VERIFY_PATH, arg["sign"])


def test_rest_sign_covers_the_query_and_the_iso_timestamp() -> None:
    # The docs' REST example: timestamp 2020-12-08T09:08:57.715Z, path with its query.
    stamp = okx.rest_timestamp(1607418537715)
    assert stamp == "2020-12-08T09:08:57.715Z"
    path = okx.order_query_path("BTC-USDT", "st0000000000000007")
    assert path == "/api/v5/trade/order?instId=BTC-USDT&clOrdId=st0000000000000007"
    assert okx.sign(CREDENTIALS.secret, stamp, "GET", path) == independent(stamp + "GET" + path)


def test_credentials_never_show_their_secrets() -> None:
    text = repr(CREDENTIALS) + str(CREDENTIALS)
    assert DOC_SECRET not in text and "doc passphrase" not in text and "doc-key" not in text


def test_order_template_is_the_documented_order_op() -> None:
    leg = Leg("BTC-USDT", Side.SELL, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)
    text = okx.order_template(leg, client_prefix="ab1").message.decode()
    for slot, value in (("\x00\x01", "77"), ("\x00\x02", "0" * 15 + "5"),
                        ("\x00\x03", "1704876947000"), ("\x00\x04", "52000.1"),
                        ("\x00\x05", "0.01000000")):
        text = text.replace(slot, value)
    order = json.loads(text)
    assert order == {"id": "77", "op": "order", "expTime": "1704876947000", "args": [{
        "instId": "BTC-USDT", "tdMode": "cash", "side": "sell", "ordType": "ioc",
        "sz": "0.01000000", "clOrdId": "ab10000000000000005", "px": "52000.1"}]}


@pytest.mark.parametrize(("leg", "ord_type"), [
    (Leg("X-Y", Side.BUY, Decimal(1), time_in_force="GTC"), "limit"),
    (Leg("X-Y", Side.BUY, Decimal(1), time_in_force="FOK"), "fok"),
    (Leg("X-Y", Side.BUY, Decimal(1), order_type="LIMIT_MAKER"), "post_only"),
    (Leg("X-Y", Side.BUY, Decimal(1), order_type="MARKET"), "market"),
])
def test_ord_type_follows_the_leg(leg: Leg, ord_type: str) -> None:
    assert okx.ord_type(leg) == ord_type


@pytest.mark.parametrize("prefix", ["st-", "a" * 17, "st_1"])
def test_client_prefix_outside_okx_rule_is_refused(prefix: str) -> None:
    with pytest.raises(ConfigError, match="OKX clOrdIds are alphanumeric"):
        okx.check_prefix(prefix)
