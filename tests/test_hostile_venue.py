# SPDX-License-Identifier: MIT
"""A hostile venue over real TLS: a scripted server (tests.tlsutil.RawTLSServer)
sends what a broken or malicious exchange might: bad frames, a bad upgrade,
garbage where a TLS record belongs, floods, a slowloris, answers that are not
JSON or too big. Each case checks the error it is named by, what happens on the
wire (our close frame with its code, or the connection dropped), that the
standby connection of a HotStandby pair takes the next order while the failed
one reconnects, and, for the floods, that memory stays bounded."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator._native import lib
from orchestrator.desk import Desk, Event
from orchestrator.hotline import Connection, HotStandby, Loop, Trust
from orchestrator.journal import Journal
from orchestrator.venues import binance
from tests.conftest import SANITIZE
from tests.test_websocket_edges import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    client_frames,
    wait_for_frame,
)
from tests.tlsutil import (
    Pki,
    RawTLSServer,
    Unencrypted,
    WebSocketEchoServer,
    close_payload,
    read_client_frames,
    server_frame,
    upgrade_response,
)
from tests.venueutil import ASK, BID, HMAC, LEG, LIMITS, txid

ORDER = '{"id":1,"method":"order.place"}'
MAX_MESSAGE = 1 << 17


def long_frame(opcode: int, length_bytes: bytes) -> bytes:
    """A frame header with a 64-bit length written as given (and no payload)."""
    return bytes([0x80 | opcode, 127]) + length_bytes


def rss_bytes() -> int:
    """Resident memory of this process, where the native client runs."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def assert_grew_less(grown: int, bound: int) -> None:
    """The client's memory stayed bounded. Not under SANITIZE=1: ASan keeps every
    freed block in quarantine, and the hostile server runs in this process, so the
    resident size then counts the server's garbage (seen: 17-55 MiB for 5000 pings)."""
    if not SANITIZE:
        assert grown < bound, grown


@pytest.fixture(scope="module")
def standby_server(pki: Pki) -> Iterator[WebSocketEchoServer]:
    with WebSocketEchoServer(pki.leaf, pki.leaf_key) as server:
        yield server


@contextmanager
def hostile_pair(pki: Pki, hostile: RawTLSServer, standby_server: WebSocketEchoServer,
                 handshake_timeout: float = 10.0
                 ) -> Iterator[tuple[Connection, Connection, HotStandby]]:
    """A primary on the hostile server (reconnecting quickly) and an open standby."""
    loop, trust = Loop(), Trust(str(pki.root_ca))
    primary = Connection(loop, hostile.url, trust, max_message=MAX_MESSAGE,
                         backoff=(0.05, 0.2), close_timeout=0.2,
                         handshake_timeout=handshake_timeout)
    standby = Connection(loop, standby_server.url, trust)
    standby.open()
    standby.wait_open()
    primary.open()
    yield primary, standby, HotStandby(primary, standby)


def failed_with(primary: Connection) -> str:
    """Runs the loop until the primary has failed; the name of its error."""
    assert primary.loop.run_until(lambda: primary.last_error is not None, 10), primary.state
    error = primary.last_error
    assert error is not None
    return error.name


def standby_takes_the_next_order_and_primary_reconnects(
        primary: Connection, standby: Connection, pair: HotStandby) -> None:
    loop = primary.loop
    assert loop.run_until(lambda: primary.state != "open", 5)
    pair.send(ORDER)
    assert pair.active is standby
    assert standby.recv().text == ORDER
    assert loop.run_until(lambda: primary.stats["connects"] >= 2, 10), primary.stats
    assert standby.state == "open"


# -- frames: the client closes with the right code ------------------------------------

FRAME_CASES = {
    "oversized": (server_frame(BINARY, bytes(MAX_MESSAGE + 1)), 1009, "ST_EWS_TOO_BIG"),
    "length-top-bit": (long_frame(BINARY, b"\x80" + bytes(7)), 1002, "ST_EWS_LENGTH_TOP_BIT"),
    "length-not-minimal": (long_frame(BINARY, (5).to_bytes(8, "big")) + bytes(5), 1002,
                           "ST_EWS_BAD_LENGTH"),
    "bad-utf8": (server_frame(TEXT, b"price \xff\xfe"), 1007, "ST_EWS_BAD_UTF8"),
    "fragmented-ping": (server_frame(PING, b"x", fin=False), 1002, "ST_EWS_BAD_CONTROL"),
    "long-ping": (server_frame(PING, bytes(126)), 1002, "ST_EWS_BAD_CONTROL"),
    "masked": (server_frame(TEXT, b"hi", mask=b"\x01\x02\x03\x04"), 1002,
               "ST_EWS_MASKED_FRAME"),
    "reserved-opcode": (server_frame(0xB, b""), 1002, "ST_EWS_BAD_OPCODE"),
    "rsv-bits": (server_frame(TEXT, b"hi", rsv=2), 1002, "ST_EWS_RESERVED_BITS"),
    "orphan-continuation": (server_frame(CONT, b"x"), 1002, "ST_EWS_BAD_CONTINUATION"),
    "close-bad-code": (server_frame(CLOSE, close_payload(1005)), 1002, "ST_EWS_BAD_CLOSE"),
    "close-1-byte": (server_frame(CLOSE, b"\x03"), 1002, "ST_EWS_BAD_CLOSE"),
}


@pytest.mark.parametrize(("frame", "code", "error"), FRAME_CASES.values(), ids=FRAME_CASES)
def test_bad_frame_is_closed_with_its_code(pki: Pki, standby_server: WebSocketEchoServer,
                                           frame: bytes, code: int, error: str) -> None:
    with RawTLSServer(pki.leaf, pki.leaf_key, [frame], read_timeout=10.0) as server, \
         hostile_pair(pki, server, standby_server) as (primary, standby, pair):
        assert failed_with(primary) == error
        wait_for_frame(primary, server, CLOSE)
        assert (CLOSE, code.to_bytes(2, "big")) in client_frames(server)
        standby_takes_the_next_order_and_primary_reconnects(primary, standby, pair)


# -- the upgrade and TLS: the connection is dropped -----------------------------------

HUGE_HEADER = upgrade_response("x", [("X-Padding", "p" * (lib.ST_WS_MAX_RESPONSE + 1))])
HANDSHAKE_CASES = {
    "garbage-for-101": (b"\x16\x03\x01 garbage \xff\xfe\r\n\r\n", "ST_EWS_HANDSHAKE_STATUS"),
    "not-101": (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "ST_EWS_HANDSHAKE_STATUS"),
    "wrong-accept": (upgrade_response("dGhlIHNhbXBsZSBub25jZQ=="), "ST_EWS_BAD_ACCEPT"),
    "huge-header": (HUGE_HEADER, "ST_EWS_RESPONSE_TOO_LARGE"),
}


@pytest.mark.parametrize(("response", "error"), HANDSHAKE_CASES.values(), ids=HANDSHAKE_CASES)
def test_bad_upgrade_drops_the_connection(pki: Pki, standby_server: WebSocketEchoServer,
                                          response: bytes, error: str) -> None:
    with RawTLSServer(pki.leaf, pki.leaf_key, response=response, read_timeout=10.0) as server, \
         hostile_pair(pki, server, standby_server) as (primary, standby, pair):
        assert failed_with(primary) == error
        server.wait_done(5)  # the client hung up (the server would wait 10 s)
        assert read_client_frames(server.received) == []  # nothing after the upgrade
        standby_takes_the_next_order_and_primary_reconnects(primary, standby, pair)


def test_garbage_tls_record_drops_the_connection(pki: Pki,
                                                 standby_server: WebSocketEchoServer) -> None:
    """Application data whose MAC cannot be right, written under the TLS layer."""
    garbage = Unencrypted(b"\x17\x03\x03\x00\x40" + bytes(range(64)))
    with RawTLSServer(pki.leaf, pki.leaf_key, [garbage], read_timeout=10.0) as server, \
         hostile_pair(pki, server, standby_server) as (primary, standby, pair):
        assert failed_with(primary) == "BR_ERR_BAD_MAC"
        server.wait_done(5)
        standby_takes_the_next_order_and_primary_reconnects(primary, standby, pair)


def test_slowloris_upgrade_hits_the_handshake_deadline(
        pki: Pki, standby_server: WebSocketEchoServer) -> None:
    """The 101 response trickles in a byte a second: the handshake deadline ends it."""
    with RawTLSServer(pki.leaf, pki.leaf_key, byte_by_byte=True, byte_delay=1.0,
                      read_timeout=10.0) as server, \
         hostile_pair(pki, server, standby_server, handshake_timeout=2.0) as (
             primary, standby, pair):
        assert failed_with(primary) == "ETIMEDOUT"
        assert primary.stats["opens"] == 0
        server.wait_done(5)
        standby_takes_the_next_order_and_primary_reconnects(primary, standby, pair)


# -- floods: the connection lives on, memory does not grow -----------------------------


def test_ping_flood_is_answered_and_memory_stays_bounded(
        pki: Pki, standby_server: WebSocketEchoServer) -> None:
    pings = 5000
    flood = [server_frame(PING, bytes(125))] * pings + [server_frame(TEXT, b"after the flood")]
    with RawTLSServer(pki.leaf, pki.leaf_key, flood, read_timeout=20.0) as server, \
         hostile_pair(pki, server, standby_server) as (primary, _, pair):
        primary.wait_open()
        before = rss_bytes()
        assert primary.recv(20).text == "after the flood"
        grown = rss_bytes() - before
        assert primary.state == "open" and primary.last_error is None
        pair.send(ORDER)  # the order still leaves on the primary
        assert pair.active is primary
        wait_for_frame(primary, server, TEXT)
        frames = client_frames(server)
        assert (TEXT, ORDER.encode()) in frames
        pongs = sum(1 for opcode, _ in frames if opcode == PONG)
        assert 1 <= pongs <= pings  # answered (a pong may stand for several pings)
        assert_grew_less(grown, 8 << 20)


def test_message_flood_keeps_memory_bounded(pki: Pki,
                                            standby_server: WebSocketEchoServer) -> None:
    """40 MiB of 64 KiB messages nobody asked for: read and dropped, memory flat."""
    count, size = 640, 1 << 16
    flood = [server_frame(BINARY, bytes(size))] * count
    with RawTLSServer(pki.leaf, pki.leaf_key, flood, read_timeout=20.0) as server, \
         hostile_pair(pki, server, standby_server) as (primary, _, pair):
        primary.wait_open()
        before = rss_bytes()
        for _ in range(count):
            assert len(primary.recv(20).data) == size
        grown = rss_bytes() - before
        assert primary.state == "open"
        pair.send(ORDER)
        wait_for_frame(primary, server, TEXT)
        assert (TEXT, ORDER.encode()) in client_frames(server)
        assert_grew_less(grown, 16 << 20)  # the flood was 40 MiB


# -- answers: a desk on the pair, the hostile server answering its orders --------------


@contextmanager
def hostile_desk(pki: Pki, tmp_path: Path, standby_server: WebSocketEchoServer
                 ) -> Iterator[tuple[Desk, RawTLSServer, list[Event]]]:
    """A Binance desk whose primary is a hostile server; events gathered in a list."""
    with RawTLSServer(pki.leaf, pki.leaf_key, read_timeout=20.0) as server, \
         hostile_pair(pki, server, standby_server) as (primary, _, pair):
        primary.wait_open()
        desk = Desk(binance.SCHEMA, pair, Journal(tmp_path / "journal"), LIMITS,
                    price_decimals=2, quantity_decimals=8)
        assert HMAC.hmac_secret is not None
        desk.set_hmac_secret(HMAC.hmac_secret)
        desk.add_leg(LEG, binance.order_template(LEG, HMAC))
        desk.set_ready(0)
        desk.set_ready(1)
        desk.set_book(BID, ASK)
        yield desk, server, []


def pump_until(desk: Desk, events: list[Event], done: Callable[[], bool],
               timeout: float = 10.0) -> None:
    """Runs the loop and polls the desk (as the engine would) until done()."""
    def check() -> bool:
        desk.poll()
        events.extend(desk.events())
        return done()
    assert desk.conns[0].loop.run_until(check, timeout), events


def order_to_hostile(desk: Desk, server: RawTLSServer, events: list[Event], n: int) -> int:
    """Fires trigger n; the request id of the order the hostile server received."""
    assert desk.fire(txid(n)) == 1
    pump_until(desk, events, lambda: any(f.opcode == TEXT for f in
                                         read_client_frames(server.received)))
    [order] = [f for f in read_client_frames(server.received) if f.opcode == TEXT]
    request_id: int = json.loads(order.payload)["id"]
    return request_id


def test_malformed_answer_is_dropped_and_the_connection_lives_on(
        pki: Pki, tmp_path: Path, standby_server: WebSocketEchoServer) -> None:
    with hostile_desk(pki, tmp_path, standby_server) as (desk, server, events):
        request_id = order_to_hostile(desk, server, events, 1)
        server.send(server_frame(TEXT, b'{"id":%d,"status":200,"result":{"orderId":' % request_id))
        pump_until(desk, events, lambda: desk.stats["bad_messages"] == 1)
        good = {"id": request_id, "status": 200,
                "result": {"orderId": 77, "status": "FILLED", "executedQty": "0.01"}}
        server.send(server_frame(TEXT, json.dumps(good).encode()))
        pump_until(desk, events, lambda: any(e.kind == "ack" for e in events))
        [ack] = [e for e in events if e.kind == "ack"]
        assert ack.conn == 0 and ack.venue_order_id == 77
        assert desk.conns[0].state == "open" and desk.conns[0].last_error is None


def test_enormous_answer_drops_the_connection_and_the_standby_takes_over(
        pki: Pki, tmp_path: Path, standby_server: WebSocketEchoServer) -> None:
    """An answer larger than any the desk expects (but within the connection's
    limit): the connection is not sane, so it is dropped with EMSGSIZE."""
    with hostile_desk(pki, tmp_path, standby_server) as (desk, server, events):
        primary, standby = desk.conns
        request_id = order_to_hostile(desk, server, events, 1)
        pad = "x" * lib.ST_DESK_MAX_MESSAGE
        server.send(server_frame(TEXT, b'{"id":%d,"status":200,"pad":"%s"}'
                                 % (request_id, pad.encode())))
        pump_until(desk, events, lambda: primary.last_error is not None)
        assert primary.last_error is not None and primary.last_error.name == "EMSGSIZE"
        assert desk.stats["bad_messages"] == 1
        server.wait_done(5)
        # The order in flight has an unknown outcome; the next goes out on the standby.
        pump_until(desk, events, lambda: any(e.kind == "unknown" for e in events))
        assert desk.fire(txid(2)) == 1
        pump_until(desk, events, lambda: any(e.kind != "sent" and e.conn == 1 for e in events
                                             if e.kind != "conn"))
        assert [e.conn for e in events if e.kind == "sent"] == [0, 1]
        assert standby.state == "open"
        pump_until(desk, events, lambda: primary.stats["connects"] >= 2)
        assert primary.stats["failures"] == 1  # failed once, not again at every poll
