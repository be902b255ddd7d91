# SPDX-License-Identifier: MIT
"""Every signing.json case reproduces through the venue code and the native order
path; random Binance orders built natively carry the signature Python's hmac gives."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from orchestrator._native import lib
from orchestrator.desk import OrderBuilder
from orchestrator.errors import ConfigError, NativeError
from orchestrator.signing import HmacSha256
from orchestrator.venues import Leg, Secret, Side, Slot, Template, binance, kraken, slot, slot_value
from tests.conftest import signing_cases


def case(name: str) -> dict[str, Any]:
    return next(c for c in signing_cases() if c["name"] == name)


WS_CASES = ["binance-wsapi-hmac-1", "binance-wsapi-hmac-2-non-ascii"]


@pytest.mark.parametrize("name", WS_CASES)
def test_binance_ws_vector_through_venue_code(name: str) -> None:
    c = case(name)
    assert binance.signing_payload(c["params"]) == c["payload"]
    assert binance.sign_hmac(Secret(c["secret"]), c["params"]) == c["signature"]


@pytest.mark.parametrize("name", WS_CASES)
def test_binance_ws_vector_through_native_template(name: str) -> None:
    """The vector's params as a template whose price, quantity and timestamp are
    slots; the native build fills them and signs: the documented signature."""
    c = case(name)
    params = dict(c["params"])
    price, quantity, timestamp = params["price"], params["quantity"], params["timestamp"]
    params.update(price=slot_value(Slot.PRICE), quantity=slot_value(Slot.QUANTITY),
                  timestamp=slot_value(Slot.TIMESTAMP))
    price_decimals = len(price.split(".")[1])
    quantity_decimals = len(quantity.split(".")[1])
    template = binance.template_from_params(params, signed=True, price_decimals=price_decimals,
                                            quantity_decimals=quantity_decimals)
    built = OrderBuilder(template, Secret(c["secret"])).build(
        request_id=7, client_id=1, timestamp_ms=int(timestamp),
        price=int(Decimal(price).scaleb(price_decimals)),
        quantity=int(Decimal(quantity).scaleb(quantity_decimals)))
    message = json.loads(built)
    assert message["id"] == 7 and message["method"] == "order.place"
    sent = message["params"]
    assert sent["signature"] == c["signature"]
    assert {k: v for k, v in sent.items() if k != "signature"} == c["params"]


def test_binance_rest_classic_vector() -> None:
    """The REST example signs the query string as sent (not sorted)."""
    c = case("binance-rest-hmac-classic")
    python = hmac.new(c["secret"].encode(), c["payload"].encode(), hashlib.sha256).hexdigest()
    assert python == c["signature"]
    assert HmacSha256(c["secret"].encode()).hexdigest(c["payload"].encode()) == c["signature"]


def test_kraken_vector_through_venue_code() -> None:
    c = case("kraken-rest-api-sign")
    creds = kraken.Credentials("key", Secret(c["secret"]))
    got = kraken.api_sign(creds.secret_bytes(), c["uri_path"], c["nonce"], c["postdata"])
    assert got == c["signature"]


def test_every_vector_is_covered() -> None:
    covered = set(WS_CASES) | {"binance-rest-hmac-classic", "kraken-rest-api-sign"}
    assert {c["name"] for c in signing_cases()} == covered


FULLWIDTH_SYMBOL = "\uff11\uff12\uff13\uff14\uff15\uff16"  # as in the non-ASCII vector


def random_leg(rng: random.Random) -> Leg:
    price_decimals = rng.choice([0, 1, 2, 4, 8])
    return Leg(
        symbol=rng.choice(["BTCUSDT", "ETHBTC", FULLWIDTH_SYMBOL, "SOL_USDT"]),
        side=rng.choice([Side.BUY, Side.SELL]),
        quantity=Decimal("0.001"), order_type=rng.choice(["LIMIT", "MARKET"]),
        time_in_force=rng.choice(["GTC", "IOC", "FOK"]),
        tick=Decimal(1).scaleb(-price_decimals), price_decimals=price_decimals,
        quantity_decimals=rng.choice([0, 3, 8]),
    )


def test_thousand_random_binance_orders_match_python_hmac() -> None:
    rng = random.Random(20261124)
    secret = Secret(bytes(rng.randrange(256) for _ in range(rng.choice([16, 64, 100]))))
    creds = binance.Credentials("k" * 64, hmac_secret=secret)
    for i in range(1000):
        leg = random_leg(rng)
        template = binance.order_template(
            leg, creds, response_type=rng.choice(binance.RESPONSE_TYPES),
            recv_window_ms=rng.randrange(1, 60001), client_prefix=rng.choice(["st", "x-1", ""]))
        price = rng.randrange(1, 10**12)
        quantity = rng.randrange(1, 10**12)
        seq = rng.randrange(10**16)
        ts = rng.randrange(10**12, 10**13)
        built = OrderBuilder(template, secret).build(
            request_id=i, client_id=seq, timestamp_ms=ts, price=price, quantity=quantity)
        params = json.loads(built.decode())["params"]
        expected = hmac.new(secret.reveal(), binance.signing_payload(params).encode(),
                            hashlib.sha256).hexdigest()
        assert params["signature"] == expected, built
        assert params["timestamp"] == str(ts)
        assert params["newClientOrderId"].endswith(f"{seq:016d}")
        assert Decimal(params["quantity"]).scaleb(leg.quantity_decimals) == quantity
        if leg.has_price:
            assert Decimal(params["price"]).scaleb(leg.price_decimals) == price
        else:
            assert "price" not in params and "timeInForce" not in params


def test_session_mode_orders_carry_no_key_or_signature() -> None:
    creds = binance.Credentials("apikey", ed25519_pem=Secret(b"unused"))
    leg = Leg("BTCUSDT", Side.BUY, Decimal("0.01"))
    template = binance.order_template(leg, creds)
    assert template.sign == lib.ST_ORDER_SIGN_NONE and template.payload is None
    built = OrderBuilder(template).build(request_id=1, client_id=2, timestamp_ms=10**12,
                                         price=5200000, quantity=1000000)
    params = json.loads(built)["params"]
    assert "apiKey" not in params and "signature" not in params
    assert params["timestamp"] == str(10**12) and params["price"] == "52000.00"


def test_kraken_template_numbers_and_token() -> None:
    leg = Leg("BTC/USD", Side.SELL, Decimal("0.5"), price_decimals=1, quantity_decimals=8,
              tick=Decimal("0.1"))
    template = kraken.order_template(leg, Secret("TOKEN123"), client_prefix="k")
    built = OrderBuilder(template).build(request_id=42, client_id=7, timestamp_ms=1,
                                         price=265004, quantity=50000000)
    message = json.loads(built)
    assert message == {"method": "add_order", "req_id": 42, "params": {
        "order_type": "limit", "side": "sell", "order_qty": 0.5, "limit_price": 26500.4,
        "symbol": "BTC/USD", "cl_ord_id": "k" + "7".zfill(16), "time_in_force": "ioc",
        "token": "TOKEN123"}}


@pytest.mark.parametrize("message, payload, sign", [
    (b"x" + slot(Slot.SIGNATURE).encode(), None, lib.ST_ORDER_SIGN_NONE),   # sig, unsigned
    (b"x", b"p", lib.ST_ORDER_SIGN_HMAC_HEX),                                # no sig slot
    (b"x\x00\x09", None, lib.ST_ORDER_SIGN_NONE),                            # unknown slot
    (b"x\x00", None, lib.ST_ORDER_SIGN_NONE),                                # cut marker
    (b"x" * 1025, None, lib.ST_ORDER_SIGN_NONE),                             # too long
    (b"\x00\x01" * 40, None, lib.ST_ORDER_SIGN_NONE),                        # too many slots
])
def test_bad_template_is_refused(message: bytes, payload: bytes | None, sign: int) -> None:
    with pytest.raises(NativeError) as info:
        OrderBuilder(Template(message, payload, sign))
    assert info.value.name == "ST_EORDER_SPEC"


@pytest.mark.parametrize("field, value", [("price", 0), ("quantity", -1),
                                          ("client_id", 10**16), ("timestamp_ms", 10**13)])
def test_value_out_of_range_is_refused(field: str, value: int) -> None:
    template = Template(("p" + slot(Slot.PRICE) + "q" + slot(Slot.QUANTITY)).encode())
    values = dict(request_id=1, client_id=1, timestamp_ms=1, price=1, quantity=1)
    values[field] = value
    with pytest.raises(NativeError) as info:
        OrderBuilder(template).build(**values)
    assert info.value.name == "ST_EORDER_VALUE"


@pytest.mark.parametrize("value, decimals, text", [
    (5200000, 2, "52000.00"), (1, 8, "0.00000001"), (5, 3, "0.005"), (123, 0, "123"),
    (100000000, 8, "1.00000000"), (2**63 - 1, 18, "9.223372036854775807")])
def test_fixed_point_text(value: int, decimals: int, text: str) -> None:
    template = Template(slot(Slot.QUANTITY).encode(), quantity_decimals=decimals)
    assert OrderBuilder(template).build(request_id=0, client_id=0, timestamp_ms=0, price=0,
                                        quantity=value) == text.encode()


@pytest.mark.parametrize("prefix", ["has space", "x" * 21, "é"])
def test_bad_binance_prefix_is_a_config_error(prefix: str) -> None:
    creds = binance.Credentials("k", hmac_secret=Secret("s"))
    with pytest.raises(ConfigError, match="client id prefix"):
        binance.order_template(Leg("BTCUSDT", Side.BUY, Decimal(1)), creds, client_prefix=prefix)


def test_secrets_do_not_print() -> None:
    creds = binance.Credentials("visible-key", hmac_secret=Secret("marker-secret-123"))
    for text in (repr(creds), str(creds), repr(creds.hmac_secret), f"{creds.hmac_secret}"):
        assert "marker-secret-123" not in text and "visible-key" not in text
