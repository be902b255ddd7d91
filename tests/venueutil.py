# SPDX-License-Identifier: MIT
"""Venue desks and sessions wired to the exchange simulator, for the order tests,
the venue suite and the crash child (tests/order_child.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from orchestrator.desk import Desk, Event, RiskLimits
from orchestrator.engine import Engine
from orchestrator.hotline import Connection, Loop, Trust
from orchestrator.journal import Journal
from orchestrator.venues import Leg, Secret, Side, binance, bybit, kraken, okx
from orchestrator.venues.binance.session import BinanceSession
from orchestrator.venues.bybit.session import BybitSession
from orchestrator.venues.kraken.session import KrakenSession
from orchestrator.venues.okx.session import OkxSession
from orchestrator.venues.session import VenueSession
from tests import simutil
from tests.tlsutil import client_context

BID, ASK = Decimal("52000.00"), Decimal("52000.10")
LEG = Leg("BTCUSDT", Side.BUY, Decimal("0.01"), time_in_force="IOC")
LIMITS = RiskLimits(max_quantity=Decimal(1), max_notional=Decimal(100000), max_open_orders=64,
                    orders_per_second=1000, burst=100)
TIMEOUT = 10.0
KRAKEN_LEG = Leg("BTC/USD", Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)


def txid(n: int) -> bytes:
    return n.to_bytes(4, "big") + b"\x5a" * 28


@dataclass
class Venue:
    desk: Desk
    session: VenueSession
    journal: Journal

    def fire_and_wait(self, n: int, kinds: tuple[str, ...] = ("ack",)) -> list[Event]:
        """Fires trigger n and runs until every order sent has one of `kinds`."""
        assert self.desk.fire(txid(n)) > 0
        return self.wait(kinds)

    def wait(self, kinds: tuple[str, ...], count: int = 1) -> list[Event]:
        seen: list[Event] = []

        def done() -> bool:
            seen[:] = [e for e in self.session.state.events if e.kind in kinds]
            return len(seen) >= count

        assert self.session.run_until(done, TIMEOUT), self.session.state.events
        return seen


def binance_venue(ws_port: int, root_ca: Path, journal_path: Path,
                  credentials: binance.Credentials, *, limits: RiskLimits = LIMITS,
                  response_type: str = "RESULT", leg: Leg = LEG, wait_ready: bool = True
                  ) -> Venue:
    loop = Loop()
    conn = Connection(loop, f"wss://localhost:{ws_port}/ws-api/v3", Trust(str(root_ca)),
                      address="127.0.0.1")
    journal = Journal(journal_path)
    desk = Desk(binance.SCHEMA, conn, journal, limits, price_decimals=2,
                quantity_decimals=8)
    if credentials.hmac_secret is not None:
        desk.set_hmac_secret(credentials.hmac_secret)
    desk.add_leg(leg, binance.order_template(leg, credentials, response_type=response_type))
    session = BinanceSession(desk, credentials)
    conn.open()
    if wait_ready:
        assert session.run_until(lambda: 0 in session.ready, TIMEOUT), session.state
    desk.set_book(BID, ASK)
    return Venue(desk, session, journal)


HMAC = binance.Credentials(simutil.HMAC_KEY, hmac_secret=Secret(simutil.HMAC_SECRET))
SESSION = binance.Credentials(simutil.ED_KEY, ed25519_pem=Secret(
    simutil.ED_PRIVATE.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())))




OKX_LEG = Leg("BTC-USDT", Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)


def okx_venue(sim_ws_port: int, sim_rest_port: int, root_ca: Path, journal_path: Path, *,
              secret: str = simutil.OKX_SECRET, leg: Leg = OKX_LEG, limits: RiskLimits = LIMITS,
              rest_url: str | None = None, client_prefix: str = "st",
              wait_ready: bool = True) -> Venue:
    """An OKX desk and session on the simulator (REST on its REST port unless rest_url)."""
    credentials = okx.Credentials(simutil.OKX_KEY, Secret(secret),
                                  Secret(simutil.OKX_PASSPHRASE))
    conn = Connection(Loop(), f"wss://localhost:{sim_ws_port}/ws/v5/private",
                      Trust(str(root_ca)), address="127.0.0.1")
    journal = Journal(journal_path)
    desk = Desk(okx.SCHEMA, conn, journal, limits, price_decimals=leg.price_decimals,
                quantity_decimals=leg.quantity_decimals)
    desk.add_leg(leg, okx.order_template(leg, client_prefix=client_prefix))
    session = OkxSession(desk, credentials, rest_url=rest_url or
                         f"https://localhost:{sim_rest_port}", context=client_context(root_ca),
                         client_prefix=client_prefix)
    conn.open()
    if wait_ready:
        assert session.run_until(lambda: 0 in session.ready, TIMEOUT), session.state
    desk.set_book(Decimal("52000.0"), Decimal("52000.1"))
    return Venue(desk, session, journal)


def bybit_venue(sim_ws_port: int, rest_url: str, root_ca: Path, journal_path: Path, *,
                leg: Leg = LEG) -> Venue:
    """A Bybit desk and session on the simulator, not waited for (REST at rest_url)."""
    credentials = bybit.Credentials(simutil.BYBIT_KEY, Secret(simutil.BYBIT_SECRET))
    conn = Connection(Loop(), f"wss://localhost:{sim_ws_port}/v5/trade", Trust(str(root_ca)),
                      address="127.0.0.1")
    journal = Journal(journal_path)
    desk = Desk(bybit.SCHEMA, conn, journal, LIMITS, price_decimals=leg.price_decimals,
                quantity_decimals=leg.quantity_decimals)
    desk.add_leg(leg, bybit.order_template(leg))
    session = BybitSession(desk, credentials, bybit.Rest(rest_url, client_context(root_ca)))
    conn.open()
    return Venue(desk, session, journal)


def kraken_venue(sim: simutil.Sim, root_ca: Path, tmp_path: Path, *, leg: Leg = KRAKEN_LEG,
                 limits: RiskLimits = LIMITS, secret: str = simutil.KRAKEN_SECRET,
                 on_engine: bool = False) -> Venue:
    """A Kraken desk on the simulator, ready (its first token fetched and in place);
    on_engine: added to an Engine that the session's steps run one pass at a time."""
    credentials = kraken.Credentials(simutil.KRAKEN_KEY, Secret(secret))
    rest = kraken.Rest(credentials, kraken.NonceSource(tmp_path / "nonce"),
                       rest_url=f"https://localhost:{sim.rest_port}",
                       context=sim.ctx)
    conn = Connection(Loop(), f"wss://localhost:{sim.ws_port}/v2", Trust(str(root_ca)),
                      address="127.0.0.1")
    journal = Journal(tmp_path / "kraken.journal")
    desk = Desk(kraken.SCHEMA, conn, journal, limits, price_decimals=1, quantity_decimals=8)
    desk.add_leg(leg, kraken.order_template(leg, rest.ws_token()))
    if on_engine:
        Engine(conn.loop).add_desk(desk)
    session = KrakenSession(desk, rest, [leg])
    conn.open()
    assert session.run_until(lambda: 0 in session.ready, TIMEOUT), session.state
    desk.set_book(Decimal("52000.0"), Decimal("52000.1"))
    session.step()          # on an engine: the pass that applies the commands posted
    return Venue(desk, session, journal)
