# SPDX-License-Identifier: MIT
"""The `stratum` command: one entry point, one module per subcommand.

Each subcommand module exposes COMMANDS, a list of Command entries. Exit
codes follow LSB: 0 success, 1 generic failure, 2 bad usage, 3 unimplemented
feature; `status` uses the LSB status codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNIMPLEMENTED = 3


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _commands() -> list[Command]:
    # Imported here so `stratum --help` lists commands without loading more than needed.
    from orchestrator.cli import bench, check, demo, service

    return [*check.COMMANDS, *bench.COMMANDS, *service.COMMANDS, *demo.COMMANDS]


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that says each option's default, where it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (action.option_strings and default is not None and default is not False
                and default != argparse.SUPPRESS and "default" not in text):
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    from orchestrator import __version__

    parser = argparse.ArgumentParser(
        prog="stratum",
        description="stratum-engine: low-latency order execution with a native data plane.",
    )
    parser.add_argument("--version", action="version", version=f"stratum {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _commands():
        p = sub.add_parser(command.name, help=command.help, description=command.help,
                           formatter_class=DefaultsFormatter)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`stratum status | head -1`): no traceback, and none
        # again when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
