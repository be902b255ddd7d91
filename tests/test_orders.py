# SPDX-License-Identifier: MIT
"""Orders end to end over real TLS against the exchange simulator, beyond what
the venue suite (tests/venue_suite.py) asks of every venue: Binance's order as
the simulator records it, its timestamp resync and clock offset in detail, a
trigger storm held back by our bucket, a secret never printed; Kraken's order
ids, nonces, refusals, open orders and a fresh token on an engine."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator._native import lib
from orchestrator.desk import RiskLimits
from orchestrator.venues import Leg, Secret, Side, binance, kraken
from orchestrator.venues.session import VenueError
from tests import simutil
from tests.simutil import Sim, run_sim
from tests.tlsutil import Pki
from tests.venueutil import (
    HMAC,
    SESSION,
    TIMEOUT,
    binance_venue,
    kraken_venue,
    txid,
)


@pytest.fixture(scope="module")
def sim(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with run_sim(tmp_path_factory.mktemp("sim"), pki, "--outcome-unknown-regex",
                 "^st9") as s:
        yield s


@pytest.mark.parametrize("credentials", [HMAC, SESSION], ids=["hmac", "session"])
def test_binance_order_is_accepted(sim: Sim, pki: Pki, tmp_path: Path,
                                   credentials: binance.Credentials) -> None:
    venue = binance_venue(sim.ws_port, pki.root_ca, tmp_path / "binance.journal", credentials)
    [ack] = venue.fire_and_wait(1)
    assert ack.order_status == lib.ST_ORDER_STATUS_FILLED and ack.venue_order_id > 0
    conn_events = [e.code for e in venue.session.state.events if e.kind == "conn"]
    assert conn_events[-1] == lib.ST_CONN_OPEN and lib.ST_CONN_TLS in conn_events
    client_id = binance.client_order_id("st", ack.seq)
    [order] = [o for o in sim.orders() if o["client_order_id"] == client_id]
    assert order["status"] == "FILLED" and order["side"] == "BUY"
    assert Decimal(order["price"]) == Decimal("52052.10")   # ask + 10 bps, on the tick
    assert Decimal(order["qty"]) == Decimal("0.01")
    records = list(venue.journal)
    assert [r.type for r in records] == [1, 3] and records[1].venue_order_id == ack.venue_order_id
    assert venue.journal.unknown() == []


def test_kraken_order_is_accepted(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    leg = Leg("BTC/USD", Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)
    venue = kraken_venue(sim, pki.root_ca, tmp_path, leg=leg)
    [ack] = venue.fire_and_wait(2)
    assert ack.order_status == lib.ST_ORDER_STATUS_ACCEPTED
    [record] = [r for r in venue.journal if r.type == 3]
    assert record.detail and record.detail.count("-") == 2    # Kraken's order id
    assert any(o["client_order_id"] == "st" + f"{ack.seq:016d}" for o in sim.orders())


def test_kraken_nonce_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "nonce"
    path.write_text(str(10**18))                  # a nonce from a clock far ahead
    nonces = kraken.NonceSource(path)
    first = nonces.next()
    assert first == 10**18 + 1 and nonces.next() == first + 1
    assert kraken.NonceSource(path).next() == first + 2   # a restart continues above


def test_stale_timestamp_resyncs_and_the_retry_succeeds(sim: Sim, pki: Pki,
                                                        tmp_path: Path) -> None:
    venue = binance_venue(sim.ws_port, pki.root_ca, tmp_path / "binance.journal", HMAC)
    venue.desk.set_clock_offset(-120_000)          # our clock drifted two minutes behind
    assert venue.desk.fire(txid(4)) == 1
    [ack] = venue.wait(("ack",))
    kinds = [e.kind for e in venue.session.state.events if e.kind != "conn"]
    assert kinds[:4] == ["sent", "clock", "sent", "ack"], kinds
    assert venue.desk.stats["retries"] == 1 and venue.session.state.resyncs == 1
    assert abs(venue.session.clock_offset_ms or 0) < 1000
    ids = (binance.client_order_id("st", ack.seq - 1), binance.client_order_id("st", ack.seq))
    codes = [line["code"] for line in sim.log("binance")
             if line["method"] == "order.place" and any(i in line["raw"] for i in ids)]
    assert codes == [-1021, None]


SKEW_MS = 300_000  # the venue's clock five minutes ahead of ours


def test_known_clock_offset_is_applied_to_the_first_order(pki: Pki, tmp_path: Path) -> None:
    """The offset learnt at connect goes into the order's timestamp with its
    sign: against a venue five minutes ahead, the first order is accepted as
    sent, with no -1021 and no resync (a flipped sign would be ten minutes off)."""
    with run_sim(tmp_path, pki, "--clock-skew-ms", str(SKEW_MS)) as skewed:
        venue = binance_venue(skewed.ws_port, pki.root_ca, tmp_path / "binance.journal", HMAC)
        assert abs((venue.session.clock_offset_ms or 0) - SKEW_MS) < 5000
        before_ms = time.time_ns() // 1_000_000
        [ack] = venue.fire_and_wait(5)
        assert ack.order_status == lib.ST_ORDER_STATUS_FILLED
        assert venue.session.state.resyncs == 0 and venue.desk.stats["retries"] == 0
        client_id = binance.client_order_id("st", ack.seq)
        [line] = [line for line in skewed.log("binance")
                  if line["method"] == "order.place" and client_id in line["raw"]]
        assert line["code"] is None
        found = re.search(r'"timestamp":"?(\d+)', line["raw"])
        assert found, line["raw"]
        stamp = int(found.group(1))
        assert stamp >= before_ms + SKEW_MS // 2, (stamp, before_ms)  # shifted forward


def test_trigger_storm_is_held_back_by_our_bucket(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    slow = RiskLimits(Decimal(1), Decimal(100000), max_open_orders=64, orders_per_second=2,
                      burst=3)
    venue = binance_venue(sim.ws_port, pki.root_ca, tmp_path / "binance.journal", HMAC, limits=slow)
    results = [venue.desk.fire(txid(100 + i)) for i in range(60)]
    sent = sum(r for r in results if r > 0)
    assert 3 <= sent <= 4, results                 # the burst (and a token that came back)
    assert venue.desk.rejections["rate"] == 60 - sent
    venue.wait(("ack",), count=sent)
    assert not [e for e in venue.session.state.events if e.kind == "rate_limit"]


def test_secret_marker_never_printed(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    marker = "MARKER-" + base64.b32encode(b"secret-marker").decode()
    creds = binance.Credentials(simutil.HMAC_KEY, hmac_secret=Secret(marker))
    venue = binance_venue(sim.ws_port, pki.root_ca, tmp_path / "binance.journal", creds)
    with pytest.raises(VenueError) as info:
        venue.fire_and_wait(8)
    texts = [str(info.value), repr(info.value), repr(creds), repr(venue.session.state),
             str(venue.desk.stats), str(list(venue.journal))]
    assert not [t for t in texts if marker in t]


@pytest.mark.parametrize("symbol, token, kind", [
    ("XXX/YYY", None, "rejected"),          # EQuery:Unknown asset pair
    ("BTC/USD", "not-a-token", "auth"),     # EAPI:Invalid token
])
def test_kraken_refusals(sim: Sim, pki: Pki, tmp_path: Path, symbol: str, token: str | None,
                         kind: str) -> None:
    leg = Leg(symbol, Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)
    venue = kraken_venue(sim, pki.root_ca, tmp_path, leg=leg)
    if token is not None:       # one Kraken never issued, in place as a fresh one would be
        venue.desk.replace_template(0, kraken.order_template(leg, Secret(token)))
    if kind == "auth":
        with pytest.raises(VenueError, match="refused the order's token"):
            venue.fire_and_wait(10, (kind,))
    else:
        [event] = venue.fire_and_wait(10, (kind,))
        assert event.code == kraken.OTHER
        [record] = [r for r in venue.journal if r.type == 3]
        assert record.detail.startswith("EQuery:Unknown asset pair")


def test_kraken_open_orders_lists_a_resting_order(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    """Host failover's takeover asks each venue's open orders (OpenOrders here)."""
    leg = Leg("BTC/USD", Side.BUY, Decimal("0.01"), time_in_force="GTC", offset_bps=-100,
              tick=Decimal("0.1"), price_decimals=1)
    venue = kraken_venue(sim, pki.root_ca, tmp_path, leg=leg)
    [ack] = venue.fire_and_wait(40)
    found = venue.session.ask_open_orders({"BTC/USD", "ETH/USD"})
    mine = [o for o in found["BTC/USD"] if o.client_id == kraken.client_order_id("st", ack.seq)]
    assert [o.status for o in mine] == [lib.ST_ORDER_STATUS_NEW]
    assert found["ETH/USD"] == []


def test_kraken_on_an_engine_gets_a_fresh_token_after_a_reconnect(pki: Pki,
                                                                  tmp_path: Path) -> None:
    """The swap goes through the engine's command ring (ST_CMD_SWAP_TEMPLATE),
    ahead of SET_READY; the simulator refuses the first connection's token."""
    with run_sim(tmp_path, pki, "--tokens-die-on-close") as sim:
        venue = kraken_venue(sim, pki.root_ca, tmp_path, on_engine=True)
        engine = venue.desk.engine
        try:
            venue.fire_and_wait(41)
            conn = venue.desk.conns[0]
            conn.abort()
            assert venue.session.run_until(
                lambda: conn.stats["opens"] >= 2 and 0 in venue.session.ready, TIMEOUT)
            venue.session.step()
            assert venue.desk.fire(txid(42)) == 1
            venue.wait(("ack",), count=2)
            assert engine.state()["bad_commands"] == 0
        finally:
            engine.stop()
            engine.close()
