# SPDX-License-Identifier: MIT
"""The host set-up: `stratum check` on a veth in a network namespace of its own
(never the host's interfaces), IRQ affinity and sysctls on a fake /proc tree,
and the core plan on a fake /sys tree."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config import CpuConfig
from orchestrator.cpu import plan
from orchestrator.lab.topology import TopologyError, ip
from orchestrator.lab.topology import netns as lab_netns
from orchestrator.netcfg import irq_items, sysctl_items
from tests.conftest import ROOT
from tests.test_config import GOOD, write


def fake_tree(tmp: Path, irqs: dict[int, str]) -> tuple[Path, Path]:
    sys_root, proc_root = tmp / "sys", tmp / "proc"
    msi = sys_root / "class/net/eth9/device/msi_irqs"
    msi.mkdir(parents=True)
    for irq, affinity in irqs.items():
        (msi / str(irq)).write_text("msi\n")
        (proc_root / "irq" / str(irq)).mkdir(parents=True)
        (proc_root / "irq" / str(irq) / "smp_affinity_list").write_text(affinity + "\n")
    return sys_root, proc_root


def test_irqs_are_moved_off_the_hot_core(tmp_path: Path) -> None:
    sys_root, proc_root = fake_tree(tmp_path, {40: "0-3", 41: "2", 42: "0-2"})
    items = irq_items("eth9", 3, {0, 1, 2, 3}, False, sys_root, proc_root)
    assert [(i.name, i.status) for i in items] == [
        ("IRQ 40 affinity", "would change"), ("IRQ 41 affinity", "would change"),
        ("IRQ 42 affinity", "ok")]
    assert (proc_root / "irq/40/smp_affinity_list").read_text() == "0-3\n"   # untouched
    items = irq_items("eth9", 3, {0, 1, 2, 3}, True, sys_root, proc_root)
    assert [i.status for i in items] == ["changed", "changed", "ok"]
    assert (proc_root / "irq/41/smp_affinity_list").read_text() == "0,1,2"
    assert all(i.status == "ok" for i in irq_items("eth9", 3, {0, 1, 2, 3}, False, sys_root,
                                                    proc_root))


def test_irqs_found_in_proc_interrupts_and_a_virtual_nic(tmp_path: Path) -> None:
    proc_root = tmp_path / "proc"
    (proc_root / "irq/77").mkdir(parents=True)
    (proc_root / "irq/77/smp_affinity_list").write_text("1\n")
    (proc_root / "interrupts").write_text(
        "           CPU0       CPU1\n 77:  5  6  PCI-MSI 1-edge  eth7-TxRx-0\n"
        " 78:  1  1  PCI-MSI 2-edge  eth70\n")
    [item] = irq_items("eth7", 1, {0, 1}, False, tmp_path / "sys", proc_root)
    assert item.name == "IRQ 77 affinity" and item.status == "would change"
    [item] = irq_items("veth0", 1, {0, 1}, True, tmp_path / "sys", proc_root)
    assert item.status == "not supported" and "no interrupts" in item.detail


def test_busy_poll_sysctls(tmp_path: Path) -> None:
    core = tmp_path / "proc/sys/net/core"
    core.mkdir(parents=True)
    (core / "busy_poll").write_text("0\n")
    (core / "busy_read").write_text("50\n")
    assert [i.status for i in sysctl_items(50, False, tmp_path / "proc")] == \
        ["would change", "ok"]
    assert [i.status for i in sysctl_items(50, True, tmp_path / "proc")] == ["changed", "ok"]
    assert (core / "busy_poll").read_text() == "50"


def test_core_plan_follows_the_nic_and_isolation(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    (sys_root / "class/net/eth9/device").mkdir(parents=True)
    (sys_root / "class/net/eth9/device/numa_node").write_text("1\n")
    (sys_root / "devices/system/node/node1").mkdir(parents=True)
    (sys_root / "devices/system/node/node1/cpulist").write_text("4-7\n")
    (sys_root / "devices/system/cpu").mkdir(parents=True)
    (sys_root / "devices/system/cpu/isolated").write_text("5-6\n")
    auto = CpuConfig(None, None, None, False, 0)
    p = plan(auto, "eth9", set(range(8)), sys_root)
    assert (p.hot, p.sqpoll, p.orchestrator, p.numa_node) == (6, 6, 0, 1)
    fixed = plan(CpuConfig(2, 3, 1, False, 0), "eth9", set(range(8)), sys_root)
    assert (fixed.hot, fixed.sqpoll, fixed.orchestrator) == (2, 3, 1)


@pytest.fixture
def netns() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            name = stack.enter_context(lab_netns(f"st-test-{uuid.uuid4().hex[:8]}"))
        except TopologyError as e:
            pytest.skip(f"cannot create a network namespace here (needs root and iproute2): {e}")
        ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        yield name


def check_in(ns: str, config: Path, *extra: str) -> dict[str, tuple[str, str]]:
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "orchestrator", "check", "--config",
         str(config), "--json", *extra], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return {i["name"]: (i["status"], i["detail"]) for i in json.loads(proc.stdout)["items"]}


def test_check_and_apply_on_a_veth(netns: str, tmp_path: Path) -> None:
    network = """
[network]
interface = "v0"
mtu = 9000
addresses = ["198.18.0.1/24"]
routes = ["198.18.5.0/24 via 198.18.0.254"]
channels = 2
[network.features]
rx-gro = true
"""
    config = write(tmp_path, GOOD + network)
    before = check_in(netns, config)
    assert before["trading interface"][0] == "ok"
    assert before["MTU"] == ("would change", "bytes 1500 -> 9000")
    assert before["link state"][0] == "would change"
    assert before["address 198.18.0.1/24"][0] == "would change"
    assert before["route 198.18.5.0/24 via 198.18.0.254"][0] == "would change"
    assert before["feature rx-gro"][0] == "would change"
    assert before["channels"][0] in ("would change", "not supported")
    assert before["IRQ affinity"][0] == "not supported"        # a veth has none
    assert before["rings"][0] == "not supported"
    assert before["coalescing"][0] == "not supported"

    applied = check_in(netns, config, "--apply")
    assert applied["MTU"][0] == "changed" and applied["feature rx-gro"][0] == "changed"
    assert applied["address 198.18.0.1/24"][0] == "changed"

    after = check_in(netns, config)
    for name in ("MTU", "link state", "address 198.18.0.1/24", "feature rx-gro",
                 "route 198.18.5.0/24 via 198.18.0.254"):
        assert after[name][0] == "ok", (name, after[name])
    if before["channels"][0] == "would change":
        assert after["channels"][0] == "ok"
    shown = subprocess.run(["ip", "-n", netns, "link", "show", "v0"], capture_output=True,
                           text=True, check=True).stdout
    assert "mtu 9000" in shown
    routes = subprocess.run(["ip", "-n", netns, "route"], capture_output=True, text=True,
                            check=True).stdout
    assert "198.18.5.0/24 via 198.18.0.254 dev v0" in routes
