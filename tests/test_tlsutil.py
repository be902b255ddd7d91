# SPDX-License-Identifier: MIT
"""Proves the TLS test fixtures with Python's own ssl client before the native client
relies on them: a failing native test must mean a native bug, not a broken fixture."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.tlsutil import (
    OpenSSLServer,
    Pki,
    RawTLSServer,
    WebSocketEchoServer,
    client_context,
    close_payload,
    parse_http_headers,
    read_client_frames,
    server_frame,
    spki_sha256,
    upgrade_response,
    ws_accept,
)


def _tls_connect(port: int, ctx: ssl.SSLContext, host: str = "localhost") -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return ctx.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def _recv_until(conn: ssl.SSLSocket, needle: bytes, limit: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while needle not in data and time.monotonic() < deadline:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _verify_code(port: int, ctx: ssl.SSLContext) -> int:
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        _tls_connect(port, ctx).close()
    return info.value.verify_code


def test_leaf_verifies_for_localhost(pki: Pki) -> None:
    with (
        OpenSSLServer(pki.leaf, pki.leaf_key) as srv,
        _tls_connect(srv.port, client_context(pki.root_ca)) as conn,
    ):
        assert conn.version() == "TLSv1.2"
        assert conn.getpeercert()["subject"] == ((("commonName", "localhost"),),)


def test_rsa_leaf_verifies(pki: Pki) -> None:
    with (
        OpenSSLServer(pki.rsa_leaf, pki.rsa_leaf_key) as srv,
        _tls_connect(srv.port, client_context(pki.root_ca)) as conn,
    ):
        assert "RSA" in conn.cipher()[0]


def test_chain_via_intermediate_verifies_only_with_chain(pki: Pki) -> None:
    ctx = client_context(pki.root_ca)
    with OpenSSLServer(
        pki.leaf_via_intermediate, pki.leaf_via_intermediate_key, chain=pki.intermediate_ca
    ) as srv:
        _tls_connect(srv.port, ctx).close()
    with OpenSSLServer(pki.leaf_via_intermediate, pki.leaf_via_intermediate_key) as srv:
        assert _verify_code(srv.port, ctx) == 20  # unable to get local issuer certificate
    first = pki.chain_via_intermediate.read_text().split("-----END CERTIFICATE-----")[0]
    assert first in pki.leaf_via_intermediate.read_text()


def test_wrong_host_fails_hostname_check(pki: Pki) -> None:
    with OpenSSLServer(pki.wrong_host_leaf, pki.wrong_host_leaf_key) as srv:
        assert _verify_code(srv.port, client_context(pki.root_ca)) == 62  # hostname mismatch


def test_expired_fails(pki: Pki) -> None:
    with OpenSSLServer(pki.expired_leaf, pki.expired_leaf_key) as srv:
        assert _verify_code(srv.port, client_context(pki.root_ca)) == 10  # expired


def test_unknown_ca_fails(pki: Pki) -> None:
    with OpenSSLServer(pki.unknown_ca_leaf, pki.unknown_ca_leaf_key) as srv:
        assert _verify_code(srv.port, client_context(pki.root_ca)) == 20
        _tls_connect(srv.port, client_context(pki.unknown_ca)).close()


def test_no_critical_eku(pki: Pki) -> None:
    """BearSSL rejects a critical EKU; a CA must be CA:TRUE."""
    for cert in (pki.leaf, pki.rsa_leaf, pki.leaf_via_intermediate, pki.expired_leaf):
        text = subprocess.run(
            ["openssl", "x509", "-in", str(cert), "-noout", "-text"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        assert "Extended Key Usage: critical" not in text
        assert "TLS Web Server Authentication" in text
        assert "CA:FALSE" in text
    for cert in (pki.root_ca, pki.intermediate_ca):
        text = subprocess.run(
            ["openssl", "x509", "-in", str(cert), "-noout", "-text"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        assert "CA:TRUE" in text


def test_spki_sha256_matches_python(pki: Pki) -> None:
    pin = spki_sha256(pki.leaf)
    assert len(pin) == 32
    assert pin != spki_sha256(pki.rsa_leaf)
    with (
        OpenSSLServer(pki.leaf, pki.leaf_key) as srv,
        _tls_connect(srv.port, client_context(pki.root_ca)) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    # The certificate hash differs from the key pin; the pin is stable across reissues.
    assert hashlib.sha256(der).digest() != pin


def test_openssl_rev_echoes(pki: Pki) -> None:
    with (
        OpenSSLServer(pki.leaf, pki.leaf_key, rev=True) as srv,
        _tls_connect(srv.port, client_context(pki.root_ca)) as conn,
    ):
        conn.sendall(b"hello\n")
        assert b"olleh" in _recv_until(conn, b"olleh")


def test_openssl_naccept_exits(pki: Pki) -> None:
    with OpenSSLServer(pki.leaf, pki.leaf_key, rev=True, naccept=1) as srv:
        conn = _tls_connect(srv.port, client_context(pki.root_ca))
        with conn:
            conn.sendall(b"ab\n")
            assert b"ba" in _recv_until(conn, b"ba")
        assert srv.wait_exit(5) == 0


def test_tls13_only_refuses_tls12_client(pki: Pki) -> None:
    with OpenSSLServer(pki.leaf, pki.leaf_key, tls13_only=True) as srv:
        with pytest.raises(ssl.SSLError):
            _tls_connect(srv.port, client_context(pki.root_ca, max_tls12=True)).close()
        with _tls_connect(srv.port, client_context(pki.root_ca)) as conn:
            assert conn.version() == "TLSv1.3"


def test_openssl_server_reports_startup_failure(pki: Pki, tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="s_server exited"),
        OpenSSLServer(pki.leaf, tmp_path / "missing.key"),
    ):
        pass


def _echo_roundtrip(url: str, ctx: ssl.SSLContext) -> None:
    with connect(url, ssl=ctx, open_timeout=5, close_timeout=2) as ws:
        ws.send("hé")
        assert ws.recv(timeout=5) == "hé"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(timeout=5) == b"\x00\x01\xff"


def test_websocket_echo_kill_restart(pki: Pki) -> None:
    ctx = client_context(pki.root_ca, max_tls12=True)  # what the native client will speak
    with WebSocketEchoServer(pki.chain_via_intermediate, pki.leaf_via_intermediate_key) as srv:
        assert srv.url == f"wss://localhost:{srv.port}/"
        _echo_roundtrip(srv.url, ctx)
        port = srv.port
        with connect(srv.url, ssl=ctx, open_timeout=5, close_timeout=1) as ws:
            srv.kill()
            assert not srv.alive
            with pytest.raises(Exception):  # noqa: B017 - any close/reset error will do
                ws.recv(timeout=5)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        srv.restart()
        assert srv.port == port
        _echo_roundtrip(srv.url, ctx)


def test_ws_accept_rfc_example() -> None:
    assert ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_read_client_frames() -> None:
    mask = b"\x01\x02\x03\x04"
    data = server_frame(0x1, b"hi", mask=mask) + server_frame(0xA, b"x" * 300, mask=mask)
    data += server_frame(0x2, b"partial", mask=mask)[:-1]
    assert read_client_frames(data) == [(0x1, b"hi", True, True), (0xA, b"x" * 300, True, True)]


def test_raw_server_delivers_scripted_frames(pki: Pki) -> None:
    script = [server_frame(0x1, b"hello"), server_frame(0x9, b"ping!")]
    with RawTLSServer(pki.leaf, pki.leaf_key, script, byte_by_byte=True) as srv:
        with _tls_connect(srv.port, client_context(pki.root_ca, max_tls12=True)) as conn:
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            conn.sendall(
                b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key.encode() + b"\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            assert parse_http_headers(srv.wait_request())["sec-websocket-key"] == key
            expected = upgrade_response(ws_accept(key)) + b"".join(script)
            assert _recv_until(conn, expected) == expected
            srv.send(server_frame(0x1, b"more"))  # written by the server thread, on demand
            assert _recv_until(conn, b"more") == server_frame(0x1, b"more")
            # Answer the ping the way a client must: a masked pong, then a masked close.
            pong = server_frame(0xA, b"ping!", mask=b"abcd")
            conn.sendall(pong + server_frame(0x8, close_payload(1000), mask=b"wxyz"))
            srv.wait_received(lambda d: len(read_client_frames(d)) == 2)
        received = srv.wait_done(5)
    assert read_client_frames(received) == [
        (0xA, b"ping!", True, True),
        (0x8, close_payload(1000), True, True),
    ]
    assert srv.error is None


def test_raw_server_custom_response(pki: Pki) -> None:
    bad = upgrade_response("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    with RawTLSServer(pki.leaf, pki.leaf_key, response=bad, shutdown_after_script=True) as srv:
        with _tls_connect(srv.port, client_context(pki.root_ca)) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nSec-WebSocket-Key: abc\r\n\r\n")
            assert _recv_until(conn, b"\r\n\r\n") == bad
            assert conn.recv(100) == b""  # server closed after the script
        srv.wait_done(5)
