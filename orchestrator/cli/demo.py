# SPDX-License-Identifier: MIT
"""`stratum demo`: the whole product against simulators on this machine."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from orchestrator.cli import EXIT_FAILURE, Command

ROOT = Path(__file__).resolve().parents[2]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", default="build/demo",
                        help="work directory (emptied first; default build/demo)")
    parser.add_argument("--shared-data", default=os.environ.get(
        "STRATUM_SHARED_DATA", str(ROOT.parent / "shared" / "data")),
        help="the shared test data (the mainnet block); default $STRATUM_SHARED_DATA")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds for the replay")


def _run(args: argparse.Namespace) -> int:
    from orchestrator.demo import run_demo

    shared = Path(args.shared_data)
    if not list((shared / "bitcoin").glob("block-*.blk")):
        print(f"stratum demo: no block-*.blk under {shared}/bitcoin: set --shared-data",
              file=sys.stderr)
        return EXIT_FAILURE
    work = Path(args.work).resolve()
    if work.exists():
        shutil.rmtree(work)
    try:
        return run_demo(work, shared, timeout=args.timeout)
    except RuntimeError as exc:
        print(f"stratum demo: {exc}", file=sys.stderr)
        return EXIT_FAILURE


COMMANDS = [Command("demo", "run the engine against local simulators and summarize",
                    _add_arguments, _run)]
