# SPDX-License-Identifier: MIT
"""The exchange simulator (the exchange simulator) as a client sees it: a subprocess on
127.0.0.1, spoken to over TLS with a plain ``websockets`` client and ``http.client``.

The clients here sign with their own few lines of hmac/cryptography code, not the
simulator's, so a verifier that drifted from the documented scheme fails these tests.
Every wait is bounded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import random
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection

from orchestrator.sim.exchange import binance, kraken
from tests.conftest import SANITIZE, signing_cases
from tests.simutil import (
    BYBIT_KEY,
    BYBIT_SECRET,
    DOC_KEY,
    DOC_SECRET,
    ED_KEY,
    ED_PRIVATE,
    HMAC_KEY,
    HMAC_SECRET,
    KRAKEN_KEY,
    KRAKEN_SECRET,
    SIM,
    TIMEOUT,
    Sim,
    run_sim,
)
from tests.tlsutil import Pki

TOKEN_PATH = "/0/private/GetWebSocketsToken"
EIGHT_DECIMALS = re.compile(r"^[0-9]+\.[0-9]{8}$")
RFC3339_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# The simulator and these clients are plain Python: under SANITIZE=1 the sanitizer
# runtime preloaded into pytest only slows the clients' TLS handshakes past their
# timeouts, with no native code of ours to check.
pytestmark = pytest.mark.skipif(SANITIZE, reason="pure Python: nothing for the sanitizers")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- the process


@pytest.fixture(scope="module")
def sim(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    # the fuzz test sends 200 Kraken orders on one pair: past Kraken's starter threshold
    with run_sim(tmp_path_factory.mktemp("sim"), pki, "--outcome-unknown-regex", "^unk-",
                 "--pair-counter-max", "1000") as s:
        yield s


# --------------------------------------------------------------------------- clients


def hmac_signed(params: dict[str, Any], key: str = HMAC_KEY, secret: str = HMAC_SECRET
                ) -> dict[str, Any]:
    signed = {**params, "apiKey": key}
    payload = "&".join(f"{k}={signed[k]}" for k in sorted(signed))
    signed["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return signed


def ed_signed(params: dict[str, Any], key: str = ED_KEY) -> dict[str, Any]:
    signed = {**params, "apiKey": key}
    payload = "&".join(f"{k}={signed[k]}" for k in sorted(signed))
    signed["signature"] = base64.b64encode(ED_PRIVATE.sign(payload.encode())).decode()
    return signed


class Binance:
    """Binance WebSocket API requests over one connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def send_raw(self, data: str | bytes, *, text: bool | None = None) -> dict[str, Any]:
        self.ws.send(data, text=text)
        reply: dict[str, Any] = json.loads(self.ws.recv(timeout=TIMEOUT))
        return reply

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"id": next(self.ids), "method": method}
        if params is not None:
            request["params"] = params
        reply = self.send_raw(json.dumps(request))
        assert reply["id"] == request["id"]
        return reply


def order(client_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A LIMIT GTC buy of 0.01 BTCUSDT below the static book's bid (it rests)."""
    params: dict[str, Any] = {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01000000", "price": "51000.00", "timestamp": now_ms(),
    }
    if client_id is not None:
        params["newClientOrderId"] = client_id
    params.update(extra)
    return params


def error_of(reply: dict[str, Any]) -> tuple[int, int, str]:
    return reply["status"], reply["error"]["code"], reply["error"]["msg"]


def kraken_token_request(sim: Sim, nonce: int | str, *, key: str = KRAKEN_KEY,
                         secret: str = KRAKEN_SECRET) -> tuple[int, dict[str, Any]]:
    return kraken_private(sim, TOKEN_PATH, nonce, key=key, secret=secret)


def kraken_private(sim: Sim, path: str, nonce: int | str, fields: dict[str, str] | None = None,
                   *, key: str = KRAKEN_KEY,
                   secret: str = KRAKEN_SECRET) -> tuple[int, dict[str, Any]]:
    body = urlencode({"nonce": nonce, **(fields or {})})
    digest = hashlib.sha256((str(nonce) + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    conn = http.client.HTTPSConnection("127.0.0.1", sim.rest_port, context=sim.ctx,
                                       timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers={
            "API-Key": key, "API-Sign": base64.b64encode(mac.digest()).decode(),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def wait_window_start(period_ms: int, margin_ms: int) -> None:
    """Sleeps past the next fixed-interval boundary if the current interval ends soon."""
    left = period_ms - now_ms() % period_ms
    if left < margin_ms:
        time.sleep((left + 50) / 1000)


# --------------------------------------------------------------------------- pure verifiers


def test_signing_json_vectors_verify() -> None:
    seen = set()
    for case in signing_cases():
        name = case["name"]
        if name.startswith("binance-wsapi-hmac"):
            texts = {k: str(v) for k, v in case["params"].items()}
            payload = binance.signature_payload(texts)
            assert payload == case["payload"]
            assert binance.hmac_ok(case["secret"], payload, case["signature"])
            assert binance.hmac_ok(case["secret"], payload, case["signature"].upper())
            assert not binance.hmac_ok(case["secret"][:-1] + "x", payload,
                                               case["signature"])
            assert not binance.hmac_ok(case["secret"], payload + "&x=1",
                                               case["signature"])
        elif name == "binance-rest-hmac-classic":  # signed as sent, not sorted
            assert binance.hmac_ok(case["secret"], case["payload"], case["signature"])
        elif name == "kraken-rest-api-sign":
            args = (case["secret"], case["uri_path"], case["nonce"], case["postdata"])
            assert kraken.api_sign(*args) == case["signature"]
            assert kraken.sign_ok(*args, case["signature"])
            assert not kraken.sign_ok(case["secret"], case["uri_path"],
                                              str(int(case["nonce"]) + 1), case["postdata"],
                                              case["signature"])
            assert not kraken.sign_ok(*args, "not base64!")
        else:
            continue
        seen.add(name)
    assert seen == {"binance-wsapi-hmac-1", "binance-wsapi-hmac-2-non-ascii",
                    "binance-rest-hmac-classic", "kraken-rest-api-sign"}


def test_ed25519_verifier() -> None:
    key = Ed25519PrivateKey.generate()
    payload = "apiKey=k&symbol=BTCUSDT&timestamp=1"
    good = base64.b64encode(key.sign(payload.encode())).decode()
    public = key.public_key()
    assert binance.ed25519_ok(public, payload, good)
    assert not binance.ed25519_ok(public, payload + "0", good)
    assert not binance.ed25519_ok(public, payload, good[:-4] + "AAA=")
    assert not binance.ed25519_ok(public, payload, "%%%")
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert binance.ed25519_ok(binance.load_ed25519_public_key(pem), payload, good)


# --------------------------------------------------------------------------- Binance


def test_documented_example_signature_passes_and_reaches_the_timestamp_check(sim: Sim) -> None:
    """The docs' example request, byte for byte (recvWindow a JSON number): its
    signature verifies, so it fails on its 2022 timestamp instead."""
    [case] = [c for c in signing_cases() if c["name"] == "binance-wsapi-hmac-1"]
    params: dict[str, Any] = dict(case["params"], recvWindow=100, timestamp=1645423376532,
                                  signature=case["signature"])
    with sim.connect() as ws:
        client = Binance(ws)
        assert error_of(client.call("order.place", params)) == (
            400, -1021, "Timestamp for this request is outside of the recvWindow.")
        params["signature"] = "0" * 64
        assert error_of(client.call("order.place", params)) == (
            400, -1022, "Signature for this request is not valid.")


def test_ping_time_and_rate_limit_reports(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        pong = client.call("ping")
        assert pong["status"] == 200 and pong["result"] == {}
        [weight] = pong["rateLimits"]
        assert weight["rateLimitType"] == "REQUEST_WEIGHT" and weight["limit"] == 6000
        before = now_ms()
        server_time = client.call("time")["result"]["serverTime"]
        assert before - 1000 <= server_time <= now_ms() + 1000
    with sim.connect("/ws-api/v3?returnRateLimits=false") as ws:
        client = Binance(ws)
        assert "rateLimits" not in client.call("ping")
        assert "rateLimits" in client.call("ping", {"returnRateLimits": True})


def test_hmac_orders_are_executed_answered_and_recorded(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        params = hmac_signed(order("fill-1", price="52000.10"))
        request = json.dumps({"id": "take", "method": "order.place", "params": params})
        reply = client.send_raw(request)
        assert reply["status"] == 200, reply
        result = reply["result"]
        assert result["status"] == "FILLED" and result["clientOrderId"] == "fill-1"
        assert result["executedQty"] == "0.01000000" and result["price"] == "52000.10000000"
        assert result["cummulativeQuoteQty"] == "520.00100000"
        assert [f["price"] for f in result["fills"]] == ["52000.10000000"]  # at the ask
        assert result["orderListId"] == -1 and result["selfTradePreventionMode"] == "NONE"
        assert {r["rateLimitType"] for r in reply["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
        rest = client.call("order.place", hmac_signed(order("rest-1", newOrderRespType="RESULT")))
        assert rest["result"]["status"] == "NEW" and "fills" not in rest["result"]
        ioc = client.call("order.place", hmac_signed(order("ioc-1", timeInForce="IOC")))
        assert ioc["result"]["status"] == "EXPIRED"
        ack = client.call("order.place", hmac_signed(order(newOrderRespType="ACK")))
        assert set(ack["result"]) == {"symbol", "orderId", "orderListId", "clientOrderId",
                                      "transactTime"}
        market = client.call("order.place", hmac_signed({
            "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.5",
            "timestamp": now_ms()}))
        assert market["result"]["status"] == "FILLED"
        assert market["result"]["fills"][0]["price"] == "52000.00000000"  # at the bid
    ids = [result["orderId"], rest["result"]["orderId"], ioc["result"]["orderId"]]
    assert ids == sorted(ids) and len(set(ids)) == 3
    [line] = [x for x in sim.log("binance") if x["client_order_id"] == "fill-1"]
    assert line["raw"] == request and line["method"] == "order.place"
    assert line["verdict"] == "accepted" and line["code"] is None
    recorded = {o["client_order_id"]: o for o in sim.orders()}
    assert recorded["fill-1"]["status"] == "FILLED" and recorded["fill-1"]["venue"] == "binance"
    assert recorded["rest-1"]["status"] == "NEW" and recorded["ioc-1"]["status"] == "EXPIRED"


def test_limit_maker_that_would_take_is_refused(sim: Sim) -> None:
    params = order(type="LIMIT_MAKER", price="52000.10")
    del params["timeInForce"]
    with sim.connect() as ws:
        client = Binance(ws)
        assert error_of(client.call("order.place", hmac_signed(params))) == (
            400, -2010, "Order would immediately match and take.")
        params["price"] = "51999.00"
        assert client.call("order.place", hmac_signed(params))["status"] == 200


def test_bad_keys_and_signatures_are_refused(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        wrong = hmac_signed(order(), secret="wrong secret")
        assert error_of(client.call("order.place", wrong)) == (
            400, -1022, "Signature for this request is not valid.")
        unknown = hmac_signed(order(), key="NoSuchKey")
        assert error_of(client.call("order.place", unknown))[:2] == (401, -2015)
        malformed = hmac_signed(order(), key="bad key!")
        assert error_of(client.call("order.place", malformed))[:2] == (401, -2014)
        tampered = hmac_signed(order())
        tampered["quantity"] = "0.02000000"
        assert error_of(client.call("order.place", tampered))[1] == -1022
        unsigned = order()
        assert error_of(client.call("order.place", unsigned)) == (
            400, -1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or "
            "malformed.")
    assert [x["code"] for x in sim.log("binance")[-5:]] == [-1022, -2015, -2014, -1022, -1102]
    assert all(x["verdict"] == "rejected" for x in sim.log("binance")[-5:])


def test_timestamps_outside_the_window_are_refused(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        stale = hmac_signed(order(timestamp=now_ms() - 6000))  # default recvWindow 5000
        assert error_of(client.call("order.place", stale)) == (
            400, -1021, "Timestamp for this request is outside of the recvWindow.")
        widened = hmac_signed(order(timestamp=now_ms() - 6000, recvWindow=10000))
        assert client.call("order.place", widened)["status"] == 200
        future = hmac_signed(order(timestamp=now_ms() + 3000))
        assert error_of(client.call("order.place", future)) == (
            400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        too_wide = hmac_signed(order(recvWindow=60001))
        assert error_of(client.call("order.place", too_wide))[1] == -1102
        micros = hmac_signed(order(timestamp=time.time_ns() // 1000))  # µs are accepted
        assert client.call("order.place", micros)["status"] == 200


def test_ed25519_logon_is_per_connection(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        bad = ed_signed({"timestamp": now_ms()})
        bad["timestamp"] += 1
        assert error_of(client.call("session.logon", bad))[1] == -1022
        logon = client.call("session.logon", ed_signed({"timestamp": now_ms()}))
        assert logon["status"] == 200, logon
        result = logon["result"]
        assert result["apiKey"] == ED_KEY
        assert result["connectedSince"] <= result["authorizedSince"] <= result["serverTime"]
        placed = client.call("order.place", order("ed-1"))  # neither apiKey nor signature
        assert placed["status"] == 200 and placed["result"]["clientOrderId"] == "ed-1"
        found = client.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ed-1",
                                             "timestamp": now_ms()})
        assert found["result"]["status"] == "NEW"
        assert client.call("session.status")["result"]["apiKey"] == ED_KEY
        # an ad hoc Ed25519-signed request works without logon too
        assert client.call("order.place", ed_signed(order("ed-2")))["status"] == 200
    with sim.connect() as ws:
        client = Binance(ws)
        assert error_of(client.call("order.place", order("ed-3")))[1] == -1102
        assert client.call("session.status")["result"]["apiKey"] is None
    ed_orders = [o for o in sim.orders() if o["account"] == ED_KEY]
    assert [o["client_order_id"] for o in ed_orders] == ["ed-1", "ed-2"]


def test_hmac_key_cannot_log_on(sim: Sim) -> None:
    with sim.connect() as ws:
        reply = Binance(ws).call("session.logon", hmac_signed({"timestamp": now_ms()}))
        assert reply["status"] == 400


def test_duplicate_client_order_id_is_refused(sim: Sim) -> None:
    with sim.connect() as ws:
        assert Binance(ws).call("order.place", hmac_signed(order("dup-1")))["status"] == 200
    with sim.connect() as ws:
        client = Binance(ws)
        assert error_of(client.call("order.place", hmac_signed(order("dup-1")))) == (
            400, -2010, "Duplicate order sent.")
        bad_id = hmac_signed(order("has space"))
        assert error_of(client.call("order.place", bad_id))[1] == -1100
    assert [o["client_order_id"] for o in sim.orders()].count("dup-1") == 1


def test_order_status(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        placed = client.call("order.place", hmac_signed(order("st-1")))["result"]

        def status(**lookup: Any) -> dict[str, Any]:
            return client.call("order.status", hmac_signed(
                {"symbol": "BTCUSDT", "timestamp": now_ms(), **lookup}))

        by_id = status(orderId=placed["orderId"])
        assert by_id["status"] == 200
        assert by_id["result"]["clientOrderId"] == "st-1"
        assert by_id["result"]["origQty"] == "0.01000000"
        assert by_id["result"]["time"] == placed["transactTime"]
        assert status(origClientOrderId="st-1")["result"]["orderId"] == placed["orderId"]
        assert error_of(status(origClientOrderId="nope")) == (400, -2013,
                                                              "Order does not exist.")
        assert error_of(status(orderId=10**12))[1] == -2013
        assert error_of(status())[1] == -1102
        other = client.call("order.status", hmac_signed(
            {"symbol": "BTCUSDT", "timestamp": now_ms(), "origClientOrderId": "st-1"},
            key=DOC_KEY, secret=DOC_SECRET))  # another account's order
        assert error_of(other)[1] == -2013


def test_order_cancel(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        placed = client.call("order.place", hmac_signed(order("st-cancel")))["result"]

        def cancel(client_id: str) -> dict[str, Any]:
            return client.call("order.cancel", hmac_signed(
                {"symbol": "BTCUSDT", "timestamp": now_ms(), "origClientOrderId": client_id}))

        done = cancel("st-cancel")
        assert done["status"] == 200 and done["result"]["status"] == "CANCELED"
        assert done["result"]["orderId"] == placed["orderId"]
        assert done["result"]["origClientOrderId"] == "st-cancel"
        again = cancel("st-cancel")                     # not open any more
        assert error_of(again) == (400, -2011, "Unknown order sent.")
        assert error_of(cancel("never-placed"))[1] == -2011
    [recorded] = [o for o in sim.orders() if o["client_order_id"] == "st-cancel"]
    assert recorded["status"] == "CANCELED"


def test_outcome_unknown_order_is_executed_but_answered_1007(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        reply = client.call("order.place", hmac_signed(order("unk-1", price="52000.10")))
        assert error_of(reply) == (400, -1007, "Timeout waiting for response from backend "
                                   "server. Send status unknown; execution status unknown.")
        found = client.call("order.status", hmac_signed(
            {"symbol": "BTCUSDT", "origClientOrderId": "unk-1", "timestamp": now_ms()}))
        assert found["status"] == 200 and found["result"]["status"] == "FILLED"
    [line] = [x for x in sim.log("binance") if x["client_order_id"] == "unk-1"
              and x["method"] == "order.place"]
    assert (line["verdict"], line["code"]) == ("accepted", -1007)
    [recorded] = [o for o in sim.orders() if o["client_order_id"] == "unk-1"]
    assert recorded["outcome_unknown"] is True


def test_garbage_gets_errors_and_the_connection_goes_on(sim: Sim) -> None:
    with sim.connect() as ws:
        client = Binance(ws)
        assert error_of(client.send_raw("not json"))[:2] == (400, -1135)
        assert client.send_raw("not json")["id"] is None
        assert error_of(client.send_raw("[1, 2]"))[:2] == (400, -1135)
        assert error_of(client.send_raw('{"id": 1, "method": "ping", "params": [1]}'))[1] == -1135
        assert error_of(client.send_raw('{"id": {}, "method": "ping"}'))[1] == -1102
        assert error_of(client.send_raw('{"id": 2, "method": 7}'))[1] == -1102
        unknown = client.send_raw('{"id": 3, "method": "order.teleport"}')
        assert unknown["id"] == 3 and unknown["status"] == 400
        assert error_of(client.send_raw('{"id": 4, "method": "ping", "params": '
                                        '{"a": 1, "a": 2}}'))[1] == -1101
        assert error_of(client.send_raw('{"id": 5, "method": "ping", "params": {"x": 1}}'))[1] \
            == -1104
        assert error_of(client.send_raw(b'{"id": 6, "method": "ping"}'))[1] == -1135  # binary
        assert error_of(client.send_raw('{"id": 7, "method": "ping", "x": NaN}'))[1] == -1135
        bad_qty = hmac_signed(order(quantity="1e-2"))
        assert error_of(client.call("order.place", bad_qty))[1] == -1100
        nested = hmac_signed(order())
        nested["quantity"] = {"value": 1}
        assert error_of(client.call("order.place", nested))[1] == -1102
        assert client.call("ping")["status"] == 200
    errors = [x for x in sim.log("binance") if x["verdict"] == "error"]
    assert any(x["raw"] == "not json" and x["code"] == -1135 for x in errors)


FUZZ_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1.5, 1e308, 10**30, "", "x", "BUY", "LIMIT", "GTC", "0.01", "-1",
    "1e5", [], {}, [1], {"a": 1}, "\u0000", "é" * 40, "9" * 30, "\ud83d\ude00",
)


def test_random_requests_never_break_it(sim: Sim) -> None:
    """Valid requests with random fields replaced by random JSON values: every one gets
    a well-formed answer on the same connection (the teardown checks for tracebacks)."""
    rng = random.Random(7)
    with sim.connect() as ws:
        client = Binance(ws)
        for n in range(300):
            params = hmac_signed(order(f"fz-{n}"))
            for _ in range(rng.randint(1, 3)):
                params[rng.choice([*params, "orderId", "zzz"])] = rng.choice(FUZZ_VALUES)
            method = rng.choice(["order.place", "order.status", "session.logon", "time"])
            reply = client.send_raw(json.dumps({"id": n, "method": method, "params": params}))
            assert reply["id"] == n and reply["status"] in (200, 400, 401), reply
    token = kraken_token_request(sim, time.time_ns())[1]["result"]["token"]
    outcomes = set()
    with sim.connect("/v2") as ws:
        for n in range(200):
            kparams: dict[str, Any] = {"order_type": "limit", "side": "buy", "order_qty": 0.01,
                                       "limit_price": 52000.1, "symbol": "BTC/USD",
                                       "token": token}
            kparams[rng.choice([*kparams, "cl_ord_id", "zzz"])] = rng.choice(FUZZ_VALUES)
            ws.send(json.dumps({"method": "add_order", "params": kparams, "req_id": n}))
            answer = json.loads(ws.recv(timeout=TIMEOUT))
            assert answer["req_id"] == n, answer
            assert answer["success"] is True or answer["error"].startswith("E"), answer
            outcomes.add(answer["success"])
    assert outcomes == {True, False}


def test_hostile_frames_close_only_their_connection(sim: Sim) -> None:
    with sim.connect("/ws-api/v3?probe=big") as ws:
        ws.send("x" * (70 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with sim.connect("/ws-api/v3?probe=utf8") as ws:
        ws.send(b'{"id": 1, "method": "\xff"}', text=True)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    with sim.connect() as ws:
        assert Binance(ws).call("ping")["status"] == 200
    by_path = {x["path"]: x for x in sim.log("connections")}
    assert by_path["/ws-api/v3?probe=big"]["server_close_code"] == 1009
    assert by_path["/ws-api/v3?probe=utf8"]["server_close_code"] == 1007


def test_client_close_codes_are_logged(sim: Sim) -> None:
    with sim.connect("/ws-api/v3?probe=close") as ws:
        Binance(ws).call("ping")
        ws.close(4000, "bye")
    with sim.connect("/v2?probe=close") as ws:
        ws.close()
    deadline = time.monotonic() + TIMEOUT
    while True:
        by_path = {x["path"]: x for x in sim.log("connections")}
        if "/v2?probe=close" in by_path and "/ws-api/v3?probe=close" in by_path:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert (by_path["/ws-api/v3?probe=close"]["close_code"],
            by_path["/ws-api/v3?probe=close"]["close_reason"]) == (4000, "bye")
    assert by_path["/v2?probe=close"]["close_code"] == 1000


def test_book_ticker_stream(sim: Sim) -> None:
    with sim.connect("/ws/btcusdt@bookTicker") as ws:
        updates = [json.loads(ws.recv(timeout=TIMEOUT)) for _ in range(3)]
    for update in updates:
        assert set(update) == {"u", "s", "b", "B", "a", "A"} and update["s"] == "BTCUSDT"
        assert all(EIGHT_DECIMALS.match(update[k]) for k in "bBaA")
        assert float(update["b"]) < float(update["a"])
    assert updates[0]["u"] < updates[1]["u"] < updates[2]["u"]
    assert (updates[0]["b"], updates[0]["a"]) == ("52000.00000000", "52000.10000000")  # static
    with pytest.raises(InvalidStatus) as refused:
        sim.connect("/ws/nosuch@bookTicker").close()
    assert refused.value.response.status_code == 404


# --------------------------------------------------------------------------- Kraken


def test_kraken_token_then_add_order(sim: Sim) -> None:
    nonce = time.time_ns()
    status, good = kraken_token_request(sim, nonce)
    assert status == 200 and good["error"] == [] and good["result"]["expires"] == 900
    token = good["result"]["token"]
    assert kraken_token_request(sim, nonce)[1] == {"error": ["EAPI:Invalid nonce"], "result": {}}
    assert kraken_token_request(sim, nonce - 1)[1]["error"] == ["EAPI:Invalid nonce"]
    bad_sign = kraken_token_request(sim, nonce + 1, secret=base64.b64encode(b"x" * 64).decode())
    assert bad_sign[1]["error"] == ["EAPI:Invalid signature"]
    assert kraken_token_request(sim, nonce + 2, key="nobody")[1]["error"] == ["EAPI:Invalid key"]
    assert kraken_token_request(sim, nonce + 3)[1]["error"] == []  # the bad ones used no nonce
    assert [x["code"] for x in sim.log("rest")[-6:]] == [
        None, "EAPI:Invalid nonce", "EAPI:Invalid nonce", "EAPI:Invalid signature",
        "EAPI:Invalid key", None]

    def add_order(ws: ClientConnection, req_id: int, **params: Any) -> dict[str, Any]:
        ws.send(json.dumps({"method": "add_order", "req_id": req_id, "params": {
            "order_type": "limit", "side": "buy", "order_qty": 0.01, "limit_price": 52000.1,
            "symbol": "BTC/USD", "token": token, **params}}))
        reply: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
        assert reply["method"] == "add_order" and reply["req_id"] == req_id
        assert RFC3339_US.match(reply["time_in"]) and RFC3339_US.match(reply["time_out"])
        return reply

    with sim.connect("/v2") as ws:
        ws.send(json.dumps({"method": "ping", "req_id": 41}))
        pong = json.loads(ws.recv(timeout=TIMEOUT))
        assert pong["method"] == "pong" and pong["req_id"] == 41
        placed = add_order(ws, 1, cl_ord_id="k-1")
        assert placed["success"] is True, placed
        assert re.fullmatch(r"O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}", placed["result"]["order_id"])
        assert placed["result"]["cl_ord_id"] == "k-1"
        refused = add_order(ws, 2, token="not-a-token")
        assert (refused["success"], refused["error"]) == (False, "EAPI:Invalid token")
        duplicate = add_order(ws, 3, cl_ord_id="k-1")
        assert duplicate["success"] is False and duplicate["error"].startswith("EOrder:")
        wrong_pair = add_order(ws, 4, symbol="NOPE/USD")
        assert wrong_pair["error"] == "EQuery:Unknown asset pair"
        bad_args = add_order(ws, 5, order_qty="lots")
        assert bad_args["error"] == "EGeneral:Invalid arguments"
        ws.send("{{{")
        assert json.loads(ws.recv(timeout=TIMEOUT))["success"] is False
        assert add_order(ws, 6, side="sell", limit_price=53000)["success"] is True
    [k1] = [o for o in sim.orders() if o["client_order_id"] == "k-1"]
    assert (k1["venue"], k1["account"], k1["status"]) == ("kraken", KRAKEN_KEY, "filled")
    assert [x["verdict"] for x in sim.log("kraken")[-8:]] == [
        "accepted", "accepted", "rejected", "rejected", "rejected", "rejected", "error",
        "accepted"]


def test_kraken_cancel_query_and_open_orders(sim: Sim) -> None:
    token = kraken_token_request(sim, time.time_ns())[1]["result"]["token"]

    def ask(path: str, **fields: str) -> dict[str, Any]:
        status, answer = kraken_private(sim, path, time.time_ns(), fields)
        assert status == 200 and answer["error"] == [], answer
        result: dict[str, Any] = answer["result"]
        return result

    def query(cl_ord_id: str) -> list[str]:
        return [o["status"] for o in ask(kraken.QUERY_PATH, cl_ord_id=cl_ord_id).values()]

    with sim.connect("/v2") as ws:
        def call(method: str, req_id: int, **params: Any) -> dict[str, Any]:
            ws.send(json.dumps({"method": method, "req_id": req_id,
                                "params": {"token": token, **params}}))
            reply: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
            assert reply["method"] == method and reply["req_id"] == req_id
            return reply

        resting = call("add_order", 1, order_type="limit", side="buy", order_qty=0.01,
                       limit_price=50000.0, symbol="BTC/USD", cl_ord_id="kq-1")
        assert resting["success"] is True, resting
        assert query("kq-1") == ["open"]
        listed = ask(kraken.OPEN_PATH)["open"]
        assert [(o["cl_ord_id"], o["descr"]["pair"]) for o in listed.values()
                if o["cl_ord_id"] == "kq-1"] == [("kq-1", "BTC/USD")]
        cancelled = call("cancel_order", 2, cl_ord_id=["kq-1"])
        assert cancelled["success"] is True and cancelled["result"]["cl_ord_id"] == "kq-1"
        again = call("cancel_order", 3, cl_ord_id=["kq-1"])
        assert (again["success"], again["error"]) == (False, "EOrder:Unknown order")
        bad_token = call("cancel_order", 4, cl_ord_id=["kq-1"], token="not-a-token")
        assert bad_token["error"] == "EAPI:Invalid token"
    assert query("kq-1") == ["canceled"]
    assert query("nobody") == []
    assert all(o["cl_ord_id"] != "kq-1" for o in ask(kraken.OPEN_PATH)["open"].values())


def test_kraken_pair_counter_refuses_past_its_threshold(pki: Pki, tmp_path: Path) -> None:
    with run_sim(tmp_path, pki, "--pair-counter-max", "2", "--tokens-die-on-close",
                 "--book", "ETH/USD=52000.0:52000.1") as sim:
        token = kraken_token_request(sim, time.time_ns())[1]["result"]["token"]
        order = {"order_type": "limit", "side": "buy", "order_qty": 0.01,
                 "limit_price": 52000.1, "token": token}
        with sim.connect("/v2") as ws:
            errors = []
            for n, symbol in enumerate(["BTC/USD"] * 3 + ["ETH/USD"]):
                ws.send(json.dumps({"method": "add_order", "req_id": n,
                                    "params": {**order, "symbol": symbol}}))
                errors.append(json.loads(ws.recv(timeout=TIMEOUT)).get("error"))
        # per pair: the third BTC/USD order is over, another pair is not
        assert errors == [None, None, "EOrder:Rate limit exceeded", None], errors
        with sim.connect("/v2") as ws:      # the token died with its connection
            ws.send(json.dumps({"method": "add_order", "req_id": 9,
                                "params": {**order, "symbol": "ETH/USD"}}))
            assert json.loads(ws.recv(timeout=TIMEOUT))["error"] == "EAPI:Invalid token"


def test_rest_refuses_malformed_http(sim: Sim) -> None:
    with socket.create_connection(("127.0.0.1", sim.rest_port), timeout=TIMEOUT) as raw, \
            sim.ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"GARBAGE\r\n\r\n")
        assert tls.recv(4096).startswith(b"HTTP/1.1 400 ")
    conn = http.client.HTTPSConnection("127.0.0.1", sim.rest_port, context=sim.ctx,
                                       timeout=TIMEOUT)
    conn.request("POST", "/0/private/Nothing", body="nonce=1")
    response = conn.getresponse()
    assert response.status == 404
    conn.close()


# --------------------------------------------------------------------------- options


def test_clock_skew_and_ack_delay(pki: Pki, tmp_path: Path) -> None:
    skew = 600_000
    with run_sim(tmp_path, pki, "--clock-skew-ms", str(skew), "--ack-delay-ms", "1200") as s, \
            s.connect() as ws:
        client = Binance(ws)
        server_time = client.call("time")["result"]["serverTime"]
        assert abs(server_time - now_ms() - skew) < 2000
        stale = client.call("order.place", hmac_signed(order("late")))  # our clock is behind
        assert error_of(stale)[1] == -1021
        ws.send(json.dumps({"id": 9, "method": "order.place", "params": hmac_signed(
            order("slow", timestamp=now_ms() + skew))}))
        deadline = time.monotonic() + TIMEOUT
        while not any(o["client_order_id"] == "slow" for o in s.orders()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(TimeoutError):  # executed, but the answer is still held back
            ws.recv(timeout=0.1)
        late = json.loads(ws.recv(timeout=TIMEOUT))
        assert late["id"] == 9 and late["status"] == 200


def test_order_count_limit_then_ban(pki: Pki, tmp_path: Path) -> None:
    args = ("--orders-per-10s", "3", "--ban-after", "2", "--ban-ms", "1500")
    with run_sim(tmp_path, pki, *args) as s, s.connect() as ws:
        client = Binance(ws)
        wait_window_start(10_000, 2_000)
        for n in range(1, 4):
            reply = client.call("order.place", hmac_signed(order(f"lim-{n}")))
            assert reply["status"] == 200
            orders_10s = reply["rateLimits"][0]
            assert (orders_10s["interval"], orders_10s["intervalNum"]) == ("SECOND", 10)
            assert (orders_10s["limit"], orders_10s["count"]) == (3, n)
        limited = client.call("order.place", hmac_signed(order("lim-4")))
        assert error_of(limited) == (429, -1015, "Too many new orders; current limit is 3 "
                                     "orders per 10 SECOND.")
        data = limited["error"]["data"]
        assert data["retryAfter"] == (data["serverTime"] // 10_000 + 1) * 10_000
        assert client.call("ping")["status"] == 200  # weight is fine; only orders are limited
        assert client.call("order.place", hmac_signed(order("lim-5")))["status"] == 429
        banned = client.call("order.place", hmac_signed(order("lim-6")))
        assert banned["status"] == 418 and banned["error"]["code"] == -1003
        until = banned["error"]["data"]["retryAfter"]
        assert banned["error"]["msg"].startswith(
            f"Way too much request weight used; IP banned until {until}.")
        assert client.call("ping")["status"] == 418
        time.sleep(max(0, until - now_ms() + 100) / 1000)
        assert client.call("ping")["status"] == 200
    recorded = [x["code"] for x in s.log("binance") if x["method"] == "order.place"]
    assert recorded == [None, None, None, -1015, -1015, -1003]


def test_weight_limit(pki: Pki, tmp_path: Path) -> None:
    with run_sim(tmp_path, pki, "--weight-per-minute", "10") as s:
        wait_window_start(60_000, 3_000)
        with s.connect() as ws:  # connecting costs 2
            client = Binance(ws)
            for _ in range(8):
                assert client.call("ping")["status"] == 200
            assert client.call("ping")["rateLimits"][0]["count"] == 10
            limited = client.call("ping")
        assert error_of(limited) == (
            429, -1003, "Too much request weight used; current limit is 10 request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the "
            "API.")
        assert limited["error"]["data"]["retryAfter"] % 60_000 == 0


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(("accounts", "args", "named"), [
    ({"binance": [{"apiKey": "k", "ed25519PublicKey": "nope"}]}, [], "ed25519PublicKey"),
    ({"binance": [{"apiKey": "k"}]}, [], "hmacSecret"),
    ({"kraken": [{"apiKey": "k", "secret": "***"}]}, [], "secret"),
    ({"bybit": [{"apiKey": "k"}]}, [], "'secret'"),
    ({"bybit": [{"apiKey": "k", "secret": "s", "passphrase": "p"}]}, [], "'passphrase'"),
    ("not json", [], "not JSON"),
    ({"binance": [{"apiKey": "k", "hmacSecret": "s"}]}, ["--host", "10.1.2.3"], "--host"),
    ({"binance": [{"apiKey": "k", "hmacSecret": "s"}]}, ["--book", "BTCUSDT=2:1"], "--book"),
    ({"binance": [{"apiKey": "k", "hmacSecret": "s"}]}, ["--ack-delay-ms", "x"],
     "--ack-delay-ms"),
])
def test_bad_input_is_one_line_and_exit_2(
    pki: Pki, tmp_path: Path, accounts: Any, args: list[str], named: str
) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(accounts if isinstance(accounts, str) else json.dumps(accounts))
    proc = subprocess.run(
        [*SIM, "--cert", str(pki.leaf), "--key", str(pki.leaf_key),
         "--accounts", str(path), "--record-dir", str(tmp_path / "rec"),
         "--ready-file", str(tmp_path / "ready"), *args],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and named in lines[0], proc.stderr
    assert not (tmp_path / "ready").exists()


# --------------------------------------------------------------------------- Bybit


def test_bybit_orderbook_1_stream(sim: Sim) -> None:
    """Bybit's level-1 book as its docs show it, pushed once subscribed."""
    with sim.connect("/v5/public/spot") as ws:
        ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1.NOSUCH"], "req_id": "a"}))
        refused = json.loads(ws.recv(timeout=TIMEOUT))
        assert (refused["success"], refused["req_id"]) == (False, "a")
        ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"], "req_id": "b"}))
        ok = json.loads(ws.recv(timeout=TIMEOUT))
        assert (ok["success"], ok["ret_msg"], ok["op"], ok["req_id"]) == (
            True, "subscribe", "subscribe", "b")
        updates = [json.loads(ws.recv(timeout=TIMEOUT)) for _ in range(3)]
    for update in updates:
        assert set(update) == {"topic", "ts", "type", "data", "cts"}
        assert (update["topic"], update["type"]) == ("orderbook.1.BTCUSDT", "snapshot")
        assert set(update["data"]) == {"s", "b", "a", "u", "seq"}
        assert update["data"]["b"][0][0] == "52000.00" and update["data"]["a"][0][0] == "52000.10"
    assert updates[0]["data"]["u"] < updates[1]["data"]["u"] < updates[2]["data"]["u"]


def bybit_request(ws: ClientConnection, msg: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(msg))
    answer: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return answer


def bybit_order(req_id: str, link_id: str, *, op: str = "order.create",
                **args: str) -> dict[str, Any]:
    order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
             "qty": "0.01", "price": "51000.00", "timeInForce": "GTC", "orderLinkId": link_id,
             **args}
    if op == "order.cancel":
        order = {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": link_id}
    return {"reqId": req_id, "op": op, "args": [order],
            "header": {"X-BAPI-TIMESTAMP": str(now_ms()), "X-BAPI-RECV-WINDOW": "5000"}}


def bybit_auth(expires: int, secret: str = BYBIT_SECRET) -> dict[str, Any]:
    signature = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(),
                         hashlib.sha256).hexdigest()
    return {"reqId": "auth", "op": "auth", "args": [BYBIT_KEY, expires, signature]}


def test_bybit_trade_stream_checks_as_documented(sim: Sim) -> None:
    """Auth expiry and repeats, orders before auth, reqId and orderLinkId rules, cancel."""
    with sim.connect("/v5/trade") as ws:
        assert bybit_request(ws, bybit_order("r0", "early"))["retCode"] == 10003
        assert bybit_request(ws, bybit_auth(now_ms() + 10_000, "wrong"))["retCode"] == 10004
        expired = bybit_request(ws, bybit_auth(now_ms() - 1))
        assert (expired["retCode"], expired["retMsg"]) == (10001, "params error: request expired")
        assert bybit_request(ws, bybit_auth(now_ms() + 10_000))["retCode"] == 0
        assert bybit_request(ws, bybit_auth(now_ms() + 10_000))["retCode"] == 20001
        placed = bybit_request(ws, bybit_order("r1", "sim-bybit-1"))
        assert (placed["retCode"], placed["data"]["orderLinkId"]) == (0, "sim-bybit-1")
        assert placed["header"]["X-Bapi-Limit-Reset-Timestamp"].isdigit()
        assert bybit_request(ws, bybit_order("r1", "sim-bybit-2"))["retCode"] == 20006
        assert bybit_request(ws, bybit_order("r2", "sim-bybit-1"))["retCode"] == 170141
        assert bybit_request(ws, bybit_order("r3", "bad id!"))["retCode"] == 10001
        assert bybit_request(ws, bybit_order("r4", "x", price="51000.001"))["retCode"] == 10001
        cancelled = bybit_request(ws, bybit_order("r5", "sim-bybit-1", op="order.cancel"))
        assert (cancelled["retCode"], cancelled["data"]["orderId"]) == (
            0, placed["data"]["orderId"])
        again = bybit_request(ws, bybit_order("r6", "sim-bybit-1", op="order.cancel"))
        assert again["retCode"] == 170213
    [order] = [o for o in sim.orders() if o["client_order_id"] == "sim-bybit-1"]
    assert (order["venue"], order["status"]) == ("bybit", "Cancelled")
