# SPDX-License-Identifier: MIT
"""kill -9 with orders in flight: the journal still lists every order, and on
restart reconciliation with exchange_sim resolves each one (order.status),
sending none of them again."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator._native import lib
from orchestrator.journal import Journal
from orchestrator.venues import binance
from orchestrator.venues.binance.session import BinanceSession
from tests.conftest import ROOT
from tests.simutil import run_sim
from tests.tlsutil import Pki
from tests.venueutil import HMAC, binance_venue

ORDERS = 5


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            raise TimeoutError(f"no line from the child in {timeout}s")
    return proc.stdout.readline()


def test_kill_9_with_orders_in_flight(pki: Pki, tmp_path: Path) -> None:
    journal_path = tmp_path / "binance.journal"
    with run_sim(tmp_path, pki, "--ack-delay-ms", "5000") as sim:
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"} | {
            "PYTHONPATH": str(ROOT)}
        if os.environ.get("LD_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["LD_PRELOAD"]   # the sanitizer runtime
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.order_child", str(sim.ws_port), str(pki.root_ca),
             str(journal_path), str(ORDERS)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        line = read_line(child, 20)
        assert line.startswith("SENT"), line
        sent = [int(s) for s in line.split()[1:]]
        assert len(sent) == ORDERS
        # The venue has them all before we kill: they are in flight, unanswered.
        deadline = time.monotonic() + 10
        while len(sim.orders()) < ORDERS and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)

        journal = Journal(journal_path)
        unknown = journal.unknown()
        assert sorted(o.seq for o in unknown) == sorted(sent)
        assert journal.next_seq > max(sent)           # a new order takes a new id

        venue = binance_venue(sim.ws_port, pki.root_ca, journal_path, HMAC)
        assert isinstance(venue.session, BinanceSession)
        resolved = venue.session.reconcile(venue.journal.unknown())
        assert resolved == {seq: lib.ST_ORDER_STATUS_FILLED for seq in sent}
        assert venue.journal.unknown() == []

        client_ids = [binance.client_order_id("st", seq) for seq in sent]
        placed = [line for line in sim.log("binance") if line["method"] == "order.place"]
        for client_id in client_ids:
            assert sum(client_id in line["raw"] for line in placed) == 1, client_id
        assert sorted(o["client_order_id"] for o in sim.orders()) == sorted(client_ids)
