# SPDX-License-Identifier: MIT
"""The desk reads every venue's answers through the schema its profile hands
over: answers shaped as OKX and Bybit document them read right with no C of
their own. Each order goes over real TLS to an echo server, and its template
is the answer we want back, so the desk meets that answer as the answer to
the order it just sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.desk import Desk, Event
from orchestrator.errors import ConfigError
from orchestrator.hotline import Connection, Loop, Trust
from orchestrator.journal import Journal
from orchestrator.venues import (
    AnswerSchema,
    Field,
    Rule,
    Slot,
    Template,
    binance,
    bybit,
    okx,
    render_json,
    slot_value,
)
from tests.tlsutil import Pki, WebSocketEchoServer
from tests.venueutil import ASK, BID, LEG, LIMITS, txid

RID, CID, PRICE = (slot_value(s) for s in (Slot.REQUEST_ID, Slot.CLIENT_ID, Slot.PRICE))

OKX = okx.SCHEMA   # orchestrator/venues/okx: answers to the `order` op



def okx(code: str, s_code: str, order_id: str = "") -> str:
    return render_json({"id": RID, "op": "order", "data": [
        {"clOrdId": "st" + CID, "ordId": order_id, "tag": "", "sCode": s_code, "sMsg": "",
         "px": PRICE}], "code": code, "msg": ""})


def bybit_answer(ret_code: int, order_id: str = "", reset_ms: str = "0") -> str:
    return render_json({"reqId": RID, "retCode": ret_code, "retMsg": "", "op": "order.create",
                        "data": {"orderId": order_id, "orderLinkId": "st" + CID, "price": PRICE},
                        "header": {"X-Bapi-Limit": "10",
                                   "X-Bapi-Limit-Reset-Timestamp": reset_ms}})


# (schema, the answer, its event kind, code, HTTP status, venue order id, retry_at_ms)
CASES = {
    "okx-accepted": (OKX, okx("0", "0", "12345689"), "ack", 0, 200, 12345689, 0),
    "okx-rejected": (OKX, okx("1", "51008"), "rejected", 51008, 400, 0, 0),
    "okx-rate-limited": (OKX, okx("1", "50011"), "rate_limit", 50011, 400, 0, 0),
    "okx-unknown": (OKX, okx("1", "50004"), "unknown", 50004, 400, 0, 0),
    "okx-clock": (OKX, okx("1", "50102"), "clock", 50102, 400, 0, 0),
    "bybit-accepted": (bybit.SCHEMA, bybit_answer(0, "1321003749386327552"), "ack", 0, 200,
                       1321003749386327552, 0),
    "bybit-id-past-int64": (bybit.SCHEMA, bybit_answer(0, "9223372036854775808"), "ack", 0,
                            200, 0, 0),
    "bybit-rate-limited": (bybit.SCHEMA, bybit_answer(10006, reset_ms="1711001595207"),
                           "rate_limit", 10006, 400, 0, 1711001595207),
    "bybit-auth": (bybit.SCHEMA, bybit_answer(10004), "auth", 10004, 400, 0, 0),
    "bybit-unknown": (bybit.SCHEMA, bybit_answer(10016), "unknown", 10016, 400, 0, 0),
    "bybit-clock": (bybit.SCHEMA, bybit_answer(10002), "clock", 10002, 400, 0, 0),
    "bybit-other": (bybit.SCHEMA, bybit_answer(170131), "rejected", 170131, 400, 0, 0),
}


@pytest.fixture(scope="module")
def echo(pki: Pki) -> Iterator[WebSocketEchoServer]:
    with WebSocketEchoServer(pki.leaf, pki.leaf_key) as server:
        yield server


def answer_to_own_order(pki: Pki, echo: WebSocketEchoServer, tmp_path: Path,
                        schema: AnswerSchema, answer: str
                        ) -> tuple[list[tuple[int, bytes]], list[Event]]:
    """Fires one order whose text is `answer`; the events and the messages left
    for Python until it is answered (or left for Python)."""
    conn = Connection(Loop(), echo.url, Trust(str(pki.root_ca)), address="127.0.0.1")
    conn.open()
    conn.wait_open()
    desk = Desk(schema, conn, Journal(tmp_path / "journal"), LIMITS, price_decimals=2,
                quantity_decimals=8)
    desk.add_leg(LEG, Template(answer.encode()))
    desk.set_ready(0)
    desk.set_book(BID, ASK)
    assert desk.fire(txid(1)) == 1
    events: list[Event] = []
    inbox: list[tuple[int, bytes]] = []

    def answered() -> bool:
        desk.poll()
        events.extend(desk.events())
        inbox.extend(desk.messages())
        return any(e.kind not in ("sent", "conn") for e in events) or bool(inbox)

    assert conn.loop.run_until(answered, 4), events   # before the 5 s answer deadline
    return inbox, events


@pytest.mark.parametrize(("schema", "answer", "kind", "code", "http_status", "order_id",
                          "retry_at"), CASES.values(), ids=CASES)
def test_answer_reads_by_its_venue_schema(pki: Pki, echo: WebSocketEchoServer, tmp_path: Path,
                                          schema: AnswerSchema, answer: str, kind: str,
                                          code: int, http_status: int, order_id: int,
                                          retry_at: int) -> None:
    inbox, events = answer_to_own_order(pki, echo, tmp_path, schema, answer)
    [sent] = [e for e in events if e.kind == "sent"]
    [got] = [e for e in events if e.kind not in ("sent", "conn")]
    assert (got.kind, got.seq, got.code, got.http_status, got.venue_order_id,
            got.retry_at_ms) == (kind, sent.seq, code, http_status, order_id, retry_at)
    assert inbox == []   # an order's answer is the desk's, not Python's


def test_client_order_id_matches_an_answer_without_request_id(
        pki: Pki, echo: WebSocketEchoServer, tmp_path: Path) -> None:
    """An OKX push that names only our clOrdId still answers the order."""
    answer = render_json({"op": "order", "data": [{"clOrdId": "st" + CID, "sCode": "0",
                                                    "px": PRICE}], "code": "0"})
    _, events = answer_to_own_order(pki, echo, tmp_path, OKX, answer)
    assert [e.kind for e in events if e.kind != "conn"] == ["sent", "ack"]


def test_request_id_that_is_not_ours_is_left_for_python(
        pki: Pki, echo: WebSocketEchoServer, tmp_path: Path) -> None:
    """A control request's id ("okx-1") is not an order's, whatever the client id says."""
    answer = render_json({"id": "okx-1", "data": [{"clOrdId": "st" + CID, "sCode": "0",
                                                    "px": PRICE}], "code": "0"})
    inbox, events = answer_to_own_order(pki, echo, tmp_path, OKX, answer)
    assert [e.kind for e in events if e.kind != "conn"] == ["sent"]
    [(conn, text)] = inbox
    assert conn == 0 and text.startswith(b'{"id":"okx-1"')


@pytest.mark.parametrize(("schema", "says"), [
    (replace(binance.SCHEMA, request_id=Field("k" * 32)), "'kkkk"),
    (replace(binance.SCHEMA, status=Field("status", depth=0)), "depth 0"),
    (replace(binance.SCHEMA, rules=(Rule(1, "maybe"),)), "maybe"),
    (replace(binance.SCHEMA, codes=(Field("a"), Field("b"), Field("c"))), "3 codes"),
])
def test_bad_schema_is_refused_with_what_is_wrong(schema: AnswerSchema, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        schema.native()
