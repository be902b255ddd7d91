# SPDX-License-Identifier: MIT
"""Pre-trade risk: no sequence of order sets, closes, kills and back-offs makes
st_risk pass anything beyond a configured limit (hypothesis state machine over
the native code)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator._native import ffi, lib

MAX_QTY, MAX_NOTIONAL, MAX_OPEN, BURST, INTERVAL, MAX_AGE = 1000, 5_000_000, 6, 3, 1000, 5000


def new_risk() -> object:
    limits = ffi.new("st_risk_limits *", {
        "max_quantity": MAX_QTY, "max_notional": MAX_NOTIONAL, "max_open_orders": MAX_OPEN,
        "burst": BURST, "interval_ns": INTERVAL, "max_price_age_ns": MAX_AGE})
    risk = ffi.new("st_risk *")
    assert lib.st_risk_init(risk, limits, 7) == 0
    return risk


orders = st.lists(st.tuples(st.integers(-5, 2 * MAX_QTY), st.integers(0, 20_000)),
                  min_size=1, max_size=4)
operation = st.one_of(
    st.tuples(st.just("check"), orders, st.integers(0, 3 * MAX_AGE)),
    st.tuples(st.just("close")),
    st.tuples(st.just("kill"), st.booleans()),
    st.tuples(st.just("backoff"), st.integers(0, 5000)),
    st.tuples(st.just("claim"), st.integers(0, 5)),
)
steps = st.lists(st.tuples(st.integers(0, 3000), operation), max_size=150)


@dataclass
class Model:
    open_orders: int = 0
    killed: bool = False
    backoff_until: int = 0
    passed_at: list[int] = field(default_factory=list)   # one entry per order passed
    claimed: set[int] = field(default_factory=set)


@settings(max_examples=400, deadline=None)
@given(steps)
def test_no_sequence_exceeds_a_limit(sequence: list[tuple[int, tuple]]) -> None:  # type: ignore[type-arg]
    risk = new_risk()
    model = Model()
    now = 100_000
    for advance, op in sequence:
        now += advance
        if op[0] == "check":
            _, set_orders, age = op
            n = len(set_orders)
            quantities = ffi.new("int64_t[]", [q for q, _ in set_orders])
            prices = ffi.new("int64_t[]", [p for _, p in set_orders])
            reason = lib.st_risk_check(risk, n, quantities, prices, now - age, now)
            if reason == lib.ST_RISK_OK:
                assert not model.killed
                assert now >= model.backoff_until
                assert age <= MAX_AGE
                for q, p in set_orders:
                    assert 0 < q <= MAX_QTY and p * q <= MAX_NOTIONAL
                model.open_orders += n
                model.passed_at += [now] * n
            assert model.open_orders == lib.st_risk_open_orders(risk)
            assert model.open_orders <= MAX_OPEN
        elif op[0] == "close":
            lib.st_risk_order_closed(risk)
            model.open_orders = max(0, model.open_orders - 1)
        elif op[0] == "kill":
            lib.st_risk_kill(risk, int(op[1]))
            model.killed = op[1]
        elif op[0] == "backoff":
            lib.st_risk_venue_backoff(risk, now + op[1])
            model.backoff_until = max(model.backoff_until, now + op[1])
        elif op[0] == "claim":
            txid = bytes([op[1] + 1]) * 32  # the seen-set keeps all-zero as "empty"
            first = lib.st_risk_claim_trigger(risk, txid) == lib.ST_RISK_OK
            assert first == (op[1] not in model.claimed)
            model.claimed.add(op[1])
    # The bucket: in any window of length w, at most BURST + w / INTERVAL orders.
    times = model.passed_at
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            window = times[j] - start
            assert j - i + 1 <= BURST + window // INTERVAL, (times, i, j)
    assert lib.st_risk_accepted(risk) == len(times)


def test_each_reason_is_counted() -> None:
    risk = new_risk()
    q = ffi.new("int64_t[]", [MAX_QTY + 1])
    p = ffi.new("int64_t[]", [1])
    assert lib.st_risk_check(risk, 1, q, p, 100, 100) == lib.ST_RISK_MAX_QUANTITY
    q[0], p[0] = MAX_QTY, MAX_NOTIONAL
    assert lib.st_risk_check(risk, 1, q, p, 100, 100) == lib.ST_RISK_MAX_NOTIONAL
    p[0] = 1
    assert lib.st_risk_check(risk, 1, q, p, 0, 100) == lib.ST_RISK_NO_PRICE
    assert lib.st_risk_check(risk, 1, q, p, 100, 100 + MAX_AGE + 1) == lib.ST_RISK_STALE_PRICE
    lib.st_risk_kill(risk, 1)
    assert lib.st_risk_check(risk, 1, q, p, 100, 100) == lib.ST_RISK_KILLED
    lib.st_risk_kill(risk, 0)
    for reason in (lib.ST_RISK_MAX_QUANTITY, lib.ST_RISK_MAX_NOTIONAL, lib.ST_RISK_NO_PRICE,
                   lib.ST_RISK_STALE_PRICE, lib.ST_RISK_KILLED):
        assert lib.st_risk_rejected(risk, reason) == 1
    assert lib.st_risk_check(risk, 1, q, p, 100, 100) == lib.ST_RISK_OK


def test_zero_limits_are_refused() -> None:
    limits = ffi.new("st_risk_limits *", {"max_quantity": 1, "max_notional": 1,
                                          "max_open_orders": 0, "burst": 1, "interval_ns": 1,
                                          "max_price_age_ns": 1})
    assert lib.st_risk_init(ffi.new("st_risk *"), limits, 1) < 0


def check_one(risk: object, quantity: int, price: int, age: int = 0, now: int = 100_000) -> int:
    q = ffi.new("int64_t[]", [quantity])
    p = ffi.new("int64_t[]", [price])
    return int(lib.st_risk_check(risk, 1, q, p, now - age, now))


def test_orders_at_a_limit_pass_and_one_tick_above_are_refused() -> None:
    """Every limit is inclusive: an order exactly at it passes, one tick over does not."""
    at_limit_price = MAX_NOTIONAL // MAX_QTY  # MAX_QTY x this == MAX_NOTIONAL exactly
    assert MAX_QTY * at_limit_price == MAX_NOTIONAL
    cases = [
        (MAX_QTY, 1, 0, lib.ST_RISK_OK),                          # quantity at its limit
        (MAX_QTY + 1, 1, 0, lib.ST_RISK_MAX_QUANTITY),
        (MAX_QTY, at_limit_price, 0, lib.ST_RISK_OK),             # both at their limits
        (MAX_QTY, at_limit_price + 1, 0, lib.ST_RISK_MAX_NOTIONAL),
        (1, MAX_NOTIONAL, 0, lib.ST_RISK_OK),                     # notional at its limit
        (1, MAX_NOTIONAL + 1, 0, lib.ST_RISK_MAX_NOTIONAL),
        (1, 1, MAX_AGE, lib.ST_RISK_OK),                          # price exactly as old as allowed
        (1, 1, MAX_AGE + 1, lib.ST_RISK_STALE_PRICE),
    ]
    for quantity, price, age, want in cases:
        got = check_one(new_risk(), quantity, price, age)
        assert got == want, (quantity, price, age, lib.st_risk_reason_name(got))


def test_open_orders_and_burst_at_their_limits_pass() -> None:
    risk = new_risk()
    now = 100_000
    for _ in range(BURST):  # a full burst at one instant
        assert check_one(risk, 1, 1, now=now) == lib.ST_RISK_OK
    assert check_one(risk, 1, 1, now=now) == lib.ST_RISK_RATE
    for _ in range(MAX_OPEN - BURST):  # the bucket refilled: open orders up to their cap
        now += BURST * INTERVAL
        assert check_one(risk, 1, 1, now=now) == lib.ST_RISK_OK
    assert lib.st_risk_open_orders(risk) == MAX_OPEN
    assert check_one(risk, 1, 1, now=now + BURST * INTERVAL) == lib.ST_RISK_OPEN_ORDERS
