# SPDX-License-Identifier: MIT
"""The native Bitcoin codec against python-bitcoinlib and against bad input.

Real data: the mainnet block (3315 transactions) and Bitcoin Core's
tx_valid.json / tx_invalid.json vectors."""

from __future__ import annotations

import json
import struct
from functools import cache
from typing import Any

import pytest
from bitcoin.core import CBlock, CTransaction, b2lx

from orchestrator.btc import Decoder, MalformedError, frame, inv_count, parse_tx
from orchestrator.sim import mainnet_block
from tests.conftest import data_file


@cache
def block() -> CBlock:
    path = mainnet_block()
    return CBlock.deserialize(path.read_bytes())


def same(ours: Any, theirs: CTransaction) -> None:
    assert ours.txid == b2lx(theirs.GetTxid())
    assert ours.wtxid == b2lx(theirs.GetHash())
    assert ours.outputs == [(o.nValue, bytes(o.scriptPubKey)) for o in theirs.vout]


def test_every_transaction_of_the_mainnet_block_agrees_with_bitcoinlib() -> None:
    txs = block().vtx
    parsed = [parse_tx(tx.serialize()) for tx in txs]
    for ours, theirs in zip(parsed, txs, strict=True):
        same(ours, theirs)
    # The facts tests/data/README.md states about this block.
    assert len(parsed) == 3315
    assert sum(t.segwit for t in parsed) == 1341
    assert sum(len(t.outputs) for t in parsed) == 8150


def core_vectors(name: str) -> list[tuple[str, CTransaction]]:
    """Bitcoin Core's vectors that python-bitcoinlib can deserialize."""
    out = []
    for entry in json.loads(data_file(name).read_text()):
        if not isinstance(entry[0], list):
            continue  # a comment line
        raw = bytes.fromhex(entry[1])
        try:
            out.append((entry[1], CTransaction.deserialize(raw)))
        except Exception:
            continue
    return out


@pytest.mark.parametrize(("name", "count"), [("tx_valid.json", 32), ("tx_invalid.json", 15)])
def test_core_vectors_agree_with_bitcoinlib(name: str, count: int) -> None:
    vectors = core_vectors(name)
    assert len(vectors) == count  # every vector in these files deserializes
    for hexed, theirs in vectors:
        same(parse_tx(bytes.fromhex(hexed)), theirs)


# -- malformed input ---------------------------------------------------------

def sample_tx() -> bytes:
    """The block's first legacy (non-segwit) transaction after the coinbase."""
    legacy = next(tx for tx in block().vtx[1:] if not tx.has_witness())
    return bytes(legacy.serialize())


def feed_both_ways(data: bytes) -> list[MalformedError | list[tuple[str, bytes]]]:
    """Feed whole, then byte by byte; return what each way produced."""
    results: list[MalformedError | list[tuple[str, bytes]]] = []
    for chunks in ([data], [data[i:i + 1] for i in range(len(data))]):
        decoder, messages = Decoder(), []
        try:
            for chunk in chunks:
                messages += decoder.feed(chunk)
            results.append(messages)
        except MalformedError as exc:
            results.append(exc)
    return results


def expect_malformed(data: bytes, name: str) -> None:
    for result in feed_both_ways(data):
        assert isinstance(result, MalformedError), result
        assert result.name == name


def test_a_good_message_whole_and_bytewise() -> None:
    msg = frame("tx", sample_tx())
    for result in feed_both_ways(msg + frame("ping", b"\x01" * 8)):
        assert result == [("tx", sample_tx()), ("ping", b"\x01" * 8)]


def test_bad_magic() -> None:
    expect_malformed(frame("ping", bytes(8), network="testnet3"), "ST_EBTC_BAD_MAGIC")


def test_bad_checksum() -> None:
    msg = bytearray(frame("tx", sample_tx()))
    msg[20] ^= 0xFF
    expect_malformed(bytes(msg), "ST_EBTC_BAD_CHECKSUM")


def test_length_over_the_limit() -> None:
    header = frame("tx", b"")[:16] + struct.pack("<I", 4_000_001) + bytes(4)
    expect_malformed(header, "ST_EBTC_TOO_LARGE")


def test_command_not_nul_padded() -> None:
    msg = bytearray(frame("tx", b""))
    msg[4 + 5] = ord("x")  # "tx\0\0\0x..." : text after the padding
    expect_malformed(bytes(msg), "ST_EBTC_BAD_COMMAND")


def tx_error(raw: bytes) -> str:
    """The error of a bad transaction, checked to come out the same whether its
    `tx` message reaches the decoder whole or byte by byte."""
    names = set()
    for result in feed_both_ways(frame("tx", raw)):
        assert isinstance(result, list) and [c for c, _ in result] == ["tx"]
        with pytest.raises(MalformedError) as info:
            parse_tx(result[0][1])
        names.add(info.value.name)
    assert len(names) == 1
    return names.pop()


def test_truncated_transaction() -> None:
    raw = sample_tx()
    for cut in (0, 3, 5, 40, len(raw) // 2, len(raw) - 1):
        assert tx_error(raw[:cut]) in ("ST_EBTC_TRUNCATED", "ST_EBTC_BAD_COUNT")


def test_truncated_compact_size() -> None:
    assert tx_error(struct.pack("<i", 1) + b"\xfd\x01") == "ST_EBTC_TRUNCATED"


def test_non_canonical_compact_size() -> None:
    raw = sample_tx()  # legacy: version, then the input count 0x01
    assert raw[4] == 1
    assert tx_error(raw[:4] + b"\xfd\x01\x00" + raw[5:]) == "ST_EBTC_NONCANONICAL"


def test_count_past_the_end() -> None:
    assert tx_error(struct.pack("<i", 1) + b"\xfe\xff\xff\xff\x00" + bytes(100)) == (
        "ST_EBTC_BAD_COUNT"
    )


def test_trailing_garbage() -> None:
    assert tx_error(sample_tx() + b"\x00") == "ST_EBTC_TRAILING"


def test_inv_checks() -> None:
    entry = struct.pack("<I", 1) + bytes(32)
    assert inv_count(b"\x02" + entry * 2) == 2
    for payload, name in [
        (b"\x03" + entry * 2, "ST_EBTC_TRUNCATED"),
        (b"\x01" + entry * 2, "ST_EBTC_TRAILING"),
        (b"\xfd\x51\xc3", "ST_EBTC_BAD_COUNT"),  # 50001 > MAX_INV_SZ
        (b"\xfd\x02\x00" + entry * 2, "ST_EBTC_NONCANONICAL"),
    ]:
        with pytest.raises(MalformedError) as info:
            inv_count(payload)
        assert info.value.name == name


def test_a_failed_decoder_stays_failed() -> None:
    decoder = Decoder()
    with pytest.raises(MalformedError):
        decoder.feed(frame("ping", bytes(8), network="regtest"))
    with pytest.raises(MalformedError, match="ST_EBTC_BAD_MAGIC"):
        decoder.feed(frame("ping", bytes(8)))
