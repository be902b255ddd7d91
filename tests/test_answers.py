# SPDX-License-Identifier: MIT
"""The desk's answer scanner against Python's json: the same documents are JSON
to both (hypothesis), and messages that are not answers to orders reach the
inbox untouched. (Answers to real orders are tested against exchange_sim.)"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.desk import Desk, RiskLimits
from orchestrator.hotline import Connection, Loop, Trust
from orchestrator.journal import Journal
from orchestrator.venues import binance
from tests.tlsutil import Pki


@pytest.fixture(scope="module")
def desk(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    loop = Loop()
    # Never opened: the desk only parses here.
    conn = Connection(loop, "wss://localhost:9/", Trust(str(pki.root_ca)), address="127.0.0.1")
    journal = Journal(tmp_path_factory.mktemp("answers") / "journal", capacity=1024)
    return Desk(binance.SCHEMA, conn, journal,
                RiskLimits(Decimal(1), Decimal(100000)), price_decimals=2, quantity_decimals=8)


def strict_json(text: str) -> bool:
    """JSON as RFC 8259 has it, with an object or array outside (what answers are)."""
    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        value = json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, (dict, list))


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def scanned_ok(desk: Desk, text: bytes) -> bool:
    before = desk.stats["bad_messages"]
    desk.on_message(text)
    inbox = desk.messages()
    expected = [(0, text)] if text else []   # an empty message has nothing to hand on
    assert inbox == expected, "a message that answers no order must reach the inbox as is"
    return desk.stats["bad_messages"] == before


@settings(max_examples=500, deadline=None)
@given(json_values.filter(lambda v: isinstance(v, (dict, list)) and depth(v) <= 16),
       st.sampled_from([None, 0, 2]))
def test_valid_documents_are_accepted(desk: Desk, value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=bool(indent)).encode()
    assert scanned_ok(desk, text)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet='{}[]":,.-+0123456789eEtruefalsn \\/u\n', max_size=40))
def test_scanner_agrees_with_python_json(desk: Desk, text: str) -> None:
    expected = strict_json(text)
    if expected:
        try:
            if depth(json.loads(text)) > 16:
                return
        except RecursionError:
            return
    assert scanned_ok(desk, text.encode()) == expected, text


@pytest.mark.parametrize("text", [
    b'{"a":1', b'{"a":01}', b'{"a":1.}', b'{"a":-}', b'{"a":tru}', b'{"a" 1}', b'{,}',
    b'[1,]', b'{"a":"\x01"}', b'{"a":"\\x"}', b'{"a":"\\u12"}', b'"top"', b'1', b'{}x',
    b'[' * 17 + b']' * 17, b'',
])
def test_malformed_is_counted(desk: Desk, text: bytes) -> None:
    assert not scanned_ok(desk, text)


def test_answer_to_no_order_is_left_for_python(desk: Desk) -> None:
    answer = b'{"id":"binance-1","status":200,"result":{"serverTime":1656400526260}}'
    assert scanned_ok(desk, answer)
    assert desk.events() == []
