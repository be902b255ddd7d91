# SPDX-License-Identifier: MIT
"""The simulators `stratum demo` and the tests run the engine against, shipped in
the package so that an installed wheel can run the demo:

- `orchestrator.sim.exchange`: a TLS WebSocket exchange (`python -m orchestrator.sim.exchange`);
- `orchestrator.sim.btc_peer`: a Bitcoin peer replaying a real block as mempool traffic
  (`python -m orchestrator.sim.btc_peer`);
- `data/`: the mainnet block both replay (May 2019, 3315 transactions; from btcsuite/btcd's
  `wire/testdata`, never edited).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
# Where a simulator may listen: loopback, or the benchmark range the tests' own
# network namespaces use. Never anything a real venue or peer could be on.
ALLOWED_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("198.18.0.0/15"))


def listen_address(text: str) -> str:
    """argparse type of a simulator's --host: an IP literal in ALLOWED_NETS."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None
    if not any(address in net for net in ALLOWED_NETS):
        raise argparse.ArgumentTypeError(
            f"{text} is neither loopback (127.0.0.0/8) nor a benchmark address (198.18.0.0/15)")
    return text


def mainnet_block() -> Path:
    """The path of the shipped mainnet block (raw serialization)."""
    [block] = sorted(DATA.glob("block-*.blk"))
    return block


def self_signed_localhost(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A throwaway EC P-256 certificate for `name` (and localhost, 127.0.0.1), its
    own trust anchor, for a simulator to serve: (certificate, key), the key 0600."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    names = ",".join(dict.fromkeys([f"DNS:{name}", "DNS:localhost", "IP:127.0.0.1"]))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={names}",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True, timeout=30,
    )
    key.chmod(0o600)
    return cert, key


async def serve_until_stopped(server: asyncio.Server) -> None:
    """Serves until SIGTERM or SIGINT (how the tests and the demo stop a simulator)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
