# SPDX-License-Identifier: MIT
"""The venue suite (tests/venue_suite.py) for each venue the engine knows."""

from __future__ import annotations

import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from orchestrator.config import load_config
from orchestrator.daemon import build_venue
from orchestrator.desk import RiskLimits
from orchestrator.hotline import Loop
from orchestrator.venues import Leg, Secret, binance
from orchestrator.venues.binance.adapter import ADAPTER as BINANCE
from orchestrator.venues.bybit.adapter import ADAPTER as BYBIT
from orchestrator.venues.kraken.adapter import ADAPTER as KRAKEN
from orchestrator.venues.okx.adapter import ADAPTER as OKX
from tests import simutil
from tests.conftest import ROOT
from tests.simutil import Sim
from tests.tlsutil import Pki
from tests.venue_suite import VenueSuite
from tests.venueutil import (
    HMAC,
    KRAKEN_LEG,
    LEG,
    LIMITS,
    OKX_LEG,
    SESSION,
    TIMEOUT,
    Venue,
    binance_venue,
    kraken_venue,
    okx_venue,
)


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


class TestKraken(VenueSuite):
    adapter = KRAKEN
    refused_credentials = r"EAPI:Invalid signature"
    has_timestamps = False    # Kraken orders carry no timestamp: nothing to resync
    # Tokens refused once their connection closed: a reconnect needs a fresh one.
    sim_args = ("--tokens-die-on-close",)
    unknown_outcome_args = ("--outcome-unknown-regex", "^st")
    rate_limit_args = ("--pair-counter-max", "2")
    retry_time = False        # "EOrder:Rate limit exceeded" says not until when
    book_path = "/v2"                            # subscribes to ticker (bbo) once open
    book_spec = "BTC/USD=51000.0:51000.1"

    def venue(self, sim: Sim, pki: Pki, tmp_path: Path, *, leg: Leg | None = None,
              limits: RiskLimits = LIMITS, wrong_secret: bool = False) -> Venue:
        secret = simutil.KRAKEN_SECRET if not wrong_secret else "AAAA" + simutil.KRAKEN_SECRET[4:]
        return kraken_venue(sim, pki.root_ca, tmp_path, leg=leg or KRAKEN_LEG, limits=limits,
                            secret=secret)

    def rejected_leg(self) -> Leg:
        return replace(KRAKEN_LEG, symbol="XXX/YYY")    # EQuery:Unknown asset pair

    def resting_leg(self) -> Leg:
        return replace(KRAKEN_LEG, time_in_force="GTC", offset_bps=-100)



class TestOkx(VenueSuite):
    adapter = OKX
    refused_credentials = r"okx login refused: okx 60007: invalid sign"
    unknown_outcome_args = ("--outcome-unknown-regex", "^st")
    rate_limit_args = ("--orders-per-10s", "2")
    retry_time = False             # OKX's answer does not say: the desk's default back-off
    book_path = "/ws/v5/public"    # subscribes to bbo-tbt once open
    book_spec = "BTC-USDT=51000.0:51000.1"

    def venue(self, sim: Sim, pki: Pki, tmp_path: Path, *, leg: Leg | None = None,
              limits: RiskLimits = LIMITS, wrong_secret: bool = False) -> Venue:
        return okx_venue(sim.ws_port, sim.rest_port, pki.root_ca, tmp_path / "okx.journal",
                         secret="0" * 32 if wrong_secret else simutil.OKX_SECRET,
                         leg=leg or OKX_LEG, limits=limits, wait_ready=not wrong_secret)

    def rejected_leg(self) -> Leg:
        return replace(OKX_LEG, symbol="XXX-YYY")      # 51001 Instrument ID does not exist

    def resting_leg(self) -> Leg:
        return replace(OKX_LEG, time_in_force="GTC", offset_bps=-100)
class TestBybit(VenueSuite):
    """Built as the daemon builds it: config file -> daemon.build_venue -> the adapter."""

    adapter = BYBIT
    refused_credentials = r"bybit auth refused: bybit 10004"
    unknown_outcome_args = ("--outcome-unknown-regex", "^st")
    rate_limit_args = ("--orders-per-10s", "2")
    book_path = "/v5/public/spot"  # subscribes to orderbook.1 once open
    book_spec = "BTCUSDT=51000.00:51000.10"

    def venue(self, sim: Sim, pki: Pki, tmp_path: Path, *, leg: Leg | None = None,
              limits: RiskLimits = LIMITS, wrong_secret: bool = False) -> Venue:
        leg = leg or LEG
        secret = simutil.BYBIT_SECRET if not wrong_secret else "not-the-secret"
        shutil.copy(ROOT / "examples" / "strategy.toml", tmp_path / "strategy.toml")
        (tmp_path / "secrets.toml").write_text(
            f'bybit_key = "{simutil.BYBIT_KEY}"\nbybit_secret = "{secret}"\n')
        (tmp_path / "secrets.toml").chmod(0o600)
        (tmp_path / "stratum.toml").write_text(f"""\
[engine]
paper = true
journal_records = 4096
[secrets]
file = "secrets.toml"
[bitcoin]
strategy = "strategy.toml"
peers = ["127.0.0.1:18444"]
[[venues]]
name = "bybit-sim"
profile = "bybit"
url = "wss://localhost:{sim.ws_port}/v5/trade"
address = "127.0.0.1"
standby = false
trust = "{pki.root_ca}"
rest_url = "https://localhost:{sim.rest_port}"
api_key = "bybit_key"
secret = "bybit_secret"
on = ["deposit_a"]
[venues.risk]
max_quantity = "{limits.max_quantity}"
max_notional = "{limits.max_notional}"
max_open_orders = {limits.max_open_orders}
[[venues.legs]]
symbol = "{leg.symbol}"
side = "{leg.side.name}"
quantity = "{leg.quantity}"
type = "{leg.order_type}"
time_in_force = "{leg.time_in_force}"
offset_bps = {leg.offset_bps}
""")
        config = load_config(tmp_path / "stratum.toml")
        config.engine.state_dir.mkdir(mode=0o700, exist_ok=True)   # the daemon's to make
        desk, session = build_venue(config, config.venues[0], Loop(), 0)
        desk.conns[0].open()
        if not wrong_secret:
            assert session.run_until(lambda: 0 in session.ready, TIMEOUT), session.state
        desk.set_book(Decimal("52000.00"), Decimal("52000.10"))
        return Venue(desk, session, desk.journal)

    def rejected_leg(self) -> Leg:
        return replace(LEG, symbol="XXXYYY")    # 170121 Invalid symbol

    def resting_leg(self) -> Leg:
        return replace(LEG, time_in_force="GTC", offset_bps=-100)
