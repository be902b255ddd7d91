# SPDX-License-Identifier: MIT
"""`stratum demo` (what `make demo` runs): the whole product on one machine.

It starts the exchange simulator (`orchestrator.sim.exchange`: the venue's
WebSocket API subset over TLS, with a moving book; any venue of the registry,
`DEMO_VENUE` unless told, `orchestrator.paper`) and two Bitcoin peer
simulators (`orchestrator.sim.btc_peer`) replaying the shipped mainnet block
with whale and exchange deposits mixed in, then runs the daemon (`stratum run`) in
paper mode against them, shows progress, and ends with a summary (triggers,
orders, acks, rejects, tick-to-trade percentiles from the engine's own
timestamps) and a latency histogram PNG. Everything is on 127.0.0.1 and lives
in one work directory; nothing is sent anywhere else.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from orchestrator.children import dies_with_parent
from orchestrator.control import ControlError, request
from orchestrator.engine import Histogram, read_shared
from orchestrator.paper import PaperAccount, toml_lines, write_account_files
from orchestrator.sim import mainnet_block, self_signed_localhost
from orchestrator.venues.adapter import PaperVenue
from orchestrator.venues.registry import DEMO_VENUE

BLOCK_TXS = 3314
COIN = 100_000_000
# Exchange wallets for the demo's strategy (illustrative addresses).
WALLET_A = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
WALLET_B = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
DEPOSITS = [(WALLET_A, 50), (WALLET_B, 12), (WALLET_A, 30), (WALLET_B, 25), (WALLET_A, 80),
            (WALLET_B, 15), (WALLET_A, 11), (WALLET_B, 40), (WALLET_A, 1), (WALLET_B, 2)]
THRESHOLD_BTC = 10
LEGS_PER_TRIGGER = 2
RATE_TX_PER_S = 1000


def free_port() -> int:
    """A loopback port to listen on later, chosen below the kernel's ephemeral range:
    a peer that keeps connecting to it before it listens must not be handed the
    very same port as its own source port (or anyone else's outgoing one)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(100):
        port = random.randrange(max(1024, low - 10000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (see {path.parent})")
        time.sleep(0.05)
    return path.read_text()


@contextmanager
def spawn(args: list[str], log: Path, native: bool = False
             ) -> Iterator[subprocess.Popen[bytes]]:
    """A child process; only one that loads our native module (native=True) keeps
    LD_PRELOAD (the sanitizer runtime of a SANITIZE=1 build)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if native and os.environ.get("LD_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["LD_PRELOAD"]
    with log.open("ab") as out:
        proc = subprocess.Popen(dies_with_parent(args), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def demo_strategy() -> str:
    return f"""network = "mainnet"
[whale]
threshold_btc = 1000000
action = "whale"
[[exchanges]]
name = "exchange-a"
deposit_threshold_btc = {THRESHOLD_BTC}
action = "deposit_a"
addresses = ["{WALLET_A}"]
[[exchanges]]
name = "exchange-b"
deposit_threshold_btc = {THRESHOLD_BTC}
action = "deposit_b"
addresses = ["{WALLET_B}"]
"""


def paper_config(venue: PaperVenue, peers: list[int], cert: Path,
                 metrics_port: int | None = None, resting: bool = False,
                 min_announcers: int = 1) -> str:
    """The daemon's configuration; `resting` legs rest on the book (GTC, 1 % behind
    it) and are cancelled at stop, instead of IOC legs that trade at once."""
    metrics = f"[metrics]\nport = {metrics_port}\n" if metrics_port else ""
    tif, offsets = ("GTC", (-100, -150)) if resting else ("IOC", (10, 20))
    legs = "".join(f"""[[venues.legs]]
{toml_lines(venue.leg)}side = "SELL"
quantity = "{quantity}"
time_in_force = "{tif}"
offset_bps = {offset}
""" for quantity, offset in zip(("0.01", "0.02"), offsets, strict=True))
    return metrics + f"""[engine]
paper = true
min_announcers = {min_announcers}
loop_mode = "interrupt"
state_dir = "state"
run_dir = "run"
journal_records = 16384        # 2 MiB a desk: enough for a demo
[secrets]
file = "secrets.toml"
[bitcoin]
strategy = "strategy.toml"
peers = [{", ".join(f'"127.0.0.1:{p}"' for p in peers)}]
[[venues]]
name = "sim-{venue.keys["profile"]}"
{toml_lines(venue.keys)}address = "127.0.0.1"
standby = true
trust = "{cert}"
cancel_on_stop = {str(resting).lower()}
on = ["deposit_a", "deposit_b"]
[venues.risk]
max_quantity = "0.05"
max_notional = "5000"
max_open_orders = 16               # IOC orders count until answered: room for slow acks
{toml_lines(venue.pace)}max_price_age = 2.0
{legs}"""


def histogram_figure(stages: dict[str, Histogram]) -> Any:
    """Tick to trade and trigger to answer: counts per bucket (whole numbers on
    the axis), with each stage's p50 and p99 marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from orchestrator._native import lib

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in ("trigger_to_send", "trigger_to_ack"):
        h = stages[name]
        xs = [lib.st_histogram_bucket_low(i) / 1000 for i, n in enumerate(h.buckets) if n]
        ys = [n for n in h.buckets if n]
        bars = ax.bar(xs, ys, width=[x * 0.1 for x in xs], alpha=0.7,
                      label=f"{name} (n={h.count})")
        colour = bars.patches[0].get_facecolor() if bars.patches else None
        for q, style in ((0.5, "--"), (0.99, ":")):
            at = h.percentile(q) / 1000
            if h.count:
                ax.axvline(at, color=colour, linestyle=style, alpha=1.0,
                           label=f"{name} p{round(q * 100)} {at:.1f} µs")
    ax.set_xscale("log")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("µs (engine timestamps; bucket lower bounds)")
    ax.set_ylabel("orders / triggers")
    ax.set_title("stratum demo: tick to trade, against simulators on loopback")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def histogram_png(path: Path, stages: dict[str, Histogram]) -> None:
    import matplotlib.pyplot as plt

    fig = histogram_figure(stages)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _status(sock: Path) -> dict[str, Any]:
    try:
        return request(sock, "status", timeout=5)
    except ControlError:
        return {}


class World:
    """The demo's moving parts in one work directory, each started on request
    (tests use them one by one). Processes end when `stack` closes."""

    def __init__(self, work: Path, stack: ExitStack, metrics_port: int | None = None,
                 resting: bool = False, min_announcers: int = 1,
                 venue: str = DEMO_VENUE) -> None:
        self.work, self.stack = work, stack
        work.mkdir(parents=True, exist_ok=True)
        self.block = mainnet_block()
        self.cert, self.key = self_signed_localhost(work)
        # Both hold the secrets: the simulator's accounts and our secrets file.
        self.account = PaperAccount.new(venue)
        write_account_files(work, self.account)
        (work / "strategy.toml").write_text(demo_strategy())
        self.peer_ports = [free_port(), free_port()]
        self.sim: dict[str, int] = {}
        self.sock = work / "run" / "control.sock"
        self.config = work / "stratum.toml"
        self.metrics_port = metrics_port
        self.resting = resting
        self.min_announcers = min_announcers

    def start_exchange(self, *args: str) -> subprocess.Popen[bytes]:
        """The exchange simulator (`args`: more of its options), and the daemon's
        configuration for it."""
        proc = self.stack.enter_context(spawn(
            [sys.executable, "-m", "orchestrator.sim.exchange", "--cert", str(self.cert),
             "--key", str(self.key), "--accounts", str(self.work / "accounts.json"),
             "--record-dir", str(self.work / "exchange"), "--ready-file",
             str(self.work / "exchange.ready"), *args], self.work / "exchange_sim.log",
            native=True))       # importing orchestrator.sim loads the native module
        self.sim = json.loads(wait_file(self.work / "exchange.ready", proc, "exchange_sim"))
        venue = self.account.venue("localhost", self.sim)
        self.config.write_text(paper_config(venue, self.peer_ports, self.cert,
                                            self.metrics_port, self.resting,
                                            self.min_announcers))
        return proc

    def start_daemon(self) -> subprocess.Popen[bytes]:
        """`stratum run` in the background; returns once its venue is logged on."""
        daemon = self.stack.enter_context(spawn(
            [sys.executable, "-m", "orchestrator", "run", "--config", str(self.config)],
            self.work / "stratum.log", native=True))
        deadline = time.monotonic() + 30
        while not all(v["ready"] for v in self.status().get("venues", [{"ready": []}])):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the daemon did not get ready (see {self.work}/stratum.log)")
            time.sleep(0.1)
        return daemon

    def start_peers(self, deposits: list[tuple[str, int]] = DEPOSITS) -> None:
        args = [a for addr, btc in deposits for a in ("--deposit", f"{addr}:{btc * COIN}")]
        for i, port in enumerate(self.peer_ports):
            self.stack.enter_context(spawn(
                [sys.executable, "-m", "orchestrator.sim.btc_peer", "--block",
                 str(self.block), "--port", str(port), "--rate", str(RATE_TX_PER_S), *args,
                 *(["--wtxid"] if i else [])], self.work / f"peer{i}.log", native=True))

    def status(self) -> dict[str, Any]:
        return _status(self.sock)


def run_demo(work: Path, venue: str = DEMO_VENUE, timeout: float = 90.0,
             metrics_port: int | None = None) -> int:
    """Runs the demo in `work`; returns 0 when every deposit traded as prescribed."""
    expected_triggers = sum(btc >= THRESHOLD_BTC for _, btc in DEPOSITS)
    expected_orders = expected_triggers * LEGS_PER_TRIGGER
    with ExitStack() as stack:
        print(f"demo: work directory {work}")
        world = World(work, stack, metrics_port, venue=venue)
        world.start_exchange()
        print(f"demo: exchange_sim on 127.0.0.1:{world.sim['ws_port']} "
              f"(its {venue} WebSocket API subset, TLS)")
        daemon = world.start_daemon()
        print("demo: daemon running in paper mode, venue logged on (clock synced, standby open)")
        world.start_peers()
        print(f"demo: two Bitcoin peers replaying {BLOCK_TXS} mainnet transactions at "
              f"{RATE_TX_PER_S}/s with {len(DEPOSITS)} deposits mixed in "
              f"({expected_triggers} over the {THRESHOLD_BTC} BTC threshold)")
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = world.status() or status
            txs = status.get("mempool", {}).get("txs", 0)
            print(f"  txs {txs:>5}  triggers {status.get('triggers', 0):>3}  "
                  f"orders {status.get('orders_sent', 0):>3}  acks {status.get('acks', 0):>3}  "
                  f"rejects {status.get('rejects', 0)}  risk {status.get('risk_rejects', 0)}",
                  flush=True)
            if txs >= BLOCK_TXS + len(DEPOSITS) and status.get("acks", 0) >= expected_orders:
                break
            time.sleep(0.5)
        request(world.sock, "stop")
        daemon.wait(timeout=30)
    state = read_shared(work / "run" / "engine.state")
    png = work / "latency.png"
    histogram_png(png, state["stages"])
    ok = state["acks"] == expected_orders and state["rejects"] == 0 and \
        state["orders_sent"] == expected_orders
    send, ack = state["stages"]["trigger_to_send"], state["stages"]["trigger_to_ack"]
    print("\nsummary")
    print(f"  triggers {state['triggers']} (expected {expected_triggers} deposits + whales: "
          f"{state['triggers'] - expected_triggers})")
    print(f"  orders {state['orders_sent']} (expected {expected_orders}), acks {state['acks']}, "
          f"too few announcers {state['too_few_announcers']}, "
          f"venue rejects {state['rejects']}, risk rejects {state['risk_rejects']}, "
          f"unknown {state['unknown']}")
    print(f"  tick to trade (trigger received -> its orders submitted, n={send.count}): "
          f"p50 {send.percentile(0.5) / 1000:.1f} µs, p99 {send.percentile(0.99) / 1000:.1f} µs")
    parts = ", ".join(f"{name} {state['stages'][name].percentile(0.5) / 1000:.1f}"
                      for name in ("parse", "decide", "order"))
    print(f"  of which, at p50 (µs): {parts}")
    print(f"  trigger -> venue answer (n={ack.count}): p50 {ack.percentile(0.5) / 1000:.1f} µs,"
          f" p99 {ack.percentile(0.99) / 1000:.1f} µs")
    print(f"  histogram: {png}")
    print(f"  logs and records: {work}")
    print("  " + ("every deposit over the threshold traded as prescribed" if ok
                  else "NOT every deposit traded as prescribed: see the logs"))
    return 0 if ok else 1
