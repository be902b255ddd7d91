# SPDX-License-Identifier: MIT
"""Host failover in the engine (docs/HA.md §4.3, §4.4): an armed engine's
client ids carry its epoch (epoch x 10^9 + venue index x 10^8 + n); a disarmed
one refuses every order set, counted as `disarmed`; an epoch the journal's ids
are already past is refused and leaves the engine disarmed. Real engine thread,
peer simulators and the exchange simulator over TLS (test_engine.py's rig)."""

from __future__ import annotations

import time
from pathlib import Path

from orchestrator._native import lib
from orchestrator.engine import Engine, read_shared
from tests.test_engine import BLOCK_TXS, rig
from tests.tlsutil import Pki

EPOCH_IDS = 10**9


def _arm(epoch: int, seconds: float = 120.0):  # type: ignore[no-untyped-def]
    def arm(engine: Engine) -> None:
        engine.disarm()
        engine.arm(epoch, time.monotonic_ns() + int(seconds * 1e9))
    return arm


def test_armed_engine_sends_client_ids_of_its_epoch(pki: Pki, tmp_path: Path) -> None:
    with rig(pki, tmp_path, before_peers=_arm(42)) as r:
        assert r.run_until(lambda: r.watcher.stats["txs"] >= BLOCK_TXS + 4
                           and read_shared(r.shared)["acks"] >= 3), read_shared(r.shared)
        state = read_shared(r.shared)
        orders = r.sim.orders()
    assert len(orders) == 3 and state["orders_sent"] == 3
    ids = [int(o["client_order_id"].removeprefix("st")) for o in orders]
    assert {i // EPOCH_IDS for i in ids} == {42}, ids
    # each desk in its own lane (its index): two desks on one account never share an id
    assert sorted(ids) == [42 * EPOCH_IDS + 1, 42 * EPOCH_IDS + 2, 42 * EPOCH_IDS + 10**8 + 1]
    assert state["epoch"] == 42 and state["arm_error"] == 0
    assert state["armed_since_ns"] > 0 and state["armed_until_ns"] > time.monotonic_ns()


def test_disarmed_engine_refuses_every_order_set(pki: Pki, tmp_path: Path) -> None:
    with rig(pki, tmp_path, before_peers=lambda e: e.disarm()) as r:
        assert r.run_until(lambda: r.watcher.stats["txs"] >= BLOCK_TXS + 4)
        assert r.run_until(lambda: read_shared(r.shared)["risk_rejects"] >= 3, 10)
        r.run_until(lambda: False, 0.3)
        state = read_shared(r.shared)
        assert r.sim.orders() == []
        rejections = [s.desk.rejections for s in r.sessions]
    assert state["triggers"] == 3 and state["orders_sent"] == 0
    assert state["armed_until_ns"] == 0 and not state["killed"]
    assert sum(rj["disarmed"] for rj in rejections) == 3      # three orders, two triggers


def test_a_stale_epoch_is_refused_and_stays_disarmed(pki: Pki, tmp_path: Path) -> None:
    with rig(pki, tmp_path, before_peers=_arm(9)) as r:
        assert r.run_until(lambda: read_shared(r.shared)["acks"] >= 3)
        r.engine.arm(8, time.monotonic_ns() + int(60e9))       # older than the ids in use
        assert r.run_until(lambda: read_shared(r.shared)["arm_error"] != 0, 5)
        state = read_shared(r.shared)
    assert state["arm_error"] == lib.ST_EJOURNAL_AHEAD
    assert state["epoch"] == 9 and state["armed_until_ns"] == 0
    assert state["disarmed_ns"] >= state["armed_since_ns"] > 0
