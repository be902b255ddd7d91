# SPDX-License-Identifier: MIT
"""TLS WebSocket echo server for `stratum bench wsecho` (picows, loopback only).

Usage:
    python -m orchestrator.bench.echo_server --cert CHAIN.pem --key KEY.pem \
        --host 127.0.0.1 --port 0 [--ready-file PATH] [--tls12-only]

Every data frame (text, binary, continuation) is echoed back at once with the
same opcode and FIN bit, so fragmented messages come back fragmented the same
way. PINGs are answered by picows itself (enable_auto_pong); a CLOSE is
answered with the same code and the connection is dropped. When listening it
prints `READY <port>` on stdout (and writes the port to --ready-file) and runs
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import ssl
import sys

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# TLS 1.2 suites, fastest first; TLS 1.3 suites are not affected by set_ciphers().
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
_DATA_TYPES = frozenset((WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION))


class EchoListener(WSListener):
    """Echo each data frame with the same opcode; mirror CLOSE."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type in _DATA_TYPES:
            transport.send(msg_type, frame.get_payload_as_memoryview(), frame.fin)
        elif msg_type == WSMsgType.CLOSE:
            # picows does not answer CLOSE by itself. Mirror the peer's code; an
            # empty CLOSE (no code, 1005) is answered with 1000, never with code 0.
            try:
                code = frame.get_close_code()
            except ValueError:  # a 3000-4999 code picows has no enum member for
                code = WSCloseCode.OK
            if code == WSCloseCode.NO_INFO:
                code = WSCloseCode.OK
            transport.send_close(code, frame.get_close_message())
            transport.disconnect()
        # PONG (and PING when auto-pong is off) are ignored.


def _listener_factory(_request: WSUpgradeRequest) -> WSListener:
    return EchoListener()


def make_server_context(cert: str, key: str, tls12_only: bool = False) -> ssl.SSLContext:
    """Server-side context: TLS >= 1.2, AES-128-GCM ECDHE suites preferred."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION
    ctx.load_cert_chain(cert, key)
    return ctx


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--cert", required=True, help="PEM certificate chain")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1, ::1 or localhost only")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--ready-file", help="write the listening port here once ready")
    p.add_argument(
        "--tls12-only", action="store_true", help="cap the server at TLS 1.2 (like the C client)"
    )
    p.add_argument(
        "--no-uvloop", action="store_true", help="use the stock asyncio loop even if uvloop exists"
    )
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    ctx = make_server_context(args.cert, args.key, args.tls12_only)
    host = "127.0.0.1" if args.host == "localhost" else args.host
    server = await ws_create_server(
        _listener_factory,
        host,
        args.port,
        ssl=ctx,
        max_frame_size=16 * 1024 * 1024,
        websocket_handshake_timeout=5,
    )
    port = int(server.sockets[0].getsockname()[1])
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.ready_file)
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"echo_server: refusing to bind {args.host!r}: only 127.0.0.1 or ::1 are allowed",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.port <= 65535:
        print(f"echo_server: bad port {args.port}", file=sys.stderr)
        return 2
    if not args.no_uvloop:
        try:
            uvloop = importlib.import_module("uvloop")
        except ImportError:
            pass
        else:
            uvloop.run(_serve(args))
            return 0
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
