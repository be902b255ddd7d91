# SPDX-License-Identifier: MIT
"""`stratum bench wire`: wire-to-wire tick-to-trade, stamped by the kernel.

The lab's topology (`orchestrator.lab.topology`): the Bitcoin peer, the
exchange simulator and a TCP sink in the "market" namespace; each competitor in
turn in the "host" namespace, pinned to its own CPU, with a capture
(`orchestrator.lab.capture`) on the host side of the veth. Per round and
competitor a fresh peer replays the block, then sends a steady run of fresh
deposits (one every INTERVAL_MS); the latency of each is the time from the
packet completing the deposit's tx to the first order-sized packet towards
the venue (`orchestrator.lab.matching` says how they are matched). The
block's own deposit, sent during the replay burst, is not counted. Rounds
alternate between competitors, so that a noisy neighbour hurts them alike.

Competitors: the engine in each loop mode (`wire/engine/busy|interrupt|sqpoll`:
`stratum run` in paper mode, set up by `stratum check --apply`, hot thread on
SUT_CPU, SQPOLL's thread on the same core, one IOC leg; started and ready
before the peer, which it reaches by reconnecting), the floor
(native/tools/wire_floor.c) reading in blocking mode and spinning
(`wire/floor/blocking`, `wire/floor/spin`; its record goes to the sink) and
the Python reference bot (`wire/python`, orders to the exchange simulator over
TLS). The venue is the registry's demo venue (`DEMO_VENUE`), whose Python
reference client the bot uses. Triggers come every INTERVAL_MS, which the
engine's token bucket (its paper pace, inside the venue's documented limits)
lets through.

Each result row adds p90, min and the sorted samples (µs) to §7's format, for
the CDF plot (`python -m orchestrator.lab.plot`); an engine row also carries
the engine's own trigger->send histogram over the same triggers as the wire's
(`internal_trigger_to_send`: p50/p99 as bucket midpoints, and n; the block's
deposit is left out of both) and the p50 of each stage before the send
(`internal_stages_p50`); `internal_to_wire_p50` gives internal/wire p50 per
engine mode. Like with like: the engine's clock starts at the kernel's
software receive timestamp of the trigger's last segment (the same skb the
capture stamps) and stops when the kernel has the orders (after the submit;
in SQPOLL mode once the SQ thread has taken them), so what it leaves out is
the kernel's transmit path to the veth. Needs root.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bitcoin.core import CTxOut
from bitcoin.wallet import CBitcoinAddress

from orchestrator._native import lib
from orchestrator.bench import Report, cpu_description, percentile
from orchestrator.control import ControlError, request
from orchestrator.engine import Histogram, read_shared
from orchestrator.lab.matching import match, read_capture, trigger_times
from orchestrator.lab.topology import Topology, topology
from orchestrator.paper import PaperAccount, toml_lines, write_account_files, write_private
from orchestrator.sim import mainnet_block, self_signed_localhost
from orchestrator.venues.registry import DEMO_VENUE

ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
DEPOSIT_SATS = 50 * 100_000_000
THRESHOLD_SATS = 10 * 100_000_000
INTERVAL_MS = 300                 # idle between triggers; the engine's bucket allows 4/s
ROUNDS = 5
PEER_PORT, SINK_PORT, VENUE_PORT = 8333, 9000, 9443
RECORD_BYTES = 400                # the floor's record: about an order's TLS record
MIN_ORDER_BYTES = 200             # smaller venue-bound packets (pings, ACKs) are not orders
SIM_CPU, SUT_CPU = 0, 1
READY_S = 30.0


def floor_binary() -> Path:
    path = Path(__file__).resolve().parents[2] / "native/build/release/tools/wire_floor"
    if not path.exists():
        raise FileNotFoundError(f"{path} is not built: run `make native` in the source tree")
    return path


def deposit_output() -> bytes:
    """The deposit's serialized output (value and script): the trigger's mark."""
    script = CBitcoinAddress(ADDRESS).to_scriptPubKey()
    return bytes(CTxOut(DEPOSIT_SATS, script).serialize())


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def _wait_ready(path: Path, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + READY_S
    while not (path.exists() and path.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{log.stem} did not start: {log.read_text()[-500:]}")
        time.sleep(0.05)
    return path.read_text().strip()


class Lab:
    """The market side (exchange, sink) for the whole run; one peer per round."""

    def __init__(self, topo: Topology, work: Path) -> None:
        self.topo, self.work = topo, work
        self.last_missed = 0          # triggers of the latest round with no order seen
        # engine mode -> stage -> histogram, all rounds (the steady deposits only)
        self.internal: dict[str, dict[str, Histogram]] = {}
        self.cert, key = self_signed_localhost(work)
        self.account = PaperAccount.new(DEMO_VENUE)
        write_account_files(work, self.account)
        self.credentials = work / "credentials.json"          # the bot's
        write_private(self.credentials, json.dumps(self.account.credentials))
        py = sys.executable
        self.start("exchange", topo.market, [
            py, "-m", "orchestrator.sim.exchange", "--cert", str(self.cert), "--key", str(key),
            "--accounts", str(work / "accounts.json"), "--record-dir", str(work / "exchange"),
            "--host", topo.market_addr, "--port", str(VENUE_PORT), "--book-static",
            "--orders-per-10s", "100000", "--orders-per-day", "10000000",
            "--weight-per-minute", "10000000"], cpu=SIM_CPU)
        self.ports: dict[str, int] = json.loads((work / "exchange.ready").read_text())
        self.start("sink", topo.market, [py, "-m", "orchestrator.lab.sink", "--host",
                                         topo.market_addr, "--port", str(SINK_PORT)],
                   cpu=SIM_CPU)

    def start(self, name: str, ns: str, argv: list[str], cpu: int | None
              ) -> subprocess.Popen[bytes]:
        ready, log = self.work / f"{name}.ready", self.work / f"{name}.log"
        ready.unlink(missing_ok=True)
        proc = self.topo.spawn(ns, [*argv, "--ready-file", str(ready)], log, env=_clean_env())
        if cpu is not None and cpu in os.sched_getaffinity(0):
            os.sched_setaffinity(proc.pid, {cpu})
        _wait_ready(ready, proc, log)
        return proc

    def start_capture(self, pcap: Path, cpu: int | None = SIM_CPU) -> subprocess.Popen[bytes]:
        """The kernel-stamped capture on the host side of the veth, into `pcap`."""
        return self.start("capture", self.topo.host, [
            sys.executable, "-m", "orchestrator.lab.capture", "--interface", self.topo.host_if,
            "--out", str(pcap)], cpu=cpu)

    def competitor_argv(self, name: str, triggers: int) -> tuple[list[str], tuple[str, int]]:
        """How to run a competitor for `triggers` triggers, and where its orders go."""
        market = self.topo.market_addr
        if name.startswith("wire/floor/"):
            return [str(floor_binary()), "--peer", f"{market}:{PEER_PORT}",
                    "--venue", f"{market}:{SINK_PORT}", "--marker", deposit_output().hex(),
                    "--record-size", str(RECORD_BYTES), "--count", str(triggers),
                    "--cpu", str(SUT_CPU), *(["--spin"] if name.endswith("spin") else [])
                    ], (market, SINK_PORT)
        url = self.account.venue(market, self.ports).keys["url"]
        return [sys.executable, "-m", "orchestrator.lab.pybot", "--profile", DEMO_VENUE,
                "--peer", f"{market}:{PEER_PORT}", "--venue", url,
                "--ca", str(self.cert), "--server-name", "localhost",
                "--credentials", str(self.credentials), "--address", ADDRESS,
                "--threshold-sats", str(THRESHOLD_SATS), "--count", str(triggers)
                ], (market, VENUE_PORT)

    def start_engine(self, mode: str, legs: int = 1, peer_ports: tuple[int, ...] = (PEER_PORT,),
                     ping_interval: float = 15.0) -> tuple[subprocess.Popen[bytes], Path]:
        """The daemon in paper mode in "host", set up by `stratum check --apply`,
        its venue ready; returns it and its control socket."""
        topo, work = self.topo, self.work / f"engine-{mode}-{time.monotonic_ns()}"
        work.mkdir()
        (work / "strategy.toml").write_text(STRATEGY)
        write_account_files(work, self.account)
        venue = self.account.venue("localhost", self.ports)
        config = work / "stratum.toml"
        config.write_text(ENGINE_CONFIG.format(
            mode=mode, hot=SUT_CPU, sim=SIM_CPU, interface=topo.host_if, address=topo.host_addr,
            sqpoll=f"sqpoll = {SUT_CPU}" if mode == "sqpoll" else "", market=topo.market_addr,
            peers=", ".join(f'"{topo.market_addr}:{p}"' for p in peer_ports),
            venue=toml_lines(venue.keys), pace=toml_lines(venue.pace), cert=self.cert,
            ping_interval=ping_interval,
            legs="".join(LEG.format(leg=toml_lines(venue.leg), offset=10 * (i + 1))
                         for i in range(legs))))
        stratum = [sys.executable, "-m", "orchestrator"]
        topo.run(topo.host, [*stratum, "check", "--config", str(config), "--apply"])
        daemon = topo.spawn(topo.host, [*stratum, "run", "--config", str(config)],
                            work / "stratum.log", env=_clean_env())
        sock = work / "run" / "control.sock"
        deadline = time.monotonic() + READY_S
        while True:
            try:
                venues = request(sock, "status", timeout=5).get("venues", [])
            except ControlError:
                venues = []
            if venues and all(v["ready"] for v in venues):
                return daemon, sock
            if daemon.poll() is not None or time.monotonic() > deadline:
                log = (work / "stratum.log").read_text()[-1000:]
                raise RuntimeError(f"the engine ({mode}) did not get ready: {log}")
            time.sleep(0.1)

    def round(self, name: str, deposits: int) -> list[float]:
        """One round of one competitor: its latencies in µs."""
        if name.startswith("wire/engine/"):
            return self.engine_round(name.rsplit("/", 1)[1], deposits)
        topo = self.topo
        peer = self.start_peer(deposits)
        pcap = self.work / "round.pcap"
        capture = self.start_capture(pcap)
        argv, venue = self.competitor_argv(name, deposits + 1)
        try:
            proc = topo.spawn(topo.host, argv, self.work / "competitor.log", env=_clean_env())
            if SUT_CPU in os.sched_getaffinity(0):
                os.sched_setaffinity(proc.pid, {SUT_CPU})
            timeout = 60 + deposits * INTERVAL_MS / 1000 * 3
            if proc.wait(timeout=timeout) != 0:
                log = (self.work / "competitor.log").read_text()[-500:]
                raise RuntimeError(f"{name} failed: {log}")
            time.sleep(0.2)        # the capture reads what is still queued
        finally:
            for p in (capture, peer):
                p.terminate()
                p.wait(timeout=10)
        return self.latencies(pcap, venue)

    def start_peer(self, deposits: int) -> subprocess.Popen[bytes]:
        """A fresh peer: the block (with one deposit), then `deposits` more, steadily."""
        topo, py = self.topo, sys.executable
        return self.start("peer", topo.market, [
            py, "-m", "orchestrator.sim.btc_peer", "--block", str(mainnet_block()),
            "--host", topo.market_addr, "--port", str(PEER_PORT),
            "--deposit", f"{ADDRESS}:{DEPOSIT_SATS}",
            "--deposit-every", f"{INTERVAL_MS}:{deposits}"], cpu=SIM_CPU)

    def engine_round(self, mode: str, deposits: int) -> list[float]:
        """The engine: started (and made ready) before the peer, which it reaches
        by reconnecting; stopped once it has seen every deposit."""
        topo = self.topo
        pcap = self.work / "round.pcap"
        capture = self.start_capture(pcap)
        daemon, sock = self.start_engine(mode)
        shared = sock.parent / "engine.state"
        procs = [capture]
        try:
            procs.append(self.start_peer(deposits))
            deadline = time.monotonic() + 60 + deposits * INTERVAL_MS / 1000 * 3
            # The block's deposit (not on the wire's list) is left out of the
            # engine's histogram too: it is read once that trigger is in,
            # before the first steady deposit (INTERVAL_MS later). The trigger
            # count rises before the send is booked, so wait for the booking.
            block = read_shared(shared)
            while block["stages"]["trigger_to_send"].count < 1 and daemon.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
                block = read_shared(shared)
            while request(sock, "status", timeout=5).get("triggers", 0) < deposits + 1:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    break           # what was missed shows as missed
                time.sleep(0.2)
            time.sleep(0.5)         # the last order leaves
            request(sock, "stop", timeout=10)
            daemon.wait(timeout=30)
            self.add_internal(mode, read_shared(shared), block)
        finally:
            if daemon.poll() is None:
                daemon.terminate()
                daemon.wait(timeout=30)
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
        return self.latencies(pcap, (topo.market_addr, VENUE_PORT))

    def add_internal(self, mode: str, state: dict[str, Any], block: dict[str, Any]) -> None:
        """Adds the round's stage histograms (the engine's own clock) to the mode's
        totals, bucket by bucket, less what `block` (read after the block's
        deposit) already held."""
        totals = self.internal.setdefault(mode, {})
        for stage, h in state["stages"].items():
            before: Histogram = block["stages"][stage]
            total = totals.get(stage, Histogram(0, 0, 0, (0,) * len(h.buckets)))
            totals[stage] = Histogram(
                total.count + h.count - before.count, total.sum_ns + h.sum_ns - before.sum_ns,
                max(total.max_ns, h.max_ns),
                tuple(t + a - b for t, a, b in zip(total.buckets, h.buckets, before.buckets,
                                                   strict=True)))

    def latencies(self, pcap: Path, venue: tuple[str, int]) -> list[float]:
        packets = read_capture(pcap)
        triggers = trigger_times(packets, (self.topo.market_addr, PEER_PORT), deposit_output())
        matched = match(triggers[1:], packets, venue, MIN_ORDER_BYTES)  # [0]: the block's
        self.last_missed = matched.missed
        return [ns / 1000 for ns in matched.latencies_ns]


ENGINE_CONFIG = """[engine]
paper = true
loop_mode = "{mode}"
state_dir = "state"
run_dir = "run"
journal_records = 16384
[cpus]
hot = {hot}
orchestrator = {sim}
{sqpoll}
[network]
interface = "{interface}"
addresses = ["{address}/24"]
[secrets]
file = "secrets.toml"
[bitcoin]
strategy = "strategy.toml"
peers = [{peers}]
[[venues]]
name = "sim-venue"
{venue}address = "{market}"
standby = true
trust = "{cert}"
on = ["deposit"]
ping_interval = {ping_interval}
[venues.risk]
max_quantity = "0.05"
max_notional = "5000"
max_open_orders = 8
{pace}max_price_age = 5.0
{legs}"""

LEG = """[[venues.legs]]
{leg}side = "SELL"
quantity = "0.01"
time_in_force = "IOC"
offset_bps = {offset}
"""

STRATEGY = f"""network = "mainnet"
[whale]
threshold_btc = 1000000
action = "whale"
[[exchanges]]
name = "exchange"
deposit_threshold_btc = {THRESHOLD_SATS // 100_000_000}
action = "deposit"
addresses = ["{ADDRESS}"]
"""


# The engine's stages before its orders leave, in order (see st_engine.h).
INTERNAL_STAGES = ("receive", "parse", "decide", "order", "trigger_to_send")


def bucket_mid(h: Histogram, q: float) -> float:
    """The middle (ns) of the histogram bucket holding the q-quantile: within
    1/16 of the value (8 buckets per power of two), not biased low."""
    low = h.percentile(q)
    index = next(i for i in range(len(h.buckets)) if lib.st_histogram_bucket_low(i) == low)
    high = lib.st_histogram_bucket_low(index + 1) if index + 1 < len(h.buckets) else low
    return (low + high) / 2


def summary(name: str, samples_us: list[float]) -> dict[str, Any]:
    ordered = sorted(samples_us)
    row: dict[str, Any] = {"name": name, "unit": "us", "n": len(ordered)}
    for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        row[label] = round(percentile(ordered, q), 1)
    row["min"] = round(ordered[0], 1)
    row["samples_us"] = [round(v, 1) for v in ordered]
    return row


ENGINE_MODES = ("busy", "interrupt", "sqpoll")
COMPETITORS = (*(f"wire/engine/{m}" for m in ENGINE_MODES),
               "wire/floor/blocking", "wire/floor/spin", "wire/python")


def run(samples: int = 300, batch: int = 1,
        progress: Callable[[str], None] | None = None) -> Report:
    """At least `samples` triggers per competitor (fewer if some are missed), over
    ROUNDS alternating rounds (fewer when samples < ROUNDS).
    `batch` is accepted for the common CLI and ignored."""
    del batch
    if os.geteuid() != 0:   # a one-line message from the CLI, not a traceback
        raise SystemExit("stratum bench wire: needs root (it makes network namespaces)")
    rounds = min(ROUNDS, samples)
    per_round = math.ceil(samples / rounds)
    out: dict[str, list[float]] = {name: [] for name in COMPETITORS}
    missed = dict.fromkeys(COMPETITORS, 0)
    with tempfile.TemporaryDirectory() as tmp, topology() as topo:
        lab = Lab(topo, Path(tmp))
        for r in range(rounds):
            for name in COMPETITORS:
                out[name] += lab.round(name, per_round)
                missed[name] += lab.last_missed
                if progress:
                    progress(f"round {r + 1}/{rounds} {name}: {len(out[name])} samples")
        internal = lab.internal
    results = [summary(name, values) for name, values in out.items() if values]
    internal_to_wire: dict[str, float] = {}
    for row in results:      # the engine's own figures beside the wire's
        mode = row["name"].rsplit("/", 1)[1]
        stages = internal.get(mode, {}) if "/engine/" in row["name"] else {}
        h = stages.get("trigger_to_send")
        if h is None or not h.count:
            continue
        row["internal_trigger_to_send"] = {
            "p50": round(bucket_mid(h, 0.5) / 1000, 1),
            "p99": round(bucket_mid(h, 0.99) / 1000, 1), "n": h.count}
        row["internal_stages_p50"] = {
            name: round(bucket_mid(s, 0.5) / 1000, 2) for name, s in stages.items()
            if s.count and name in INTERNAL_STAGES}
        internal_to_wire[mode] = round(row["internal_trigger_to_send"]["p50"] / row["p50"], 2)
    p50 = {r["name"]: r["p50"] for r in results}
    return {
        "suite": "wire",
        "cpu": cpu_description(),
        "results": results,
        "ratios_p50": {
            f"{a} / {b}": round(p50[a] / p50[b], 2)
            for a, b in (("wire/engine/busy", "wire/floor/spin"),
                         ("wire/engine/interrupt", "wire/floor/blocking"),
                         ("wire/python", "wire/engine/busy"))
            if a in p50 and b in p50
        },
        "internal_to_wire_p50": internal_to_wire,
        "missed": missed,
    }
