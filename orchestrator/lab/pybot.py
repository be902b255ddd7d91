# SPDX-License-Identifier: MIT
"""The Python reference bot: the deposit rule written the way users write it
today, for the lab to time against the engine on the same wire.

asyncio; python-bitcoinlib speaks P2P (version/verack, inv -> getdata, ping ->
pong) and parses each tx; a tx paying at least the threshold to the watched
address places one LIMIT IOC SELL, built and signed (`hmac`) by the venue's
Python reference client (`VenueAdapter.reference`, the `reference.py` of its
folder), sent as JSON over `websockets`
with `ssl` to the exchange simulator. Answers are read and dropped by a task of
their own. Nothing here is tuned: that is the point.

    python -m orchestrator.lab.pybot --peer IP:PORT --venue WSS_URL
        --ca CA.pem --credentials FILE --address ADDRESS --threshold-sats N
        [--profile NAME] [--server-name NAME] [--symbol S] [--price P]
        [--quantity Q] [--count N] [--txs N] [--ready-file PATH]

FILE is JSON {"api_key": ..., "secret": ...} (kept out of argv and logs).
Writes PATH once both connections are up; stops after --count orders or --txs
transactions (or SIGTERM/SIGINT), then prints "triggers=N txs=M".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import ssl
import struct
import sys
from pathlib import Path
from typing import Any

import bitcoin
import websockets
from bitcoin.core import CTransaction
from bitcoin.messages import MsgSerializable, msg_getdata, msg_pong, msg_verack, msg_version
from bitcoin.wallet import CBitcoinAddress

from orchestrator.venues import Side
from orchestrator.venues.registry import ADAPTERS, DEMO_VENUE


class Bot:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.credentials = json.loads(Path(args.credentials).read_text())
        reference = ADAPTERS[args.profile].reference
        if reference is None:
            raise SystemExit(f"pybot: {args.profile} has no Python reference client")
        self.reference = reference
        self.script = CBitcoinAddress(args.address).to_scriptPubKey()
        self.ids = itertools.count(1)
        self.triggers = self.txs = 0

    async def read_message(self, reader: asyncio.StreamReader) -> MsgSerializable | None:
        """The next message; None for a command python-bitcoinlib does not know."""
        header = await reader.readexactly(24)
        payload = await reader.readexactly(struct.unpack("<I", header[16:20])[0])
        return MsgSerializable.from_bytes(header + payload)

    async def place(self, ws: Any) -> None:
        n = next(self.ids)
        await ws.send(self.reference.order(
            self.credentials, n, self.args.symbol, Side.SELL, self.args.price,
            self.args.quantity, f"pybot-{os.getpid()}-{n}"))

    async def run(self) -> None:
        args = self.args
        context = ssl.create_default_context(cafile=args.ca)
        host, port = args.peer.rsplit(":", 1)
        async with websockets.connect(args.venue, ssl=context,
                                      server_hostname=args.server_name) as ws:
            answers = asyncio.create_task(self.drop_answers(ws))
            reader, writer = await asyncio.open_connection(host, int(port))
            version = msg_version()
            version.nVersion = 70016
            writer.write(version.to_bytes() + msg_verack().to_bytes())
            await writer.drain()
            if args.ready_file:
                Path(args.ready_file).write_text(f"{os.getpid()}\n")
            try:
                await self.follow(reader, writer, ws)
            finally:
                answers.cancel()
                writer.close()

    async def follow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     ws: Any) -> None:
        args = self.args
        while True:
            msg = await self.read_message(reader)
            if msg is None:
                continue                    # feefilter, sendcmpct, ...: not ours
            if msg.command == b"inv":
                request = msg_getdata()
                request.inv = msg.inv
                writer.write(request.to_bytes())
                await writer.drain()
            elif msg.command == b"ping":
                writer.write(msg_pong(nonce=msg.nonce).to_bytes())
                await writer.drain()
            elif msg.command == b"tx":
                self.txs += 1
                tx: CTransaction = msg.tx
                if any(out.scriptPubKey == self.script and out.nValue >= args.threshold_sats
                       for out in tx.vout):
                    await self.place(ws)
                    self.triggers += 1
                if (args.count and self.triggers >= args.count) or \
                        (args.txs and self.txs >= args.txs):
                    return

    @staticmethod
    async def drop_answers(ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass


async def main_async(args: argparse.Namespace) -> int:
    bitcoin.SelectParams("mainnet")
    bot = Bot(args)
    task = asyncio.ensure_future(bot.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print(f"triggers={bot.triggers} txs={bot.txs}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, metavar="IP:PORT")
    parser.add_argument("--venue", required=True, metavar="WSS_URL")
    parser.add_argument("--ca", required=True, help="the venue's trust anchor (PEM)")
    parser.add_argument("--server-name", help="name the venue's certificate is checked for")
    parser.add_argument("--credentials", required=True, help='JSON {"api_key", "secret"}')
    parser.add_argument("--profile", choices=sorted(ADAPTERS), default=DEMO_VENUE,
                        help="the venue whose reference client places the orders")
    parser.add_argument("--address", required=True, help="the watched deposit address")
    parser.add_argument("--threshold-sats", type=int, required=True)
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--price", default="51000.00")
    parser.add_argument("--quantity", default="0.001")
    parser.add_argument("--count", type=int, default=0, help="stop after this many orders")
    parser.add_argument("--txs", type=int, default=0, help="stop after this many transactions")
    parser.add_argument("--ready-file")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
