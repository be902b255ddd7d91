# SPDX-License-Identifier: MIT
"""The whole path on the engine's thread: two Bitcoin peer simulators replaying
the mainnet block with injected deposits -> the native engine (watcher, strategy,
risk, orders) -> the exchange simulator over TLS; and the engine's commands."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bitcoin.wallet import CBitcoinAddress

from orchestrator._native import lib
from orchestrator.btc import Strategy
from orchestrator.demo import free_port
from orchestrator.desk import Desk, RiskLimits
from orchestrator.engine import Engine, read_shared
from orchestrator.hotline import Connection, HotStandby, Loop, Trust
from orchestrator.journal import ACK, ORDER, Journal
from orchestrator.mempool import Watcher
from orchestrator.venues import Leg, Side, binance
from orchestrator.venues.binance.session import BinanceSession
from tests.simutil import Sim, peer_sim, run_sim
from tests.tlsutil import Pki
from tests.venueutil import HMAC

COIN = 100_000_000
BLOCK_TXS = 3314
ADDRS = ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]
WHALE_SATS = 2_000_000 * COIN
DEPOSIT_A, DEPOSIT_B, WHALE = 100, 101, 7
# Deposit to exchange A: sell BTC (two legs); to exchange B: one leg. Whale: no orders.
LEGS = {DEPOSIT_A: [Leg("BTCUSDT", Side.SELL, Decimal("0.01")),
                    Leg("BTCUSDT", Side.SELL, Decimal("0.02"), offset_bps=20)],
        DEPOSIT_B: [Leg("BTCUSDT", Side.SELL, Decimal("0.03"))]}
LIMITS = RiskLimits(Decimal(1), Decimal(100000), max_open_orders=64, orders_per_second=100,
                    burst=10, max_price_age=600)
TIMEOUT = 60.0


def strategy() -> Strategy:
    s = Strategy()
    for exchange, (addr, action) in enumerate(zip(ADDRS, (DEPOSIT_A, DEPOSIT_B), strict=True)):
        s.add_script(bytes(CBitcoinAddress(addr).to_scriptPubKey()), exchange)
        s.set_deposit(exchange, 10 * COIN, action)
    s.set_whale(WHALE_SATS, WHALE)
    return s


@dataclass
class Rig:
    engine: Engine
    watcher: Watcher
    sessions: list[BinanceSession]
    journals: list[Journal]
    sim: Sim
    shared: Path

    def run_until(self, done: object, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                return False
            for session in self.sessions:
                session.step(0.005)
        return True


@contextmanager
def rig(pki: Pki, tmp: Path, *sim_args: str, standby: bool = False,
        late_port: int | None = None, killed: bool = False,
        before_peers: Callable[[Engine], None] | None = None) -> Iterator[Rig]:
    """One desk per action (each with its legs) and the engine on its thread, then
    two peer simulators once the desks are ready (the watcher retries their ports
    until they listen). sim_args go to the first simulator; late_port adds a peer
    that the test serves itself; before_peers runs once the desks are ready."""
    deposits = ["--deposit", f"{ADDRS[0]}:{50 * COIN}", "--deposit", f"{ADDRS[1]}:{12 * COIN}",
                "--deposit", f"{ADDRS[0]}:{1 * COIN}", "--whale", str(WHALE_SATS)]
    ports = [free_port(), free_port()]
    with run_sim(tmp, pki) as sim:
        loop = Loop()
        watcher = Watcher(loop, strategy())
        engine = Engine(loop, watcher, shared_path=tmp / "engine.state")
        sessions, journals = [], []
        for action, legs in LEGS.items():
            def connection() -> Connection:
                # With a standby, a dropped connection stays down for seconds, so
                # that the standby is seen to carry the next order.
                return Connection(loop, f"wss://localhost:{sim.ws_port}/ws-api/v3",
                                  Trust(str(pki.root_ca)), address="127.0.0.1",
                                  backoff=(20.0, 30.0) if standby else (0.1, 30.0))

            conns = HotStandby(connection(), connection()) if standby else connection()
            journal = Journal(tmp / f"desk-{action}.journal")
            desk = Desk(binance.SCHEMA, conns, journal, LIMITS, price_decimals=2,
                        quantity_decimals=8)
            desk.set_hmac_secret(HMAC.hmac_secret)  # type: ignore[arg-type]
            for leg in legs:
                desk.add_leg(leg, binance.order_template(leg, HMAC, response_type="RESULT"))
            index = engine.add_desk(desk)
            engine.route(action, [index])
            sessions.append(BinanceSession(desk, HMAC))
            journals.append(journal)
            for conn in desk.conns:
                conn.open()
        for port in (*ports, *([late_port] if late_port else [])):
            watcher.add_peer("127.0.0.1", port, backoff=(0.1, 0.3)).open()
        engine.start()
        r = Rig(engine, watcher, sessions, journals, sim, tmp / "engine.state")
        try:
            wanted = {0, 1} if standby else {0}
            assert r.run_until(lambda: all(wanted <= s.ready for s in sessions), 20)
            for session in sessions:
                session.desk.set_book(Decimal("52000.00"), Decimal("52000.10"))
            if killed:
                engine.kill()
            if before_peers:
                before_peers(engine)
            with peer_sim(tmp, "--port", str(ports[0]), *deposits, *sim_args), \
                    peer_sim(tmp, "--port", str(ports[1]), *deposits, "--wtxid"):
                yield r
        finally:
            if engine.threaded:
                engine.stop()
            engine.close()


def test_each_deposit_gives_exactly_its_orders(pki: Pki, tmp_path: Path) -> None:
    with rig(pki, tmp_path) as r:
        total = BLOCK_TXS + 4
        assert r.run_until(lambda: r.watcher.stats["txs"] >= total
                           and read_shared(r.shared)["acks"] >= 3), read_shared(r.shared)
        r.run_until(lambda: False, 0.5)         # anything extra would show up now
        state = read_shared(r.shared)
        orders = r.sim.orders()
        actions = [e for e in r.watcher.events() if e.kind == "action"]
        r.engine.stop()
        # The sim writes a connection's record once its handler ends: give it a moment.
        closes: list[dict[str, object]] = []
        deadline = time.monotonic() + 5
        while len([c for c in closes if c["path"] == "/ws-api/v3"]) < 2 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
            closes = [json.loads(line) for line in
                      (r.sim.record_dir / "connections.jsonl").read_text().splitlines()]
    assert state["triggers"] == 3                  # two deposits and the whale
    assert state["orders_sent"] == 3 and state["acks"] == 3
    assert state["rejects"] == 0 and state["risk_rejects"] == 0
    assert sorted(Decimal(o["qty"]) for o in orders) == [Decimal("0.01"), Decimal("0.02"),
                                                           Decimal("0.03")]
    assert all(o["side"] == "SELL" and o["symbol"] == "BTCUSDT" for o in orders)
    for journal in r.journals:                     # every order journaled with its answer
        types = sorted(rec.type for rec in journal)
        assert types.count(ORDER) == types.count(ACK) and journal.unknown() == []
    sent_ids = {binance.client_order_id("st", rec.seq) for j in r.journals for rec in j
                if rec.type == ORDER}
    assert {o["client_order_id"] for o in orders} == sent_ids
    assert state["stages"]["trigger_to_send"].count == 2     # two triggers fired orders
    assert state["stages"]["ack"].count == 3
    assert state["stages"]["trigger_to_send"].percentile(0.5) > 0
    # A trigger's clock starts at the kernel's receive timestamp, before its
    # completion is reaped; each later stage follows in order.
    assert len(actions) == 3 and state["stages"]["receive"].count == 2
    for e in actions:
        recv, reaped, parsed, decided, sent = e.times_ns
        assert 0 < recv < reaped <= parsed <= decided <= sent, e.times_ns
    # stop: each desk's connection sent a close frame (1000) before TLS went away
    assert sorted(c["close_code"] for c in closes if c["path"] == "/ws-api/v3") == [1000, 1000]


def test_kill_stops_every_order(pki: Pki, tmp_path: Path) -> None:
    with rig(pki, tmp_path, killed=True) as r:
        total = BLOCK_TXS + 4
        assert r.run_until(lambda: r.watcher.stats["txs"] >= total)
        r.run_until(lambda: False, 0.5)
        state = read_shared(r.shared)
        assert r.sim.orders() == []
    assert state["killed"] and state["triggers"] == 3 and state["orders_sent"] == 0
    assert state["risk_rejects"] == 3                # the three orders of two deposits


def test_a_peer_sending_garbage_is_dropped_and_deposits_still_trade(pki: Pki,
                                                                   tmp_path: Path) -> None:
    with rig(pki, tmp_path, "--malformed", "bad-checksum", "--malformed-after", "50") as r:
        assert r.run_until(lambda: r.watcher.stats["txs"] >= BLOCK_TXS + 4
                           and read_shared(r.shared)["acks"] >= 3)
        assert r.watcher.stats["malformed"] >= 1      # the bad peer, dropped (each time)
        state = read_shared(r.shared)
    assert state["orders_sent"] == 3 and state["triggers"] == 3


def test_venue_connection_killed_standby_takes_over(pki: Pki, tmp_path: Path) -> None:
    late = free_port()
    with rig(pki, tmp_path, standby=True, late_port=late) as r:
        assert r.run_until(lambda: read_shared(r.shared)["acks"] >= 3)
        # The venue cuts the connection that carried the latest order ...
        last = [line for line in r.sim.log("binance") if line["method"] == "order.place"][-1]
        [desk_index] = [i for i, j in enumerate(r.journals)
                        if any(binance.client_order_id("st", rec.seq) in last["raw"] for rec in j)]
        desk = r.sessions[desk_index].desk
        active = int(lib.st_conn_pair_active(desk.pair))
        os.kill(r.sim.proc.pid, signal.SIGUSR1)
        assert r.run_until(lambda: desk.conns[active].state != "open", 10)
        assert r.run_until(lambda: any(
            e.kind == "conn" and e.conn == active and e.code != lib.ST_CONN_OPEN
            for e in r.sessions[desk_index].state.events), 5)   # the change is an event
        # ... and the next deposit for that desk still trades, on the standby.
        action = list(LEGS)[desk_index]
        address = ADDRS[list(LEGS).index(action)]
        before = read_shared(r.shared)["acks"]
        with peer_sim(tmp_path, "--port", str(late), "--deposit", f"{address}:{77 * COIN}"):
            assert r.run_until(lambda: read_shared(r.shared)["acks"]
                               >= before + len(LEGS[action]))
            state = read_shared(r.shared)
    assert state["venues"][desk_index]["active"] == 1 - active
    assert state["orders_sent"] == 3 + len(LEGS[action]) and state["unknown"] == 0
