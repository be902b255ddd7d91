# SPDX-License-Identifier: MIT
"""Operator verbs that are designed but not built yet.

Each says so and exits non-zero rather than pretending to work.
"""

from __future__ import annotations

import argparse
import sys

from orchestrator.cli import EXIT_UNIMPLEMENTED, Command

# LSB: `status` answers 4 ("status unknown"); other actions 3 ("unimplemented").
EXIT_STATUS_UNKNOWN = 4

_PENDING = {
    "run": "run the service in the foreground",
    "start": "start the service in the background",
    "stop": "stop the service gracefully",
    "status": "show the service's state",
    "failover": "switch a venue to its hot standby connection",
    "kill": "kill switch: no further order leaves",
    "top": "live view of connections, peers, orders and latency",
}


def _not_built(name: str) -> Command:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(args: argparse.Namespace) -> int:
        print(
            f"stratum {name}: not built yet in this version "
            "(the engine and daemon are still to come; see docs/ARCHITECTURE.md)",
            file=sys.stderr,
        )
        return EXIT_STATUS_UNKNOWN if name == "status" else EXIT_UNIMPLEMENTED

    return Command(name, f"{_PENDING[name]} (not built yet)", add_arguments, run)


COMMANDS = [_not_built(name) for name in _PENDING]
