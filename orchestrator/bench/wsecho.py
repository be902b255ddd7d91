# SPDX-License-Identifier: MIT
"""`stratum bench wsecho`: round trip of a 256-byte message over TLS WebSocket.

One echo server on loopback, pinned to one CPU: native/tools/ws_echo_server.c
(BearSSL, TLS 1.2 as our client speaks), spinning on its socket so that no
wake-up of the server sits in anyone's round trip. Every client is pinned to
the other CPU and measured in rounds that alternate: our native client in its
three loop modes (`wsecho/stratum/interrupt|busy|sqpoll`, timed inside C), the
Python `websockets` client (`wsecho/websockets`) and picows (`wsecho/picows`).
The certificate is a throwaway one made here with the openssl CLI.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator import native
from orchestrator._native import ffi, lib
from orchestrator.bench import Report, alternate, cpu_description, result
from orchestrator.bench.wsecho_python import measure_picows, measure_websockets
from orchestrator.hotline import Connection, Loop, LoopMode, Trust
from orchestrator.sim import self_signed_localhost

PAYLOAD = (bytes(range(0x20, 0x7F)) * 3)[:256]  # 256 printable ASCII bytes
READY_TIMEOUT_S = 15.0
SERVER_CPU, CLIENT_CPU = 0, 1


def echo_server_binary() -> Path:
    """The C echo server, built by `make` (native/Makefile target `tools`)."""
    path = Path(__file__).resolve().parents[2] / "native/build/release/tools/ws_echo_server"
    if not path.exists():
        raise FileNotFoundError(f"{path} is not built: run `make native` in the source tree")
    return path


@contextmanager
def echo_server(cert: Path, key: Path, cpu: int | None = None, spin: bool = True
                ) -> Iterator[int]:
    """Runs the C echo server and yields its port."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "port"
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        proc = subprocess.Popen(
            [str(echo_server_binary()), "--cert", str(cert), "--key", str(key),
             "--ready-file", str(ready), *(["--spin"] if spin else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )
        try:
            if cpu is not None:
                os.sched_setaffinity(proc.pid, {cpu})
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not ready.exists() or not ready.read_text().strip():
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"echo server did not start: {err.strip()}")
                time.sleep(0.02)
            yield int(ready.read_text())
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _stratum_measure(mode: LoopMode, port: int, cafile: str) -> Callable[[int], list[float]]:
    def measure(n: int) -> list[float]:
        # The SQPOLL thread shares the client's core: on the server's it would
        # fight the spinning server (measured: 8 ms round trips).
        loop = Loop(mode, sqpoll_cpu=CLIENT_CPU if mode is LoopMode.SQPOLL else -1)
        conn = Connection(loop, f"wss://localhost:{port}/", Trust(cafile), auto_reconnect=False)
        conn.open()
        conn.wait_open(10)
        out = ffi.new("double[]", n)
        native.ensure(
            lib.st_bench_ws_echo(loop.cdata, conn.cdata, PAYLOAD, len(PAYLOAD), 200, n, out),
            f"wsecho/stratum/{mode.label}",
        )
        conn.close()
        return list(out)

    return measure


def run(samples: int = 5000, batch: int = 1) -> Report:
    """`batch` is accepted for the common CLI and ignored: each sample is one round trip."""
    del batch
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    server_cpu = SERVER_CPU if pinned else None
    previous = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed_localhost(Path(tmp))
        with echo_server(cert, key, server_cpu) as port:
            url = f"wss://localhost:{port}/"
            competitors: dict[str, Callable[[int], list[float]]] = {
                f"wsecho/stratum/{m.label}": _stratum_measure(m, port, str(cert))
                for m in LoopMode
            }
            competitors["wsecho/websockets"] = lambda n: measure_websockets(
                url, str(cert), PAYLOAD, n, warmup=200)
            competitors["wsecho/picows"] = lambda n: measure_picows(
                url, str(cert), PAYLOAD, n, warmup=200)
            try:
                if pinned:
                    os.sched_setaffinity(0, {CLIENT_CPU})
                measured = alternate(competitors, samples, rounds=5)
            finally:
                os.sched_setaffinity(0, previous)
    results = [result(name, values, 1) for name, values in measured.items()]
    p50 = {r["name"]: r["p50"] for r in results}
    ours = min((n for n in p50 if n.startswith("wsecho/stratum/")), key=lambda n: p50[n])
    return {
        "suite": "wsecho",
        "cpu": cpu_description(),
        "payload_bytes": len(PAYLOAD),
        "placement": {"server_cpu": server_cpu, "client_cpu": CLIENT_CPU if pinned else None,
                      "sqpoll_cpu": CLIENT_CPU},
        "results": results,
        "fastest_stratum": ours,
        "ratios_p50": {
            "websockets/stratum": round(p50["wsecho/websockets"] / p50[ours], 2),
            "picows/stratum": round(p50["wsecho/picows"] / p50[ours], 2),
        },
    }
