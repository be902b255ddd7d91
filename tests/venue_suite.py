# SPDX-License-Identifier: MIT
"""The cases every venue must pass, against the exchange simulator over real
TLS (as nautilus_trader's and hummingbot's per-venue test bases do). A venue's
test module subclasses VenueSuite and says how to build its venue; a case
its adapter lacks the capability for is an xfail naming what is missing.

Adding a venue: its folder in orchestrator/venues/, its module in the
simulator, and a subclass of this suite in tests/test_venue_suite.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

from orchestrator._native import lib
from orchestrator.desk import RiskLimits
from orchestrator.engine import Engine
from orchestrator.errors import StratumError
from orchestrator.hotline import Connection, Trust
from orchestrator.venues import Leg
from orchestrator.venues.adapter import VenueAdapter
from tests.simutil import Sim, run_sim
from tests.tlsutil import Pki
from tests.venueutil import LIMITS, TIMEOUT, Venue, txid


class VenueSuite:
    adapter: ClassVar[VenueAdapter]
    sim_args: ClassVar[tuple[str, ...]] = ()
    refused_credentials: ClassVar[str]       # what the error says when they are refused
    has_timestamps: ClassVar[bool] = True    # orders carry a timestamp the venue checks
    unknown_outcome_args: ClassVar[tuple[str, ...]] = ()  # sim args: every outcome unknown
    rate_limit_args: ClassVar[tuple[str, ...]] = ()       # sim args: a limit of 2 orders
    retry_time: ClassVar[bool] = True        # a rate-limit answer says when to retry
    book_path: ClassVar[str]                 # the simulator's book stream for the leg
    book_spec: ClassVar[str]                 # --book SYMBOL=BID:ASK, unlike venue()'s book

    # -- what each venue provides ----------------------------------------------

    def venue(self, sim: Sim, pki: Pki, tmp_path: Path, *, leg: Leg | None = None,
              limits: RiskLimits = LIMITS, wrong_secret: bool = False) -> Venue:
        """A venue on the simulator, ready (or, with wrong_secret, refusing on use)."""
        raise NotImplementedError

    def rejected_leg(self) -> Leg:
        """A leg the venue refuses (post-only that would take, unknown pair...)."""
        raise NotImplementedError

    def resting_leg(self) -> Leg:
        """A leg that rests on the book (GTC, behind the best price)."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def sim(cls, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
        with run_sim(tmp_path_factory.mktemp("sim"), pki, *cls.sim_args) as s:
            yield s

    def requests(self, sim: Sim) -> int:
        return len(sim.log(self.adapter.name))

    def needs(self, capability: str) -> None:
        if not getattr(self.adapter.capabilities, capability):
            pytest.xfail(f"{self.adapter.name}: no {capability} yet")

    # -- the cases -------------------------------------------------------------

    def test_login_ok(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        venue = self.venue(sim, pki, tmp_path)
        assert venue.session.ready == {0}

    def test_bad_signature_is_a_clear_error(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        with pytest.raises(StratumError, match=self.refused_credentials):
            venue = self.venue(sim, pki, tmp_path, wrong_secret=True)
            venue.session.run_until(lambda: 0 in venue.session.ready, TIMEOUT)  # or a logon
            assert venue.desk.fire(txid(1)) == 1                                 # refused
            venue.session.run_until(lambda: False, TIMEOUT)

    def test_stale_timestamp_resyncs_and_the_retry_succeeds(self, sim: Sim, pki: Pki,
                                                            tmp_path: Path) -> None:
        if not self.has_timestamps:
            pytest.skip(f"{self.adapter.name} orders carry no timestamp")
        venue = self.venue(sim, pki, tmp_path)
        venue.desk.set_clock_offset(-120_000)       # our clock two minutes behind
        assert venue.desk.fire(txid(2)) == 1
        venue.wait(("ack",))
        kinds = [e.kind for e in venue.session.state.events if e.kind != "conn"]
        assert kinds[:4] == ["sent", "clock", "sent", "ack"], kinds

    def test_order_accepted(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        venue = self.venue(sim, pki, tmp_path)
        [ack] = venue.fire_and_wait(3)
        assert ack.http_status == 200 and venue.journal.unknown() == []
        assert [r.type for r in venue.journal] == [1, 3]

    @pytest.mark.parametrize("on_engine", [False, True], ids=["desk", "engine"])
    def test_book_stream_prices_orders_and_a_stale_book_refuses(self, pki: Pki, tmp_path: Path,
                                                                on_engine: bool) -> None:
        """The venue's top-of-book stream, read by the desk's native reader on the
        thread that polls it (the desk's own poll, or an engine pass), sets the
        price the next order uses; once its last update is older than
        max_price_age, risk refuses the set. The engine's stop closes the stream."""
        with run_sim(tmp_path, pki, "--book", self.book_spec, "--book-interval-ms", "20"
                     ) as sim:
            venue = self.venue(sim, pki, tmp_path)
            desk, book = venue.desk, self.adapter.profile.book
            assert book is not None
            feed = Connection(desk.conns[0].loop, f"wss://localhost:{sim.ws_port}{self.book_path}",
                              Trust(str(pki.root_ca)), address="127.0.0.1")
            desk.set_book_feed(book, desk.legs[0].symbol, feed)
            engine = Engine(feed.loop) if on_engine else None
            if engine:
                engine.add_desk(desk)        # session steps are engine passes now
            feed.open()
            assert venue.session.run_until(lambda: desk.stats["book_updates"] >= 2, TIMEOUT), \
                (feed.state, feed.last_error, desk.stats)
            bid, ask = (Decimal(p) for p in self.book_spec.partition("=")[2].split(":"))
            assert desk.book[:2] == (bid, ask)
            leg = desk.legs[0]
            assert desk.fire(txid(7)) == 1
            [sent] = venue.wait(("sent",))
            fixed_ask, tick = int(ask.scaleb(leg.price_decimals)), int(
                leg.tick.scaleb(leg.price_decimals))
            assert sent.price == fixed_ask * (10000 + leg.offset_bps) // 10000 // tick * tick
            later = time.monotonic_ns() + int((LIMITS.max_price_age + 1) * 1e9)
            assert desk.fire(txid(8), now_ns=later) == -lib.ST_RISK_STALE_PRICE
            assert desk.rejections["stale_price"] == 1
            assert desk.stats["book_dropped"] == 0
            if engine:
                engine.stop()
                assert feed.state == "closed"
                engine.close()

    def test_rejected_closes_the_order(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        venue = self.venue(sim, pki, tmp_path, leg=self.rejected_leg())
        [rejected] = venue.fire_and_wait(4, ("rejected",))
        assert rejected.order_status == lib.ST_ORDER_STATUS_REJECTED and rejected.code != 0
        assert venue.desk.open_orders == 0 and venue.journal.unknown() == []

    def test_unknown_outcome_is_reconciled(self, pki: Pki, tmp_path: Path) -> None:
        self.needs("reconcile")
        with run_sim(tmp_path, pki, *self.unknown_outcome_args) as sim:
            venue = self.venue(sim, pki, tmp_path)
            assert venue.desk.fire(txid(5)) == 1
            venue.wait(("unknown",))
            [order] = venue.journal.unknown()
            assert venue.session.reconcile([order]) == {order.seq: lib.ST_ORDER_STATUS_FILLED}
            assert venue.journal.unknown() == []
            sent = [o for o in sim.orders() if o["client_order_id"].endswith(f"{order.seq:016d}")]
            assert len(sent) == 1                       # asked about, never sent again

    def test_rate_limited_backs_off(self, pki: Pki, tmp_path: Path) -> None:
        if not self.rate_limit_args:
            pytest.xfail(f"{self.adapter.name}: the simulator has no order rate limit for it")
        with run_sim(tmp_path, pki, *self.rate_limit_args) as sim:
            venue = self.venue(sim, pki, tmp_path)
            for i in range(3):
                assert venue.desk.fire(txid(300 + i)) == 1
            [limited] = venue.wait(("rate_limit",))
            assert venue.desk.fire(txid(310)) == -lib.ST_RISK_VENUE_BACKOFF
            if self.retry_time:
                assert limited.retry_at_ms > 0
                return
            # No retry time given: the desk's own backoff, counted from the answer.
            assert limited.retry_at_ms == 0
            until = limited.time_ns + lib.ST_DESK_DEFAULT_BACKOFF_MS * 1_000_000
            venue.desk.set_book(Decimal("52000.0"), Decimal("52000.1"), now_ns=until)
            assert venue.desk.fire(txid(311), now_ns=until - 1) == -lib.ST_RISK_VENUE_BACKOFF
            assert venue.desk.fire(txid(312), now_ns=until) == 1

    def test_duplicate_trigger_refused(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        venue = self.venue(sim, pki, tmp_path)
        assert venue.desk.fire(txid(6)) == 1
        assert venue.desk.fire(txid(6)) == -lib.ST_RISK_DUPLICATE_TRIGGER
        venue.wait(("ack",))
        assert venue.desk.stats["orders_sent"] == 1
        assert venue.desk.rejections["duplicate_trigger"] == 1

    def test_kill_stops_the_next_order(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        venue = self.venue(sim, pki, tmp_path)
        before = self.requests(sim)
        venue.desk.kill()
        for i in range(5):
            assert venue.desk.fire(txid(200 + i)) == -lib.ST_RISK_KILLED
        venue.session.run_until(lambda: False, 0.3)
        assert self.requests(sim) == before         # nothing reached the venue
        assert venue.desk.stats["orders_sent"] == 0 and venue.desk.rejections["killed"] == 5
        venue.desk.kill(False)
        venue.fire_and_wait(8)

    def test_stop_cancels_resting_orders(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        self.needs("cancel")
        leg = self.resting_leg()
        venue = self.venue(sim, pki, tmp_path, leg=leg)
        venue.fire_and_wait(9)
        orders = venue.journal.open_orders({0})
        assert len(orders) == 1
        venue.desk.kill()
        assert venue.session.cancel(orders) == {orders[0].seq: lib.ST_ORDER_STATUS_CANCELED}
        assert venue.journal.open_orders({0}) == []

    def test_reconnect_logs_in_again(self, sim: Sim, pki: Pki, tmp_path: Path) -> None:
        venue = self.venue(sim, pki, tmp_path)
        venue.fire_and_wait(11)        # what the first connection logged in with is in use
        conn = venue.desk.conns[0]
        conn.abort()
        assert venue.session.run_until(
            lambda: conn.stats["opens"] >= 2 and 0 in venue.session.ready, TIMEOUT)
        assert venue.desk.fire(txid(10)) == 1
        venue.wait(("ack",), count=2)       # the first order's and this one's
