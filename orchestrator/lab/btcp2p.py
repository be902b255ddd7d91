# SPDX-License-Identifier: MIT
"""Bitcoin P2P messages as a scapy layer, for crafting and reading back what the
lab puts on the wire.

One `BTCMessage` (the 24-byte header: magic, command, length, checksum) carries
one payload layer chosen by its command (`bind_layers`): `version`, `verack`,
`ping`, `pong`, `inv`, `getdata`, `tx`; any other command stays `Raw`. Length and
checksum are filled in `post_build` when left unset, so a message is written as

    BTCMessage() / BTCPing(nonce=7)

and a stream is read back with `split_messages` (whole buffers) or through
scapy's `TCPSession` (`tcp_reassemble`). Dissection keeps every byte: bytes in,
the same bytes out (the tests check it against python-bitcoinlib on a real
block). Whatever a layer cannot parse (a truncated or non-canonical payload)
stays `Raw`, and `problems()` says what is wrong with a message.

The layer is bound to TCP port 8333 both ways; `bind_port()` adds another.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from scapy.error import Scapy_Exception
from scapy.fields import (
    ByteField,
    ConditionalField,
    Field,
    FieldLenField,
    IP6Field,
    LEIntEnumField,
    LEIntField,
    LELongField,
    LESignedIntField,
    LESignedLongField,
    PacketField,
    PacketListField,
    ShortField,
    StrFixedLenField,
    StrLenField,
    XLEIntField,
    XLELongField,
    XStrFixedLenField,
)
from scapy.layers.inet import TCP
from scapy.packet import Packet, Padding, Raw, bind_layers

MAINNET_MAGIC = 0xD9B4BEF9          # f9 be b4 d9 on the wire
HEADER_LEN = 24
# Bitcoin Core's MAX_PROTOCOL_MESSAGE_LENGTH: a longer payload is never read.
MAX_PAYLOAD = 4_000_000
# Upper bound on any list in a payload (inputs, outputs, inventory entries):
# more items than that cannot fit in MAX_PAYLOAD. scapy's default is 100.
MAX_ITEMS = 100_000

INV_TYPES = {
    0: "ERROR", 1: "MSG_TX", 2: "MSG_BLOCK", 3: "MSG_FILTERED_BLOCK", 4: "MSG_CMPCT_BLOCK",
    5: "MSG_WTX", 0x40000001: "MSG_WITNESS_TX", 0x40000002: "MSG_WITNESS_BLOCK",
}


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def compact_size(n: int) -> bytes:
    """The canonical CompactSize encoding of n."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


class CompactSizeField(FieldLenField):
    """Bitcoin's variable-length integer (1, 3, 5 or 9 bytes, little-endian), as
    the length or count of another field. Only the canonical (shortest) form is
    accepted, as Bitcoin Core does: a longer one cannot round-trip."""

    def __init__(self, name: str, default: int | None, length_of: str | None = None,
                 count_of: str | None = None) -> None:
        super().__init__(name, default, length_of=length_of, count_of=count_of)

    def addfield(self, pkt: Packet, s: bytes, val: int | None) -> bytes:
        return s + compact_size(self.i2m(pkt, val))

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, int]:
        if not s:
            raise Scapy_Exception(f"{self.name}: no CompactSize byte left")
        width = {0xFD: 2, 0xFE: 4, 0xFF: 8}.get(s[0], 0)
        if len(s) < 1 + width:
            raise Scapy_Exception(f"{self.name}: CompactSize cut short")
        value = s[0] if not width else int.from_bytes(s[1:1 + width], "little")
        if compact_size(value) != s[:1 + width]:
            raise Scapy_Exception(f"{self.name}: non-canonical CompactSize")
        return s[1 + width:], value

    def i2len(self, pkt: Packet, x: Any) -> int:
        return len(compact_size(self.i2m(pkt, x)))


class CountedPacketListField(PacketListField):
    """A list of exactly `count_from` packets: fewer (the data ran out) is an
    error, so a truncated payload stays Raw instead of parsing as a shorter one."""

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, list[Any]]:
        remain, items = super().getfield(pkt, s)
        wanted = self.count_from(pkt) if self.count_from else len(items)
        if len(items) != wanted or any(isinstance(i, Raw) for i in items):
            raise Scapy_Exception(f"{self.name}: {wanted} items announced, payload cut short")
        return remain, items


class ExactStrLenField(StrLenField):
    """A byte string of `length_from` bytes that must all be there."""

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, bytes]:
        assert self.length_from is not None  # every field here is given one
        n = self.length_from(pkt)
        if len(s) < n:
            raise Scapy_Exception(f"{self.name}: {n} bytes announced, {len(s)} left")
        return s[n:], s[:n]


class CommandField(StrFixedLenField):
    """The 12-byte command, NUL-padded on the wire, without its padding here
    (so `bind_layers(..., cmd=b"tx")` matches what was read)."""

    def __init__(self, name: str, default: bytes) -> None:
        super().__init__(name, default, length=12)

    def m2i(self, pkt: Packet | None, x: bytes) -> bytes:
        return x.rstrip(b"\x00")


class SegwitFlagField(Field[int, int]):
    """BIP 144's marker and flag: absent (0) in a legacy transaction; on the wire
    as 00 <flag> when the transaction carries witnesses (flag 1)."""

    def __init__(self, name: str, default: int) -> None:
        super().__init__(name, default, fmt="B")

    def addfield(self, pkt: Packet, s: bytes, val: int | None) -> bytes:
        return s + (b"\x00" + bytes([val]) if val else b"")

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, int]:
        if len(s) >= 2 and s[0] == 0 and s[1] != 0:
            return s[2:], s[1]
        return s, 0


class _Item(Packet):
    """An element of a list inside a payload: it ends where its fields end."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class BTCMessage(Packet):
    name = "Bitcoin P2P message"
    fields_desc = [  # noqa: RUF012 (scapy's declaration style)
        XLEIntField("magic", MAINNET_MAGIC),
        CommandField("cmd", b""),
        LEIntField("length", None),
        XStrFixedLenField("checksum", None, 4),
    ]

    def pre_dissect(self, s: bytes) -> bytes:
        if len(s) < HEADER_LEN:
            raise Scapy_Exception(f"a Bitcoin P2P header is {HEADER_LEN} bytes, got {len(s)}")
        return s

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.length is None:
            pkt = pkt[:16] + struct.pack("<I", len(pay)) + pkt[20:]
        if self.checksum is None:
            pkt = pkt[:20] + sha256d(pay)[:4]
        return pkt + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        # The payload is `length` bytes; what follows is the next message.
        return s[:self.length], s[self.length:]

    @classmethod
    def tcp_reassemble(cls, data: bytes, metadata: dict[str, Any],
                       session: dict[str, Any]) -> Packet | None:
        """For scapy's TCPSession: one whole message, or None until it is."""
        if len(data) < HEADER_LEN:
            return None
        length = struct.unpack_from("<I", data, 16)[0]
        if length > MAX_PAYLOAD:
            return Raw(data)    # not a stream we can follow
        if len(data) < HEADER_LEN + length:
            return None
        msg: Packet = cls(data[:HEADER_LEN + length])
        rest = data[HEADER_LEN + length:]
        return msg / Padding(rest) if rest else msg

    def mysummary(self) -> str:
        return f"BTC {self.cmd.decode(errors='replace')} ({self.length} bytes)"


class BTCNetAddr(_Item):
    """A network address as in `version` (no timestamp): services, IPv6 (an IPv4
    address is mapped, ::ffff:a.b.c.d), port in network order."""

    name = "Bitcoin network address"
    fields_desc = [  # noqa: RUF012
        LELongField("services", 0),
        IP6Field("ip", "::ffff:0.0.0.0"),
        ShortField("port", 8333),
    ]


class BTCVersion(Packet):
    name = "Bitcoin version"
    fields_desc = [  # noqa: RUF012
        LESignedIntField("version", 70016),
        LELongField("services", 0),
        LESignedLongField("timestamp", 0),
        PacketField("addr_recv", BTCNetAddr(), BTCNetAddr),
        PacketField("addr_from", BTCNetAddr(), BTCNetAddr),
        XLELongField("nonce", 0),
        CompactSizeField("user_agent_len", None, length_of="user_agent"),
        ExactStrLenField("user_agent", b"", length_from=lambda p: p.user_agent_len),
        LESignedIntField("start_height", 0),
        # BIP 37: sent by protocol versions from 70001 on.
        ConditionalField(ByteField("relay", 1), lambda p: p.version >= 70001),
    ]


class BTCVerack(Packet):
    name = "Bitcoin verack"


class BTCPing(Packet):
    name = "Bitcoin ping"
    fields_desc = [XLELongField("nonce", 0)]  # noqa: RUF012


class BTCPong(Packet):
    name = "Bitcoin pong"
    fields_desc = [XLELongField("nonce", 0)]  # noqa: RUF012


class BTCInvVector(_Item):
    name = "Bitcoin inventory vector"
    fields_desc = [  # noqa: RUF012
        LEIntEnumField("type", 1, INV_TYPES),
        XStrFixedLenField("hash", bytes(32), 32),   # internal byte order, as hashed
    ]


class BTCInv(Packet):
    name = "Bitcoin inv"
    fields_desc = [  # noqa: RUF012
        CompactSizeField("count", None, count_of="inventory"),
        CountedPacketListField("inventory", [], BTCInvVector, count_from=lambda p: p.count,
                               max_count=MAX_ITEMS),
    ]


class BTCGetData(BTCInv):
    name = "Bitcoin getdata"


class BTCTxIn(_Item):
    name = "Bitcoin transaction input"
    fields_desc = [  # noqa: RUF012
        XStrFixedLenField("prev_hash", bytes(32), 32),
        LEIntField("prev_index", 0),
        CompactSizeField("script_len", None, length_of="script_sig"),
        ExactStrLenField("script_sig", b"", length_from=lambda p: p.script_len),
        XLEIntField("sequence", 0xFFFFFFFF),
    ]


class BTCTxOut(_Item):
    name = "Bitcoin transaction output"
    fields_desc = [  # noqa: RUF012
        LESignedLongField("value", 0),
        CompactSizeField("script_len", None, length_of="script_pubkey"),
        ExactStrLenField("script_pubkey", b"", length_from=lambda p: p.script_len),
    ]


class BTCWitnessItem(_Item):
    name = "Bitcoin witness item"
    fields_desc = [  # noqa: RUF012
        CompactSizeField("item_len", None, length_of="item"),
        ExactStrLenField("item", b"", length_from=lambda p: p.item_len),
    ]


class BTCWitness(_Item):
    name = "Bitcoin input witness"
    fields_desc = [  # noqa: RUF012
        CompactSizeField("count", None, count_of="stack"),
        CountedPacketListField("stack", [], BTCWitnessItem, count_from=lambda p: p.count,
                               max_count=MAX_ITEMS),
    ]


class BTCTx(Packet):
    """A transaction, legacy or BIP 144 (flag=1: one witness per input)."""

    name = "Bitcoin tx"
    fields_desc = [  # noqa: RUF012
        LESignedIntField("version", 1),
        SegwitFlagField("flag", 0),
        CompactSizeField("txin_count", None, count_of="txin"),
        CountedPacketListField("txin", [], BTCTxIn, count_from=lambda p: p.txin_count,
                               max_count=MAX_ITEMS),
        CompactSizeField("txout_count", None, count_of="txout"),
        CountedPacketListField("txout", [], BTCTxOut, count_from=lambda p: p.txout_count,
                               max_count=MAX_ITEMS),
        ConditionalField(
            CountedPacketListField("witness", [], BTCWitness,
                                   count_from=lambda p: p.txin_count, max_count=MAX_ITEMS),
            lambda p: p.flag != 0),
        LEIntField("lock_time", 0),
    ]

    def txid(self) -> bytes:
        """The txid in internal byte order (hash of the serialization without
        witnesses); reversed, it is what block explorers show."""
        legacy = self.copy()
        legacy.flag = 0
        return sha256d(bytes(legacy))


def problems(msg: BTCMessage, magic: int = MAINNET_MAGIC) -> list[str]:
    """What is wrong with a message as it would be read (empty when nothing is)."""
    if msg.length is None or msg.checksum is None:
        msg = BTCMessage(bytes(msg))    # built here: read back what would be sent
    out = []
    if msg.magic != magic:
        out.append(f"magic {msg.magic:#010x}, expected {magic:#010x}")
    payload = msg.payload
    body = b""
    if payload is not None and not isinstance(payload, Padding):
        body = bytes(payload)
        pad = payload.getlayer(Padding)
        if pad is not None:
            body = body[:len(body) - len(bytes(pad))]
    if len(body) != msg.length:
        out.append(f"truncated: length {msg.length}, {len(body)} payload bytes")
    elif msg.checksum != sha256d(body)[:4]:
        out.append(f"bad checksum {msg.checksum.hex()}, payload hashes to "
                   f"{sha256d(body)[:4].hex()}")
    if msg.cmd in COMMANDS and isinstance(payload, Raw) and body:
        out.append(f"payload does not parse as {msg.cmd.decode()}")
    return out


def split_messages(data: bytes) -> tuple[list[BTCMessage], bytes]:
    """The whole messages at the start of a stream, and the bytes left over (a
    message not complete yet)."""
    out: list[BTCMessage] = []
    while len(data) >= HEADER_LEN:
        length = struct.unpack_from("<I", data, 16)[0]
        if length > MAX_PAYLOAD:
            raise ValueError(f"message length {length} exceeds {MAX_PAYLOAD}: not a "
                             "Bitcoin P2P stream, or out of step")
        end = HEADER_LEN + length
        if len(data) < end:
            break
        out.append(BTCMessage(data[:end]))
        data = data[end:]
    return out, data


def messages_in(pkt: Packet) -> list[BTCMessage]:
    """Every Bitcoin message in a packet: scapy's TCPSession stacks the messages
    one segment completes on top of each other."""
    out: list[BTCMessage] = []
    while isinstance(msg := pkt.getlayer(BTCMessage, nb=len(out) + 1), BTCMessage):
        out.append(msg)
    return out


def bind_port(port: int) -> None:
    """Dissect TCP traffic from or to `port` as Bitcoin P2P."""
    bind_layers(TCP, BTCMessage, sport=port)
    bind_layers(TCP, BTCMessage, dport=port)


COMMANDS: dict[bytes, type[Packet]] = {
    b"version": BTCVersion, b"verack": BTCVerack, b"ping": BTCPing, b"pong": BTCPong,
    b"inv": BTCInv, b"getdata": BTCGetData, b"tx": BTCTx,
}
for _command, _layer in COMMANDS.items():
    bind_layers(BTCMessage, _layer, cmd=_command)
bind_port(8333)
