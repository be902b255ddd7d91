# SPDX-License-Identifier: MIT
"""The hot line end to end: native TLS + WebSocket over io_uring against real
servers on loopback (Python websockets behind ssl, openssl s_server)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator._native import lib
from orchestrator.errors import NativeError
from orchestrator.hotline import Connection, HotStandby, Loop, LoopMode, Trust
from tests.tlsutil import OpenSSLServer, Pki, RawTLSServer, WebSocketEchoServer, spki_sha256


@pytest.fixture(scope="module")
def echo(pki: Pki) -> Iterator[WebSocketEchoServer]:
    with WebSocketEchoServer(pki.leaf, pki.leaf_key) as server:
        yield server


def make_loop(mode: LoopMode) -> Loop:
    # SQPOLL's kernel thread goes on CPU 0; the test process may run anywhere.
    return Loop(mode, sqpoll_cpu=0 if mode is LoopMode.SQPOLL else -1)


def connect(loop: Loop, url: str, pki: Pki, **options: object) -> Connection:
    conn = Connection(loop, url, Trust(str(pki.root_ca)), **options)  # type: ignore[arg-type]
    conn.open()
    return conn


@pytest.mark.parametrize("mode", list(LoopMode), ids=lambda m: m.label)
def test_echo_round_trips_in_every_mode(mode: LoopMode, echo: WebSocketEchoServer,
                                        pki: Pki) -> None:
    loop = make_loop(mode)
    conn = connect(loop, echo.url, pki)
    conn.wait_open()
    for i in range(50):
        conn.send(f"order {i} {mode.label}")
        assert conn.recv().text == f"order {i} {mode.label}"
    conn.send(bytes(range(256)) * 40)
    reply = conn.recv()
    assert reply.opcode == 2 and reply.data == bytes(range(256)) * 40
    stats = conn.stats
    assert stats["msgs_sent"] == stats["msgs_received"] == 51
    conn.close()
    assert conn.state == "closed"
    assert conn.last_error is None
    assert conn.peer_close_code == 1000  # the server answered our close frame


def test_tls_layer_alone_against_openssl_s_server(pki: Pki) -> None:
    with OpenSSLServer(pki.leaf, pki.leaf_key, rev=True) as server:
        loop = Loop()
        conn = connect(loop, f"tls://localhost:{server.port}", pki)
        conn.wait_open()
        conn.send(b"hello stratum\n")
        received = b""
        while b"\n" not in received:
            received += conn.recv().data
        assert received.strip() == b"mutarts olleh"


def _verdict(pki: Pki, cert: object, key: object, chain: object = None,
             tls13_only: bool = False, pins: tuple[bytes, ...] = ()) -> Connection:
    with OpenSSLServer(cert, key, chain=chain, tls13_only=tls13_only,  # type: ignore[arg-type]
                       rev=True) as server:
        loop = Loop()
        conn = connect(loop, f"tls://localhost:{server.port}", pki, pins=pins,
                       auto_reconnect=False, handshake_timeout=5.0)
        try:
            conn.wait_open(10)
        except NativeError:
            return conn
        conn.send(b"ping\n")
        assert conn.recv().data.strip() == b"gnip"
        return conn


def test_valid_chain_accepted(pki: Pki) -> None:
    assert _verdict(pki, pki.leaf, pki.leaf_key).state == "open"


def test_rsa_leaf_accepted(pki: Pki) -> None:
    assert _verdict(pki, pki.rsa_leaf, pki.rsa_leaf_key).state == "open"


def test_chain_through_intermediate_accepted(pki: Pki) -> None:
    conn = _verdict(pki, pki.leaf_via_intermediate, pki.leaf_via_intermediate_key,
                    chain=pki.intermediate_ca)
    assert conn.state == "open"


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("wrong_host_leaf", "certificate does not match the host name "
                            "(BR_ERR_X509_BAD_SERVER_NAME)"),
        ("unknown_ca_leaf", "certificate not trusted (BR_ERR_X509_NOT_TRUSTED)"),
        ("expired_leaf", "certificate expired or not yet valid (BR_ERR_X509_EXPIRED)"),
        ("leaf_via_intermediate", "certificate not trusted (BR_ERR_X509_NOT_TRUSTED)"),
    ],
)
def test_bad_certificates_refused_with_named_errors(pki: Pki, which: str, message: str) -> None:
    conn = _verdict(pki, getattr(pki, which), getattr(pki, f"{which}_key"))
    assert conn.state == "closed"
    assert message in str(conn.last_error)


def test_tls13_only_server_refused_saying_so(pki: Pki) -> None:
    conn = _verdict(pki, pki.leaf, pki.leaf_key, tls13_only=True)
    assert conn.state == "closed"
    error = str(conn.last_error)
    assert "the server requires TLS 1.3" in error
    assert "BR_ERR_RECV_FATAL_ALERT(protocol_version)" in error


def test_pin_match_accepted(pki: Pki) -> None:
    pins = (b"\x00" * 32, spki_sha256(pki.leaf))
    assert _verdict(pki, pki.leaf, pki.leaf_key, pins=pins).state == "open"


def test_pin_mismatch_refused_even_with_a_valid_chain(pki: Pki) -> None:
    conn = _verdict(pki, pki.leaf, pki.leaf_key, pins=(spki_sha256(pki.rsa_leaf),))
    assert conn.state == "closed"
    assert "matches no configured SPKI pin (ST_TLS_PIN_MISMATCH)" in str(conn.last_error)


def test_server_killed_mid_session_reconnects(pki: Pki) -> None:
    with WebSocketEchoServer(pki.leaf, pki.leaf_key) as server:
        loop = Loop()
        conn = connect(loop, server.url, pki, backoff=(0.05, 0.5))
        conn.wait_open()
        conn.send("before")
        assert conn.recv().text == "before"
        server.kill()
        assert loop.run_until(lambda: conn.state in ("backoff", "connecting"), 5)
        server.restart()
        conn.wait_open(15)
        conn.send("after")
        assert conn.recv().text == "after"
        stats = conn.stats
        assert stats["opens"] == 2 and stats["failures"] >= 1
        assert stats["tls_resumed"] == 0  # a restarted server has no session cache


def test_reconnect_resumes_the_tls_session(pki: Pki) -> None:
    with OpenSSLServer(pki.leaf, pki.leaf_key, rev=True) as server:
        loop = Loop()
        conn = connect(loop, f"tls://localhost:{server.port}", pki)
        conn.wait_open()
        assert not conn.tls_resumed
        # A session ended with close_notify stays resumable (OpenSSL drops
        # sessions of connections that were cut).
        conn.close()
        conn.open()
        conn.wait_open()
        assert conn.tls_resumed
        assert conn.stats["tls_resumed"] == 1
        conn.send(b"resumed\n")
        assert conn.recv().data.strip() == b"demuser"


def test_hot_standby_failover_sends_on_the_standby(echo: WebSocketEchoServer, pki: Pki) -> None:
    loop = Loop()
    primary, standby = connect(loop, echo.url, pki), connect(loop, echo.url, pki)
    primary.wait_open()
    standby.wait_open()
    pair = HotStandby(primary, standby)
    pair.send("one")
    assert primary.recv().text == "one"
    pair.failover()
    assert pair.active is standby
    pair.send("two")
    assert standby.recv().text == "two"
    assert primary.stats["msgs_sent"] == 1 and standby.stats["msgs_sent"] == 1
    assert primary.stats["opens"] == standby.stats["opens"] == 1  # no new handshake


def test_send_fails_over_by_itself_when_the_active_connection_dies(
    echo: WebSocketEchoServer, pki: Pki
) -> None:
    loop = Loop()
    primary = connect(loop, echo.url, pki, backoff=(5.0, 5.0))
    standby = connect(loop, echo.url, pki)
    primary.wait_open()
    standby.wait_open()
    pair = HotStandby(primary, standby)
    primary.abort()
    pair.send("after the primary died")
    assert pair.active is standby
    assert standby.recv().text == "after the primary died"


def test_keepalive_pings_are_answered(echo: WebSocketEchoServer, pki: Pki) -> None:
    loop = Loop()
    conn = connect(loop, echo.url, pki, ping_interval=0.05)
    conn.wait_open()
    loop.run_until(lambda: conn.stats["pongs_received"] >= 3, 5)
    stats = conn.stats
    assert stats["pings_sent"] >= 3 and stats["pongs_received"] >= 3
    assert conn.state == "open" and stats["failures"] == 0


def test_a_server_that_stops_answering_pings_is_dropped(pki: Pki) -> None:
    with RawTLSServer(pki.leaf, pki.leaf_key, read_timeout=5.0) as server:  # never pongs
        loop = Loop()
        conn = connect(loop, server.url, pki, ping_interval=0.1, auto_reconnect=False)
        conn.wait_open()
        assert loop.run_until(lambda: conn.state == "closed", 5)
        assert "ETIMEDOUT" in str(conn.last_error)
        assert conn.stats["pings_sent"] >= 1


def test_handshake_deadline(pki: Pki) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never speaks TLS
        port = silent.getsockname()[1]
        loop = Loop()
        conn = connect(loop, f"wss://localhost:{port}/", pki, handshake_timeout=0.2,
                       auto_reconnect=False)
        with pytest.raises(NativeError, match="ETIMEDOUT"):
            conn.wait_open(5)
        assert conn.stats["connects"] == 1


def test_refused_connection_backs_off_and_retries(pki: Pki) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = Loop()
    conn = connect(loop, f"wss://localhost:{port}/", pki, backoff=(0.01, 0.04))
    loop.run_until(lambda: conn.stats["connects"] >= 4, 5)
    assert conn.state in ("backoff", "connecting")
    assert "ECONNREFUSED" in str(conn.last_error)


def test_trust_file_without_a_final_newline_loads_every_certificate(
    pki: Pki, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(pki.root_ca.read_text() + pki.unknown_ca.read_text().rstrip("\n"))
    assert Trust(str(bundle)).count == 2


def test_trust_file_errors_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificates here\n")
    with pytest.raises(NativeError, match="ST_ETLS_NO_ANCHORS"):
        Trust(str(empty))
    with pytest.raises(OSError, match="ENOENT"):
        Trust(str(tmp_path / "missing.pem"))


U64_MAX = (1 << 64) - 1


@pytest.mark.parametrize(("base_ms", "max_ms"),
                         [(100, 30000), (250, 1000), (1, 1), (3, 0xFFFFFFFF), (0, 0), (500, 100)])
def test_reconnect_backoff_stays_between_half_its_cap_and_its_cap(base_ms: int,
                                                                   max_ms: int) -> None:
    """Over attempts 0-100 and random words from 0 to 2^64-1: never above max, never
    zero, at least max/2 once the doubling has reached max (which it may overshoot:
    100 ms doubling passes 30 s at 51.2 s). Base 0 counts as 1 ms, a max below the
    base as the base."""
    rng = random.Random(1)
    base_ns = max(base_ms, 1) * 1_000_000
    max_ns = max(max_ms * 1_000_000, base_ns)
    for attempt in range(101):
        cap = min(base_ns << attempt, max_ns)
        words = (0, 1, U64_MAX, cap // 2, cap // 2 + 1, *(rng.getrandbits(64) for _ in range(20)))
        for word in words:
            delay = lib.st_loop_backoff_ns(base_ms, max_ms, attempt, word)
            assert 0 < delay <= max_ns, (attempt, word, delay)
            assert cap // 2 <= delay <= cap, (attempt, word, delay)
            if base_ns << attempt >= max_ns:
                assert delay >= max_ns // 2, (attempt, word, delay)
