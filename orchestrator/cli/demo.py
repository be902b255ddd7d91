# SPDX-License-Identifier: MIT
"""`stratum demo`: the whole product against simulators on this machine."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from orchestrator.cli import EXIT_FAILURE, Command
from orchestrator.venues.registry import ADAPTERS, DEMO_VENUE


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", default="build/demo",
                        help="work directory (emptied first)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds for the replay")
    parser.add_argument("--venue", choices=sorted(ADAPTERS), default=DEMO_VENUE,
                        help=f"the venue to trade on the simulator (default {DEMO_VENUE})")


def _run(args: argparse.Namespace) -> int:
    from orchestrator.demo import run_demo

    work = Path(args.work).resolve()
    if work.exists():
        shutil.rmtree(work)
    try:
        return run_demo(work, args.venue, timeout=args.timeout)
    except RuntimeError as exc:
        print(f"stratum demo: {exc}", file=sys.stderr)
        return EXIT_FAILURE


COMMANDS = [Command("demo", "run the engine against local simulators and summarize",
                    _add_arguments, _run)]
