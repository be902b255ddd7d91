# SPDX-License-Identifier: MIT
"""The engine's configuration: one TOML file, validated whole before anything starts.

Every error is one line that names the file, the key and what is wrong, e.g.
`stratum.toml: venues[0].risk.max_quantity: missing`. Secrets (API keys and
secrets) are not in this file: it names them, and they come from a separate
TOML file that must not be group- or other-readable, or from the environment
as STRATUM_SECRET_<NAME>. `examples/stratum.toml` is a commented example.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from orchestrator.desk import RiskLimits
from orchestrator.errors import ConfigError, NativeError
from orchestrator.hotline import LoopMode, Trust
from orchestrator.mempool import PeerPolicy
from orchestrator.strategy.loader import StrategySpec, load_strategy, read_toml
from orchestrator.venues import Leg, Profile, Secret, Side
from orchestrator.venues.registry import ADAPTERS

SHORT_WINDOW_S = 60   # the venue limits our bucket is checked against (not daily ones)
# The hot thread rehearses each desk's order this often between triggers, so that
# a trigger after idle finds the order path in cache (docs/ARCHITECTURE.md §0).
REHEARSE_EVERY_US = 1000
# A new journal is preallocated (128 B a record: 1 Mi records = 128 MiB), so that
# appending never waits on the filesystem; when it is full the desk refuses orders.
JOURNAL_RECORDS = 1 << 20
JOURNAL_RECORDS_MIN = 1024
PING_INTERVAL_S = 15.0       # WebSocket keepalive per venue connection
MAX_PING_INTERVAL_S = 300.0
LOOP_MODES = {m.label: m for m in LoopMode}
SIMULATOR_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
                  ipaddress.ip_network("198.18.0.0/15"))
_MISSING: Any = object()


@dataclass(frozen=True)
class EngineConfig:
    loop_mode: LoopMode
    state_dir: Path           # journals, nonce files
    run_dir: Path             # control socket, shared state
    paper: bool               # venues must be simulators on loopback / 198.18.0.0/15
    min_announcers: int
    ack_timeout: float
    rehearse_every_us: int    # the hot thread rehearses each order this often (0: never)
    journal_records: int      # capacity of a new journal, fixed when it is created


@dataclass(frozen=True)
class CpuConfig:
    hot: int | None           # None: derive (cpu.py)
    sqpoll: int | None
    orchestrator: int | None
    mlockall: bool
    sched_fifo: int           # 0: off, else the priority


@dataclass(frozen=True)
class BitcoinConfig:
    strategy: StrategySpec
    peers: tuple[tuple[str, int], ...]
    policy: PeerPolicy  # liveness and misbehaviour, for every peer


@dataclass(frozen=True)
class VenueConfig:
    name: str
    profile: str
    url: str
    address: str | None
    standby: bool
    trust: Path | None
    book_url: str | None
    auth: str                 # one of the venue adapter's auth_choices
    api_key: Secret
    secret: Secret
    rest_url: str | None      # the venue options (adapter.options) from here on
    response_type: str
    recv_window_ms: int
    client_prefix: str
    on: tuple[str, ...]       # strategy actions that fire this venue's legs
    cancel_on_stop: bool      # `stratum stop` cancels the venue's open orders
    ping_interval: float      # seconds between WebSocket pings on each connection
    risk: RiskLimits
    legs: tuple[Leg, ...]
    passphrase: Secret | None = None   # a third secret, for venues whose keys have one


@dataclass(frozen=True)
class MetricsConfig:
    host: str
    port: int


@dataclass(frozen=True)
class NetworkConfig:
    interface: str
    mtu: int | None
    addresses: tuple[str, ...]
    routes: tuple[str, ...]
    features: dict[str, bool]
    channels: int | None
    busy_poll_us: int | None


@dataclass(frozen=True)
class HaConfig:
    """Host failover (docs/HA.md): who holds the etcd lease is armed."""
    name: str
    endpoints: tuple[str, ...]
    key: str
    ttl: int
    renew_interval: float
    request_timeout: float
    margin: float
    peer_state_dir: Path | None


@dataclass(frozen=True)
class Config:
    path: Path
    engine: EngineConfig
    cpus: CpuConfig
    bitcoin: BitcoinConfig
    venues: tuple[VenueConfig, ...]
    metrics: MetricsConfig | None
    network: NetworkConfig | None
    ha: HaConfig | None = None

    def __repr__(self) -> str:
        return f"Config({self.path}, venues={[v.name for v in self.venues]})"


class Table:
    """One TOML table being read: every problem names the file and the key."""

    def __init__(self, source: str, key: str, data: Any, allowed: set[str],
                 required: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.source, self.key = source, key
        if not isinstance(data, dict):
            raise self.fail("", f"must be a table, not {type(data).__name__}")
        for extra in sorted(set(data) - allowed):
            raise self.fail(extra, "unknown key")
        for missing in sorted(required - set(data)):
            raise self.fail(missing, "missing")
        self.data: dict[str, Any] = data

    def name(self, key: str) -> str:
        return f"{self.key}.{key}" if self.key and key else self.key or key

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.name(key)}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is _MISSING:
                raise self.fail(key, "missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"must be {names}, not {type(value).__name__} ({value!r})")
        return value

    def text(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def integer(self, key: str, low: int, high: int, default: Any = _MISSING) -> Any:
        value = self.get(key, int, default)
        if isinstance(value, int) and not low <= value <= high:
            raise self.fail(key, f"{value} is not in {low}..{high}")
        return value

    def number(self, key: str, default: Any = _MISSING) -> float:
        value = self.get(key, (int, float), default)
        if value <= 0:
            raise self.fail(key, f"must be positive, not {value}")
        return float(value)

    def decimal(self, key: str, default: Any = _MISSING) -> Decimal:
        value = self.get(key, (str, int, float), default)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"{value!r} is not a number") from None
        if not number.is_finite() or number <= 0:
            raise self.fail(key, f"must be a positive number, not {value!r}")
        return number

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> str:
        value: str = self.text(key, default)
        if value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def texts(self, key: str, default: Any = _MISSING) -> tuple[str, ...]:
        value = self.get(key, list, default)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key}[{i}]", "must be a non-empty string")
        return tuple(value)

    def table(self, key: str, allowed: set[str], required: set[str] = frozenset(),  # type: ignore[assignment]
              default: Any = _MISSING) -> Table:
        return Table(self.source, self.name(key), self.get(key, dict, default), allowed, required)

    def tables(self, key: str, allowed: set[str], required: set[str]) -> list[Table]:
        items = self.get(key, list, [])
        return [Table(self.source, f"{self.name(key)}[{i}]", item, allowed, required)
                for i, item in enumerate(items)]

    def path(self, key: str, base: Path, default: Any = _MISSING) -> Any:
        value = self.text(key, default)
        return value if value is None else (base / value)


# -- secrets -------------------------------------------------------------------


def load_secrets(path: Path) -> dict[str, Secret]:
    """The secrets file: `name = "value"` lines, readable by its owner alone."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{path}: secrets file cannot be read: {exc.strerror}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: secrets file is readable by group or others "
                          f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it")
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: secrets file cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError:
        # No detail: the parser would quote the line, and the line holds a secret.
        raise ConfigError(f"{path}: secrets file is not valid TOML") from None
    secrets: dict[str, Secret] = {}
    for name, value in data.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}: {name}: a secret must be a non-empty string")
        secrets[name] = Secret(value)
    return secrets


def _secrets(path: Path | None) -> tuple[dict[str, Secret], str]:
    """The secrets file's secrets, and how an error names the file. A file that
    does not exist is no error as long as every secret is in the environment;
    one that exists must be sound (owner-only, valid) whatever the environment says."""
    if path is None:
        return {}, "no secrets file ([secrets] file)"
    if not os.path.lexists(path):
        return {}, f"the secrets file ({path}: does not exist)"
    return load_secrets(path), "the secrets file"


def secret(secrets: dict[str, Secret], name: str, where: str,
           source: str = "the secrets file") -> Secret:
    env = os.environ.get("STRATUM_SECRET_" + name.upper().replace("-", "_"))
    if env:
        return Secret(env)
    if name not in secrets:
        raise ConfigError(f"{where}: secret {name!r} is neither in {source} nor in "
                          f"STRATUM_SECRET_{name.upper().replace('-', '_')}")
    return secrets[name]


# -- sections ------------------------------------------------------------------


def _cpu(t: Table, key: str, cpus: set[int]) -> int | None:
    value = t.get(key, (int, str), "auto")
    if value == "auto":
        return None
    if isinstance(value, str) or value not in cpus:
        raise t.fail(key, f"CPU {value!r} does not exist here (usable: "
                          f"{', '.join(map(str, sorted(cpus)))}; or \"auto\")")
    return int(value)


def _engine(t: Table, base: Path) -> EngineConfig:
    mode = t.choice("loop_mode", tuple(LOOP_MODES), "interrupt")
    return EngineConfig(
        loop_mode=LOOP_MODES[mode],
        state_dir=t.path("state_dir", base, "state"),
        run_dir=t.path("run_dir", base, "run"),
        paper=t.get("paper", bool, False),
        min_announcers=t.integer("min_announcers", 1, 16, 1),
        ack_timeout=t.number("ack_timeout", 5.0),
        rehearse_every_us=t.integer("rehearse_every_us", 0, 1_000_000, REHEARSE_EVERY_US),
        journal_records=t.integer("journal_records", JOURNAL_RECORDS_MIN, 1 << 32,
                                  JOURNAL_RECORDS),
    )


def _cpus(t: Table) -> CpuConfig:
    usable = os.sched_getaffinity(0)
    return CpuConfig(_cpu(t, "hot", usable), _cpu(t, "sqpoll", usable),
                     _cpu(t, "orchestrator", usable), t.get("mlockall", bool, True),
                     t.integer("sched_fifo", 0, 99, 0))


def _peer(t: Table, i: int, text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        raise t.fail(f"peers[{i}]", f"{text!r} is not IP:PORT") from None
    if not 0 < number < 65536:
        raise t.fail(f"peers[{i}]", f"port {number} is not in 1..65535")
    return host.strip("[]"), number


PEER_TIMERS = ("ping_interval", "ping_timeout", "idle_timeout", "good_after", "park_time",
               "park_max")
PENALTIES = ("malformed", "unresponsive", "idle", "network")
BITCOIN_KEYS = {"strategy", "peers", "park_score", "penalties", *PEER_TIMERS}


def _peer_policy(t: Table) -> PeerPolicy:
    default = PeerPolicy()
    seconds: dict[str, Any] = {}
    for key in PEER_TIMERS:
        value = t.get(key, (int, float), getattr(default, key))
        if value < 0 or (value == 0 and key not in ("ping_interval", "idle_timeout")):
            off = "0 (off) or " if key in ("ping_interval", "idle_timeout") else ""
            raise t.fail(key, f"must be {off}a positive number of seconds, not {value}")
        if value > 4_000_000:  # kept in milliseconds, 32 bits, natively
            raise t.fail(key, f"{value} is over 4000000 seconds")
        seconds[key] = float(value)
    if seconds["park_max"] < seconds["park_time"]:
        raise t.fail("park_max", f"{seconds['park_max']} is shorter than park_time")
    penalties = t.table("penalties", set(PENALTIES), default={})
    return PeerPolicy(
        **seconds, park_score=t.integer("park_score", 0, 1_000_000, default.park_score),
        **{f"penalty_{k}": penalties.integer(k, 0, 1_000_000, getattr(default, f"penalty_{k}"))
           for k in PENALTIES})


def _bitcoin(t: Table, base: Path) -> BitcoinConfig:
    strategy = load_strategy(t.path("strategy", base))
    peers = tuple(_peer(t, i, p) for i, p in enumerate(t.texts("peers")))
    if not peers:
        raise t.fail("peers", "lists no peer")
    return BitcoinConfig(strategy, peers, _peer_policy(t))


LEG_KEYS = {"symbol", "side", "quantity", "type", "time_in_force", "offset_bps", "tick",
            "price_decimals", "quantity_decimals"}


def _leg(t: Table) -> Leg:
    leg = Leg(
        symbol=t.text("symbol"), side=Side[t.choice("side", ("BUY", "SELL"))],
        quantity=t.decimal("quantity"),
        order_type=t.choice("type", ("LIMIT", "LIMIT_MAKER", "MARKET"), "LIMIT"),
        time_in_force=t.choice("time_in_force", ("GTC", "IOC", "FOK"), "IOC"),
        offset_bps=t.integer("offset_bps", -9999, 9999, 10), tick=t.decimal("tick", "0.01"),
        price_decimals=t.integer("price_decimals", 0, 18, 2),
        quantity_decimals=t.integer("quantity_decimals", 0, 18, 8),
    )
    try:
        leg.fixed(leg.quantity, leg.quantity_decimals, "quantity")
        leg.fixed(leg.tick, leg.price_decimals, "tick")
    except ConfigError as exc:
        raise t.fail("quantity", str(exc)) from None
    return leg


def _risk(t: Table) -> RiskLimits:
    return RiskLimits(
        max_quantity=t.decimal("max_quantity"), max_notional=t.decimal("max_notional"),
        max_open_orders=t.integer("max_open_orders", 1, 1024, 16),
        orders_per_second=t.number("orders_per_second", 4.0), burst=t.integer("burst", 1, 1000, 4),
        max_price_age=t.number("max_price_age", 2.0))


def _check_bucket(t: Table, risk: RiskLimits, profile: Profile) -> None:
    """Our token bucket must hold orders back before the venue does: at most
    burst + rate x window orders in any of the venue's short windows."""
    for limit in profile.order_limits:
        if limit.seconds > SHORT_WINDOW_S:
            continue
        most = risk.burst + risk.orders_per_second * limit.seconds
        if most > limit.count:
            raise t.fail("risk", f"orders_per_second {risk.orders_per_second:g} with burst "
                                 f"{risk.burst} lets {most:g} orders through in "
                                 f"{limit.seconds:g} s, above {profile.name}'s documented "
                                 f"{limit.count} ({limit.name})")


def _url(t: Table, key: str, schemes: tuple[str, ...], default: Any = _MISSING) -> Any:
    url = t.text(key, default)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise t.fail(key, f"{url!r} is not a {' or '.join(schemes)} URL with a host")
    return url


def _trust(t: Table, base: Path) -> Path | None:
    """The trust anchors file, loaded as the daemon will load it: a file that is
    missing or holds no certificate fails here, not at start."""
    path: Path | None = t.path("trust", base, None)
    if path is None:
        return None
    try:
        Trust(str(path))
    except NativeError as exc:
        raise t.fail("trust", str(exc)) from None
    return path


def _is_simulator(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return any(address in net for net in SIMULATOR_NETS)


# Keys every venue takes; each adapter adds its options (and book_url when its
# profile has a book stream).
COMMON_VENUE_KEYS = {"name", "profile", "url", "address", "standby", "trust", "auth",
                     "api_key", "secret", "client_prefix", "on", "risk", "legs",
                     "cancel_on_stop", "ping_interval"}
VENUE_KEYS = COMMON_VENUE_KEYS | {"book_url"} | {
    key for adapter in ADAPTERS.values() for key in adapter.options}


def _venue(t: Table, base: Path, secrets: dict[str, Secret], source: str,
           engine: EngineConfig, actions: dict[str, int]) -> VenueConfig:
    profile = t.choice("profile", tuple(ADAPTERS))
    adapter = ADAPTERS[profile]
    allowed = COMMON_VENUE_KEYS | adapter.options | (
        {"book_url"} if adapter.profile.book else set())
    for key in sorted(set(t.data) - allowed):
        raise t.fail(key, f"not a key of a {profile} venue")
    auth_choices = adapter.auth_choices
    url = _url(t, "url", ("wss",), adapter.profile.ws_url)
    address = t.text("address", None)
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise t.fail("address", f"{address!r} is not an IP address") from None
    host = address or urlsplit(url).hostname or ""
    if engine.paper and not _is_simulator(host):
        raise t.fail("url", f"engine.paper is set, but {host} is not a simulator on loopback "
                            "or 198.18.0.0/15")
    on = t.texts("on")
    for i, action in enumerate(on):
        if action not in actions:
            raise t.fail(f"on[{i}]", f"{action!r} is not an action of the strategy "
                                     f"({', '.join(actions) or 'none'})")
    risk = _risk(t.table("risk", {"max_quantity", "max_notional", "max_open_orders",
                                  "orders_per_second", "burst", "max_price_age"},
                         {"max_quantity", "max_notional"}))
    _check_bucket(t, risk, adapter.profile)
    legs = tuple(_leg(leg) for leg in t.tables("legs", LEG_KEYS, {"symbol", "side", "quantity"}))
    if not legs:
        raise t.fail("legs", "no order legs ([[venues.legs]])")
    if len({(leg.symbol, leg.price_decimals, leg.quantity_decimals) for leg in legs}) > 1:
        raise t.fail("legs", "every leg of a venue trades one symbol with the same decimals "
                             "(a venue prices its legs from one book)")
    where = f"{t.source}: {t.key}"
    return VenueConfig(
        name=t.text("name"), profile=profile, url=url, address=address,
        standby=t.get("standby", bool, True), trust=_trust(t, base),
        book_url=_url(t, "book_url", ("wss",), None),
        auth=t.choice("auth", auth_choices, auth_choices[0]),
        api_key=secret(secrets, t.text("api_key"), f"{where}.api_key", source),
        secret=secret(secrets, t.text("secret"), f"{where}.secret", source),
        rest_url=_url(t, "rest_url", ("https",), None),
        response_type=t.choice("response_type", ("ACK", "RESULT", "FULL"), "ACK"),
        recv_window_ms=t.integer("recv_window_ms", 1, 60000, 5000),
        client_prefix=t.get("client_prefix", str, "st"), on=on,
        cancel_on_stop=t.get("cancel_on_stop", bool, False),
        ping_interval=_ping_interval(t), risk=risk, legs=legs,
        passphrase=(secret(secrets, t.text("passphrase"), f"{where}.passphrase", source)
                    if "passphrase" in adapter.options else None),
    )


def _ping_interval(t: Table) -> float:
    value = t.number("ping_interval", PING_INTERVAL_S)
    if value > MAX_PING_INTERVAL_S:   # the venues drop a connection silent for minutes
        raise t.fail("ping_interval", f"{value} s is over {MAX_PING_INTERVAL_S} s")
    return value


def _metrics(t: Table) -> MetricsConfig:
    host = t.text("host", "127.0.0.1")
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise t.fail("host", f"{host!r}: metrics are served on loopback only")
    return MetricsConfig(host, t.integer("port", 1, 65535, 9464))


def _check_routes(t: Table, routes: tuple[str, ...]) -> None:
    for i, route in enumerate(routes):
        dst, _, gateway = route.partition(" via ")
        try:
            ipaddress.ip_network(dst, strict=False)
            if gateway:
                ipaddress.ip_address(gateway)
        except ValueError:
            raise t.fail(f"routes[{i}]", f"{route!r} is not \"NET/LEN\" or "
                                         "\"NET/LEN via GATEWAY\"") from None


def _check_addresses(t: Table, addresses: tuple[str, ...]) -> None:
    for i, address in enumerate(addresses):
        try:
            ipaddress.ip_interface(address)
        except ValueError:
            raise t.fail(f"addresses[{i}]", f"{address!r} is not ADDRESS/LEN") from None


def _network(t: Table) -> NetworkConfig:
    features = t.get("features", dict, {})
    for name, value in features.items():
        if not isinstance(value, bool):
            raise t.fail(f"features.{name}", "must be true or false")
    addresses, routes = t.texts("addresses", []), t.texts("routes", [])
    _check_addresses(t, addresses)
    _check_routes(t, routes)
    return NetworkConfig(
        interface=t.text("interface"), mtu=t.integer("mtu", 68, 65535, None),
        addresses=addresses, routes=routes, features=features,
        channels=t.integer("channels", 1, 1024, None),
        busy_poll_us=t.integer("busy_poll_us", 0, 1_000_000, None))


# -- [ha]: host failover (docs/HA.md §3, §4.1) ---------------------------------

HA_KEYS = {"name", "endpoints", "key", "ttl", "renew_interval", "request_timeout", "margin",
           "peer_state_dir"}
HA_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
ETCD_MIN_TTL = 2      # etcd raises a shorter lease TTL to this (measured, docs/HA.md §1)


def _ha_endpoint(t: Table, i: int, url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port or \
            parts.path not in ("", "/"):
        raise t.fail(f"endpoints[{i}]", f"{url!r}: expected http://HOST:PORT")
    return url.rstrip("/")


def _ha(t: Table, base: Path) -> HaConfig:
    name = t.text("name")
    if not HA_NAME.fullmatch(name):
        raise t.fail("name", f"{name!r}: 1 to 32 of A-Z a-z 0-9 _ . -")
    urls = t.texts("endpoints")
    if not urls:
        raise t.fail("endpoints", "empty list: name the etcd members")
    endpoints = tuple(_ha_endpoint(t, i, url) for i, url in enumerate(urls))
    key = t.text("key", "/stratum/leader")
    if not key.startswith("/") or key.endswith("/"):
        raise t.fail("key", f"{key!r}: must start with '/' and not end with it")
    ttl = t.integer("ttl", ETCD_MIN_TTL, 3600, 3)
    renew, timeout = t.number("renew_interval", 0.5), t.number("request_timeout", 0.5)
    margin = t.number("margin", 0.5)
    if margin >= ttl:
        raise t.fail("margin", f"{margin:g} must be below ttl {ttl}")
    # Liveness (docs/HA.md §3): one lost renewal is retried before the deadline.
    if renew + 2 * timeout > ttl - margin:
        raise t.fail("renew_interval", f"renew_interval + 2 x request_timeout "
                                       f"({renew + 2 * timeout:g}) must be at most "
                                       f"ttl - margin ({ttl - margin:g})")
    return HaConfig(name, endpoints, key, ttl, renew, timeout, margin,
                    t.path("peer_state_dir", base, None))


ENGINE_KEYS = {"loop_mode", "state_dir", "run_dir", "paper", "min_announcers", "ack_timeout",
               "rehearse_every_us", "journal_records"}


def parse_config(data: dict[str, Any], path: Path) -> Config:
    base = path.parent
    top = Table(str(path), "", data, {"engine", "cpus", "secrets", "bitcoin", "venues",
                                      "metrics", "network", "ha"}, {"bitcoin", "venues"})
    engine = _engine(top.table("engine", ENGINE_KEYS, default={}), base)
    cpus = _cpus(top.table("cpus", {"hot", "sqpoll", "orchestrator", "mlockall", "sched_fifo"},
                           default={}))
    secrets_table = top.table("secrets", {"file"}, default={})
    secrets_file = secrets_table.path("file", base, None)
    secrets, source = _secrets(secrets_file)
    bitcoin = _bitcoin(top.table("bitcoin", BITCOIN_KEYS, {"strategy", "peers"}), base)
    venues = tuple(_venue(v, base, secrets, source, engine, bitcoin.strategy.actions)
                   for v in top.tables("venues", VENUE_KEYS,
                                       {"name", "profile", "api_key", "secret", "on",
                                        "risk", "legs"}))
    if not venues:
        raise top.fail("venues", "no venue ([[venues]])")
    names = [v.name for v in venues]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise top.fail(f"venues[{i}].name", f"{name!r} is used twice")
    metrics = top.table("metrics", {"host", "port"}, default=None) if "metrics" in data else None
    network = top.table("network", {"interface", "mtu", "addresses", "routes", "features",
                                    "channels", "busy_poll_us"}, {"interface"}) \
        if "network" in data else None
    ha = _ha(top.table("ha", HA_KEYS, {"name", "endpoints"}), base) if "ha" in data else None
    return Config(path, engine, cpus, bitcoin, venues,
                  _metrics(metrics) if metrics else None,
                  _network(network) if network else None, ha)


def load_run_dir(path: str | Path) -> Path:
    """Where the daemon of this configuration has its control socket: [engine]
    alone is read, so that talking to a running daemon needs no secrets."""
    path = Path(path)
    data = read_toml(path)
    top = Table(str(path), "", data, set(data))
    return _engine(top.table("engine", ENGINE_KEYS, default={}), path.parent).run_dir


def load_config(path: str | Path) -> Config:
    """Reads and validates the configuration; ConfigError names what is wrong."""
    path = Path(path)
    return parse_config(read_toml(path), path)
