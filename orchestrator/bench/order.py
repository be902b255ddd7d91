# SPDX-License-Identifier: MIT
"""`stratum bench order`: build + sign + frame + encrypt one order.

Native (`order/<row>/native`, one row per example template of each venue in
the registry: `binance-hmac`, `binance-session`, `kraken`...): the venue's
order template of a LIMIT IOC leg, as on a logged-in connection, filled in
place (client id, request id, timestamp, price, quantity), signed where the
venue signs each order (Binance's HMAC mode: HMAC-SHA256), framed as a masked
WebSocket frame straight into BearSSL's buffer and encrypted into a TLS 1.2
record (ECDHE-ECDSA-AES128-GCM) on a connection opened to our C echo server
on loopback. The record is discarded, not sent: the send's system call is the
loop's business, not the order's.

Python (`order/binance-hmac/python`): the Binance HMAC order done the usual way: a
params dict, the venue code's signing payload and `hmac`, `json.dumps`,
websockets' frame serializer (masked) and an `ssl` MemoryBIO over a TLS 1.2
session with the same cipher suite.

Both sides build the same message (checked before timing), alternating
round by round in one run. `order/binance-hmac/floor` is the HMAC-SHA256 of
this order's signing payload alone (SHA-NI, key state precomputed): no
signed order can be built faster than that, so python / floor bounds the
ratio any implementation could reach here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import ssl
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.frames import Frame, Opcode

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.bench import Report, alternate, cpu_description, python_timer, result
from orchestrator.bench.wsecho import CLIENT_CPU, SERVER_CPU, echo_server
from orchestrator.desk import OrderBuilder
from orchestrator.hotline import Connection, Loop, LoopMode, Trust
from orchestrator.signing import HmacSha256
from orchestrator.sim import self_signed_localhost
from orchestrator.venues import Leg, Side, binance
from orchestrator.venues.binance.adapter import EXAMPLE_KEY as API_KEY
from orchestrator.venues.binance.adapter import EXAMPLE_SECRET as SECRET
from orchestrator.venues.registry import ADAPTERS

LEG = Leg("BTCUSDT", Side.BUY, Decimal("0.01"), time_in_force="IOC")
CIPHER = "ECDHE-ECDSA-AES128-GCM-SHA256"   # what our client and the echo server agree on


def _python_order(base: Any, request_id: int, client_id: int, timestamp_ms: int,
                  price: int, quantity: int) -> str:
    params = {
        "apiKey": API_KEY, "newClientOrderId": binance.client_order_id("st", client_id),
        "newOrderRespType": "ACK", "price": f"{price // 100}.{price % 100:02d}",
        "quantity": f"{quantity // 10**8}.{quantity % 10**8:08d}", "recvWindow": "5000",
        "side": "BUY", "symbol": "BTCUSDT", "timeInForce": "IOC",
        "timestamp": str(timestamp_ms), "type": "LIMIT",
    }
    mac = base.copy()
    mac.update(binance.signing_payload(params).encode())
    params["signature"] = mac.hexdigest()
    return json.dumps({"id": request_id, "method": "order.place", "params": params},
                      separators=(",", ":"))


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


def _python_measure(cert: Path, key: Path, batch: int) -> Callable[[int], list[float]]:
    client, wire = _memory_tls(cert, key)
    base = hmac.new(SECRET.reveal(), digestmod=hashlib.sha256)
    state = {"seq": 10**15}

    def one_order() -> None:
        state["seq"] += 1
        seq = state["seq"]
        text = _python_order(base, seq, seq, 1700000000000 + seq % 10**6, 5200000, 1000000)
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


def _floor_measure(batch: int) -> Callable[[int], list[float]]:
    """HMAC of the payload the native build signs (the same bytes)."""
    creds = binance.Credentials(API_KEY, hmac_secret=SECRET)
    params = binance.order_params(LEG, creds)
    values = {"quantity": "0.01000000", "price": "52000.00", "timestamp": "1700000000007",
              "newClientOrderId": binance.client_order_id("st", 10**15 + 7)}
    payload = binance.signing_payload(params | values).encode()
    key = HmacSha256(SECRET.reveal())
    return lambda n: native.bench_hmac_sha256_hex(key.cdata, payload, batch, n)


def _check_same_message(builder: OrderBuilder) -> None:
    values = dict(request_id=7, client_id=10**15 + 7, timestamp_ms=1700000000007,
                  price=5200000, quantity=1000000)
    ours = json.loads(builder.build(**values))
    theirs = json.loads(_python_order(hmac.new(SECRET.reveal(), digestmod=hashlib.sha256),
                                      **values))
    if ours != theirs:
        raise RuntimeError(f"native and Python build different orders:\n{ours}\n{theirs}")


def run(samples: int = 2000, batch: int = 16) -> Report:
    builders = {row: OrderBuilder(template, key) for adapter in ADAPTERS.values()
                for row, (template, key) in adapter.example_templates().items()}
    _check_same_message(builders["binance-hmac"])

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
                "order/binance-hmac/python": _python_measure(cert, key, batch),
                "order/binance-hmac/floor": _floor_measure(batch),
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
            "python/native-hmac": round(p50["order/binance-hmac/python"]
                                        / p50["order/binance-hmac/native"], 2),
            "python/floor": round(p50["order/binance-hmac/python"]
                                  / p50["order/binance-hmac/floor"], 2),
        },
    }
