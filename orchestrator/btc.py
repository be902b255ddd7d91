# SPDX-License-Identifier: MIT
"""Bitcoin transactions and P2P messages through the native codec.

`parse_tx` is the native parser seen from Python (tests, tools, the
mempool bench's reference side); `Decoder` feeds raw P2P bytes to a native
peer decoder; `Strategy` builds the native exchange-script tables from
addresses (converted with python-bitcoinlib).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.errors import NativeError

MAGIC = {
    "mainnet": lib.ST_BTC_MAGIC_MAINNET,
    "testnet3": lib.ST_BTC_MAGIC_TESTNET3,
    "signet": lib.ST_BTC_MAGIC_SIGNET,
    "regtest": lib.ST_BTC_MAGIC_REGTEST,
}


class MalformedError(NativeError, ValueError):
    """Bytes from a peer that break the protocol; the peer is dropped."""


def _raise_malformed(code: int, context: str) -> None:
    exc = native.error_for(code, context)
    raise MalformedError(code, exc.name, native.strerror(code), context)


@dataclass(frozen=True)
class Tx:
    txid: str                         # hex, display order (as explorers show it)
    wtxid: str
    outputs: list[tuple[int, bytes]]  # (value in sats, scriptPubKey)
    segwit: bool
    size: int


def _hex_display(buf: object) -> str:
    return bytes(ffi.buffer(buf, 32))[::-1].hex()


def parse_tx(raw: bytes) -> Tx:
    """Parse one serialized transaction (all of `raw`) with the native parser."""
    tx = ffi.new("st_btc_tx *")
    data = ffi.from_buffer(raw)
    n = lib.st_btc_tx_parse(tx, data, len(raw))
    if n < 0:
        _raise_malformed(n, "transaction")
    if n != len(raw):
        _raise_malformed(lib.ST_EBTC_TRAILING, "transaction")
    outputs = []
    pos, value = ffi.new("size_t *"), ffi.new("int64_t *")
    script, script_len = ffi.new("uint8_t **"), ffi.new("size_t *")
    while lib.st_btc_tx_next_output(tx, pos, value, script, script_len):
        outputs.append((int(value[0]), bytes(ffi.buffer(script[0], script_len[0]))))
    txid, wtxid = ffi.new("uint8_t[32]"), ffi.new("uint8_t[32]")
    lib.st_btc_txid(tx, txid)
    lib.st_btc_wtxid(tx, wtxid)
    return Tx(_hex_display(txid), _hex_display(wtxid), outputs, bool(tx.segwit), n)


def frame(command: str, payload: bytes, network: str = "mainnet") -> bytes:
    """One P2P message: header (magic, command, length, checksum) + payload."""
    out = ffi.new("uint8_t[]", len(payload) + lib.ST_BTC_HEADER_LEN)
    n = lib.st_btc_frame(out, len(out), MAGIC[network], command.encode(),
                         ffi.from_buffer(payload), len(payload))
    if not n:
        raise native.invalid_argument("btc", f"cannot frame command {command!r}")
    return bytes(ffi.buffer(out, n))


@dataclass
class Decoder:
    """A native P2P decoder for one peer, fed raw bytes (tests, tools)."""

    network: str = "mainnet"
    max_payload: int = lib.ST_BTC_MAX_MESSAGE
    _buf: object = field(init=False, repr=False)
    _ptr: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._buf = ffi.new("uint8_t[]", self.max_payload)
        self.cdata = ffi.new("st_btc_decoder *")
        lib.st_btc_decoder_init(self.cdata, MAGIC[self.network], self._buf, self.max_payload)

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """All the messages completed by `data`; raises MalformedError when the
        bytes break the protocol (the decoder then stays failed, as the peer)."""
        messages: list[tuple[str, bytes]] = []
        view = ffi.from_buffer(data)
        off = 0
        cmd, payload, plen = ffi.new("char **"), ffi.new("uint8_t **"), ffi.new("size_t *")
        while True:
            n = lib.st_btc_recv(self.cdata, view + off, len(data) - off)
            if n < 0:
                _raise_malformed(n, "peer")
            off += n
            if not lib.st_btc_message(self.cdata, cmd, payload, plen):
                return messages
            messages.append((ffi.string(cmd[0]).decode(),
                             bytes(ffi.buffer(payload[0], plen[0]))))
            lib.st_btc_message_done(self.cdata)


def inv_count(payload: bytes) -> int:
    """Entries in an inv/getdata payload, checked like the engine checks them."""
    first = ffi.new("size_t *")
    n = lib.st_btc_inv_parse(ffi.from_buffer(payload), len(payload), first)
    if n < 0:
        _raise_malformed(n, "inv")
    return int(n)


class Strategy:
    """Native strategy tables: exchange scripts, deposit and whale rules."""

    def __init__(self, max_scripts: int = 4096) -> None:
        nslots = 1 << max(4, (2 * max_scripts - 1).bit_length())
        self._slots = ffi.new("st_strategy_slot[]", nslots)
        self.cdata = ffi.new("st_strategy *")
        native.ensure(lib.st_strategy_init(self.cdata, self._slots, nslots, os.urandom(16)),
                      "strategy")

    def add_script(self, script: bytes, exchange: int) -> None:
        native.ensure(lib.st_strategy_add_script(self.cdata, script, len(script), exchange),
                      f"exchange script {script.hex()}")

    def set_deposit(self, exchange: int, threshold_sats: int, action: int) -> None:
        native.ensure(lib.st_strategy_set_deposit(self.cdata, exchange, threshold_sats, action),
                      f"deposit rule for exchange {exchange}")

    def set_whale(self, threshold_sats: int, action: int) -> None:
        lib.st_strategy_set_whale(self.cdata, threshold_sats, action)

    def lookup(self, script: bytes) -> int | None:
        ex = lib.st_strategy_lookup(self.cdata, script, len(script))
        return None if ex < 0 else int(ex)

    def match(self, raw: bytes) -> tuple[int, int, int, int]:
        """(action, exchange, amount, total) for a serialized transaction."""
        tx = ffi.new("st_btc_tx *")
        n = lib.st_btc_tx_parse(tx, ffi.from_buffer(raw), len(raw))
        if n < 0:
            _raise_malformed(n, "transaction")
        d = ffi.new("st_strategy_decision *")
        lib.st_strategy_match(self.cdata, tx, d)
        return int(d.action), int(d.exchange), int(d.amount), int(d.total)
