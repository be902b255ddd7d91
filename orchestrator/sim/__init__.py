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

import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def mainnet_block() -> Path:
    """The path of the shipped mainnet block (raw serialization)."""
    [block] = sorted(DATA.glob("block-*.blk"))
    return block


def self_signed_localhost(directory: Path) -> tuple[Path, Path]:
    """A throwaway EC P-256 certificate for localhost (its own trust anchor), for
    a simulator to serve: (certificate, key), the key file 0600."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True, timeout=30,
    )
    key.chmod(0o600)
    return cert, key
