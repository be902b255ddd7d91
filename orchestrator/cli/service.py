# SPDX-License-Identifier: MIT
"""Operator verbs: run, start, stop, status, kill, resume, failover, top.

They find the daemon through its control socket (<run_dir>/control.sock of
the configuration, or --socket). `status` follows LSB: 0 running, 3 not
running, 4 unknown (something answers on the socket, but not sensibly).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import subprocess
import sys
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator import safefs
from orchestrator.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Command
from orchestrator.config import load_config, load_run_dir
from orchestrator.control import ControlError, NotRunningError, request
from orchestrator.errors import ConfigError, StratumError, UnsafePathError

STATUS_RUNNING, STATUS_NOT_RUNNING, STATUS_UNKNOWN = 0, 3, 4
START_TIMEOUT_S = 60.0


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="the configuration (default: $STRATUM_CONFIG)")
    parser.add_argument("--socket", help="the control socket (instead of the configuration's)")


def _socket(args: argparse.Namespace) -> Path:
    if args.socket:
        return Path(args.socket)
    path = args.config or os.environ.get("STRATUM_CONFIG")
    if not path:
        raise ConfigError("no --config, --socket or $STRATUM_CONFIG: which daemon?")
    return load_run_dir(path) / "control.sock"


def _fail(verb: str, exc: Exception, code: int = EXIT_FAILURE) -> int:
    print(f"stratum {verb}: {exc}", file=sys.stderr)
    return code


# -- run / start ---------------------------------------------------------------


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the configuration file")


def _add_start(parser: argparse.ArgumentParser) -> None:
    _add_run(parser)
    parser.add_argument("--wait", type=float, default=START_TIMEOUT_S, metavar="SECONDS",
                        help="how long to wait for every venue to be ready to trade")


def _run(args: argparse.Namespace) -> int:
    from orchestrator.daemon import Daemon

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        daemon = Daemon(load_config(args.config))
    except (StratumError, OSError) as exc:
        return _fail("run", exc)
    return daemon.run()


def _start(args: argparse.Namespace) -> int:
    if args.wait <= 0:
        print("stratum start: --wait must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail("start", exc)
    sock = config.engine.run_dir / "control.sock"
    try:
        request(sock, "status", timeout=2)
        return _fail("start", RuntimeError(f"already running (answering on {sock})"))
    except ControlError:
        pass
    log_path = config.engine.run_dir / "stratum.log"
    try:    # the daemon checks its folders too; the log is opened before it runs
        safefs.prepare_folder(config.engine.run_dir)
        log_fd = safefs.open_file(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except UnsafePathError as exc:
        return _fail("start", exc)
    with os.fdopen(log_fd, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "run", "--config", str(args.config)],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
            start_new_session=True)
    deadline = time.monotonic() + args.wait
    reply: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return _fail("start", RuntimeError(f"the daemon exited ({proc.returncode}); "
                                               f"see {log_path}"))
        try:
            reply = request(sock, "status", timeout=2)
        except ControlError:
            reply = {}
        waiting = _not_ready(reply)
        if reply and not waiting:
            print(f"stratum started (pid {proc.pid}; log {log_path})")
            return EXIT_OK
        time.sleep(0.1)
    if reply:
        return _fail("start", TimeoutError(
            f"running (pid {proc.pid}), but not ready to trade after {args.wait:g} s: "
            f"{', '.join(_not_ready(reply))}; see {log_path}"))
    return _fail("start", TimeoutError(f"no answer on {sock} after {args.wait:g} s"))


def _not_ready(reply: dict[str, Any]) -> list[str]:
    """The venues of a status reply with no connection ready to trade (logged on,
    clock synced), each with its connections' states."""
    return [f"{v['name']} ({'/'.join(v['connections'])})" for v in reply.get("venues", [])
            if not v["ready"]]


# -- talking to a running daemon -----------------------------------------------


def _ask(verb: str, args: argparse.Namespace, **fields: Any) -> int:
    try:
        reply = request(_socket(args), verb, **fields)
    except (ControlError, ConfigError) as exc:
        return _fail(verb, exc)
    if not reply.get("ok"):
        return _fail(verb, RuntimeError(reply.get("error", "refused")))
    print(f"stratum {verb}: done")
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    try:
        path = _socket(args)
        reply = request(path, "stop")
    except NotRunningError as exc:
        print(f"stratum stop: not running ({exc})")   # as `systemctl stop`: nothing to do
        return EXIT_OK
    except (ControlError, ConfigError) as exc:
        return _fail("stop", exc)
    if not reply.get("ok"):
        return _fail("stop", RuntimeError(reply.get("error", "refused")))
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:   # gone once it has stopped
        time.sleep(0.05)
    if path.exists():
        return _fail("stop", TimeoutError("still running"))
    print("stratum stop: done")
    return EXIT_OK


def _kill(args: argparse.Namespace) -> int:
    return _ask("kill", args)


def _resume(args: argparse.Namespace) -> int:
    return _ask("resume", args)


def _add_failover(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("venue", nargs="?", help="the venue's name in the configuration")
    parser.add_argument("--host", help="[ha]: hand trading over to this host (run on the "
                                       "active host)")


def _failover(args: argparse.Namespace) -> int:
    if (args.venue is None) == (args.host is None):
        return _fail("failover", ValueError("name a venue, or --host HOST (not both)"))
    if args.host is not None:
        return _ask("failover", args, host=args.host)
    return _ask("failover", args, venue=args.venue)


def _add_status(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("--json", action="store_true", help="the whole state as JSON")


def _status(args: argparse.Namespace) -> int:
    try:
        path = _socket(args)
    except ConfigError as exc:
        return _fail("status", exc, STATUS_UNKNOWN)
    try:
        reply = request(path, "status", timeout=5)
    except ControlError as exc:
        not_running = isinstance(exc, NotRunningError)
        if args.json:
            print(json.dumps({"state": "stopped" if not_running else "unknown",
                              "error": str(exc)}))
        else:
            print(f"stratum: {'not running' if not_running else 'unknown'} ({exc})")
        return STATUS_NOT_RUNNING if not_running else STATUS_UNKNOWN
    if not reply.get("ok"):
        print(f"stratum: unknown ({reply.get('error')})")
        return STATUS_UNKNOWN
    print(json.dumps(reply, indent=1) if args.json else render(reply))
    return STATUS_RUNNING


def render(s: dict[str, Any]) -> str:
    """The status as an operator's table."""
    lines = [
        f"stratum {s['version']}  pid {s['pid']}  up {s['uptime_s']} s  "
        f"heartbeat {s['heartbeat_age_ms']} ms ago" + ("  KILLED" if s["killed"] else ""),
        f"triggers {s['triggers']}  orders {s['orders_sent']}  acks {s['acks']}",
        f"refused: too few announcers {s['too_few_announcers']}  venue {s['rejects']}  "
        f"risk {s['risk_rejects']}  unknown {s['unknown']}  bad commands {s['bad_commands']}",
        "",
        f"{'venue':<14}{'connections':<24}{'active':>7}{'orders':>8}{'acks':>6}{'open':>6}",
    ]
    for v in s["venues"]:
        lines.append(f"{v['name']:<14}{'/'.join(v['connections']):<24}{v['active']:>7}"
                     f"{v['orders_sent']:>8}{v['acks']:>6}{v['open_orders']:>6}")
        if v["risk_rejections"]:
            lines.append(f"{'':<14}refused: " + ", ".join(
                f"{k} {n}" for k, n in v["risk_rejections"].items()))
        if "book" in v:
            b = v["book"]
            age = f"{b['age_s']} s ago" if b["age_s"] is not None else "no price yet"
            lines.append(f"{'':<14}book {b['bid']} / {b['ask']}  {age}  ({b['connection']}, "
                         f"{b['updates']} updates, {b['dropped']} dropped)")
    lines.append("")
    lines.append("peers: " + ", ".join(f"{p['address']} {p['state']}" for p in s["peers"]))
    lines.append(f"{'latency':<18}{'count':>8}{'p50 µs':>10}{'p99 µs':>10}")
    for name, h in s["latency"].items():
        lines.append(f"{name:<18}{h['count']:>8}{h['p50_ns'] / 1000:>10.1f}"
                     f"{h['p99_ns'] / 1000:>10.1f}")
    if "ha" in s:
        ha = s["ha"]
        lines.append(f"ha: {ha['name']} {ha['role']}  epoch {ha['epoch']}  holder "
                     f"{ha['holder'] or '-'}  peers {', '.join(ha['peers']) or '-'}  lease "
                     f"{ha['lease_remaining_s']} s  ({ha['reason']})")
    for error in s["errors"][-5:]:
        lines.append(f"error: {error}")
    for action in s["operator"][-3:]:
        lines.append(f"operator: {action['action']} at {action['at']}")
    return "\n".join(lines)


def _add_top(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument("--count", type=int, default=0, help="refreshes, then exit (0: forever)")


def _top(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.count < 0:
        print("stratum top: --interval must be positive and --count not negative",
              file=sys.stderr)
        return EXIT_USAGE
    n = 0
    try:
        path = _socket(args)
        with _keys() as keys:
            while args.count == 0 or n < args.count:
                reply = request(path, "status", timeout=5)
                if sys.stdout.isatty():
                    print("\x1b[H\x1b[2J", end="")
                print(render(reply) + ("\n\nq: quit" if keys is not None else ""), flush=True)
                n += 1
                if (args.count == 0 or n < args.count) and _quit_key(keys, args.interval):
                    break
    except (ControlError, ConfigError) as exc:
        return _fail("top", exc)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


@contextmanager
def _keys() -> Iterator[int | None]:
    """The terminal's file descriptor in cbreak mode (keys arrive one by one,
    unechoed), restored afterwards; None when stdin is no terminal."""
    fd = sys.stdin.fileno() if sys.stdin and sys.stdin.isatty() else None
    if fd is None:
        yield None
        return
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _quit_key(fd: int | None, timeout: float) -> bool:
    """Waits `timeout` seconds; True as soon as q is pressed."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if fd is None:
            time.sleep(left)
        elif select.select([fd], [], [], left)[0] and os.read(fd, 1) in (b"q", b"Q", b""):
            return True                 # q, or the terminal is gone
    return False


COMMANDS = [
    Command("run", "run the service in the foreground (what systemd runs)", _add_run, _run),
    Command("start", "start the service in the background; returns once every venue is "
            "ready to trade", _add_start, _start),
    Command("stop", "stop gracefully: no more triggers, close connections, flush journals",
            _add_target, _stop),
    Command("status", "show the service's state (LSB exit codes)", _add_status, _status),
    Command("kill", "kill switch: no further order leaves (until `resume`)", _add_target,
            _kill),
    Command("resume", "clear the kill switch: orders may leave again (orders the kill left "
            "unknown stay unknown)", _add_target, _resume),
    Command("failover", "switch a venue to its hot standby connection, or (--host) hand "
            "trading to the other host", _add_failover,
            _failover),
    Command("top", "live view of connections, peers, orders and latency (q quits)", _add_top,
            _top),
]
