# SPDX-License-Identifier: MIT
"""A venue's REST requests made while a session is handled (a token, the clock)
run off the handling thread (`VenueSession.later`): a venue that holds its
answer holds up nobody (the daemon's socket, `kill`, the other venues are
served by the same thread), and one that fails gives a VenueError naming the
request, never another exception out of `handle()`."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.venues.session import VenueError
from tests.simutil import Sim, run_sim
from tests.tlsutil import Pki
from tests.venueutil import TIMEOUT, bybit_venue, okx_venue


@pytest.fixture(scope="module")
def sim(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with run_sim(tmp_path_factory.mktemp("sim"), pki) as s:
        yield s


class HeldClock:
    """An HTTPS server (the test PKI's leaf) that answers OKX's public time only
    once `release` is set; `asked` is set when the request is in."""

    def __init__(self) -> None:
        self.asked, self.release = threading.Event(), threading.Event()

    @contextlib.contextmanager
    def serve(self, pki: Pki) -> Iterator[int]:
        held = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.asked.set()
                held.release.wait(TIMEOUT)
                now = str(time.time_ns() // 1_000_000)
                body = json.dumps({"code": "0", "msg": "", "data": [{"ts": now}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.leaf, pki.leaf_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            self.release.set()
            server.shutdown()
            server.server_close()


def test_a_held_clock_request_holds_up_nobody(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    clock = HeldClock()
    with clock.serve(pki) as port:
        venue = okx_venue(sim.ws_port, sim.rest_port, pki.root_ca, tmp_path / "okx.journal",
                          rest_url=f"https://localhost:{port}", wait_ready=False)
        session = venue.session
        assert session.run_until(clock.asked.is_set, TIMEOUT), "the clock was never asked"
        # Were the request on this thread, each step would wait for the held answer
        # (and fail when OKX's 5 s REST timeout ran out): they return while it is held.
        for _ in range(50):
            session.step(0.01)
        assert 0 not in session.ready
        clock.release.set()
        assert session.run_until(lambda: 0 in session.ready, TIMEOUT), session.state
    assert session.clock_offset_ms is not None   # type: ignore[attr-defined]


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])          # nothing listens on it now


@pytest.mark.parametrize("make", [
    lambda sim, url, pki, path: okx_venue(sim.ws_port, sim.rest_port, pki.root_ca, path,
                                          rest_url=url, wait_ready=False),
    # (Bybit's BybitError used to escape handle(), and would have ended the daemon)
    lambda sim, url, pki, path: bybit_venue(sim.ws_port, url, pki.root_ca, path),
], ids=["okx", "bybit"])
def test_a_refused_clock_request_is_a_venue_error(sim: Sim, pki: Pki, tmp_path: Path,
                                                  make: Any) -> None:
    url = f"https://localhost:{unused_port()}"
    venue = make(sim, url, pki, tmp_path / "venue.journal")
    with pytest.raises(VenueError, match=r"Connection refused"):
        venue.session.run_until(lambda: False, TIMEOUT)
    assert 0 not in venue.session.ready
