# SPDX-License-Identifier: MIT
"""The lab's two namespaces: the peer simulator in "market" sends a steady run
of fresh deposits to a client in "host" over the veth, read with the scapy
layer; and everything is gone afterwards, also after an exception, Ctrl-C,
SIGTERM, or a run killed outright. No timing asserted."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.lab import topology as topo_mod
from orchestrator.lab.topology import Topology, TopologyError, ip, netns, topology
from orchestrator.sim import mainnet_block

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="network namespaces need root (CAP_NET_ADMIN)")

ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
SATS = 50 * 100_000_000

# Runs in "host": handshake, getdata for every inv (the inv payload sent back as
# getdata), and prints the txid of each tx paying ADDRESS, until N of them.
CLIENT = r"""
import socket, sys
import bitcoin
from bitcoin.messages import msg_version, msg_verack
from bitcoin.wallet import CBitcoinAddress
from orchestrator.lab.btcp2p import BTCMessage, BTCTx, split_messages
bitcoin.SelectParams("mainnet")
host, port, address, wanted = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
script = bytes(CBitcoinAddress(address).to_scriptPubKey())
s = socket.create_connection((host, port), timeout=30)
s.sendall(msg_version().to_bytes() + msg_verack().to_bytes())
rest, found = b"", 0
while found < wanted:
    data = s.recv(1 << 16)
    if not data:
        sys.exit("peer closed")
    msgs, rest = split_messages(rest + data)
    for m in msgs:
        if m.cmd == b"inv":
            s.sendall(bytes(BTCMessage(cmd=b"getdata") / m.payload))
        elif m.cmd == b"tx" and any(o.script_pubkey == script for o in m[BTCTx].txout):
            print(m[BTCTx].txid()[::-1].hex(), flush=True)
            found += 1
"""


def namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_steady_run_of_deposits_crosses_the_veth(tmp_path: Path) -> None:
    count = 5
    with topology() as topo:
        assert {topo.market, topo.host} <= namespaces()
        assert f"inet {topo.host_addr}/24" in ip("-n", topo.host, "addr", "show", topo.host_if)
        ready = tmp_path / "peer.ready"
        peer = topo.spawn(topo.market, [
            sys.executable, "-m", "orchestrator.sim.btc_peer", "--block", str(mainnet_block()),
            "--host", topo.market_addr, "--port", "8333", "--ready-file", str(ready),
            "--deposit", f"{ADDRESS}:{SATS}", "--deposit-every", f"20:{count}"],
            tmp_path / "peer.log")
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert peer.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "peer.log").read_text()
            time.sleep(0.05)
        out = topo.run(topo.host, [sys.executable, "-c", CLIENT, topo.market_addr, "8333",
                                   ADDRESS, str(count + 1)], timeout=120)
        txids = out.split()
        # the block's own deposit (from --deposit), then `count` fresh ones
        assert len(txids) == count + 1 and len(set(txids)) == count + 1
        # the simulator is not reachable from the root namespace
        assert subprocess.run(["ip", "route", "get", topo.market_addr], capture_output=True,
                              text=True).stdout.find(topo.market_if) < 0
    assert not {topo.market, topo.host} & namespaces()
    assert not alive(peer.pid)


def test_teardown_after_an_exception(tmp_path: Path) -> None:
    seen: Topology | None = None
    with pytest.raises(RuntimeError, match="boom"), topology() as topo:
        seen = topo
        sleeper = topo.spawn(topo.host, ["sleep", "300"], tmp_path / "sleep.log")
        raise RuntimeError("boom")
    assert seen is not None and not {seen.market, seen.host} & namespaces()
    assert sleeper.returncode is not None and not alive(sleeper.pid)


# Enters the topology, starts a sleeper in each namespace, says so, then waits.
HOLDER = r"""
import sys, time
from pathlib import Path
from orchestrator.lab.topology import topology
with topology() as topo:
    a = topo.spawn(topo.market, ["sleep", "300"], Path(sys.argv[1]))
    b = topo.spawn(topo.host, ["sleep", "300"], Path(sys.argv[1]))
    print(topo.market, topo.host, a.pid, b.pid, flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_teardown_on_ctrl_c_and_sigterm(tmp_path: Path, sig: signal.Signals) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "log")],
                              stdout=subprocess.PIPE, text=True)
    market = host = ""
    pids: list[str] = []
    try:
        assert holder.stdout is not None
        market, host, *pids = holder.stdout.readline().split()
        assert {market, host} <= namespaces() and all(alive(int(p)) for p in pids)
        holder.send_signal(sig)
        code = holder.wait(timeout=60)
        assert code != 0
        assert not {market, host} & namespaces()
        assert not any(alive(int(p)) for p in pids)
    finally:   # whatever happened above, leave nothing behind
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        for name in (market, host):
            if name:
                subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_namespaces_of_a_run_killed_outright_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{topo_mod.NS_PREFIX}{dead.pid}-abcdef-market"
    ours = f"{topo_mod.NS_PREFIX}{os.getpid()}-abcdef-market"   # a live run's: kept
    with netns(ours):
        ip("netns", "add", stale)
        try:
            assert stale in topo_mod.remove_stale()
            assert stale not in namespaces() and ours in namespaces()
        finally:
            subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_a_failing_ip_command_names_itself() -> None:
    with pytest.raises(TopologyError, match=r"ip -n st-lab-none link show: .+"):
        ip("-n", "st-lab-none", "link", "show")
