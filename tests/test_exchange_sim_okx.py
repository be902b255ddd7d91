# SPDX-License-Identifier: MIT
"""The exchange simulator's OKX module as a client sees it: a subprocess on
127.0.0.1, spoken to over TLS with a plain ``websockets`` client and
``http.client``, signing with its own few lines of hmac (not the simulator's
nor the venue folder's), so a verifier that drifted from the documented scheme
fails here. Every wait is bounded."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.client
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from tests.conftest import SANITIZE
from tests.simutil import OKX_KEY, OKX_PASSPHRASE, OKX_SECRET, TIMEOUT, Sim, run_sim
from tests.tlsutil import Pki

PRIVATE, PUBLIC = "/ws/v5/private", "/ws/v5/public"
pytestmark = pytest.mark.skipif(SANITIZE, reason="pure Python: nothing for the sanitizers")
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def sim(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with run_sim(tmp_path_factory.mktemp("sim"), pki, "--outcome-unknown-regex", "^unk") as s:
        yield s


def b64_hmac(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(),
                                     hashlib.sha256).digest()).decode()


def login(ws: ClientConnection, *, key: str = OKX_KEY, secret: str = OKX_SECRET,
          passphrase: str = OKX_PASSPHRASE, skew_s: int = 0) -> dict[str, Any]:
    stamp = str(int(time.time()) + skew_s)
    ws.send(json.dumps({"op": "login", "args": [{
        "apiKey": key, "passphrase": passphrase, "timestamp": stamp,
        "sign": b64_hmac(secret, stamp + "GET/users/self/verify")}]}))
    answer: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return answer


def request(ws: ClientConnection, op: str, args: dict[str, Any], **top: Any) -> dict[str, Any]:
    ws.send(json.dumps({"id": top.pop("id", f"t{next(_ids)}"), "op": op, "args": [args],
                        **top}))
    answer: dict[str, Any] = json.loads(ws.recv(timeout=TIMEOUT))
    return answer


def order(client_id: str, **change: str) -> dict[str, Any]:
    return {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
            "sz": "0.01", "px": "52000.1", "clOrdId": client_id, **change}


def rest_get(sim: Sim, path: str, *, secret: str = OKX_SECRET, skew_ms: int = 0
             ) -> tuple[int, dict[str, Any]]:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(milliseconds=skew_ms)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    conn = http.client.HTTPSConnection("127.0.0.1", sim.rest_port, context=sim.ctx,
                                       timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers={
            "OK-ACCESS-KEY": OKX_KEY, "OK-ACCESS-SIGN": b64_hmac(secret, stamp + "GET" + path),
            "OK-ACCESS-TIMESTAMP": stamp, "OK-ACCESS-PASSPHRASE": OKX_PASSPHRASE})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize(("change", "code"), [
    ({"key": "nokey"}, "60005"),
    ({"skew_s": -31}, "60006"),
    ({"skew_s": 31}, "60006"),
    ({"passphrase": "wrong"}, "60024"),
    ({"secret": "0" * 32}, "60007"),
])
def test_login_refusals_name_what_is_wrong(sim: Sim, change: dict[str, Any], code: str) -> None:
    with sim.connect(PRIVATE) as ws:
        answer = login(ws, **change)
        assert (answer["event"], answer["code"]) == ("error", code)
        refused = request(ws, "order", order("late1"))   # still not logged in
        assert (refused["code"], refused["data"]) == ("60011", [])


def test_order_after_login_is_executed_and_queried_over_rest(sim: Sim) -> None:
    with sim.connect(PRIVATE) as ws:
        assert login(ws)["code"] == "0"
        placed = request(ws, "order", order("fill1"), id="abc123")
        assert (placed["id"], placed["op"], placed["code"]) == ("abc123", "order", "0")
        [data] = placed["data"]
        assert data["sCode"] == "0" and data["clOrdId"] == "fill1" and data["ordId"].isdigit()
        assert int(placed["outTime"]) >= int(placed["inTime"])
    status, answer = rest_get(sim, "/api/v5/trade/order?instId=BTC-USDT&clOrdId=fill1")
    assert status == 200 and answer["code"] == "0"
    assert (answer["data"][0]["state"], answer["data"][0]["ordId"]) == ("filled", data["ordId"])
    status, answer = rest_get(sim, "/api/v5/trade/order?instId=BTC-USDT&clOrdId=fill1",
                              secret="0" * 32)
    assert (status, answer["code"]) == (401, "50113")
    status, answer = rest_get(sim, "/api/v5/trade/order?instId=BTC-USDT&clOrdId=fill1",
                              skew_ms=-40_000)
    assert (status, answer["code"]) == (401, "50102")
    status, answer = rest_get(sim, "/api/v5/trade/order?instId=BTC-USDT&clOrdId=nosuch")
    assert answer["code"] == "51603"


@pytest.mark.parametrize(("args", "top", "code", "s_code"), [
    (order("dup1"), {}, "1", "51016"),                               # placed once before
    (order("bad-id"), {}, "1", "51000"),                             # clOrdId: alphanumerics
    (order("x" * 33), {}, "1", "51000"),
    (order("inst1", instId="XXX-YYY"), {}, "1", "51001"),
    (order("tick1", px="52000.15"), {}, "1", "51000"),
    (order("exp1"), {"expTime": "1000000000000"}, "50102", None),   # deadline long gone
    (order("rid1"), {"id": "not-alnum"}, "60012", None),
    (order("unk1"), {}, "1", "50004"),                               # executed, outcome unknown
])
def test_order_refusals(sim: Sim, args: dict[str, Any], top: dict[str, Any], code: str,
                        s_code: str | None) -> None:
    with sim.connect(PRIVATE) as ws:
        assert login(ws)["code"] == "0"
        if s_code == "51016":
            assert request(ws, "order", order("dup1"))["code"] == "0"
        answer = request(ws, "order", args, **top)
        assert answer["code"] == code
        assert [d["sCode"] for d in answer["data"]] == ([s_code] if s_code else [])


def test_cancel_a_live_order_once(sim: Sim) -> None:
    with sim.connect(PRIVATE) as ws:
        assert login(ws)["code"] == "0"
        assert request(ws, "order", order("rest1", px="51000.0"))["code"] == "0"
        cancel = {"instId": "BTC-USDT", "clOrdId": "rest1"}
        first = request(ws, "cancel-order", cancel)
        assert (first["op"], first["code"], first["data"][0]["sCode"]) == (
            "cancel-order", "0", "0")
        again = request(ws, "cancel-order", cancel)
        assert (again["code"], again["data"][0]["sCode"]) == ("1", "51400")
    _, answer = rest_get(sim, "/api/v5/trade/order?instId=BTC-USDT&clOrdId=rest1")
    assert answer["data"][0]["state"] == "canceled"


def test_garbage_gets_errors_and_the_connection_goes_on(sim: Sim) -> None:
    with sim.connect(PRIVATE) as ws:
        for junk in ("not json", "[]", '{"op": 5}', '{"op": "nosuch"}', '{"op": "login"}'):
            ws.send(junk)
            answer = json.loads(ws.recv(timeout=TIMEOUT))
            assert answer["event"] == "error" and answer["code"] == "60012", junk
        assert login(ws)["code"] == "0"


def test_bbo_tbt_pushes_the_book_after_subscribe(sim: Sim) -> None:
    with sim.connect(PUBLIC) as ws:
        ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "X"}]}))
        assert json.loads(ws.recv(timeout=TIMEOUT))["code"] == "60018"
        arg = {"channel": "bbo-tbt", "instId": "BTC-USDT"}
        ws.send(json.dumps({"op": "subscribe", "args": [arg]}))
        ack = json.loads(ws.recv(timeout=TIMEOUT))
        assert ack["event"] == "subscribe" and ack["arg"] == arg
        pushes = [json.loads(ws.recv(timeout=TIMEOUT)) for _ in range(2)]
    for push in pushes:
        assert push["arg"] == arg
        [data] = push["data"]
        assert data["bids"][0][0] == "52000.0" and data["asks"][0][0] == "52000.1"  # static
        assert len(data["bids"][0]) == 4 and data["ts"].isdigit()
    assert pushes[0]["data"][0]["seqId"] < pushes[1]["data"][0]["seqId"]
