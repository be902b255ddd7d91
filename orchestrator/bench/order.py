# SPDX-License-Identifier: MIT
"""`stratum bench order`: build + sign + frame + encrypt one order.

Native (`order/<row>/native`, one row per example template of each venue in
the registry, `VenueAdapter.example_templates`: a venue's name, or name-mode):
the venue's order template of a LIMIT IOC leg, as on a logged-in connection,
filled in place (client id, request id, timestamp, price, quantity), signed
where the venue signs each order (HMAC-SHA256, hex), framed as a masked
WebSocket frame straight into BearSSL's buffer and encrypted into a TLS 1.2
record (ECDHE-ECDSA-AES128-GCM) on a connection opened to our C echo server
on loopback. The record is discarded, not sent: the send's system call is the
loop's business, not the order's.

Python (`order/<row>/python`, the row of the demo venue's Python reference
client, `VenueAdapter.reference`: an HMAC-signed order): the order done the
usual way (a params dict, `hmac`, `json.dumps`), websockets' frame serializer
(masked) and an `ssl` MemoryBIO over a TLS 1.2 session with the same cipher
suite.

Both sides build the same message (checked before timing), alternating
round by round in one run. `order/<row>/floor` is the HMAC-SHA256 of that
order's signed bytes alone (SHA-NI, key state precomputed): no signed order
can be built faster than that, so python / floor bounds the ratio any
implementation could reach here.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from websockets.frames import Frame, Opcode

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.bench import Report, alternate, cpu_description, python_timer, result
from orchestrator.bench.wsecho import CLIENT_CPU, SERVER_CPU, echo_server
from orchestrator.desk import OrderBuilder
from orchestrator.hotline import Connection, Loop, LoopMode, Trust
from orchestrator.signing import HmacSha256
from orchestrator.sim import self_signed_localhost
from orchestrator.venues.adapter import Reference
from orchestrator.venues.registry import ADAPTERS, DEMO_VENUE

CIPHER = "ECDHE-ECDSA-AES128-GCM-SHA256"   # what our client and the echo server agree on


def _memory_tls(cert: Path, key: Path) -> tuple[ssl.SSLObject, ssl.MemoryBIO]:
    """A client SSLObject whose handshake with an in-memory server is done."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(cert)
    for ctx in (server_ctx, client_ctx):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(CIPHER)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = [False, False]
    for _ in range(20):
        for i, side in enumerate((client, server)):
            if not done[i]:
                try:
                    side.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done):
            return client, c_out
    raise RuntimeError("in-memory TLS handshake did not finish")


def _python_measure(reference: Reference, cert: Path, key: Path, batch: int
                    ) -> Callable[[int], list[float]]:
    client, wire = _memory_tls(cert, key)
    state = {"seq": 10**15}

    def one_order() -> None:
        state["seq"] += 1
        seq = state["seq"]
        text = reference.example_order(seq, seq, 1700000000000 + seq % 10**6, 5200000,
                                       1000000)
        client.write(Frame(Opcode.TEXT, text.encode()).serialize(mask=True))
        wire.read()

    return python_timer(one_order, batch)


def _native_measure(builder: OrderBuilder, conn: Connection, batch: int
                    ) -> Callable[[int], list[float]]:
    def measure(n: int) -> list[float]:
        out = ffi.new("double[]", n)
        native.ensure(lib.st_bench_order(builder.cdata, builder.key_cdata, conn.cdata, batch, n,
                                         out), "bench order")
        return list(out)

    return measure


def _floor_measure(reference: Reference, batch: int) -> Callable[[int], list[float]]:
    """HMAC of the bytes the native build signs (the same bytes)."""
    secret, payload = reference.example_signed_bytes()
    key = HmacSha256(secret)
    return lambda n: native.bench_hmac_sha256_hex(key.cdata, payload, batch, n)


def _check_same_message(reference: Reference, builder: OrderBuilder) -> None:
    values = dict(request_id=7, client_id=10**15 + 7, timestamp_ms=1700000000007,
                  price=5200000, quantity=1000000)
    ours = json.loads(builder.build(**values))
    theirs = json.loads(reference.example_order(**values))
    if ours != theirs:
        raise RuntimeError(f"native and Python build different orders:\n{ours}\n{theirs}")


def run(samples: int = 2000, batch: int = 16) -> Report:
    builders = {row: OrderBuilder(template, key) for adapter in ADAPTERS.values()
                for row, (template, key) in adapter.example_templates().items()}
    reference = ADAPTERS[DEMO_VENUE].reference
    assert reference is not None, "the demo venue has a Python reference client"
    row = reference.row
    _check_same_message(reference, builders[row])

    pinned = len(os.sched_getaffinity(0)) >= 2
    previous = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed_localhost(Path(tmp))
        with echo_server(cert, key, SERVER_CPU if pinned else None, spin=False) as port:
            # One connection (the echo server takes one at a time) for both native
            # measures: its records are discarded, so the server never sees them.
            loop = Loop(LoopMode.INTERRUPT)
            conn = Connection(loop, f"wss://localhost:{port}/", Trust(str(cert)),
                              auto_reconnect=False)
            conn.open()
            conn.wait_open(10)
            competitors = {
                **{f"order/{row}/native": _native_measure(builder, conn, batch)
                   for row, builder in builders.items()},
                f"order/{row}/python": _python_measure(reference, cert, key, batch),
                f"order/{row}/floor": _floor_measure(reference, batch),
            }
            try:
                if pinned:
                    os.sched_setaffinity(0, {CLIENT_CPU})
                measured = alternate(competitors, samples)
            finally:
                os.sched_setaffinity(0, previous)
                conn.abort()   # its records were discarded: the server is lost to it
    results = [result(name, values, batch) for name, values in measured.items()]
    p50 = {r["name"]: r["p50"] for r in results}
    return {
        "suite": "order",
        "cpu": cpu_description(),
        "batch": batch,
        "tls": f"TLS 1.2 {CIPHER}",
        "results": results,
        "ratios_p50": {
            f"python/native-{row}": round(p50[f"order/{row}/python"]
                                          / p50[f"order/{row}/native"], 2),
            "python/floor": round(p50[f"order/{row}/python"] / p50[f"order/{row}/floor"], 2),
        },
    }
