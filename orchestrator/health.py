# SPDX-License-Identifier: MIT
"""Health: the engine's heartbeat, connection and peer states, answer latency,
reject and error rates, exported as Prometheus metrics on loopback.

The metrics are read from the engine's shared state and the desks' counters
each time they are scraped; nothing on the hot path does any of this. No label
or value ever holds a secret: venues are named by their configured names.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from orchestrator.engine import COUNTER_HELP
from orchestrator.errors import ListenError

HEARTBEAT_STALE_S = 1.0


class EngineCollector(Collector):
    """Prometheus view of one running daemon (orchestrator.daemon.Daemon)."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Any]:
        d = self.daemon
        state = d.engine.state()
        age = (time.monotonic_ns() - state["heartbeat_ns"]) / 1e9
        yield GaugeMetricFamily("stratum_heartbeat_age_seconds",
                                "time since the engine thread's last pass", value=age)
        yield GaugeMetricFamily("stratum_killed", "1 when the kill switch is set",
                                value=int(state["killed"]))
        for name, help_text in COUNTER_HELP.items():
            yield CounterMetricFamily(f"stratum_{name}", help_text, value=state[name])
        refused = CounterMetricFamily("stratum_risk_rejections",
                                      "orders our risk checks refused, by reason",
                                      labels=["venue", "reason"])
        for venue, desk in zip(d.config.venues, d.desks, strict=True):
            for reason, n in desk.rejections.items():
                refused.add_metric([venue.name, reason], n)
        yield refused
        conns = GaugeMetricFamily("stratum_connection_open", "1 when a venue connection is open",
                                  labels=["venue", "connection", "active"])
        for venue, desk in zip(d.config.venues, d.desks, strict=True):
            active = state["venues"][desk.index]["active"]
            for i, conn in enumerate(desk.conns):
                conns.add_metric([venue.name, str(i), str(int(i == active))],
                                 int(conn.state == "open"))
        yield conns
        yield from _book_metrics(d)
        peers = GaugeMetricFamily("stratum_peer_open", "1 when a Bitcoin peer is open",
                                  labels=["peer"])
        for peer in d.peers:
            peers.add_metric([peer.address], int(peer.state == "open"))
        yield peers
        latency = GaugeMetricFamily("stratum_latency_seconds",
                                    "per-stage latency quantiles from engine timestamps",
                                    labels=["stage", "quantile"])
        for stage, h in state["stages"].items():
            for q in (0.5, 0.99):
                latency.add_metric([stage, str(q)], h.percentile(q) / 1e9)
        yield latency
        yield CounterMetricFamily("stratum_errors", "errors the daemon reported",
                                  value=d.error_count)


def _book_metrics(d: Any) -> Iterator[Any]:
    """Each fed desk's book: how old (what max_price_age compares), updates, drops."""
    fed = [(venue.name, desk) for venue, desk in zip(d.config.venues, d.desks, strict=True)
           if desk.book_conn is not None]
    age = GaugeMetricFamily("stratum_book_age_seconds",
                            "time since the book stream last set the price (NaN: never)",
                            labels=["venue"])
    updates = CounterMetricFamily("stratum_book_updates", "book stream messages applied",
                                  labels=["venue"])
    dropped = CounterMetricFamily("stratum_book_dropped",
                                  "book stream messages dropped (malformed, partial, crossed)",
                                  labels=["venue"])
    for name, desk in fed:
        seconds = desk.book[2]
        stats = desk.stats
        age.add_metric([name], seconds if seconds is not None else float("nan"))
        updates.add_metric([name], stats["book_updates"])
        dropped.add_metric([name], stats["book_dropped"])
    yield from (age, updates, dropped)


class MetricsServer:
    """http://host:port/metrics (loopback only), bound at once so that a taken
    port is known before anything else starts; it exports nothing until
    `export` names the daemon to read."""

    def __init__(self, host: str, port: int) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        try:
            self.httpd, self.thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ListenError(f"metrics: {host}:{port} {_why(exc)}") from None

    def export(self, daemon: Any) -> None:
        self.registry.register(EngineCollector(daemon))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def port_taken(host: str, port: int) -> str | None:
    """Why host:port cannot be listened on now (None: it can), binding as the
    metrics server does (SO_REUSEADDR: a port in TIME_WAIT is not taken)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        return f"{host}:{port} {_why(exc)}"
    return None


def _why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "is taken (another process listens on it: another stratum? change [metrics] port)"
    return f"cannot be listened on ({exc.strerror or exc})"


def heartbeat_stale(state: dict[str, Any], now_ns: int | None = None) -> bool:
    now_ns = now_ns if now_ns is not None else time.monotonic_ns()
    return bool(state["running"]) and (now_ns - state["heartbeat_ns"]) / 1e9 > HEARTBEAT_STALE_S


def failover_target(states: Sequence[str], active: int, ready: set[int]) -> int | None:
    """The index to fail over to: the standby when the active one is not open
    and the standby is ready; None otherwise."""
    if len(states) < 2 or states[active] == "open":
        return None
    standby = 1 - active
    return standby if standby in ready else None
