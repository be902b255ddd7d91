# SPDX-License-Identifier: MIT
"""Hostile Bitcoin peers against the native watcher, over real TCP: each case
runs a hostile peer simulator beside an honest one and checks the named drop
reason (or, for an honest flood, that nothing is dropped), that the loop goes
on and the honest peer's deposit is still reported, and that the process's
memory stays bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.hotline import Loop
from orchestrator.mempool import Peer, PeerPolicy, Watcher
from tests.simutil import peer_sim
from tests.test_mempool_watcher import COIN, DEPOSIT_ADDRS, strategy

DEPOSIT = ["--deposit", f"{DEPOSIT_ADDRS[0]}:{50 * COIN}"]
RSS_BOUND = 64 << 20  # generous: the peer's preallocated queues are about 6 MiB
# Short liveness settings, so that a silent peer is caught within seconds.
QUICK = PeerPolicy(ping_interval=0.5, ping_timeout=1.0, idle_timeout=30.0)


def rss() -> int:
    """This process's resident set, bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@dataclass
class Pair:
    loop: Loop
    watcher: Watcher
    hostile: Peer
    honest: Peer
    tmp: Path
    ports: tuple[int, int]

    def deposit_reported(self) -> bool:
        return self.watcher.stats["actions"] >= 1

    def sim_stats(self, which: int) -> list[dict[str, int]]:
        """What a simulator saw, once it has exited (after the `with`)."""
        path = self.tmp / f"stats-{self.ports[which]}.json"
        connections: list[dict[str, int]] = json.loads(path.read_text())["connections"]
        return connections


@contextmanager
def pair(tmp: Path, hostile_args: list[str], policy: PeerPolicy | None = None,  # hostile's
         honest_args: tuple[str, ...] = ("--rate", "2000", *DEPOSIT)) -> Iterator[Pair]:
    with peer_sim(tmp, *hostile_args) as bad, peer_sim(tmp, *honest_args) as good:
        loop = Loop()
        watcher = Watcher(loop, strategy())
        hostile = watcher.add_peer("127.0.0.1", bad, policy=policy)
        honest = watcher.add_peer("127.0.0.1", good)
        hostile.open()
        honest.open()
        yield Pair(loop, watcher, hostile, honest, tmp, (bad, good))


def honest_still_served(p: Pair) -> None:
    assert p.loop.run_until(p.deposit_reported, 60), p.watcher.stats
    actions = [(e.action, e.amount) for e in p.watcher.events() if e.kind == "action"]
    assert actions == [(100, 50 * COIN)]
    assert p.honest.state == "open"


# -- an honest flood: the protocol's largest inv ------------------------------


@pytest.mark.parametrize("invs", [1, 20])
def test_an_inv_of_50000_entries_is_requested_in_order_as_the_queue_drains(
    tmp_path: Path, invs: int
) -> None:
    entries = 50_000 * invs
    with pair(tmp_path, ["--inv-flood", "50000", "--inv-flood-count", str(invs), *DEPOSIT]) as p:
        before = rss()
        # Every flood id asked and answered (notfound), so the simulator saw them all.
        assert p.loop.run_until(lambda: p.hostile.stats["notfound"] >= entries
                                or p.hostile.stats["failures"] > 0, 120)
        assert p.hostile.stats["failures"] == 0, p.hostile.last_error
        honest_still_served(p)
        grown = rss() - before
        assert p.hostile.state == "open", p.hostile.last_error
        assert p.hostile.stats["connects"] == 1
    flood = p.sim_stats(0)
    assert len(flood) == 1  # never dropped, never reconnected
    assert flood[0]["flood_requested"] == entries  # each once, in the order announced
    assert flood[0]["flood_disorder"] == 0
    assert grown < RSS_BOUND, grown


# -- misbehaviour: backoff that does not reset on verack, then parking --------


@pytest.mark.parametrize(("kind", "reason"), [
    ("bad-checksum", "ST_EBTC_BAD_CHECKSUM"), ("bad-magic", "ST_EBTC_BAD_MAGIC"),
    ("oversize", "ST_EBTC_TOO_LARGE"), ("bad-tx", "ST_EBTC_BAD_COUNT"),
])
def test_a_peer_misbehaving_after_verack_is_parked_not_reconnected_at_full_speed(
    tmp_path: Path, kind: str, reason: str
) -> None:
    """Default backoff (0.2 s to 30 s): before the fix it reconnected 34-49 times
    in 9 s. Now the second drop scores 100 and parks it."""
    with pair(tmp_path, ["--malformed", kind, "--malformed-after", "0"]) as p:
        before = rss()
        assert p.loop.run_until(lambda: p.hostile.state == "parked", 9), (
            p.hostile.state, p.hostile.stats)
        connects = p.hostile.stats["connects"]
        honest_still_served(p)  # also a window of seconds with no reconnect
        assert p.hostile.stats["connects"] == connects <= 3
        status = p.hostile.status()
        assert status["state"] == "parked"
        assert reason in status["last_error"]
        assert datetime.fromisoformat(status["parked_until"]) > datetime.now(UTC)
        assert rss() - before < RSS_BOUND
    assert len(p.sim_stats(0)) == connects


# -- liveness ------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "reason", "policy"), [
    ("--trickle", "ST_EBTC_PING_TIMEOUT", QUICK),   # a byte a second, never a whole message
    ("--no-pong", "ST_EBTC_PING_TIMEOUT", QUICK),   # relays, but never answers a ping
    ("--silent", "ST_EBTC_IDLE",                    # answers pings, announces nothing
     PeerPolicy(ping_interval=0.5, ping_timeout=1.0, idle_timeout=2.0)),
])
def test_a_peer_that_does_not_keep_up_is_dropped_after_the_liveness_timeout(
    tmp_path: Path, mode: str, reason: str, policy: PeerPolicy
) -> None:
    with pair(tmp_path, [mode, *DEPOSIT], policy=policy) as p:
        before = rss()
        assert p.loop.run_until(lambda: p.hostile.stats["failures"] >= 1, 30), (
            p.hostile.state, p.hostile.stats)
        assert reason in p.hostile.last_error
        assert p.hostile.state in ("backoff", "connecting", "handshake", "parked")
        honest_still_served(p)
        assert rss() - before < RSS_BOUND
        pings, pongs = p.hostile.stats["pings"], p.hostile.stats["pongs"]
    assert pings >= 1
    assert (pongs == 0) == (reason == "ST_EBTC_PING_TIMEOUT")  # the silent one answers


def test_backoff_does_not_start_over_at_verack(tmp_path: Path) -> None:
    """Parking off, quick backoff: every reconnect completes the handshake and
    misbehaves again; the backoff's exponent keeps counting (before the fix,
    each verack reset it to 0, so it was 1 after every drop)."""
    policy = PeerPolicy(backoff=(0.01, 0.05), park_score=0)
    with pair(tmp_path, ["--malformed", "bad-checksum", "--malformed-after", "0"],
              policy=policy) as p:
        assert p.loop.run_until(lambda: p.hostile.stats["failures"] >= 5, 30), p.hostile.stats
        stats = p.hostile.stats
        assert stats["handshakes"] >= 5  # each drop came after a verack
        assert stats["backoff_attempt"] == stats["failures"]
        assert p.hostile.state != "parked"
        honest_still_served(p)
