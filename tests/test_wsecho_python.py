# SPDX-License-Identifier: MIT
"""orchestrator/bench/echo_server.py and the Python wsecho competitors, end to end over wss."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator

import pytest
from websockets.asyncio.client import connect

from orchestrator.bench import wsecho
from orchestrator.bench.wsecho_python import measure_picows, measure_websockets
from orchestrator.hotline import LoopMode
from orchestrator.sim import self_signed_localhost

PAYLOAD = wsecho.PAYLOAD


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running echo server: (wss URL, CA file)."""
    cert, key = self_signed_localhost(tmp_path_factory.mktemp("wsecho"))
    with wsecho.echo_server(cert, key) as port:
        yield f"wss://127.0.0.1:{port}/", str(cert)


def test_server_echoes_byte_exactly(echo_server: tuple[str, str]) -> None:
    url, cafile = echo_server
    binary = bytes(range(256))

    async def talk() -> tuple[object, object, object, str]:
        ctx = ssl.create_default_context(cafile=cafile)
        async with asyncio.timeout(10):
            async with connect(url, ssl=ctx, server_hostname="localhost", compression=None) as ws:
                await ws.send(PAYLOAD.decode("ascii"))
                text = await ws.recv()
                await ws.send(binary)
                data = await ws.recv()
                await ws.send(["frag", "mented"])  # continuation frames come back as one message
                fragmented = await ws.recv()
                await (await ws.ping(b"p"))
                ssl_object = ws.transport.get_extra_info("ssl_object")
                version = ssl_object.version()
            assert ws.close_code == 1000
            return text, data, fragmented, version

    text, data, fragmented, version = asyncio.run(talk())
    assert text == PAYLOAD.decode("ascii")  # a str: echoed as a text frame
    assert data == binary  # bytes: echoed as a binary frame
    assert fragmented == "fragmented"
    assert version in ("TLSv1.2", "TLSv1.3")


def test_server_speaks_tls12(echo_server: tuple[str, str]) -> None:
    """Our C client speaks TLS 1.2 only: the server must accept it with AES-GCM."""
    url, cafile = echo_server

    async def cipher() -> tuple[str, str, int]:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        async with asyncio.timeout(10), connect(url, ssl=ctx, server_hostname="localhost") as ws:
            got: tuple[str, str, int] = ws.transport.get_extra_info("ssl_object").cipher()
            return got

    name, version, _bits = asyncio.run(cipher())
    assert version == "TLSv1.2"
    assert name == "ECDHE-ECDSA-AES128-GCM-SHA256"


@pytest.mark.parametrize("measure", [measure_websockets, measure_picows])
def test_measure_round_trips(
    echo_server: tuple[str, str], measure: Callable[..., list[float]]
) -> None:
    url, cafile = echo_server
    values = measure(url, cafile, PAYLOAD, 50, warmup=5)
    assert len(PAYLOAD) == 256
    assert len(values) == 50
    assert all(isinstance(v, float) and v > 0 for v in values)


def test_measure_rejects_non_ascii_payload(echo_server: tuple[str, str]) -> None:
    url, cafile = echo_server
    with pytest.raises(ValueError, match="ASCII"):
        measure_picows(url, cafile, b"\xff" * 256, 10, warmup=0)


@pytest.mark.parametrize("mode", list(LoopMode), ids=lambda m: m.label)
def test_native_round_trips(echo_server: tuple[str, str], mode: LoopMode) -> None:
    url, cafile = echo_server
    port = int(url.rsplit(":", 1)[1].strip("/"))
    values = wsecho._stratum_measure(mode, port, cafile)(50)
    assert len(values) == 50 and all(v > 0 for v in values)
