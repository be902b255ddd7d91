# SPDX-License-Identifier: MIT
"""`stratum check`: what this host gives the engine, item by item.

Each item is ok / would change / changed / not supported / wrong / not checked,
with the reason. Without --config only the host itself is checked. With
--config, the configuration is validated, the core plan derived and the
trading interface's set-up checked; nothing is changed unless --apply is given.
Exit 1 when any item is wrong, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator import __version__, native
from orchestrator.cli import EXIT_FAILURE, EXIT_OK, Command
from orchestrator.cpu import CorePlan
from orchestrator.errors import ConfigError, NativeError
from orchestrator.hotline import LoopMode
from orchestrator.netcfg import NOT_SUPPORTED, OK, WRONG, Item

if TYPE_CHECKING:
    from orchestrator.config import MetricsConfig

NOT_CHECKED = "not checked"
WARNING = "warning"    # works, but slower than it should: exit 0

# What only a configuration can say.
_NEEDS_CONFIG = [
    ("core plan", "which cores to use comes from the configuration (--config)"),
    ("trading interface", "the interface to check comes from the configuration (--config)"),
]


def _native_item() -> Item:
    # Importing orchestrator already proved the module matches the package.
    return Item("native module", OK, f"orchestrator._native built for {__version__}")


def _cpu_items() -> list[Item]:
    features = native.cpu_features()
    sha = (
        Item("SHA-NI", OK, "HMAC-SHA256 signing uses the SHA extensions")
        if "sha_ni" in features
        else Item("SHA-NI", NOT_SUPPORTED, "no SHA extensions: signing uses portable code")
    )
    aes = (
        Item("AES-NI", OK, "AES-GCM can use AES-NI")
        if "aes" in features
        else Item("AES-NI", NOT_SUPPORTED, "no AES-NI: TLS record encryption will be slow")
    )
    return [sha, aes]


def _io_uring_item() -> Item:
    try:
        native.io_uring_probe()
    except NativeError as exc:
        return Item("io_uring", WRONG, f"the kernel refused a ring: {exc}")
    return Item("io_uring", OK, "a ring can be set up")


def _loop_mode_item(mode: LoopMode, core_plan: CorePlan) -> Item:
    if mode is LoopMode.SQPOLL and core_plan.sqpoll == core_plan.hot:
        # Measured on the wire (issue 12): the SQ thread and the engine thread
        # time-share the core, and every trigger waits for the other to yield.
        return Item("loop mode", WARNING,
                    f"sqpoll: the SQ thread would share the hot core {core_plan.hot} with the "
                    "engine thread; give cpus.sqpoll a core of its own, or use busy")
    return Item("loop mode", OK, mode.label)


def _metrics_item(metrics: MetricsConfig | None, run_dir: Path) -> Item:
    if metrics is None:
        return Item("metrics port", NOT_CHECKED, "no [metrics] in the configuration")
    from orchestrator.health import port_taken
    from orchestrator.instance import running_pid

    taken = port_taken(metrics.host, metrics.port)
    if taken:
        pid = running_pid(run_dir)
        if pid is not None:   # this configuration's own daemon serves on it
            return Item("metrics port", OK,
                        f"{metrics.host}:{metrics.port} is served by the running daemon "
                        f"(pid {pid})")
        return Item("metrics port", WRONG, taken)
    return Item("metrics port", OK, f"{metrics.host}:{metrics.port} is free")


def collect(config_path: str | None = None, apply: bool = False) -> list[Item]:
    items = [_native_item(), *_cpu_items(), _io_uring_item()]
    if config_path is None:
        return items + [Item(name, NOT_CHECKED, why) for name, why in _NEEDS_CONFIG]
    from orchestrator import cpu, netcfg
    from orchestrator.config import load_config

    config = load_config(config_path)
    items.append(Item("configuration", OK, f"{config_path} is valid"))
    interface = config.network.interface if config.network else None
    core_plan = cpu.plan(config.cpus, interface)
    items.append(Item("core plan", OK, f"hot {core_plan.hot}, sqpoll {core_plan.sqpoll}, "
                                       f"orchestrator {core_plan.orchestrator} "
                                       f"({core_plan.reason})"))
    items.append(_loop_mode_item(config.engine.loop_mode, core_plan))
    items.append(_metrics_item(config.metrics, config.engine.run_dir))
    if config.network is None:
        items.append(Item("trading interface", NOT_CHECKED, "no [network] in the configuration"))
    else:
        items += netcfg.check_network(config.network, core_plan.hot, os.sched_getaffinity(0),
                                      apply)
    return items


def _print_table(items: list[Item]) -> None:
    width = max(len(i.name) for i in items)
    status_width = max(len(i.status) for i in items)
    for item in items:
        print(f"{item.name:<{width}}  {item.status:<{status_width}}  {item.detail}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the items as JSON")
    parser.add_argument("--config", help="also check this configuration and its interface")
    parser.add_argument("--apply", action="store_true",
                        help="change what the configuration asks for (needs --config)")


def run(args: argparse.Namespace) -> int:
    if args.apply and not args.config:
        print("stratum check: --apply needs --config", file=sys.stderr)
        return EXIT_FAILURE
    try:
        items = collect(args.config, args.apply)
    except ConfigError as exc:
        print(f"stratum check: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps({"items": [asdict(i) for i in items]}))
    else:
        _print_table(items)
    return EXIT_FAILURE if any(i.status == WRONG for i in items) else EXIT_OK


COMMANDS = [Command("check", "report what this host gives the engine (changes nothing "
                             "without --apply)",
                    add_arguments, run)]
