# SPDX-License-Identifier: MIT
"""The lab's scapy Bitcoin P2P layer against python-bitcoinlib, byte for byte,
both ways: what scapy builds is what bitcoinlib serialises, and what bitcoinlib
serialises scapy reads into the same fields and writes back unchanged. The
transactions are the real block's and Bitcoin Core's vectors; then the bad
input a capture can hold (bad checksum, cut short, non-canonical sizes)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import bitcoin
import pytest
from bitcoin.core import CBlock, CTransaction
from bitcoin.core.serialize import VarIntSerializer
from bitcoin.messages import (
    msg_getdata,
    msg_inv,
    msg_ping,
    msg_pong,
    msg_tx,
    msg_verack,
    msg_version,
)
from bitcoin.net import CInv

from orchestrator.sim import mainnet_block
from tests.conftest import data_file

scapy_layers = pytest.importorskip("scapy.layers.inet", reason="the lab extra (scapy)")
from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.sessions import TCPSession  # noqa: E402

from orchestrator.lab.btcp2p import (  # noqa: E402
    BTCGetData,
    BTCInv,
    BTCInvVector,
    BTCMessage,
    BTCNetAddr,
    BTCPing,
    BTCPong,
    BTCTx,
    BTCTxIn,
    BTCTxOut,
    BTCVerack,
    BTCVersion,
    BTCWitness,
    BTCWitnessItem,
    bind_port,
    compact_size,
    messages_in,
    problems,
    split_messages,
)


@pytest.fixture(scope="module", autouse=True)
def mainnet() -> Iterator[None]:
    bitcoin.SelectParams("mainnet")
    yield


@pytest.fixture(scope="module")
def block() -> CBlock:
    return CBlock.deserialize(mainnet_block().read_bytes())


def as_scapy(tx: CTransaction) -> BTCTx:
    """The transaction built field by field from bitcoinlib's objects."""
    segwit = tx.has_witness()
    fields = dict(
        version=tx.nVersion, flag=1 if segwit else 0, lock_time=tx.nLockTime,
        txin=[BTCTxIn(prev_hash=i.prevout.hash, prev_index=i.prevout.n,
                      script_sig=bytes(i.scriptSig), sequence=i.nSequence) for i in tx.vin],
        txout=[BTCTxOut(value=o.nValue, script_pubkey=bytes(o.scriptPubKey))
               for o in tx.vout])
    if segwit:
        fields["witness"] = [
            BTCWitness(stack=[BTCWitnessItem(item=bytes(x)) for x in w.scriptWitness.stack])
            for w in tx.wit.vtxinwit]
    return BTCTx(**fields)


def assert_same_tx(parsed: BTCTx, tx: CTransaction) -> None:
    assert parsed.version == tx.nVersion and parsed.lock_time == tx.nLockTime
    assert [(i.prev_hash, i.prev_index, i.script_sig, i.sequence) for i in parsed.txin] == \
        [(i.prevout.hash, i.prevout.n, bytes(i.scriptSig), i.nSequence) for i in tx.vin]
    assert [(o.value, o.script_pubkey) for o in parsed.txout] == \
        [(o.nValue, bytes(o.scriptPubKey)) for o in tx.vout]
    assert parsed.txid() == tx.GetTxid()


def test_compact_size_matches_bitcoinlib() -> None:
    for n in (0, 1, 0xFC, 0xFD, 0xFFFF, 0x10000, 0xFFFFFFFF, 0x100000000, 2**64 - 1):
        assert compact_size(n) == VarIntSerializer.serialize(n), n


def test_every_transaction_of_the_block_both_ways(block: CBlock) -> None:
    segwit = outputs = 0
    for tx in block.vtx:
        wire = tx.serialize()
        assert bytes(as_scapy(tx)) == wire, tx.GetTxid()[::-1].hex()      # scapy builds
        parsed = BTCTx(wire)                                             # scapy reads
        assert not isinstance(parsed.payload, Raw)
        assert_same_tx(parsed, tx)
        assert bytes(parsed) == wire
        segwit += parsed.flag == 1
        outputs += len(parsed.txout)
    # the facts tests/data/README.md gives for this block
    assert (len(block.vtx), segwit, outputs) == (3315, 1341, 8150)


def test_tx_messages_carry_the_header_bitcoinlib_writes(block: CBlock) -> None:
    for tx in block.vtx[::50]:
        msg = msg_tx()
        msg.tx = tx
        wire = msg.to_bytes()
        assert bytes(BTCMessage() / as_scapy(tx)) == wire          # length, checksum filled
        read = BTCMessage(wire)
        assert read.cmd == b"tx" and isinstance(read.payload, BTCTx)
        assert problems(read) == [] and bytes(read) == wire


def test_bitcoin_core_tx_vectors_round_trip() -> None:
    count = 0
    for name in ("tx_valid.json", "tx_invalid.json"):
        for case in json.loads(data_file(name).read_text()):
            if len(case) < 2 or not isinstance(case[1], str):
                continue                                   # a comment line
            wire = bytes.fromhex(case[1])
            tx = CTransaction.deserialize(wire)
            parsed = BTCTx(wire)
            assert bytes(parsed) == wire and bytes(as_scapy(tx)) == wire, case[1]
            assert_same_tx(parsed, tx)
            count += 1
    assert count >= 40   # 47 in the files as shipped


def version_message(n_version: int) -> msg_version:
    v = msg_version(n_version)
    v.nServices, v.nTime, v.nNonce, v.nStartingHeight = 0x409, 1_700_000_000, 2**63 + 5, 840_000
    v.addrTo.ip, v.addrTo.port, v.addrTo.nServices = "198.18.0.1", 8333, 1
    v.addrFrom.ip, v.addrFrom.port = "2001:db8::7", 18444
    v.strSubVer = b"/Satoshi:27.0.0/"
    v.fRelay = False
    return v


def test_version_both_ways() -> None:
    v = version_message(70016)
    wire = v.to_bytes()
    built = BTCMessage() / BTCVersion(
        version=70016, services=0x409, timestamp=1_700_000_000,
        addr_recv=BTCNetAddr(services=1, ip="::ffff:198.18.0.1", port=8333),
        addr_from=BTCNetAddr(services=1, ip="2001:db8::7", port=18444),
        nonce=2**63 + 5, user_agent=b"/Satoshi:27.0.0/", start_height=840_000, relay=0)
    assert bytes(built) == wire
    read = BTCMessage(wire)
    layer = read[BTCVersion]
    assert (layer.version, layer.services, layer.timestamp, layer.nonce, layer.user_agent,
            layer.start_height, layer.relay) == (70016, 0x409, 1_700_000_000, 2**63 + 5,
                                                 b"/Satoshi:27.0.0/", 840_000, 0)
    assert layer.addr_recv.ip == "::ffff:198.18.0.1" and layer.addr_from.port == 18444
    assert bytes(read) == wire and problems(read) == []


def test_small_messages_both_ways() -> None:
    hashes = [bytes([i % 256, i // 256]) * 16 for i in range(300)]   # past CompactSize's 0xfc
    inv, getdata = msg_inv(), msg_getdata()
    for k, h in enumerate(hashes):
        entry = CInv()
        entry.type, entry.hash = (1, 5, 0x40000001)[k % 3], h
        inv.inv.append(entry)
        getdata.inv.append(entry)
    vectors = [BTCInvVector(type=(1, 5, 0x40000001)[k % 3], hash=h)
               for k, h in enumerate(hashes)]
    cases = [
        (msg_verack(), BTCMessage() / BTCVerack(), BTCVerack),
        (msg_ping(nonce=0x0102030405060708), BTCMessage() / BTCPing(nonce=0x0102030405060708),
         BTCPing),
        (msg_pong(nonce=7), BTCMessage() / BTCPong(nonce=7), BTCPong),
        (inv, BTCMessage() / BTCInv(inventory=vectors), BTCInv),
        (getdata, BTCMessage() / BTCGetData(inventory=vectors), BTCGetData),
    ]
    for theirs, ours, layer in cases:
        wire = theirs.to_bytes()
        assert bytes(ours) == wire, layer.__name__
        read = BTCMessage(wire)
        assert read.cmd == ours.cmd and bytes(read) == wire and problems(read) == []
        assert type(read.payload) is layer or (layer is BTCVerack and not read.payload)
    read_inv = BTCMessage(inv.to_bytes())[BTCInv]
    assert read_inv.count == 300 and [v.hash for v in read_inv.inventory] == hashes
    assert read_inv.inventory[1].type == 5


def test_a_stream_splits_into_messages_and_a_partial_one(block: CBlock) -> None:
    msgs = [msg_ping(nonce=1), msg_verack(), msg_tx(), msg_pong(nonce=2)]
    msgs[2].tx = block.vtx[7]
    stream = b"".join(m.to_bytes() for m in msgs)
    whole, rest = split_messages(stream + stream[:30])
    assert [m.cmd for m in whole] == [b"ping", b"verack", b"tx", b"pong"]
    assert b"".join(bytes(m) for m in whole) == stream and rest == stream[:30]
    oversize = bytearray(msg_ping(nonce=1).to_bytes())
    oversize[16:20] = (5_000_000).to_bytes(4, "little")
    with pytest.raises(ValueError, match="5000000 exceeds"):
        split_messages(bytes(oversize))


def test_tcp_session_reassembles_messages_cut_anywhere(block: CBlock) -> None:
    """Segments cut inside headers and payloads, one completing two messages:
    scapy's TCPSession gives back each message whole, on port 8333 and a bound
    one. (Not tried: one segment completing two messages and starting a third;
    scapy 2.8's TCPSession loses its place in the stream then.)"""
    bind_port(18444)
    msgs = [msg_tx(), msg_ping(nonce=9), msg_tx()]
    msgs[0].tx, msgs[2].tx = block.vtx[1], block.vtx[2]
    first, second = len(msgs[0].to_bytes()), len(msgs[1].to_bytes())
    stream = b"".join(m.to_bytes() for m in msgs)
    for port in (8333, 18444):
        cuts = [0, 10, first - 3, first + second, len(stream) - 40, len(stream)]
        segments = [IP(bytes(IP(src="198.18.0.2", dst="198.18.0.1") /
                             TCP(sport=port, dport=40000, seq=1000 + a, flags="PA") /
                             Raw(stream[a:b])))
                    for a, b in itertools.pairwise(cuts)]
        assert BTCMessage in segments[2] and BTCMessage not in segments[0]   # bound to port
        session = TCPSession()
        out = [p for p in (session.process(s) for s in segments) if p is not None]
        # several messages completed by one segment come back stacked on each other
        got = [m for p in out for m in messages_in(p)]
        assert [m.cmd for m in got] == [b"tx", b"ping", b"tx"], port
        assert b"".join(bytes(p[BTCMessage]) for p in out) == stream
        assert got[2][BTCTx].txid() == block.vtx[2].GetTxid()


def test_a_bad_checksum_is_flagged() -> None:
    wire = bytearray(msg_ping(nonce=5).to_bytes())
    wire[20] ^= 0xFF
    read = BTCMessage(bytes(wire))
    assert read[BTCPing].nonce == 5 and bytes(read) == bytes(wire)   # read as sent
    [problem] = problems(read)
    assert problem.startswith("bad checksum")


def test_bad_magic_is_flagged() -> None:
    wire = msg_ping(nonce=5).to_bytes()
    assert problems(BTCMessage(b"\x0b\x11\x09\x07" + wire[4:])) == \
        ["magic 0x0709110b, expected 0xd9b4bef9"]
    assert problems(BTCMessage(b"\x0b\x11\x09\x07" + wire[4:]), magic=0x0709110B) == []


def test_cut_short_messages(block: CBlock) -> None:
    msg = msg_tx()
    msg.tx = block.vtx[3]
    wire = msg.to_bytes()
    for cut in (25, 60, len(wire) - 1):
        read = BTCMessage(wire[:cut])
        found = problems(read)
        assert found[0] == f"truncated: length {len(wire) - 24}, {cut - 24} payload bytes"
        assert "payload does not parse as tx" in found and isinstance(read.payload, Raw)
        assert bytes(read) == wire[:cut]
    with pytest.raises(Exception, match="header is 24 bytes, got 23"):
        BTCMessage(wire[:23])


def test_a_tx_whose_counts_run_past_its_end_stays_raw() -> None:
    """The simulator's bad-tx (an input count past the end), and a tx whose sizes
    are written in a longer CompactSize form than needed (Core rejects those)."""
    past_end = (1).to_bytes(4, "little") + b"\xfd\xff\xff" + bytes(10)
    legacy = bytes(BTCTx(txin=[BTCTxIn(script_sig=b"\x51")],
                         txout=[BTCTxOut(value=1, script_pubkey=b"\x51")]))
    assert legacy[4] == 1
    non_canonical = legacy[:4] + b"\xfd\x01\x00" + legacy[5:]
    assert isinstance(BTCTx(legacy).txin[0], BTCTxIn)
    for payload in (past_end, non_canonical):
        read = BTCMessage(bytes(BTCMessage(cmd=b"tx") / Raw(payload)))
        assert isinstance(read.payload, Raw) and read.payload.load == payload
        assert problems(read) == ["payload does not parse as tx"]
