# SPDX-License-Identifier: MIT
"""The lab's network: two namespaces joined by a veth pair, never the host's.

    market  198.18.0.1/24  the simulators (Bitcoin peer, exchange, a TCP sink)
       |  veth
    host    198.18.0.2/24  the system under test (the engine, the floor, the bot)

`topology()` builds it and tears it all down when its block ends, also on an
exception, Ctrl-C or SIGTERM: every process started with `Topology.spawn` is
stopped, then both namespaces are deleted (which deletes the veth). A run
killed outright (SIGKILL) leaves its namespaces behind; the next `topology()`
deletes those whose creating process is gone (the pid is in their name).
Needs root (CAP_NET_ADMIN) and iproute2.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from orchestrator.children import dies_with_parent
from orchestrator.errors import StratumError

MARKET_ADDR = "198.18.0.1"
HOST_ADDR = "198.18.0.2"
PREFIX = 24
NS_PREFIX = "st-lab-"
_STALE = re.compile(rf"^{NS_PREFIX}(\d+)-")


class TopologyError(StratumError, RuntimeError):
    """A namespace, link or address could not be set up (the ip command's words)."""


def ip(*args: str) -> str:
    """Runs `ip ARGS`; its stdout, or TopologyError with its stderr."""
    try:
        proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise TopologyError("the ip command (iproute2) is not installed") from None
    if proc.returncode != 0:
        raise TopologyError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


@contextlib.contextmanager
def netns(name: str) -> Iterator[str]:
    """A network namespace for the block's duration (lo up); deleted after."""
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def remove_stale() -> list[str]:
    """Deletes lab namespaces left by runs that no longer exist; their names."""
    removed = []
    for line in ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _STALE.match(name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
            removed.append(name)
    return removed


@dataclass
class Topology:
    market: str                  # namespace names
    host: str
    market_if: str               # the veth's two ends
    host_if: str
    market_addr: str = MARKET_ADDR
    host_addr: str = HOST_ADDR
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def exec_argv(self, ns: str, argv: list[str]) -> list[str]:
        """argv run in namespace ns; it dies with us."""
        return dies_with_parent(["ip", "netns", "exec", ns, *argv])

    def spawn(self, ns: str, argv: list[str], log: Path,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A process in namespace ns, stdout and stderr to log; stopped at teardown."""
        with log.open("ab") as out:
            proc = subprocess.Popen(self.exec_argv(ns, argv), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, env=env)
        self.procs.append(proc)
        return proc

    def run(self, ns: str, argv: list[str], timeout: float = 60) -> str:
        """Runs argv in namespace ns to completion; its stdout (TopologyError if it fails)."""
        proc = subprocess.run(self.exec_argv(ns, argv), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise TopologyError(f"{' '.join(argv)} in {ns}: exit {proc.returncode}: "
                                f"{proc.stderr.strip()[-500:]}")
        return proc.stdout

    def stop_all(self) -> None:
        """SIGTERM to every spawned process, SIGKILL to those still there after 10 s."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM ends the block like Ctrl-C does, so that teardown runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def topology() -> Iterator[Topology]:
    """The market and host namespaces on a veth pair, addressed and up."""
    remove_stale()
    tag = uuid.uuid4().hex[:6]
    base = f"{NS_PREFIX}{os.getpid()}-{tag}"
    with _sigterm_raises(), contextlib.ExitStack() as stack:
        market = stack.enter_context(netns(f"{base}-market"))
        host = stack.enter_context(netns(f"{base}-host"))
        topo = Topology(market, host, market_if=f"stm{tag}", host_if=f"sth{tag}")
        stack.callback(topo.stop_all)        # runs before the namespaces go
        ip("link", "add", topo.market_if, "netns", market, "type", "veth",
           "peer", "name", topo.host_if, "netns", host)
        for ns, dev, addr in ((market, topo.market_if, topo.market_addr),
                              (host, topo.host_if, topo.host_addr)):
            ip("-n", ns, "addr", "add", f"{addr}/{PREFIX}", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        yield topo
