# SPDX-License-Identifier: MIT
"""The configuration: a good file loads; each broken one fails with one line that
names the file, the key and the problem."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.errors import ConfigError
from orchestrator.mempool import PeerPolicy
from orchestrator.venues.registry import ADAPTERS
from tests.conftest import ROOT

GOOD = """
[engine]
paper = true
[secrets]
file = "secrets.toml"
[bitcoin]
strategy = "strategy.toml"
peers = ["127.0.0.1:18444"]
[[venues]]
name = "sim"
profile = "binance"
url = "wss://localhost:9443/ws-api/v3"
address = "127.0.0.1"
api_key = "key"
secret = "hmac"
on = ["deposit_a"]
[venues.risk]
max_quantity = "0.1"
max_notional = "10000"
[[venues.legs]]
symbol = "BTCUSDT"
side = "SELL"
quantity = "0.01"
"""


def write(tmp: Path, text: str = GOOD, secrets: str = 'key = "K"\nhmac = "S"\n',
          mode: int = 0o600) -> Path:
    shutil.copy(ROOT / "examples" / "strategy.toml", tmp / "strategy.toml")
    (tmp / "secrets.toml").write_text(secrets)
    os.chmod(tmp / "secrets.toml", mode)
    (tmp / "stratum.toml").write_text(text)
    return tmp / "stratum.toml"


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    [venue] = config.venues
    assert venue.profile == "binance" and venue.auth == "hmac" and venue.on == ("deposit_a",)
    assert venue.secret.reveal() == b"S" and "S" not in repr(config)
    assert config.bitcoin.peers == (("127.0.0.1", 18444),)
    assert config.bitcoin.policy == PeerPolicy()  # the defaults
    assert config.engine.state_dir == tmp_path / "state"
    assert config.engine.rehearse_every_us == 1000 and venue.ping_interval == 15.0
    assert config.engine.journal_records == 1 << 20


def test_rehearsal_and_ping_interval_are_read(tmp_path: Path) -> None:
    text = GOOD.replace("paper = true", "paper = true\nrehearse_every_us = 0\n"
                        "journal_records = 4096").replace(
        'on = ["deposit_a"]', 'on = ["deposit_a"]\nping_interval = 1.5')
    config = load_config(write(tmp_path, text))
    assert config.engine.rehearse_every_us == 0 and config.venues[0].ping_interval == 1.5
    assert config.engine.journal_records == 4096


def test_peer_settings_reach_the_peer_policy(tmp_path: Path) -> None:
    text = GOOD.replace('peers = ["127.0.0.1:18444"]', 'peers = ["127.0.0.1:18444"]\n'
                        'ping_interval = 5\nidle_timeout = 0\npark_time = 60\n'
                        'penalties = { malformed = 100 }')
    policy = load_config(write(tmp_path, text)).bitcoin.policy
    assert (policy.ping_interval, policy.idle_timeout, policy.park_time) == (5.0, 0.0, 60.0)
    assert (policy.penalty_malformed, policy.penalty_unresponsive) == (100, 20)


def test_url_defaults_to_the_profile(tmp_path: Path) -> None:
    text = GOOD.replace('url = "wss://localhost:9443/ws-api/v3"\n', "").replace(
        "paper = true", "paper = false")
    config = load_config(write(tmp_path, text))
    assert config.venues[0].url == "wss://ws-api.binance.com:443/ws-api/v3"


def test_the_example_is_valid_but_for_its_secrets(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "stratum.toml").read_text()
    text = text.replace('"/etc/stratum/secrets.toml"', '"secrets.toml"')
    config = load_config(write(tmp_path, text, 'binance_api_key = "k"\nbinance_secret = "s"\n'))
    assert config.venues[0].risk.max_open_orders == 8


def test_the_example_loads_with_its_secrets_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10 item 5: the secrets file it names (/etc/stratum/secrets.toml) need
    not exist when every secret is in the environment."""
    assert not Path("/etc/stratum/secrets.toml").exists()
    monkeypatch.setenv("STRATUM_SECRET_BINANCE_API_KEY", "k")
    monkeypatch.setenv("STRATUM_SECRET_BINANCE_SECRET", "s")
    config = load_config(ROOT / "examples" / "stratum.toml")
    assert config.venues[0].secret.reveal() == b"s"


def edit(old: str, new: str) -> Callable[[Path], Path]:
    return lambda tmp: write(tmp, GOOD.replace(old, new, 1))


BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing key": (edit('profile = "binance"\n', ""), r"venues\[0\]\.profile: missing"),
    "wrong type": (edit("paper = true", 'paper = "yes"'),
                   r"engine\.paper: must be bool, not str"),
    "missing secret file": (lambda tmp: write(tmp, GOOD.replace(
        '"secrets.toml"', '"nowhere.toml"')),
        r"venues\[0\]\.api_key: secret 'key' is neither in the secrets file "
        r"\(.*nowhere\.toml: does not exist\) nor in STRATUM_SECRET_KEY"),
    "group-readable secret file": (lambda tmp: write(tmp, mode=0o640),
                                   r"readable by group or others \(mode 0640\)"),
    "unknown venue": (edit('profile = "binance"', 'profile = "ftx"'),
                      r"venues\[0\]\.profile: 'ftx' is not one of binance, kraken"),
    "invalid bitcoin address": (lambda tmp: (write(tmp), (tmp / "strategy.toml").write_text(
        (ROOT / "examples" / "strategy.toml").read_text().replace(
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb")))[0],
        r"strategy\.toml: exchanges\[0\]\.addresses\[0\]"),
    "core that does not exist": (edit("[engine]", "[cpus]\nhot = 99\n[engine]"),
                                 r"cpus\.hot: CPU 99 does not exist here"),
    "unknown key": (edit("paper = true", "paper = true\ncolour = 1"),
                    r"engine\.colour: unknown key"),
    "secret not found": (edit('secret = "hmac"', 'secret = "nope"'),
                         r"venues\[0\]\.secret: secret 'nope' is neither"),
    "real venue in paper mode": (edit('address = "127.0.0.1"', 'address = "203.0.113.5"'),
                                 r"venues\[0\]\.url: engine\.paper is set, but 203\.0\.113\.5"),
    "action not in strategy": (edit('on = ["deposit_a"]', 'on = ["deposit_z"]'),
                               r"venues\[0\]\.on\[0\]: 'deposit_z' is not an action"),
    "quantity off the step": (edit('quantity = "0.01"', 'quantity = "0.000000001"'),
                              r"venues\[0\]\.legs\[0\]\.quantity: .* not a positive multiple"),
    "not TOML": (lambda tmp: write(tmp, "[engine\n"), r"stratum\.toml: not valid TOML"),
    "legs of two symbols": (edit('quantity = "0.01"\n', 'quantity = "0.01"\n[[venues.legs]]\n'
                                 'symbol = "ETHUSDT"\nside = "BUY"\nquantity = "1"\n'),
                            r"venues\[0\]\.legs: every leg of a venue trades one symbol"),
    "bad route": (lambda tmp: write(tmp, GOOD + '[network]\ninterface = "v0"\n'
                                    'routes = ["198.18.5.0/24 via nowhere"]\n'),
                  r"network\.routes\[0\]: '198\.18\.5\.0/24 via nowhere' is not"),
    "bucket above the venue's limit": (
        edit('max_notional = "10000"', 'max_notional = "10000"\norders_per_second = 10'),
        r"venues\[0\]\.risk: orders_per_second 10 with burst 4 lets 104 orders through in "
        r"10 s, above binance's documented 50"),
    "missing trust file": (edit('address = "127.0.0.1"', 'address = "127.0.0.1"\n'
                                'trust = "sim.pem"'),
                           r"venues\[0\]\.trust: trust anchors .*sim\.pem: No such file"),
    "trust file without a certificate": (
        edit('address = "127.0.0.1"', 'address = "127.0.0.1"\ntrust = "strategy.toml"'),
        r"venues\[0\]\.trust: trust anchors .*strategy\.toml: the trust file holds no "
        r"usable certificate"),
    "bad peer": (edit('"127.0.0.1:18444"', '"localhost:x"'),
                 r"bitcoin\.peers\[0\]: 'localhost:x' is not IP:PORT"),
    "negative ping timeout": (edit('peers = ["127.0.0.1:18444"]',
                                   'peers = ["127.0.0.1:18444"]\nping_timeout = -1'),
                              r"bitcoin\.ping_timeout: must be a positive number of seconds"),
    "another venue's option": (edit('address = "127.0.0.1"', 'address = "127.0.0.1"\n'
                                    'rest_url = "https://127.0.0.1:9/"'),
                               r"venues\[0\]\.rest_url: not a key of a binance venue"),
    "auth the venue does not take": (edit('profile = "binance"', 'profile = "binance"\n'
                                          'auth = "token"'),
                                     r"venues\[0\]\.auth: 'token' is not one of hmac, session"),
    "book feed not over wss": (
        edit('profile = "binance"', 'profile = "binance"\nbook_url = "https://localhost:9/x"'),
        r"venues\[0\]\.book_url: .https://localhost:9/x. is not a wss URL"),
    "rehearsal period out of range": (
        edit("paper = true", "paper = true\nrehearse_every_us = -5"),
        r"engine\.rehearse_every_us: -5 is not in 0\.\.1000000"),
    "journal too small": (
        edit("paper = true", "paper = true\njournal_records = 10"),
        r"engine\.journal_records: 10 is not in 1024\.\.4294967296"),
    "zero ping interval": (edit('on = ["deposit_a"]', 'on = ["deposit_a"]\nping_interval = 0'),
                           r"venues\[0\]\.ping_interval: must be positive, not 0"),
    "ping interval too long": (
        edit('on = ["deposit_a"]', 'on = ["deposit_a"]\nping_interval = 3600'),
        r"venues\[0\]\.ping_interval: 3600(\.0)? s is over 300\.0 s"),
    "unknown penalty": (edit('peers = ["127.0.0.1:18444"]',
                             'peers = ["127.0.0.1:18444"]\npenalties = { rude = 5 }'),
                        r"bitcoin\.penalties\.rude: unknown key"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_config_fails_with_one_line(tmp_path: Path, case: str) -> None:
    make, pattern = BROKEN[case]
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=pattern) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert "S\"" not in message and "= \"K\"" not in message   # never the secrets


def test_environment_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATUM_SECRET_HMAC", "from-env")
    config = load_config(write(tmp_path))
    assert config.venues[0].secret.reveal() == b"from-env"


# An OKX venue: its keys come with a passphrase, a third secret named like the others.
OKX = GOOD.replace('profile = "binance"', 'profile = "okx"\npassphrase = "phrase"').replace(
    'symbol = "BTCUSDT"', 'symbol = "BTC-USDT"')
OKX_SECRETS = 'key = "K"\nhmac = "S"\nphrase = "P"\n'


def test_okx_venue_reads_its_passphrase(tmp_path: Path) -> None:
    [venue] = load_config(write(tmp_path, OKX, OKX_SECRETS)).venues
    assert venue.profile == "okx" and venue.auth == "login"
    assert venue.passphrase is not None and venue.passphrase.reveal() == b"P"
    assert "P'" not in repr(venue) and "P\"" not in repr(venue)


@pytest.mark.parametrize(("old", "new", "says"), [
    ('passphrase = "phrase"\n', "", r"venues\[0\]\.passphrase: missing"),
    ('passphrase = "phrase"', 'passphrase = "nope"',
     r"venues\[0\]\.passphrase: secret 'nope' is neither"),
    ('passphrase = "phrase"', 'passphrase = "phrase"\nauth = "hmac"',
     r"venues\[0\]\.auth: 'hmac' is not one of login"),
    ('passphrase = "phrase"', 'passphrase = "phrase"\nresponse_type = "ACK"',
     r"venues\[0\]\.response_type: not a key of a okx venue"),
])
def test_broken_okx_venue_names_the_key(tmp_path: Path, old: str, new: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        load_config(write(tmp_path, OKX.replace(old, new, 1), OKX_SECRETS))
    assert "\n" not in str(info.value) and '"P"' not in str(info.value)


EXAMPLE_SECRETS = ('binance_api_key = "k"\nbinance_secret = "s"\n'
                   'kraken_api_key = "kk"\nkraken_secret = "a3M="\n'
                   'okx_api_key = "k"\nokx_secret = "s"\nokx_passphrase = "p"\n'
                   'bybit_api_key = "bk"\nbybit_secret = "bs"\n')


def example_with(*names: str) -> str:
    """The example config with its commented venues `names` uncommented."""
    text = (ROOT / "examples" / "stratum.toml").read_text()
    for name in names:
        start = text.index(f'# [[venues]]\n# name = "{name}"')
        end = text.index("\n\n", start)
        block = "\n".join(line.removeprefix("# ") for line in text[start:end].splitlines())
        text = text[:start] + block + text[end:]
    return text.replace('"/etc/stratum/secrets.toml"', '"secrets.toml"')


def test_the_example_shows_every_venue_and_they_load_together(tmp_path: Path) -> None:
    others = sorted(set(ADAPTERS) - {"binance"})
    config = load_config(write(tmp_path, example_with(*others), EXAMPLE_SECRETS))
    assert sorted(v.profile for v in config.venues) == sorted(ADAPTERS)
    assert all(v.book_url for v in config.venues)


def test_the_examples_okx_venue_is_valid(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, example_with("okx"), EXAMPLE_SECRETS))
    okx = config.venues[1]
    assert okx.profile == "okx" and okx.passphrase is not None and okx.legs[0].tick == \
        Decimal("0.1")


def test_the_example_bybit_venue_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, example_with("bybit"), EXAMPLE_SECRETS))
    [_, venue] = config.venues
    assert (venue.profile, venue.auth, venue.rest_url, venue.recv_window_ms) == (
        "bybit", "hmac", "https://api.bybit.com", 5000)
    assert venue.secret.reveal() == b"bs" and "bs" not in repr(venue)


@pytest.mark.parametrize(("old", "new", "pattern"), [
    ('recv_window_ms = 5000          #', 'recv_window_ms = 0 #',
     r"venues\[1\]\.recv_window_ms: 0 is not in 1\.\.60000"),
    ('rest_url = "https://api.bybit.com"', 'rest_url = "http://api.bybit.com"',
     r"venues\[1\]\.rest_url: 'http://api\.bybit\.com' is not a https URL"),
    ('auth = "hmac"                #', 'auth = "session"  #',
     r"venues\[1\]\.auth: 'session' is not one of hmac"),
    ('recv_window_ms = 5000          #', 'response_type = "ACK" #',
     r"venues\[1\]\.response_type: not a key of a bybit venue"),
    ('book_url = "wss://stream.bybit.com/v5/public/spot"', 'book_url = "ws://localhost:9/x"',
     r"venues\[1\]\.book_url"),
    ("orders_per_second = 4          # under Bybit", "orders_per_second = 20 # under Bybit",
     r"venues\[1\]\.risk: orders_per_second 20 with burst 4 lets 24 orders through in 1 s, "
     r"above bybit's documented 20"),
])
def test_bybit_venue_keys_are_checked(tmp_path: Path, old: str, new: str,
                                      pattern: str) -> None:
    text = example_with("bybit")
    assert old in text
    with pytest.raises(ConfigError, match=pattern):
        load_config(write(tmp_path, text.replace(old, new, 1), EXAMPLE_SECRETS))
