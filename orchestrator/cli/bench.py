# SPDX-License-Identifier: MIT
"""`stratum bench SUITE [--json]`: run benchmark suites ("all" runs every one)."""

from __future__ import annotations

import argparse
import json
import sys

from orchestrator.bench import SUITES, Report, suite
from orchestrator.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Command


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help=f"one of: {', '.join(SUITES)}, all")
    parser.add_argument("--json", action="store_true", help="one JSON object per suite")
    parser.add_argument("--samples", type=_positive,
                        help="timed samples per competitor (default: the suite's own)")
    parser.add_argument("--batch", type=_positive,
                        help="calls per timed sample, where a suite batches (default: its own)")


def _print_human(report: Report) -> None:
    print(f"suite {report['suite']} on {report['cpu']}")
    for r in report["results"]:
        print(f"  {r['name']:<28} p50 {r['p50']:>10.1f} {r['unit']}  "
              f"p99 {r['p99']:>10.1f} {r['unit']}  n={r['n']}")
    for name, ratio in report.get("ratios_p50", {}).items():
        print(f"  {name}: {ratio}x")


def run(args: argparse.Namespace) -> int:
    if args.suite != "all" and args.suite not in SUITES:
        print(f"stratum bench: unknown suite {args.suite!r}; choose from: "
              f"{', '.join(SUITES)}, all", file=sys.stderr)
        return EXIT_USAGE
    names = list(SUITES) if args.suite == "all" else [args.suite]
    for name in names:
        options = {k: v for k, v in (("samples", args.samples), ("batch", args.batch)) if v}
        try:
            run_suite = suite(name)
        except ModuleNotFoundError as exc:
            print(f"stratum bench: suite {name} needs the Python package {exc.name!r} "
                  "(pip install 'stratum-engine[bench]')", file=sys.stderr)
            return EXIT_FAILURE
        report = run_suite(**options)
        if args.json:
            print(json.dumps(report), flush=True)
        else:
            _print_human(report)
    return EXIT_OK


COMMANDS = [Command("bench", "run benchmark suites and print their results",
                    add_arguments, run)]
