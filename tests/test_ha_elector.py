# SPDX-License-Identifier: MIT
"""The Elector (orchestrator/ha.py) against a real three-member etcd cluster in
namespaces (tests/etcdutil.py): one of two hosts wins and renews, the other
stands by; a resign hands over through the watch; a host cut off etcd stops at
its own deadline before the other wins; a killed holder is replaced after the
lease runs out. Each host is a child process (tests/ha_elector_child.py) in its
own namespace; all share CLOCK_MONOTONIC, so their times compare."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.etcdutil import HaNet, ha_net, have_etcd

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not have_etcd(), reason="needs root, etcd and etcdctl")]
TTL = 3
GUARD = 20.0          # failure guard for one expected event, never a measurement


class Host:
    """An Elector child in a namespace: its JSON lines, and commands to it."""

    def __init__(self, net: HaNet, node: str, key: str) -> None:
        self.node, self.lines = node, queue.Queue[dict[str, Any]]()
        argv = net.topo.exec_argv(net.nodes[node], [
            sys.executable, "-m", "tests.ha_elector_child", node, key, str(TTL),
            *net.endpoints])
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        net.topo.procs.append(self.proc)            # stopped at teardown whatever happens
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def send(self, cmd: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def wait(self, kind: str, reason: str | None = None, timeout: float = GUARD
             ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(item)
            if item["kind"] == kind and (reason is None or item.get("reason", "")
                                         .startswith(reason)):
                return item
        return None

    def state(self) -> dict[str, Any]:
        self.send("state")
        item = self.wait("state", timeout=5)
        assert item is not None
        return item


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaNet]:
    nodes = {"h1": (11, ("etcd",)), "h2": (12, ("etcd",))}
    with ha_net(tmp_path_factory.mktemp("ha"), nodes) as n:
        yield n


def _pair(net: HaNet) -> tuple[Host, Host, dict[str, Any]]:
    """Two hosts on a fresh key; the first to win, the other, the win."""
    key = f"/stratum/test-{uuid.uuid4().hex[:6]}"
    h1 = Host(net, "h1", key)
    won = h1.wait("tenure", "won")
    assert won is not None, h1.seen
    h2 = Host(net, "h2", key)
    return h1, h2, won


def test_one_host_wins_renews_and_the_other_stands_by(net: HaNet) -> None:
    h1, h2, won = _pair(net)
    assert won["epoch"] > 0 and won["until"] > won["mono_ns"]
    assert h1.wait("tenure", "renewed") is not None
    deadline = time.monotonic() + GUARD
    while (s2 := h2.state())["role"] != "standby" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s2["role"] == "standby" and s2["holder"] == "h1", s2
    deadline = time.monotonic() + GUARD         # peers are read at each renewal
    while (s1 := h1.state())["peers"] != ["h2"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s1["role"] == "active" and s1["epoch"] == won["epoch"] and s1["peers"] == ["h2"]
    assert not any(i["kind"] == "tenure" and i["until"] for i in h2.seen)
    h1.send("quit")
    h2.send("quit")


def test_resign_hands_over_through_the_watch(net: HaNet) -> None:
    h1, h2, won = _pair(net)
    deadline = time.monotonic() + GUARD
    while h2.state()["role"] != "standby" and time.monotonic() < deadline:
        time.sleep(0.1)
    h1.send("resign")
    resigned = h1.wait("tenure", "resigned")
    won2 = h2.wait("tenure", "won")
    assert resigned is not None and resigned["until"] == 0
    assert won2 is not None and won2["epoch"] > won["epoch"]
    assert won2["mono_ns"] > resigned["mono_ns"]         # never both armed
    print(f"\nhandover (etcd part): {(won2['mono_ns'] - resigned['mono_ns']) / 1e6:.1f} ms")
    h1.send("quit")
    h2.send("quit")


def test_a_host_cut_off_etcd_stops_before_the_other_arms(net: HaNet) -> None:
    h1, h2, _ = _pair(net)
    assert h1.wait("tenure", "renewed") is not None
    net.cut("h1", "etcd")
    try:
        stopped = h1.wait("tenure", "deadline")
        won2 = h2.wait("tenure", "won")
        assert stopped is not None, h1.seen
        assert won2 is not None, h2.seen
        last_until = max(i["until"] for i in h1.seen if i["kind"] == "tenure")
        # the engine of h1 stops at last_until by itself; h2 arms only after it
        assert won2["mono_ns"] > last_until, (won2, last_until)
        assert "etcd unreachable" in stopped["reason"]
    finally:
        net.cut("h1", "etcd", up=True)
    h1.send("quit")
    h2.send("quit")


def test_a_killed_holder_is_replaced_after_its_lease(net: HaNet) -> None:
    h1, h2, won = _pair(net)
    assert h1.wait("tenure", "renewed") is not None
    h1.proc.kill()
    killed_ns = time.monotonic_ns()
    won2 = h2.wait("tenure", "won")
    assert won2 is not None and won2["epoch"] > won["epoch"]
    assert won2["mono_ns"] > killed_ns
    h2.send("quit")


def test_quorum_loss_disarms_and_the_same_tenure_comes_back(net: HaNet,
                                                              tmp_path: Path) -> None:
    h1, h2, won = _pair(net)
    assert h1.wait("tenure", "renewed") is not None
    net.kill_member(2)
    net.kill_member(3)
    try:
        stopped = h1.wait("tenure", "deadline")
        assert stopped is not None and stopped["reason"] == "deadline: no quorum", h1.seen
        assert h2.state()["role"] == "disarmed"
    finally:
        net.start_member(2)
        net.start_member(3)
    back = h1.wait("tenure", "renewed")
    assert back is not None and back["epoch"] == won["epoch"] and back["until"] > 0, h1.seen
    assert not any(i["kind"] == "tenure" and i["until"] for i in h2.seen)
    h1.send("quit")
    h2.send("quit")
