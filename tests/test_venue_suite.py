# SPDX-License-Identifier: MIT
"""The venue suite (tests/venue_suite.py) for each venue the engine knows."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from orchestrator.desk import Desk, RiskLimits
from orchestrator.hotline import Connection, Loop, Trust
from orchestrator.journal import Journal
from orchestrator.venues import Leg, Secret, Side, binance, kraken
from orchestrator.venues.binance.adapter import ADAPTER as BINANCE
from orchestrator.venues.kraken.adapter import ADAPTER as KRAKEN
from orchestrator.venues.kraken.session import KrakenSession
from tests import simutil
from tests.simutil import Sim
from tests.tlsutil import Pki, client_context
from tests.venue_suite import VenueSuite
from tests.venueutil import HMAC, LEG, LIMITS, SESSION, TIMEOUT, Venue, binance_venue


class BinanceSuite(VenueSuite):
    adapter = BINANCE
    credentials: binance.Credentials
    unknown_outcome_args = ("--outcome-unknown-regex", "^st")
    rate_limit_args = ("--orders-per-10s", "2")
    book_path = "/ws/btcusdt@bookTicker"
    book_spec = "BTCUSDT=51000.00:51000.10"

    def venue(self, sim: Sim, pki: Pki, tmp_path: Path, *, leg: Leg | None = None,
              limits: RiskLimits = LIMITS, wrong_secret: bool = False) -> Venue:
        credentials = self.wrong() if wrong_secret else self.credentials
        return binance_venue(sim.ws_port, pki.root_ca, tmp_path / "binance.journal",
                             credentials, limits=limits, leg=leg or LEG,
                             wait_ready=not wrong_secret)

    def wrong(self) -> binance.Credentials:
        raise NotImplementedError

    def rejected_leg(self) -> Leg:
        return replace(LEG, order_type="LIMIT_MAKER")   # would take liquidity: -2010

    def resting_leg(self) -> Leg:
        return replace(LEG, time_in_force="GTC", offset_bps=-100)   # 1% under the ask


class TestBinanceHmac(BinanceSuite):
    credentials = HMAC
    refused_credentials = r"-1022: signature not valid"

    def wrong(self) -> binance.Credentials:
        return replace(HMAC, hmac_secret=Secret("not-the-secret"))


class TestBinanceSession(BinanceSuite):
    credentials = SESSION
    refused_credentials = r"session\.logon refused"

    def wrong(self) -> binance.Credentials:
        pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                         NoEncryption())
        return replace(SESSION, ed25519_pem=Secret(pem))


KRAKEN_LEG = Leg("BTC/USD", Side.BUY, Decimal("0.01"), tick=Decimal("0.1"), price_decimals=1)


class TestKraken(VenueSuite):
    adapter = KRAKEN
    refused_credentials = r"EAPI:Invalid signature"
    has_timestamps = False
    book_path = "/v2"                            # subscribes to ticker (bbo) once open
    book_spec = "BTC/USD=51000.0:51000.1"

    def venue(self, sim: Sim, pki: Pki, tmp_path: Path, *, leg: Leg | None = None,
              limits: RiskLimits = LIMITS, wrong_secret: bool = False) -> Venue:
        secret = simutil.KRAKEN_SECRET if not wrong_secret else "AAAA" + simutil.KRAKEN_SECRET[4:]
        credentials = kraken.Credentials(simutil.KRAKEN_KEY, Secret(secret))
        token = kraken.get_ws_token(credentials, kraken.NonceSource(tmp_path / "nonce"),
                                    rest_url=f"https://localhost:{sim.rest_port}",
                                    context=client_context(pki.root_ca))
        conn = Connection(Loop(), f"wss://localhost:{sim.ws_port}/v2", Trust(str(pki.root_ca)),
                          address="127.0.0.1")
        journal = Journal(tmp_path / "kraken.journal")
        desk = Desk(kraken.SCHEMA, conn, journal, limits, price_decimals=1, quantity_decimals=8)
        desk.add_leg(leg or KRAKEN_LEG, kraken.order_template(leg or KRAKEN_LEG, token))
        session = KrakenSession(desk)
        conn.open()
        assert session.run_until(lambda: 0 in session.ready, TIMEOUT)
        desk.set_book(Decimal("52000.0"), Decimal("52000.1"))
        return Venue(desk, session, journal)

    def rejected_leg(self) -> Leg:
        return replace(KRAKEN_LEG, symbol="XXX/YYY")    # EQuery:Unknown asset pair

    def resting_leg(self) -> Leg:
        return replace(KRAKEN_LEG, time_in_force="GTC", offset_bps=-100)
