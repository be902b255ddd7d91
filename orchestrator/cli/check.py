# SPDX-License-Identifier: MIT
"""`stratum check`: what this host gives the engine, item by item.

Each item is ok / not supported / wrong / not checked yet, with the reason.
Nothing is changed. Items this version cannot check yet are listed as such,
so the report never implies more than it looked at. Exit 1 when any item is
wrong, else 0.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

from orchestrator import __version__, native
from orchestrator.cli import EXIT_FAILURE, EXIT_OK, Command
from orchestrator.errors import NativeError

OK = "ok"
NOT_SUPPORTED = "not supported"
WRONG = "wrong"
NOT_CHECKED = "not checked yet"


@dataclass(frozen=True)
class Item:
    name: str
    status: str
    detail: str


# Checks that belong to later parts of the engine: honest placeholders.
_NOT_YET = [
    ("trading interface", "NIC state, MTU, features and channels (pyroute2) are not checked yet"),
    ("NIC IRQ affinity", "IRQ placement of the NIC's queues is not checked yet"),
    ("busy polling", "net.core.busy_poll / busy_read sysctls are not checked yet"),
    ("core plan", "isolated cores, affinity and scheduling policy are not checked yet"),
    ("locked memory", "mlockall and RLIMIT_MEMLOCK are not checked yet"),
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


def collect() -> list[Item]:
    items = [_native_item(), *_cpu_items(), _io_uring_item()]
    items += [Item(name, NOT_CHECKED, why) for name, why in _NOT_YET]
    return items


def _print_table(items: list[Item]) -> None:
    width = max(len(i.name) for i in items)
    status_width = max(len(i.status) for i in items)
    for item in items:
        print(f"{item.name:<{width}}  {item.status:<{status_width}}  {item.detail}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the items as JSON")


def run(args: argparse.Namespace) -> int:
    items = collect()
    if args.json:
        print(json.dumps({"items": [asdict(i) for i in items]}))
    else:
        _print_table(items)
    return EXIT_FAILURE if any(i.status == WRONG for i in items) else EXIT_OK


COMMANDS = [Command("check", "report what this host gives the engine (changes nothing)",
                    add_arguments, run)]
