# SPDX-License-Identifier: MIT
"""A real three-member etcd cluster in network namespaces, for the HA tests.

    ha-br namespace: two bridges, etcd (198.19.N.0/24) and venue (198.19.N+1.0/24)
    e1..e3         etcd members at .1 .. .3 on the etcd bridge
    nodes          any number more (hosts, the venue), on one or both bridges

N is random (even, 0..252), so parallel runs never share addresses; every name
carries our pid and a random tag, so they never share namespaces either. The
whole of it goes when the block ends, also on a failure or SIGTERM: processes
first (by pid), then the namespaces (which takes the veths and bridges).
Cutting a node off a bridge (`cut`) puts the bridge-side end of its veth down:
a silent partition (connects time out), measured in docs/HA.md §4.9.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.lab.topology import Topology, _sigterm_raises, ip, netns

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
MEMBERS = 3
NETS = ("etcd", "venue")


@dataclass
class HaNet:
    tag: str
    base: str                    # 198.19.N
    bridge_ns: str
    tmp: Path
    topo: Topology               # spawn / run / stop_all of the lab's topology
    stack: contextlib.ExitStack
    nodes: dict[str, str] = field(default_factory=dict)        # name -> namespace
    addrs: dict[tuple[str, str], str] = field(default_factory=dict)
    members: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def net_prefix(self, net: str) -> str:
        third = int(self.base.split(".")[2]) + NETS.index(net)
        return f"198.19.{third}"

    def add(self, name: str, host_octet: int, nets: tuple[str, ...]) -> str:
        """A namespace `name` with one veth per net, at .host_octet on each."""
        ns = self.stack.enter_context(netns(f"st-ha-{os.getpid()}-{self.tag}-{name}"))
        self.nodes[name] = ns
        for net in nets:
            inside, outside = self._ifnames(name, net)
            ip("link", "add", inside, "netns", ns, "type", "veth",
               "peer", "name", outside, "netns", self.bridge_ns)
            ip("-n", self.bridge_ns, "link", "set", outside, "master", f"br-{net}")
            ip("-n", self.bridge_ns, "link", "set", outside, "up")
            address = f"{self.net_prefix(net)}.{host_octet}"
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", inside)
            ip("-n", ns, "link", "set", inside, "up")
            self.addrs[(name, net)] = address
        return ns

    def _ifnames(self, name: str, net: str) -> tuple[str, str]:
        short = f"{name[:4]}{net[0]}"
        return f"i{self.tag}{short}"[:15], f"o{self.tag}{short}"[:15]

    def cut(self, name: str, net: str, up: bool = False) -> None:
        """Takes name off a bridge (or back on): the bridge-side end goes down."""
        ip("-n", self.bridge_ns, "link", "set", self._ifnames(name, net)[1],
           "up" if up else "down")

    # -- etcd --------------------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        return [f"http://{self.addrs[(f'e{i}', 'etcd')]}:2379" for i in range(1, MEMBERS + 1)]

    def start_member(self, i: int) -> None:
        """Member i (1..3); its data dir is kept between a kill and a restart."""
        address = self.addrs[(f"e{i}", "etcd")]
        cluster = ",".join(f"e{n}=http://{self.addrs[(f'e{n}', 'etcd')]}:2380"
                           for n in range(1, MEMBERS + 1))
        argv = [str(ETCD), "--name", f"e{i}", "--data-dir", str(self.tmp / f"etcd-e{i}"),
                "--logger=zap", "--log-level=warn",
                "--listen-peer-urls", f"http://{address}:2380",
                "--initial-advertise-peer-urls", f"http://{address}:2380",
                "--listen-client-urls", f"http://{address}:2379",
                "--advertise-client-urls", f"http://{address}:2379",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", f"st-ha-{self.tag}"]
        self.members[i] = self.topo.spawn(self.nodes[f"e{i}"], argv,
                                          self.tmp / f"etcd-e{i}.log")

    def kill_member(self, i: int) -> None:
        proc = self.members.pop(i)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def etcdctl(self, node: str, *args: str, timeout: float = 10) -> str:
        return self.topo.run(self.nodes[node], [str(ETCDCTL), "--endpoints",
                                                ",".join(self.endpoints), *args],
                             timeout=timeout)

    def wait_healthy(self, node: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.etcdctl(node, "--command-timeout=2s", "endpoint", "health", timeout=10)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def have_etcd() -> bool:
    return bool(ETCD and ETCDCTL) and os.geteuid() == 0


@contextlib.contextmanager
def ha_net(tmp: Path, nodes: dict[str, tuple[int, tuple[str, ...]]]) -> Iterator[HaNet]:
    """The bridges, the three etcd members (started, healthy) and `nodes`
    (name -> (host octet, nets)), e.g. {"h1": (11, ("etcd", "venue"))}."""
    tag = uuid.uuid4().hex[:4]
    base = f"198.19.{random.randrange(0, 254, 2)}"
    with _sigterm_raises(), contextlib.ExitStack() as stack:
        bridge_ns = stack.enter_context(netns(f"st-ha-{os.getpid()}-{tag}-br"))
        for net in NETS:
            ip("-n", bridge_ns, "link", "add", f"br-{net}", "type", "bridge")
            ip("-n", bridge_ns, "link", "set", f"br-{net}", "up")
        topo = Topology(market=bridge_ns, host=bridge_ns, market_if="", host_if="")
        net = HaNet(tag, base, bridge_ns, tmp, topo, stack)
        try:
            for i in range(1, MEMBERS + 1):
                net.add(f"e{i}", i, ("etcd",))
            for name, (octet, nets) in nodes.items():
                net.add(name, octet, nets)
            for i in range(1, MEMBERS + 1):
                net.start_member(i)
            net.wait_healthy(next(iter(nodes)) if nodes else "e1")
            yield net
        finally:
            topo.stop_all()                  # every process, before its namespace goes
