# SPDX-License-Identifier: MIT
"""Health decisions: when to fail over, when the heartbeat is stale."""

from __future__ import annotations

from orchestrator.health import HEARTBEAT_STALE_S, failover_target, heartbeat_stale


def test_failover_only_to_a_ready_standby_when_the_active_is_not_open() -> None:
    assert failover_target(["open", "open"], 0, {0, 1}) is None        # nothing wrong
    assert failover_target(["backoff", "open"], 0, {1}) == 1           # primary dead
    assert failover_target(["backoff", "open"], 0, set()) is None      # standby not ready
    assert failover_target(["open", "closed"], 1, {0}) == 0            # the other way
    assert failover_target(["closed"], 0, {0}) is None                 # no standby at all


def test_heartbeat_is_stale_only_while_running() -> None:
    beat = 1_000_000_000
    late = beat + int((HEARTBEAT_STALE_S + 0.5) * 1e9)
    assert heartbeat_stale({"running": True, "heartbeat_ns": beat}, late)
    assert not heartbeat_stale({"running": True, "heartbeat_ns": beat}, beat + 1000)
    assert not heartbeat_stale({"running": False, "heartbeat_ns": beat}, late)
