# SPDX-License-Identifier: MIT
"""the exchange simulator as a subprocess for tests: accounts with keys made here,
the ready file, the record files. Everything on 127.0.0.1, every wait bounded."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from websockets.sync.client import ClientConnection, connect

from orchestrator.children import dies_with_parent
from orchestrator.sim import mainnet_block
from tests.tlsutil import Pki, client_context

SIM = [sys.executable, "-m", "orchestrator.sim.exchange"]
# An upper bound for a handshake or an answer, never a wait a passing test sits out: a
# loaded 2-core machine has stalled the simulator past 5 s (a handshake timed out).
TIMEOUT = 15.0


def sim_env() -> dict[str, str]:
    """Environment for the simulators. Unlike openssl (tlsutil.child_env), they import
    the orchestrator package, which loads the native module: under SANITIZE=1 that
    module needs the sanitizer runtime preloaded, as in pytest itself."""
    return dict(os.environ)

# The Binance docs' example HMAC key (signing.json) and two keys made up here.
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
HMAC_KEY = "hmacKey" + "A" * 57
# Fixed, so that a child process (tests/order_child.py) signs as the parent set up.
HMAC_SECRET = hashlib.sha256(b"stratum test HMAC secret").hexdigest()
ED_KEY = "edKey" + "B" * 59
ED_PRIVATE = Ed25519PrivateKey.generate()
KRAKEN_KEY = "krakenKey1"
KRAKEN_SECRET = base64.b64encode(secrets.token_bytes(64)).decode()
OKX_KEY, OKX_PASSPHRASE = "okxKey1", "okx Pass phrase 1"
OKX_SECRET = secrets.token_hex(16).upper()    # as OKX hands them out
BYBIT_KEY = "bybitKey1"
BYBIT_SECRET = secrets.token_hex(18)

@dataclasses.dataclass
class Sim:
    proc: subprocess.Popen[bytes]
    ws_port: int
    rest_port: int
    record_dir: Path
    ctx: ssl.SSLContext

    def url(self, path: str) -> str:
        return f"wss://127.0.0.1:{self.ws_port}{path}"

    def log(self, name: str) -> list[dict[str, Any]]:
        text = (self.record_dir / f"{name}.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines()]

    def orders(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads((self.record_dir / "orders.json").read_text())
        return result

    def connect(self, path: str = "/ws-api/v3") -> ClientConnection:
        return connect(self.url(path), ssl=self.ctx, open_timeout=TIMEOUT, close_timeout=2)


def write_accounts(path: Path) -> Path:
    ed_pem = ED_PRIVATE.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    path.write_text(json.dumps({
        "binance": [
            {"apiKey": DOC_KEY, "hmacSecret": DOC_SECRET},
            {"apiKey": HMAC_KEY, "hmacSecret": HMAC_SECRET},
            {"apiKey": ED_KEY, "ed25519PublicKey": ed_pem.decode()},
        ],
        "kraken": [{"apiKey": KRAKEN_KEY, "secret": KRAKEN_SECRET}],
        "okx": [{"apiKey": OKX_KEY, "secretKey": OKX_SECRET, "passphrase": OKX_PASSPHRASE}],
        "bybit": [{"apiKey": BYBIT_KEY, "secret": BYBIT_SECRET}],
    }))
    return path


_runs = itertools.count()


@contextlib.contextmanager
def run_sim(tmp: Path, pki: Pki, *args: str) -> Iterator[Sim]:
    """The simulator on 127.0.0.1; it must exit 0 on SIGTERM, with no traceback."""
    n = next(_runs)
    record, ready, err = tmp / f"record-{n}", tmp / f"ready-{n}.json", tmp / f"stderr-{n}"
    accounts = write_accounts(tmp / f"accounts-{n}.json")
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            dies_with_parent([*SIM, "--cert", str(pki.leaf), "--key",
                              str(pki.leaf_key), "--accounts", str(accounts),
                              "--record-dir", str(record), "--ready-file", str(ready),
                              "--book-static", *args]),
            stdout=subprocess.DEVNULL, stderr=err_file, env=sim_env(),
        )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "exchange simulator did not start"
            time.sleep(0.02)
        info = json.loads(ready.read_text())
        assert info["pid"] == proc.pid
        yield Sim(proc, info["ws_port"], info["rest_port"], record, client_context(pki.root_ca))
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise
    assert code == 0, err.read_text()
    assert "Traceback" not in err.read_text(), err.read_text()


@contextmanager
def peer_sim(tmp: Path, *args: str) -> Iterator[int]:
    """A running simulator's port; its stats land in <tmp>/stats-<port>.json at exit."""
    block = mainnet_block()
    ready = tmp / f"port-{time.monotonic_ns()}"
    stats = tmp / f"stats-{time.monotonic_ns()}.json"
    proc = subprocess.Popen(
        dies_with_parent([sys.executable, "-m", "orchestrator.sim.btc_peer", "--block",
                          str(block), "--ready-file", str(ready), "--stats-file", str(stats),
                          *args]),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=sim_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().strip()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "peer simulator did not start"
            time.sleep(0.05)
        port = int(ready.read_text())
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if stats.exists():
        stats.rename(tmp / f"stats-{port}.json")
