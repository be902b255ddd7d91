# SPDX-License-Identifier: MIT
"""The service as an operator runs it: `stratum run` against exchange_sim and two
peer simulators (the demo's world), driven through the CLI and its socket."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import stat
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator._native import lib
from orchestrator.demo import (
    DEPOSITS,
    LEGS_PER_TRIGGER,
    THRESHOLD_BTC,
    World,
    free_port,
    run_demo,
)
from orchestrator.engine import read_shared
from orchestrator.journal import RESOLVED, Journal
from orchestrator.venues.registry import ADAPTERS
from tests.conftest import ROOT

EXPECTED_ORDERS = sum(btc >= THRESHOLD_BTC for _, btc in DEPOSITS) * LEGS_PER_TRIGGER


def stratum(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def wait(done: object, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_full_run_status_counts_match_the_venue(tmp_path: Path) -> None:
    with ExitStack() as stack:
        world = World(tmp_path, stack, metrics_port=free_port())
        world.start_exchange()
        daemon = world.start_daemon()
        assert stat.S_IMODE(world.sock.stat().st_mode) == 0o600
        world.start_peers()
        assert wait(lambda: world.status().get("acks", 0) >= EXPECTED_ORDERS
                    and world.status()["mempool"]["txs"] >= 3314 + len(DEPOSITS))
        time.sleep(0.5)                           # anything extra would show now
        proc = stratum("status", "--config", str(world.config), "--json")
        assert proc.returncode == 0, proc.stderr
        status = json.loads(proc.stdout)
        orders = json.loads((tmp_path / "exchange" / "orders.json").read_text())
        table = stratum("status", "--config", str(world.config))
        assert world.metrics_port is not None
        metrics = scrape(world.metrics_port)
        # The running daemon's own metrics port is not a taken one (the deployment
        # runs `stratum check` with its engine up).
        check = stratum("check", "--config", str(world.config), "--json")
        assert stratum("stop", "--config", str(world.config)).returncode == 0
        assert daemon.wait(timeout=30) == 0
    port_item = {i["name"]: i for i in json.loads(check.stdout)["items"]}["metrics port"]
    assert port_item["status"] == "ok", port_item
    assert f"served by the running daemon (pid {daemon.pid})" in port_item["detail"]
    assert status["orders_sent"] == status["acks"] == len(orders) == EXPECTED_ORDERS
    assert status["rejects"] == 0 and status["risk_rejects"] == 0
    [venue] = status["venues"]
    assert venue["orders_sent"] == EXPECTED_ORDERS and venue["connections"] == ["open", "open"]
    assert status["latency"]["trigger_to_send"]["count"] == EXPECTED_ORDERS // 2
    # prices came from the bookTicker stream, read on the engine thread
    book = venue["book"]
    assert book["connection"] == "open" and book["updates"] > 0 and book["dropped"] == 0
    assert 0 < Decimal(book["bid"]) < Decimal(book["ask"]) and book["age_s"] is not None
    assert "sim-binance" in table.stdout and "trigger_to_send" in table.stdout
    assert re.search(r"book [0-9.]+ / [0-9.]+  [0-9.]+ s ago  \(open, [1-9]", table.stdout)
    assert f"stratum_acks_total {float(EXPECTED_ORDERS)}" in metrics
    assert 'stratum_connection_open{active="1",connection="0",venue="sim-binance"} 1.0' in metrics
    assert 'stratum_latency_seconds{quantile="0.5",stage="trigger_to_send"}' in metrics
    assert 'stratum_book_age_seconds{venue="sim-binance"}' in metrics
    assert 'stratum_book_dropped_total{venue="sim-binance"} 0.0' in metrics
    assert re.search(r'stratum_book_updates_total\{venue="sim-binance"\} [1-9]', metrics)
    after = stratum("status", "--config", str(world.config))
    assert after.returncode == 3                  # LSB: not running
    closes = [json.loads(line) for line in
              (tmp_path / "exchange" / "connections.jsonl").read_text().splitlines()]
    api = [c for c in closes if c["path"] == "/ws-api/v3"]
    assert [c["close_code"] for c in api] == [1000, 1000]   # stop closed both properly
    stream = [c for c in closes if c["path"].endswith("@bookTicker")]
    assert [c["close_code"] for c in stream] == [1000]      # and the book stream


def test_kill_then_nothing_reaches_the_venue(tmp_path: Path) -> None:
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        world.start_exchange()
        daemon = world.start_daemon()
        proc = stratum("kill", "--config", str(world.config))
        assert proc.returncode == 0, proc.stderr
        world.start_peers()
        assert wait(lambda: world.status()["mempool"]["txs"] >= 3314 + len(DEPOSITS))
        status = world.status()
        assert stratum("stop", "--config", str(world.config)).returncode == 0
        daemon.wait(timeout=30)
    assert status["killed"] and status["triggers"] == EXPECTED_ORDERS // 2
    assert status["orders_sent"] == 0
    assert not (tmp_path / "exchange" / "orders.json").exists() or \
        json.loads((tmp_path / "exchange" / "orders.json").read_text()) == []
    placed = [line for line in (tmp_path / "exchange" / "binance.jsonl").read_text().splitlines()
              if '"order.place"' in line]
    assert placed == []


@pytest.mark.parametrize("venue", sorted(v for v, a in ADAPTERS.items()
                                   if a.capabilities.reconcile))
def test_orders_of_unknown_outcome_are_reconciled_while_running(tmp_path: Path,
                                                                venue: str) -> None:
    """The venue answers no order, so each one's outcome becomes unknown after
    ack_timeout and stays open in risk; the running daemon asks the venue about
    each and journals what it says (filled), which frees them."""
    with ExitStack() as stack:
        world = World(tmp_path, stack, venue=venue)
        world.start_exchange("--outcome-unknown-regex", "^st")
        world.config.write_text(world.config.read_text().replace(
            "[engine]\n", "[engine]\nack_timeout = 1.0\n", 1))
        daemon = world.start_daemon()
        world.start_peers()
        assert wait(lambda: world.status().get("unknown", 0) >= EXPECTED_ORDERS)
        assert wait(lambda: world.status()["venues"][0]["open_orders"] == 0)
        assert stratum("stop", "--config", str(world.config)).returncode == 0
        assert daemon.wait(timeout=30) == 0
    journal = Journal(tmp_path / "state" / f"sim-{venue}.journal")
    resolved = [r for r in journal if r.type == RESOLVED]
    assert journal.unknown() == [] and len(resolved) == EXPECTED_ORDERS
    assert {r.order_status for r in resolved} == {lib.ST_ORDER_STATUS_FILLED}
    log = (tmp_path / "stratum.log").read_text()
    assert log.count("of unknown outcome reconciled: filled") == EXPECTED_ORDERS


def test_a_second_run_is_refused_and_leaves_the_first_as_it_was(tmp_path: Path) -> None:
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        world.start_exchange()
        daemon = world.start_daemon()
        assert stratum("kill", "--config", str(world.config)).returncode == 0
        world.start_peers()
        assert wait(lambda: world.status()["mempool"]["txs"] >= 3314 + len(DEPOSITS))
        before = world.status()
        try:        # the deadline only guards against a second daemon that runs on
            second = subprocess.run([sys.executable, "-m", "orchestrator", "run", "--config",
                                     str(world.config)], capture_output=True, text=True,
                                    timeout=30, cwd=ROOT)
        except subprocess.TimeoutExpired:
            pytest.fail("the second `stratum run` ran instead of refusing")
        after = world.status()
        shared = read_shared(tmp_path / "run" / "engine.state")
        assert stratum("stop", "--config", str(world.config)).returncode == 0
        assert daemon.wait(timeout=30) == 0
    assert second.returncode == 1, second.stderr
    assert second.stderr.strip() == f"stratum run: already running (pid {daemon.pid})"
    assert before["killed"] and before["triggers"] == EXPECTED_ORDERS // 2
    assert after["pid"] == daemon.pid and after["killed"]
    assert after["triggers"] == shared["triggers"] == before["triggers"]
    assert shared["killed"] and shared["pid"] == daemon.pid


def test_failover_command(tmp_path: Path) -> None:
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        world.start_exchange()
        world.start_daemon()
        assert stratum("failover", "--config", str(world.config), "nope").returncode == 1
        proc = stratum("failover", "--config", str(world.config), "sim-binance")
        assert proc.returncode == 0, proc.stderr
        assert wait(lambda: world.status()["venues"][0]["active"] == 1, 5)
        operator = world.status()["operator"]
        stratum("stop", "--config", str(world.config))
    assert [a["action"] for a in operator] == ["failover"]
    log = (tmp_path / "stratum.log").read_text()
    assert "sim-binance: failover to the standby connection by the operator" in log


def scrape_while_up(port: int, out: list[str], timeout: float = 90.0) -> None:
    """Scrapes the metrics every 0.2 s for as long as they answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out.append(scrape(port))
        except (urllib.error.URLError, OSError):
            if out:
                return            # it was up and is gone: the run is over
        time.sleep(0.2)


@pytest.mark.parametrize("venue", sorted(ADAPTERS))
def test_the_demo_trades_on_each_venue_and_its_secrets_appear_nowhere(
        tmp_path: Path, capsys: object, venue: str) -> None:
    port = free_port()
    scraped: list[str] = []
    watcher = threading.Thread(target=scrape_while_up, args=(port, scraped), daemon=True)
    watcher.start()
    assert run_demo(tmp_path, venue, metrics_port=port) == 0
    watcher.join(timeout=10)
    out = capsys.readouterr()  # type: ignore[attr-defined]
    assert scraped, "the metrics were never scraped"
    # every credential but the API key (which each order or login carries)
    secrets = [v for k, v in tomllib.loads((tmp_path / "secrets.toml").read_text()).items()
               if k != "paper_api_key"]
    assert secrets and all(len(s) >= 20 for s in secrets)
    for marker in secrets:
        assert marker not in out.out and marker not in out.err
        assert not [m for m in scraped if marker in m]
        # Only the two files that hold it by design: our secrets file and the venue's accounts.
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.name not in ("secrets.toml", "accounts.json"):
                assert marker.encode() not in path.read_bytes(), path


def test_start_top_stop_in_the_background(tmp_path: Path) -> None:
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        world.start_exchange()
        started = stratum("start", "--config", str(world.config))
        assert started.returncode == 0, started.stderr
        assert "stratum started" in started.stdout
        again = stratum("start", "--config", str(world.config))
        assert again.returncode == 1 and "already running" in again.stderr
        top = stratum("top", "--config", str(world.config), "--count", "2", "--interval", "0.1")
        assert top.returncode == 0, top.stderr
        assert top.stdout.count("sim-binance") == 2 and "latency" in top.stdout
        assert stratum("stop", "--config", str(world.config)).returncode == 0
        assert stratum("status", "--config", str(world.config)).returncode == 3
    log = (tmp_path / "run" / "stratum.log").read_text()
    assert "stratum stopped" in log
    assert "cpu: core plan: ok (hot " in log and "cpu: core dumps: changed" in log


def test_stop_cancels_resting_orders_when_configured(tmp_path: Path) -> None:
    with ExitStack() as stack:
        world = World(tmp_path, stack, resting=True)
        world.start_exchange()
        daemon = world.start_daemon()
        world.start_peers([DEPOSITS[0]])                  # one deposit: two resting orders
        assert wait(lambda: world.status().get("acks", 0) >= LEGS_PER_TRIGGER)
        orders = json.loads((tmp_path / "exchange" / "orders.json").read_text())
        assert [o["status"] for o in orders] == ["NEW", "NEW"]
        assert world.status()["venues"][0]["open_orders"] == 2
        assert stratum("stop", "--config", str(world.config)).returncode == 0
        assert daemon.wait(timeout=30) == 0
    orders = json.loads((tmp_path / "exchange" / "orders.json").read_text())
    assert [o["status"] for o in orders] == ["CANCELED", "CANCELED"]
    journal = Journal(tmp_path / "state" / "sim-binance.journal")
    resolved = [r for r in journal if r.type == RESOLVED]
    assert sorted(r.order_status for r in resolved) == [lib.ST_ORDER_STATUS_CANCELED] * 2
    assert journal.open_orders({0, 1}) == []


def test_a_taken_metrics_port_fails_the_start_cleanly(tmp_path: Path) -> None:
    """Issue 10 item 2: it used to end in a traceback and a segfault (-11), with the
    engine thread started; now one line names the port, exit 1, nothing left."""
    with ExitStack() as stack, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        world = World(tmp_path, stack, metrics_port=port)
        world.start_exchange()
        check = stratum("check", "--config", str(world.config), "--json")
        run = stratum("run", "--config", str(world.config))
    assert check.returncode == 1
    item = {i["name"]: i for i in json.loads(check.stdout)["items"]}["metrics port"]
    assert item["status"] == "wrong" and f"127.0.0.1:{port} is taken" in item["detail"]
    assert run.returncode == 1, run.stderr
    assert f"stratum run: metrics: 127.0.0.1:{port} is taken" in run.stderr
    assert "Traceback" not in run.stderr and "engine thread" not in run.stderr
    assert not (tmp_path / "run" / "engine.state").exists()
    assert not world.sock.exists()


def test_triggers_refused_for_too_few_announcers_show_everywhere(tmp_path: Path) -> None:
    """Issue 10 item 3: two peers, three announcers needed: every deposit triggers
    and none trades; status, --json, top and the metrics say why."""
    triggers = EXPECTED_ORDERS // LEGS_PER_TRIGGER
    with ExitStack() as stack:
        world = World(tmp_path, stack, metrics_port=free_port(), min_announcers=3)
        world.start_exchange()
        world.start_daemon()
        world.start_peers()
        assert wait(lambda: world.status()["mempool"]["txs"] >= 3314 + len(DEPOSITS)
                    and world.status()["too_few_announcers"] >= triggers)
        target = ("--config", str(world.config))
        as_json = json.loads(stratum("status", *target, "--json").stdout)
        table = stratum("status", *target).stdout
        top = stratum("top", *target, "--count", "1").stdout
        assert world.metrics_port is not None
        metrics = scrape(world.metrics_port)
        stratum("stop", *target)
    assert as_json["triggers"] == as_json["too_few_announcers"] == triggers
    assert as_json["orders_sent"] == 0 and as_json["bad_commands"] == 0
    assert f"too few announcers {triggers}" in table
    assert f"too few announcers {triggers}" in top
    assert f"stratum_too_few_announcers_total {float(triggers)}" in metrics
    assert "stratum_bad_commands_total 0.0" in metrics


def test_start_returns_once_the_venue_is_ready_or_says_why_not(tmp_path: Path) -> None:
    """`start` waits for every venue to be ready to trade (the README's steps rely
    on it); with the exchange gone it names the venue and its connections."""
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        exchange = world.start_exchange()
        exchange.terminate()
        exchange.wait(timeout=30)
        started = stratum("start", "--config", str(world.config), "--wait", "3")
        stopped = stratum("stop", "--config", str(world.config))
    assert started.returncode == 1
    assert "stratum start: running (pid " in started.stderr
    assert "but not ready to trade after 3 s: sim-binance (" in started.stderr
    assert stopped.returncode == 0


def test_resume_undoes_the_kill(tmp_path: Path) -> None:
    """Issue 10 item 6: `kill` could not be undone. `resume` clears the switch,
    logged and shown by status; the deposits then trade as usual."""
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        world.start_exchange()
        daemon = world.start_daemon()
        target = ("--config", str(world.config))
        assert stratum("kill", *target).returncode == 0
        killed = world.status()
        resumed = stratum("resume", *target)
        table = stratum("status", *target).stdout
        world.start_peers()
        assert wait(lambda: world.status().get("acks", 0) >= EXPECTED_ORDERS)
        status = world.status()
        assert stratum("stop", *target).returncode == 0
        assert daemon.wait(timeout=30) == 0
    assert killed["killed"] and killed["venues"][0]["killed"]
    assert resumed.returncode == 0, resumed.stderr
    assert not status["killed"] and not status["venues"][0]["killed"]
    assert status["orders_sent"] == status["acks"] == EXPECTED_ORDERS
    assert [a["action"] for a in status["operator"]] == ["kill", "resume"]
    assert "KILLED" not in table and "operator: resume at " in table
    log = (tmp_path / "stratum.log").read_text()
    assert log.index("kill switch set by the operator") < \
        log.index("kill switch cleared by the operator")


def test_top_quits_on_q(tmp_path: Path) -> None:
    """Issue 10 item 6: top had no quit key (only ^C)."""
    with ExitStack() as stack:
        world = World(tmp_path, stack)
        world.start_exchange()
        world.start_daemon()
        main, tty = os.openpty()
        stack.callback(os.close, main)
        top = subprocess.Popen([sys.executable, "-m", "orchestrator", "top", "--config",
                                str(world.config), "--interval", "0.2"],
                               stdin=tty, stdout=tty, stderr=tty, cwd=ROOT)
        os.close(tty)
        stack.callback(top.kill)
        seen, deadline = b"", time.monotonic() + 30
        while b"q: quit" not in seen:
            assert time.monotonic() < deadline and select.select([main], [], [], 5)[0], seen
            seen += os.read(main, 65536)
        os.write(main, b"q")
        assert top.wait(timeout=10) == 0
        stratum("stop", "--config", str(world.config))
    assert b"sim-binance" in seen
