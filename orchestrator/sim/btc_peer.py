# SPDX-License-Identifier: MIT
"""A Bitcoin peer over real TCP, for tests and the demo (loopback only).

Built on python-bitcoinlib's message classes. For each connection it does
the version/verack handshake, then replays the transactions of a real block
(orchestrator/sim/data) as mempool traffic: announced by inv (MSG_TX, txid),
served on getdata. On request it mixes in deposits to given addresses and a
whale, made the same way every time so two simulators announce the very same
transactions, and it can send a malformed message instead.

    python -m orchestrator.sim.btc_peer --block FILE [--port 0] [--ready-file PATH]
        [--rate TX_PER_S] [--deposit ADDRESS:SATS ...] [--whale SATS]
        [--malformed bad-magic|bad-checksum|oversize|bad-tx] [--malformed-after N]
        [--wtxid] [--stats-file PATH] [--stall] [--unsolicited ADDRESS:SATS]
        [--inv-flood N [--inv-flood-count K]] [--trickle] [--no-pong] [--silent]
        [--deposit-every MS:COUNT]

With --wtxid, a client that sent wtxidrelay before verack gets announcements
by wtxid (MSG_WTX, BIP 339), as Bitcoin Core does. After the handshake the
simulator also sends a ping and messages the client should ignore (feefilter,
sendcmpct, an unknown command). With --stats-file it writes, on exit, one JSON
object: what each connection got from its client (pongs, getdata entries).
--stall announces everything and answers no getdata (a peer that hides
transactions); --unsolicited pushes one transaction nobody asked for.
--deposit-every MS:COUNT then announces COUNT fresh deposits like the first
--deposit, one every MS ms on a fixed schedule (the latency lab's triggers).

Hostile modes, for tests (each bounded):
  --inv-flood N [--inv-flood-count K]  K invs of N made-up txids each, back to
      back, before the block; their getdata is answered with notfound, and the
      stats record whether each was requested once, in the order announced.
  --trickle   after the handshake, one byte a second of a message (at most 600).
  --no-pong   serve as usual but never answer a ping.
  --silent    answer pings, announce nothing.
A peer that misbehaves after verack: --malformed KIND --malformed-after 0.

Prints "READY <port>" when listening; runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import struct
import sys
from io import BytesIO
from pathlib import Path

import bitcoin
from bitcoin.core import (
    CBlock,
    CMutableTransaction,
    CMutableTxIn,
    CMutableTxOut,
    COutPoint,
    CScript,
    CTransaction,
)
from bitcoin.messages import (
    MsgSerializable,
    msg_inv,
    msg_ping,
    msg_pong,
    msg_tx,
    msg_verack,
    msg_version,
)
from bitcoin.net import CInv
from bitcoin.wallet import CBitcoinAddress

from orchestrator.sim import listen_address, serve_until_stopped

MSG_TX, MSG_WITNESS_TX, MSG_WTX = 1, 0x40000001, 5
INV_BATCH = 50
MAINNET_MAGIC = bytes.fromhex("f9beb4d9")
TRICKLE_MAX_BYTES = 600


def flood_id(j: int) -> bytes:
    """The j-th made-up txid of an inv flood (internal byte order)."""
    return hashlib.sha256(b"flood-%d" % j).digest()


def compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    return b"\xfd" + struct.pack("<H", n) if n <= 0xFFFF else b"\xfe" + struct.pack("<I", n)


def inv_entries(payload: bytes) -> list[tuple[int, bytes]]:
    """The (type, hash) entries of an inv/getdata/notfound payload."""
    first = {0xFD: 3, 0xFE: 5}.get(payload[0], 1)
    return [(struct.unpack_from("<I", payload, k)[0], payload[k + 4:k + 36])
            for k in range(first, len(payload) - 35, 36)]


def made_up_tx(tag: str, outputs: list[tuple[CScript, int]]) -> CTransaction:
    """A deterministic transaction: its input spends an outpoint named by tag."""
    prevout = COutPoint(hashlib.sha256(tag.encode()).digest(), 0)
    tx = CMutableTransaction([CMutableTxIn(prevout, CScript([b"\x01" * 71]))],
                             [CMutableTxOut(v, s) for s, v in outputs])
    return CTransaction.from_tx(tx)


def build_stream(block: CBlock, deposits: list[tuple[str, int]], whale: int | None
                 ) -> list[CTransaction]:
    """The block's transactions (no coinbase), injected ones spread among them."""
    txs = list(block.vtx[1:])
    injected = [made_up_tx(f"deposit-{i}", [(CBitcoinAddress(addr).to_scriptPubKey(), sats)])
                for i, (addr, sats) in enumerate(deposits)]
    if whale:
        injected.append(made_up_tx("whale", [(CScript(b"\x00\x14" + bytes(20)), whale)]))
    step = max(1, len(txs) // (len(injected) + 1))
    for k, tx in enumerate(injected):
        txs.insert((k + 1) * step + k, tx)
    return txs


def malformed(kind: str) -> bytes:
    ping: bytes = msg_ping(nonce=1).to_bytes()
    if kind == "bad-magic":
        return b"\x0b\x11\x09\x07" + ping[4:]
    if kind == "bad-checksum":
        return ping[:20] + bytes(4) + ping[24:]
    if kind == "oversize":
        return ping[:16] + struct.pack("<I", 5_000_000) + ping[20:24]
    if kind == "bad-tx":  # a tx message whose input count runs past the end
        payload = struct.pack("<i", 1) + b"\xfd\xff\xff" + bytes(10)
        checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
        return (MAINNET_MAGIC + b"tx".ljust(12, b"\x00") + struct.pack("<I", len(payload))
                + checksum + payload)
    raise ValueError(f"unknown malformed kind {kind!r}")


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 stream: list[CTransaction], args: argparse.Namespace) -> None:
        self.reader, self.writer, self.args = reader, writer, args
        self.stream = stream
        self.by_id = {tx.GetTxid(): tx for tx in stream}
        self.by_wtxid = {tx.GetHash(): tx for tx in stream}
        self.wtxid_relay = False
        self.pongs = 0
        self.pings = 0
        self.getdata_entries = 0
        self.flood_requested = 0   # flood ids asked for, in the order announced
        self.flood_disorder = 0    # flood ids asked out of order or twice

    async def read_message(self) -> tuple[str, bytes]:
        header = await self.reader.readexactly(24)
        length = struct.unpack("<I", header[16:20])[0]
        payload = await self.reader.readexactly(length)
        return header[4:16].rstrip(b"\x00").decode(), header + payload

    def send(self, msg: MsgSerializable) -> None:
        self.writer.write(msg.to_bytes())

    async def serve_requests(self) -> None:
        """Answers getdata and ping until the connection ends."""
        while True:
            command, raw = await self.read_message()
            if command == "getdata" and self.args.inv_flood and self.answer_flood(raw[24:]):
                # Not drained: its notfound waits behind the invs still queued, and
                # reading goes on meanwhile (a peer that stopped reading until we
                # read would deadlock with our flow control; the ping drops it).
                continue
            if command == "getdata":
                request = MsgSerializable.stream_deserialize(BytesIO(raw))
                self.getdata_entries += len(request.inv)
                if self.args.stall:
                    continue
                for inv in request.inv:
                    tx = (self.by_wtxid if inv.type == MSG_WTX else self.by_id).get(inv.hash)
                    if tx is not None and inv.type in (MSG_TX, MSG_WITNESS_TX, MSG_WTX):
                        reply = msg_tx()  # its first argument is a protocol version
                        reply.tx = tx
                        self.send(reply)
                await self.writer.drain()
            elif command == "ping":
                self.pings += 1
                if self.args.no_pong:
                    continue
                self.send(msg_pong(nonce=struct.unpack("<Q", raw[24:32])[0]))
                await self.writer.drain()
            elif command == "pong":
                self.pongs += 1
            # version, verack, wtxidrelay, sendaddrv2, anything else: ignored

    def answer_flood(self, payload: bytes) -> bool:
        """notfound for the flood ids of a getdata, each checked to be the next one
        announced; False when the getdata holds none (block transactions)."""
        entries = inv_entries(payload)
        flood = [(t, h) for t, h in entries if h not in self.by_id and h not in self.by_wtxid]
        for _, h in flood:
            if h == flood_id(self.flood_requested):
                self.flood_requested += 1
            else:
                self.flood_disorder += 1
        if flood:
            self.raw("notfound", compact_size(len(flood))
                     + b"".join(struct.pack("<I", t) + h for t, h in flood))
        if len(flood) < len(entries):
            return False  # the usual path counts and answers the rest
        self.getdata_entries += len(entries)
        return True

    async def send_flood(self) -> None:
        n = self.args.inv_flood
        for k in range(self.args.inv_flood_count):
            self.raw("inv", compact_size(n) + b"".join(
                struct.pack("<I", MSG_TX) + flood_id(k * n + i) for i in range(n)))
            await self.writer.drain()

    async def trickle(self) -> None:
        """One byte a second of a valid inv: the peer is never silent, never done."""
        entry = struct.pack("<I", MSG_TX) + flood_id(0)
        payload = compact_size(16) + entry * 16
        checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
        message = (MAINNET_MAGIC + b"inv".ljust(12, b"\x00") + struct.pack("<I", len(payload))
                   + checksum + payload)
        for byte in message[:TRICKLE_MAX_BYTES]:
            self.writer.write(bytes([byte]))
            await self.writer.drain()
            await asyncio.sleep(1.0)

    def raw(self, command: str, payload: bytes) -> None:
        """A message python-bitcoinlib has no class for."""
        checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
        self.writer.write(MAINNET_MAGIC + command.encode().ljust(12, b"\x00")
                          + struct.pack("<I", len(payload)) + checksum + payload)

    async def run(self) -> None:
        command, _ = await self.read_message()
        if command != "version":
            return
        version = msg_version()
        version.nVersion = 70016
        self.send(version)
        if self.args.wtxid:
            self.raw("wtxidrelay", b"")
        self.send(msg_verack())
        while command != "verack":  # the client's wtxidrelay/sendaddrv2 come first
            command, _ = await self.read_message()
            self.wtxid_relay |= command == "wtxidrelay" and self.args.wtxid
        self.send(msg_ping(nonce=7))
        self.raw("feefilter", struct.pack("<q", 1000))
        self.raw("sendcmpct", b"\x00" + struct.pack("<Q", 2))
        self.raw("xyzzy", b"nothing to see")
        if self.args.unsolicited:
            addr, sats = self.args.unsolicited.rsplit(":", 1)
            pushed = msg_tx()
            pushed.tx = made_up_tx("unsolicited",
                                   [(CBitcoinAddress(addr).to_scriptPubKey(), int(sats))])
            self.send(pushed)
        await self.writer.drain()
        if self.args.trickle:  # reads nothing more: our pings go unanswered
            try:
                await self.trickle()
            finally:
                self.writer.close()
            return
        serving = asyncio.create_task(self.serve_requests())
        try:
            if self.args.inv_flood:
                await self.send_flood()
            if self.args.silent:
                await serving
            delay = 1 / self.args.rate if self.args.rate > 0 else 0
            for start in range(0, len(self.stream), INV_BATCH):
                if self.args.malformed and start >= self.args.malformed_after:
                    self.writer.write(malformed(self.args.malformed))
                    await self.writer.drain()
                    break
                inv = msg_inv()
                for tx in self.stream[start:start + INV_BATCH]:
                    entry = CInv()
                    if self.wtxid_relay:
                        entry.type, entry.hash = MSG_WTX, tx.GetHash()
                    else:
                        entry.type, entry.hash = MSG_TX, tx.GetTxid()
                    inv.inv.append(entry)
                self.send(inv)
                await self.writer.drain()
                await asyncio.sleep(delay * INV_BATCH)
            if self.args.deposit_every:  # then fresh deposits to the first address, steadily
                every_ms, count = self.args.deposit_every
                addr, sats = self.args.deposit[0].rsplit(":", 1)
                script, clock = CBitcoinAddress(addr).to_scriptPubKey(), asyncio.get_running_loop()
                begin = clock.time()
                for k in range(count):  # scheduled from the start: no drift
                    await asyncio.sleep(max(0.0, begin + (k + 1) * every_ms / 1000 - clock.time()))
                    tx = made_up_tx(f"every-{k}", [(script, int(sats))])
                    self.by_id[tx.GetTxid()], self.by_wtxid[tx.GetHash()] = tx, tx
                    entry = CInv()
                    entry.type, entry.hash = ((MSG_WTX, tx.GetHash()) if self.wtxid_relay
                                              else (MSG_TX, tx.GetTxid()))
                    announce = msg_inv()
                    announce.inv.append(entry)
                    self.send(announce)
                    await self.writer.drain()
            await serving
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            serving.cancel()
            self.writer.close()


async def main_async(args: argparse.Namespace) -> None:
    bitcoin.SelectParams("mainnet")
    with open(args.block, "rb") as f:
        block = CBlock.deserialize(f.read())
    deposits = [(d.rsplit(":", 1)[0], int(d.rsplit(":", 1)[1])) for d in args.deposit]
    stream = build_stream(block, deposits, args.whale)

    peers: list[Peer] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer, stream, args)
        peers.append(peer)
        try:
            await peer.run()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            writer.close()  # the client left, or we are shutting down

    server = await asyncio.start_server(on_client, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    if args.ready_file:
        Path(args.ready_file).write_text(f"{port}\n")
    await serve_until_stopped(server)
    if args.stats_file:
        Path(args.stats_file).write_text(json.dumps(
            {"connections": [{"pongs": p.pongs, "pings": p.pings,
                              "getdata_entries": p.getdata_entries,
                              "flood_requested": p.flood_requested,
                              "flood_disorder": p.flood_disorder}
                             for p in peers]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", required=True)
    parser.add_argument("--host", type=listen_address, default="127.0.0.1",
                        help="127.x.x.x or 198.18.0.0/15 address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file")
    parser.add_argument("--rate", type=float, default=0, help="transactions per second (0: max)")
    parser.add_argument("--deposit", action="append", default=[], metavar="ADDRESS:SATS")
    parser.add_argument("--whale", type=int, metavar="SATS")
    parser.add_argument("--malformed", choices=["bad-magic", "bad-checksum", "oversize", "bad-tx"])
    parser.add_argument("--malformed-after", type=int, default=0, metavar="N")
    parser.add_argument("--wtxid", action="store_true", help="announce by wtxid (BIP 339)")
    parser.add_argument("--stats-file", help="write what the clients sent, as JSON, on exit")
    parser.add_argument("--stall", action="store_true", help="announce, never deliver")
    parser.add_argument("--unsolicited", metavar="ADDRESS:SATS",
                        help="push one transaction nobody asked for")
    parser.add_argument("--inv-flood", type=int, default=0, metavar="N",
                        help="announce N made-up txids in one inv (at most 50000)")
    parser.add_argument("--inv-flood-count", type=int, default=1, metavar="K",
                        help="that many such invs, back to back (at most 100)")
    parser.add_argument("--trickle", action="store_true", help="one byte a second, forever")
    parser.add_argument("--no-pong", action="store_true", help="never answer a ping")
    parser.add_argument("--silent", action="store_true", help="announce nothing")

    def every(text: str) -> tuple[int, int]:
        ms, _, count = text.partition(":")
        if not (ms.isdigit() and count.isdigit() and int(ms) > 0):
            raise argparse.ArgumentTypeError(f"{text!r} is not MS:COUNT with MS > 0")
        return int(ms), int(count)

    parser.add_argument("--deposit-every", type=every, metavar="MS:COUNT",
                        help="after the block, COUNT fresh deposits like the first --deposit, "
                             "one every MS ms")
    args = parser.parse_args(argv)
    if not 0 <= args.inv_flood <= 50_000 or not 1 <= args.inv_flood_count <= 100:
        parser.error("--inv-flood takes 0..50000 entries, --inv-flood-count 1..100 invs")
    if args.deposit_every and not args.deposit:
        parser.error("--deposit-every needs a --deposit (whose address and amount it repeats)")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
