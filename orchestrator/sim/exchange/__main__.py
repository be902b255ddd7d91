# SPDX-License-Identifier: MIT
"""A TLS WebSocket exchange simulator for tests and the demo (loopback only).

Speaks the venues listed in ``orchestrator/sim/exchange/venues.py``, one module each
(its docstring says which subset of the venue's API and which paths): WebSocket APIs
and market streams on one port, routed by path, REST endpoints on a second port.  It
verifies signatures exactly as the venues document them, enforces timestamps,
rate limits (429, then 418 bans) and unique client order ids, and executes orders
against a random-walking top of book.

    python -m orchestrator.sim.exchange --cert CERT.pem --key KEY.pem --accounts ACCOUNTS.json
        --record-dir DIR --ready-file FILE [--host 127.0.0.1] [--port 0] [--rest-port 0]
        [--clock-skew-ms MS] [--orders-per-10s 50] [--orders-per-day 160000]
        [--weight-per-minute 6000] [--ban-after 3] [--ban-ms 120000]
        [--outcome-unknown-regex RE] [--ack-delay-ms MS] [--client-id-regex RE]
        [--tokens-die-on-close] [--pair-counter-max N]
        [--book SYMBOL=BID:ASK ...] [--book-interval-ms 100] [--book-static] [--seed N]

ACCOUNTS.json: {"<venue>": [{"apiKey", ...}, ...], ...}, each venue's entries as its
module describes.  Once listening it writes FILE atomically
as {"ws_port": N, "rest_port": M, "pid": P} and prints "READY ws_port=N rest_port=M".
DIR receives <venue>.jsonl for each venue and rest.jsonl (a line per request received),
connections.jsonl (the close code each client sent) and orders.json (every accepted
order).  --outcome-unknown-regex: an order whose client order id matches is executed
but answered "execution status unknown" (where the venue module simulates it).
--ack-delay-ms: order answers leave that much later (the order is executed at once).
--book adds or replaces a symbol (defaults: each venue's; a symbol with "/" is quoted
as the venues that write pairs with a slash do).  SIGUSR1 cuts, with no close frame,
the connection that carried the latest order (a dead primary, for failover tests).
Bad arguments or accounts: one line on stderr, exit
2.  Runs until SIGTERM or SIGINT, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from orchestrator.sim import listen_address

from .accounts import AccountsError, load_accounts
from .book import Book, parse_book_spec
from .clock import Clock
from .context import Context
from .limits import RateLimits
from .orders import OrderStore
from .record import Recorder
from .server import Simulator, server_context
from .venues import VENUES

PROG = "exchange_sim"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the problem, exit 2."""
        self.exit(2, f"{PROG}: error: {message}\n")


def _int_at_least(low: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return value

    return convert


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port")
    return value


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression ({exc})") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    doc = (__doc__ or "").split("\n\n")
    p = _Parser(prog=PROG, description=doc[0], epilog="\n\n".join(doc[2:]),
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cert", type=Path, required=True, help="server certificate chain (PEM)")
    p.add_argument("--key", type=Path, required=True, help="its private key (PEM)")
    p.add_argument("--accounts", type=Path, required=True, help="accounts JSON file")
    p.add_argument("--record-dir", type=Path, required=True, help="where logs are written")
    p.add_argument("--ready-file", type=Path, required=True,
                   help='written as {"ws_port", "rest_port", "pid"} once listening')
    p.add_argument("--host", type=listen_address, default="127.0.0.1",
                   help="127.x.x.x or 198.18.0.0/15 address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="WebSocket port (0: any)")
    p.add_argument("--rest-port", type=_port, default=0, help="REST port (0: any)")
    p.add_argument("--clock-skew-ms", type=int, default=0,
                   help="server time = real time + this (default 0)")
    p.add_argument("--orders-per-10s", type=_int_at_least(1), default=50,
                   help="new orders per account per 10 s interval (default 50)")
    p.add_argument("--orders-per-day", type=_int_at_least(1), default=160_000,
                   help="new orders per account per UTC day (default 160000)")
    p.add_argument("--weight-per-minute", type=_int_at_least(1), default=6000,
                   help="request weight per IP per minute (default 6000)")
    p.add_argument("--ban-after", type=_int_at_least(0), default=3,
                   help="requests refused before retryAfter that earn a 418 ban (0: never)")
    p.add_argument("--ban-ms", type=_int_at_least(1), default=120_000,
                   help="how long a ban lasts (default 2 minutes)")
    p.add_argument("--outcome-unknown-regex", type=_regex, default=None, metavar="RE",
                   help="orders whose client order id matches are executed but answered "
                   "'execution status unknown'")
    p.add_argument("--ack-delay-ms", type=_int_at_least(0), default=0,
                   help="delay of order answers, order executed at once (default 0)")
    p.add_argument("--client-id-regex", type=_regex, default=None, metavar="RE",
                   help="client order id rule (default: the venue's documented one)")
    p.add_argument("--tokens-die-on-close", action="store_true",
                   help="a WebSocket token is refused once a connection that used it has "
                   "closed (venues whose orders carry a REST-issued token)")
    p.add_argument("--pair-counter-max", type=_int_at_least(1), default=60,
                   help="per-pair order counter threshold, decaying by 1 a second "
                   "(venues that meter orders per pair; default 60, a starter tier)")
    p.add_argument("--book", action="append", default=[], metavar="SYMBOL=BID:ASK",
                   help="add or replace a symbol's book (repeatable)")
    p.add_argument("--book-interval-ms", type=_int_at_least(1), default=100,
                   help="book steps and bookTicker pushes (default every 100 ms)")
    p.add_argument("--book-static", action="store_true", help="prices do not move")
    p.add_argument("--seed", type=int, default=None, help="seed of the book's random walk")
    return p.parse_args(argv)


def _fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def build(args: argparse.Namespace) -> tuple[Context, ssl.SSLContext]:
    """Everything that can fail on bad input, before anything listens."""
    try:
        accounts = load_accounts(
            args.accounts, {name: v.parse_account for name, v in VENUES.items()})
    except AccountsError as exc:
        _fail(f"accounts file {args.accounts}: {exc}")
    quotes = {}
    defaults = [spec for venue in VENUES.values() for spec in venue.books]
    for spec in [*defaults, *args.book]:
        try:
            quote = parse_book_spec(spec)
        except ValueError as exc:
            _fail(str(exc))
        quotes[quote.symbol] = quote
    try:
        ssl_ctx = server_context(args.cert, args.key)
    except (OSError, ssl.SSLError) as exc:
        _fail(f"cannot load --cert {args.cert} / --key {args.key}: {exc}")
    if not args.ready_file.parent.is_dir():
        _fail(f"--ready-file {args.ready_file}: its directory does not exist")
    try:
        recorder = Recorder(args.record_dir, VENUES)
    except OSError as exc:
        _fail(f"--record-dir {args.record_dir}: {exc.strerror}")
    ctx = Context(
        accounts=accounts,
        clock=Clock(args.clock_skew_ms),
        recorder=recorder,
        book=Book(list(quotes.values()), static=args.book_static, seed=args.seed),
        orders=OrderStore(recorder),
        limits=RateLimits(
            weight_per_minute=args.weight_per_minute, orders_per_10s=args.orders_per_10s,
            orders_per_day=args.orders_per_day, ban_after=args.ban_after, ban_ms=args.ban_ms,
        ),
        client_id_re=args.client_id_regex,
        outcome_unknown_re=args.outcome_unknown_regex,
        ack_delay_ms=args.ack_delay_ms,
        tokens_die_on_close=args.tokens_die_on_close,
        pair_counter_max=args.pair_counter_max,
    )
    return ctx, ssl_ctx


async def main_async(args: argparse.Namespace, ctx: Context, ssl_ctx: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sim = Simulator(ctx)
    # SIGUSR1: cut the connection that carried the latest order (failover tests).
    loop.add_signal_handler(signal.SIGUSR1, sim.cut_last_order_links)
    try:
        await sim.run(
            host=args.host, ws_port=args.port, rest_port=args.rest_port, ssl_ctx=ssl_ctx,
            book_interval_ms=args.book_interval_ms, ready_file=args.ready_file, stop=stop,
        )
    finally:
        ctx.recorder.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx, ssl_ctx = build(args)
    try:
        asyncio.run(main_async(args, ctx, ssl_ctx))
    except OSError as exc:  # e.g. the port is taken
        print(f"{PROG}: error: cannot listen on {args.host}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
