# SPDX-License-Identifier: MIT
"""The lab's floor (native/tools/wire_floor.c) against the real peer simulator
on loopback: it asks for every announced transaction, and writes exactly one
record on its venue connection per transaction that carries the deposit's
output, in both read modes. No timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from bitcoin.core import CTxOut
from bitcoin.wallet import CBitcoinAddress

from orchestrator.demo import spawn, wait_file
from tests.conftest import ROOT
from tests.simutil import peer_sim

FLOOR = ROOT / "native/build/release/tools/wire_floor"
A, B = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
SATS_A, SATS_B = 50 * 100_000_000, 12 * 100_000_000
BLOCK_TXS = 3314            # the block's transactions but its coinbase
REPEATS = 3
RECORD = 333


def marker(address: str, sats: int) -> str:
    """The deposit's serialized output: what the floor looks for."""
    return bytes(CTxOut(sats, CBitcoinAddress(address).to_scriptPubKey()).serialize()).hex()


@pytest.fixture(scope="module")
def floor() -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "native"), "tools", "SANITIZE=0"],
                   check=True, capture_output=True, timeout=300)
    return FLOOR


@pytest.mark.parametrize("mode", ["blocking", "spin"])
@pytest.mark.parametrize(("address", "sats", "expected"),
                         [(A, SATS_A, 1 + REPEATS), (B, SATS_B, 1)])
def test_one_record_per_deposit(floor: Path, tmp_path: Path, mode: str, address: str,
                                sats: int, expected: int) -> None:
    stats = tmp_path / "sink.json"
    with ExitStack() as stack:
        port = stack.enter_context(peer_sim(
            tmp_path, "--deposit", f"{A}:{SATS_A}", "--deposit", f"{B}:{SATS_B}",
            "--deposit-every", f"5:{REPEATS}"))
        sink = stack.enter_context(spawn(   # its stats file is written when it stops
            [sys.executable, "-m", "orchestrator.lab.sink", "--ready-file",
             str(tmp_path / "sink.ready"), "--stats-file", str(stats)],
            tmp_path / "sink.log", native=True))
        sink_port = int(wait_file(tmp_path / "sink.ready", sink, "the sink"))
        total = BLOCK_TXS + 2 + REPEATS
        run = subprocess.run(
            [str(floor), "--peer", f"127.0.0.1:{port}", "--venue", f"127.0.0.1:{sink_port}",
             "--marker", marker(address, sats), "--record-size", str(RECORD),
             "--txs", str(total), *(["--spin"] if mode == "spin" else [])],
            capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == [f"triggers={expected}", f"txs={total}"]
    assert json.loads(stats.read_text()) == {"connections": 1, "bytes": [expected * RECORD]}


def test_bad_arguments_exit_2(floor: Path) -> None:
    for argv in ([], ["--peer", "127.0.0.1:1", "--venue", "127.0.0.1:2", "--marker", "abc"],
                 ["--peer", "nowhere:1", "--venue", "127.0.0.1:2", "--marker", "00"]):
        run = subprocess.run([str(floor), *argv], capture_output=True, text=True, timeout=10)
        assert run.returncode == 2 and run.stderr.strip(), argv
