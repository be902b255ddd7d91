# SPDX-License-Identifier: MIT
"""The core plan: which core runs the hot thread, the SQPOLL kernel thread and
this orchestrator, and what the process may do to keep them fast (affinity,
mlockall, SCHED_FIFO). Cores come from the configuration or are derived from
the trading NIC's NUMA node, preferring isolated cores. `apply()` reports, item
by item, what it could not apply and why; it never fails for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config import CpuConfig
from orchestrator.netcfg import CHANGED, NOT_SUPPORTED, OK, WRONG, Item, parse_cpulist

MCL_CURRENT, MCL_FUTURE = 1, 2
PR_SET_DUMPABLE = 4


@dataclass(frozen=True)
class CorePlan:
    hot: int
    sqpoll: int
    orchestrator: int
    numa_node: int | None
    reason: str


def nic_numa_node(interface: str | None, sys_root: Path = Path("/sys")) -> int | None:
    if not interface:
        return None
    try:
        node = int((sys_root / "class/net" / interface / "device/numa_node").read_text())
    except (OSError, ValueError):
        return None
    return node if node >= 0 else None


def _read_cpus(path: Path) -> set[int]:
    try:
        return parse_cpulist(path.read_text())
    except (OSError, ValueError):
        return set()


def plan(cfg: CpuConfig, interface: str | None = None, usable: set[int] | None = None,
         sys_root: Path = Path("/sys")) -> CorePlan:
    """The cores to use: configured ones as given; the rest derived."""
    usable = usable if usable is not None else os.sched_getaffinity(0)
    node = nic_numa_node(interface, sys_root)
    local = _read_cpus(sys_root / f"devices/system/node/node{node}/cpulist") & usable \
        if node is not None else set()
    candidates = local or usable
    isolated = _read_cpus(sys_root / "devices/system/cpu/isolated") & candidates
    reason = (f"NIC on NUMA node {node}" if local else "NIC's NUMA node unknown") + \
        (", isolated cores preferred" if isolated else "")
    hot = cfg.hot if cfg.hot is not None else max(isolated or candidates)
    others = sorted(usable - {hot})
    orchestrator = cfg.orchestrator if cfg.orchestrator is not None else \
        (others[0] if others else hot)
    # Measured here: the SQPOLL thread does best on the hot thread's own core
    # (docs/ARCHITECTURE.md §0); elsewhere it fights whatever runs there.
    sqpoll = cfg.sqpoll if cfg.sqpoll is not None else hot
    return CorePlan(hot, sqpoll, orchestrator, node, reason)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def apply(core_plan: CorePlan, cfg: CpuConfig) -> list[Item]:
    """Pins this process, locks memory, keeps secrets out of core files."""
    items = [Item("core plan", OK, f"hot {core_plan.hot}, sqpoll {core_plan.sqpoll}, "
                                   f"orchestrator {core_plan.orchestrator} "
                                   f"({core_plan.reason})")]
    try:
        os.sched_setaffinity(0, {core_plan.orchestrator})
        items.append(Item("orchestrator affinity", CHANGED, f"CPU {core_plan.orchestrator}"))
    except OSError as exc:
        items.append(Item("orchestrator affinity", WRONG, exc.strerror or str(exc)))
    if cfg.mlockall and "libasan" in os.environ.get("LD_PRELOAD", ""):
        items.append(Item("mlockall", NOT_SUPPORTED,
                          "under AddressSanitizer, whose shadow memory cannot be locked"))
    elif cfg.mlockall:
        libc = _libc()
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0:
            items.append(Item("mlockall", CHANGED, "current and future pages locked"))
        else:
            soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
            items.append(Item("mlockall", NOT_SUPPORTED,
                              f"{os.strerror(ctypes.get_errno())} (RLIMIT_MEMLOCK {soft})"))
    # Secrets live in this process's memory: no core file may carry them.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    items.append(Item("core dumps", CHANGED, "off (RLIMIT_CORE 0, not dumpable)"))
    return items


def set_fifo(tid: int, priority: int) -> Item:
    """SCHED_FIFO for the hot thread (a native thread id)."""
    if priority <= 0:
        return Item("SCHED_FIFO", OK, "not asked for")
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        return Item("SCHED_FIFO", NOT_SUPPORTED, f"thread {tid}: {exc.strerror}")
    return Item("SCHED_FIFO", CHANGED, f"thread {tid} at priority {priority}")
