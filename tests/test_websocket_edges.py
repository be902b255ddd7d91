# SPDX-License-Identifier: MIT
"""RFC 6455 edge cases: a scripted TLS server writes exact bytes, once whole
and once byte by byte (each byte its own TLS record), and we check what the
native client makes of them and what it answers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from orchestrator.hotline import Connection, Loop, Trust
from tests.tlsutil import (
    Pki,
    RawTLSServer,
    close_payload,
    read_client_frames,
    server_frame,
    upgrade_response,
)

TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0
FEEDS = pytest.mark.parametrize("byte_by_byte", [False, True], ids=["whole", "bytewise"])


@contextmanager
def run_script(pki: Pki, script: Sequence[bytes], byte_by_byte: bool, *,
               max_message: int = 1 << 20, response: bytes | None = None,
               wait_for: str = "open", ping_interval: float = 0.0,
               ) -> Iterator[tuple[Connection, RawTLSServer]]:
    """A client connected to a server that plays `script` after the upgrade."""
    with RawTLSServer(pki.leaf, pki.leaf_key, script, byte_by_byte=byte_by_byte,
                      response=response, read_timeout=5.0) as server:
        loop = Loop()
        conn = Connection(loop, server.url, Trust(str(pki.root_ca)),
                          max_message=max_message, auto_reconnect=False, close_timeout=0.2,
                          ping_interval=ping_interval)
        conn.open()
        loop.run_until(lambda: conn.state in (wait_for, "closed"), 10)
        yield conn, server


def wait_for_frame(conn: Connection, server: RawTLSServer, opcode: int) -> None:
    """Run the client until the server has received a frame with this opcode."""
    def arrived() -> bool:
        return any(f.opcode == opcode for f in read_client_frames(server.received))
    conn.loop.run_until(arrived, 5)
    server.wait_received(lambda _: arrived(), 5)


def client_frames(server: RawTLSServer) -> list[tuple[int, bytes]]:
    return [(f.opcode, f.payload) for f in read_client_frames(server.received)
            if f.masked and f.fin]


def expect_close(conn: Connection, server: RawTLSServer, code: int, error: str) -> None:
    """The client fails the connection: sends close `code`, names the error."""
    conn.loop.run_until(lambda: conn.state == "closed", 5)
    wait_for_frame(conn, server, CLOSE)
    assert (CLOSE, code.to_bytes(2, "big")) in client_frames(server)
    assert conn.state == "closed"
    assert error in str(conn.last_error)


@FEEDS
def test_fragmented_message_with_a_ping_between_fragments(pki: Pki, byte_by_byte: bool) -> None:
    script = [server_frame(TEXT, b"Hello, ", fin=False), server_frame(PING, b"are you there"),
              server_frame(CONT, b"frag", fin=False), server_frame(CONT, b"mented world", fin=True)]
    with run_script(pki, script, byte_by_byte) as (conn, server):
        assert conn.recv().text == "Hello, fragmented world"
        wait_for_frame(conn, server, PONG)
        assert (PONG, b"are you there") in client_frames(server)


@FEEDS
@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_payload_sizes_around_the_length_encodings(pki: Pki, byte_by_byte: bool,
                                                   size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    with run_script(pki, [server_frame(BINARY, payload)], byte_by_byte) as (conn, _):
        message = conn.recv(60)
        assert message.opcode == BINARY and message.data == payload


@FEEDS
@pytest.mark.parametrize(
    ("frame", "code", "error"),
    [
        (server_frame(TEXT, b"hi", mask=b"\x01\x02\x03\x04"), 1002, "ST_EWS_MASKED_FRAME"),
        (server_frame(TEXT, b"hi", rsv=4), 1002, "ST_EWS_RESERVED_BITS"),
        (server_frame(3, b"hi"), 1002, "ST_EWS_BAD_OPCODE"),
        (server_frame(PING, b"x", fin=False), 1002, "ST_EWS_BAD_CONTROL"),
        (server_frame(CONT, b"orphan"), 1002, "ST_EWS_BAD_CONTINUATION"),
        (server_frame(TEXT, b"caf\xc3"), 1007, "ST_EWS_BAD_UTF8"),
        (server_frame(TEXT, b"\xed\xa0\x80"), 1007, "ST_EWS_BAD_UTF8"),  # a surrogate
        (server_frame(CLOSE, b"\x03"), 1002, "ST_EWS_BAD_CLOSE"),
        (server_frame(CLOSE, close_payload(999)), 1002, "ST_EWS_BAD_CLOSE"),
    ],
    ids=["masked", "rsv", "opcode", "fragmented-ping", "orphan-continuation",
         "utf8-truncated", "utf8-surrogate", "close-1-byte", "close-bad-code"],
)
def test_protocol_errors_fail_with_the_right_close_code(
    pki: Pki, byte_by_byte: bool, frame: bytes, code: int, error: str
) -> None:
    with run_script(pki, [frame], byte_by_byte) as (conn, server):
        expect_close(conn, server, code, error)


@FEEDS
def test_message_over_the_limit_is_1009(pki: Pki, byte_by_byte: bool) -> None:
    with run_script(pki, [server_frame(BINARY, b"x" * 300)], byte_by_byte,
                    max_message=200) as (conn, server):
        expect_close(conn, server, 1009,
                     "message larger than the configured limit (ST_EWS_TOO_BIG)")


@FEEDS
def test_server_initiated_close_is_answered(pki: Pki, byte_by_byte: bool) -> None:
    script = [server_frame(CLOSE, close_payload(1001, "going away"))]
    with run_script(pki, script, byte_by_byte) as (conn, server):
        wait_for_frame(conn, server, CLOSE)
        assert (CLOSE, (1001).to_bytes(2, "big")) in client_frames(server)
        assert conn.peer_close_code == 1001


@FEEDS
def test_bad_sec_websocket_accept_is_refused(pki: Pki, byte_by_byte: bool) -> None:
    bad = upgrade_response("dGhlIHNhbXBsZSBub25jZQ==")  # a valid-looking, wrong value
    with run_script(pki, [], byte_by_byte, response=bad, wait_for="never") as (conn, _):
        assert conn.state == "closed"
        assert "ST_EWS_BAD_ACCEPT" in str(conn.last_error)


def test_upgrade_refused_with_a_non_101_status(pki: Pki) -> None:
    response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    with run_script(pki, [], False, response=response, wait_for="never") as (conn, _):
        assert "did not answer the WebSocket upgrade with 101" in str(conn.last_error)


def test_upgrade_request_is_rfc6455(pki: Pki) -> None:
    with run_script(pki, [], False) as (_, server):
        request = server.wait_request().decode()
    assert request.startswith("GET / HTTP/1.1\r\n")
    lines = {k.lower(): v for k, _, v in (line.partition(": ") for line in
                                          request.split("\r\n")[1:] if line)}
    assert lines["host"] == f"localhost:{server.port}"
    assert lines["upgrade"] == "websocket" and lines["connection"] == "Upgrade"
    assert lines["sec-websocket-version"] == "13"
    assert len(lines["sec-websocket-key"]) == 24  # base64 of 16 random bytes
    assert "sec-websocket-extensions" not in lines  # no compression offered


# -- what we send, in what order ------------------------------------------------


def test_close_waits_for_queued_messages_and_never_splits_a_frame(pki: Pki) -> None:
    """A 40 KB message spans several TLS records; messages queued behind it and
    our close frame must follow it whole, in order."""
    big = bytes(i % 251 for i in range(40000))
    with run_script(pki, [], False) as (conn, server):
        conn.send(big)
        conn.send("order-2")
        conn.send("order-3")
        conn.close(3.0)
        wait_for_frame(conn, server, CLOSE)
        frames = client_frames(server)
    assert frames == [(BINARY, big), (TEXT, b"order-2"), (TEXT, b"order-3"),
                      (CLOSE, (1000).to_bytes(2, "big"))]


@pytest.mark.timeout(20)  # liveness: the server below would hold a hung loop for 30 s
def test_close_finishes_even_when_the_server_never_answers(pki: Pki) -> None:
    """A ping falls due during the close: the loop must still honour the close
    timeout (a stale ping deadline once made it sleep until the server left)."""
    with RawTLSServer(pki.leaf, pki.leaf_key, read_timeout=30.0) as server:
        loop = Loop()
        conn = Connection(loop, server.url, Trust(str(pki.root_ca)), auto_reconnect=False,
                          ping_interval=0.1, close_timeout=1.0)
        conn.open()
        conn.wait_open()
        conn.close(3.0)  # the scripted server never sends a close back
        assert conn.state == "closed"


def test_messages_before_the_servers_eof_are_delivered(pki: Pki) -> None:
    script = [server_frame(TEXT, f"fill-{i}".encode()) for i in range(3)]
    with RawTLSServer(pki.leaf, pki.leaf_key, script, shutdown_after_script=True) as server:
        loop = Loop()
        conn = Connection(loop, server.url, Trust(str(pki.root_ca)), auto_reconnect=False,
                          close_timeout=5.0)
        conn.open()
        assert loop.run_until(lambda: conn.state in ("closing", "closed"), 10)
        assert [conn.recv().text for _ in range(3)] == ["fill-0", "fill-1", "fill-2"]
        loop.run_until(lambda: conn.state == "closed", 5)
        assert conn.state == "closed"
        assert "ECONNRESET" in str(conn.last_error)  # TCP closed without a close frame


def test_one_flooding_unread_connection_does_not_starve_another(pki: Pki) -> None:
    flood = [server_frame(BINARY, bytes(16000)) for _ in range(200)]
    with RawTLSServer(pki.leaf, pki.leaf_key, flood, read_timeout=8.0) as noisy, \
         RawTLSServer(pki.leaf, pki.leaf_key, [], read_timeout=8.0) as quiet:
        loop = Loop()
        trust = Trust(str(pki.root_ca))
        a = Connection(loop, noisy.url, trust, auto_reconnect=False)
        b = Connection(loop, quiet.url, trust, auto_reconnect=False)
        a.open()
        b.open()
        assert loop.run_until(lambda: a.state == b.state == "open", 20), (a.state, b.state)
        loop.run(0.5)  # the flood fills what it may while nobody reads it
        quiet.send(server_frame(TEXT, b"fill for b"))
        assert b.recv(5).text == "fill for b"
        assert a.recv(5).data == bytes(16000)  # and the flood is still all there


def test_dropped_queue_never_leaves(pki: Pki) -> None:
    """The kill switch's part in a connection: messages still queued behind one
    that TLS has started are dropped; the started one leaves whole."""
    big = bytes(i % 251 for i in range(40000))
    with run_script(pki, [], False) as (conn, server):
        conn.send(big)
        conn.send("order-2")
        conn.send("order-3")
        assert conn.drop_queued() == 2
        assert conn.drop_queued() == 0
        conn.close(3.0)
        wait_for_frame(conn, server, CLOSE)
        frames = client_frames(server)
    assert frames == [(BINARY, big), (CLOSE, (1000).to_bytes(2, "big"))]
