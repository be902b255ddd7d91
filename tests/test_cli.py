# SPDX-License-Identifier: MIT
"""The `stratum` command, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import __version__
from tests.conftest import ROOT
from tests.test_config import GOOD
from tests.test_config import write as write_config

SERVICE_VERBS = ["run", "start", "stop", "status", "failover", "kill", "resume", "top"]


def stratum(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )


def test_version() -> None:
    proc = stratum("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"stratum {__version__}"


def test_help_lists_every_command() -> None:
    proc = stratum("--help")
    assert proc.returncode == 0
    for name in ["check", "bench", *SERVICE_VERBS]:
        assert name in proc.stdout


def test_no_command_is_a_usage_error() -> None:
    assert stratum().returncode == 2


@pytest.mark.parametrize("name", ["kill", "resume", "top"])
def test_verbs_without_a_daemon_say_so(name: str, tmp_path: Path) -> None:
    proc = stratum(name, "--socket", str(tmp_path / "none.sock"))
    assert proc.returncode == 1
    assert f"stratum {name}: no daemon listening on" in proc.stderr


def test_stop_without_a_daemon_has_nothing_to_do(tmp_path: Path) -> None:
    """As `systemctl stop` on a stopped unit: exit 0 (issue 10 item 6)."""
    proc = stratum("stop", "--socket", str(tmp_path / "none.sock"))
    assert proc.returncode == 0, proc.stderr
    assert "stratum stop: not running (no daemon listening on" in proc.stdout


def test_a_reader_that_leaves_gets_no_traceback(tmp_path: Path) -> None:
    """`stratum status | head -1`: the pipe closes before stratum writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "orchestrator", "status", "--socket",
                               str(tmp_path / "none.sock")], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60, cwd=ROOT)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 1


@pytest.mark.parametrize(("args", "default"), [
    (["top"], "(default: 1.0)"), (["start"], "(default: 60.0)"),
    (["demo"], "(default: build/demo)"), (["top"], "(default: 0)"),
])
def test_help_says_the_defaults(args: list[str], default: str) -> None:
    proc = stratum(*args, "--help")
    assert proc.returncode == 0
    assert default in " ".join(proc.stdout.split())


def test_status_without_a_daemon_is_lsb_not_running(tmp_path: Path) -> None:
    proc = stratum("status", "--socket", str(tmp_path / "none.sock"), "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["state"] == "stopped"


def test_status_with_no_target_is_unknown() -> None:
    proc = subprocess.run([sys.executable, "-m", "orchestrator", "status"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k != "STRATUM_CONFIG"})
    assert proc.returncode == 4 and "which daemon?" in proc.stderr


def test_check_reports_each_item() -> None:
    proc = stratum("check", "--json")
    assert proc.returncode == 0, proc.stderr
    items = {i["name"]: i for i in json.loads(proc.stdout)["items"]}
    assert items["native module"]["status"] == "ok"
    assert items["io_uring"]["status"] == "ok"
    assert items["SHA-NI"]["status"] in ("ok", "not supported")
    assert items["trading interface"]["status"] == "not checked"


def test_bench_sign_json() -> None:
    proc = stratum("bench", "sign", "--json", "--samples", "20", "--batch", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["suite"] == "sign" and report["payload_bytes"] == 197
    names = {r["name"] for r in report["results"]}
    skipped = {s["name"] for s in report.get("skipped", [])}
    assert names | skipped == {
        "hmac_sha256/shani", "hmac_sha256/portable", "hmac_sha256/python"
    }
    for r in report["results"]:
        assert r["unit"] == "ns" and 0 < r["p50"] <= r["p99"] and r["n"] == 40


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "nosuch"], "unknown suite 'nosuch'"),
        (["bench", "sign", "--samples", "0"], "must be at least 1"),
        (["bench", "sign", "--batch", "x"], "'x' is not a whole number"),
    ],
)
def test_bench_rejects_bad_arguments(args: list[str], message: str) -> None:
    proc = stratum(*args)
    assert proc.returncode == 2
    assert message in proc.stdout + proc.stderr


def test_bench_wsecho_json() -> None:
    proc = stratum("bench", "wsecho", "--json", "--samples", "25")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["suite"] == "wsecho" and report["payload_bytes"] == 256
    names = {r["name"] for r in report["results"]}
    assert names == {"wsecho/stratum/interrupt", "wsecho/stratum/busy",
                     "wsecho/stratum/sqpoll", "wsecho/websockets", "wsecho/picows"}
    for r in report["results"]:
        assert r["n"] == 25 and 0 < r["p50"] <= r["p99"]
    assert set(report["ratios_p50"]) == {"websockets/stratum", "picows/stratum"}


def test_bench_mempool_json() -> None:
    proc = stratum("bench", "mempool", "--json", "--samples", "10")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["suite"] == "mempool" and report["transactions"] == 3315
    assert {r["name"] for r in report["results"]} == {"mempool/native", "mempool/python"}
    assert report["actions_per_pass"] > 0


def test_check_fails_on_a_missing_trust_file(tmp_path: Path) -> None:
    """Issue 10 item 4: check passed a config whose trust file was missing, and
    start failed on it."""
    config = write_config(tmp_path, GOOD.replace('address = "127.0.0.1"',
                                                 'address = "127.0.0.1"\ntrust = "sim.pem"'))
    proc = stratum("check", "--config", str(config))
    assert proc.returncode == 1
    assert f"venues[0].trust: trust anchors {tmp_path / 'sim.pem'}: No such file" in proc.stderr


@pytest.mark.parametrize(("sqpoll", "status"), [(1, "warning"), (0, "ok")])
def test_check_warns_when_the_sq_thread_would_share_the_hot_core(
        tmp_path: Path, sqpoll: int, status: str) -> None:
    """Issue 12: on the wire, SQPOLL's kernel thread on the hot core time-shares it
    with the engine thread and loses; check says so (and still exits 0)."""
    config = write_config(tmp_path, GOOD.replace(
        "[engine]\n", '[engine]\nloop_mode = "sqpoll"\n').replace(
        "[secrets]", f"[cpus]\nhot = 1\nsqpoll = {sqpoll}\norchestrator = 0\n[secrets]"))
    proc = stratum("check", "--config", str(config), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    item = {i["name"]: i for i in json.loads(proc.stdout)["items"]}["loop mode"]
    assert item["status"] == status, item
    if status == "warning":
        assert "share the hot core 1" in item["detail"]


def test_talking_to_the_daemon_needs_no_secrets(tmp_path: Path) -> None:
    """status/stop/kill find the socket from [engine] alone: a shell without the
    daemon's secrets (the README's paper run keeps them in the environment) can
    still ask."""
    config = write_config(tmp_path, GOOD.replace('"secrets.toml"', '"elsewhere.toml"'))
    proc = stratum("status", "--config", str(config))
    assert proc.returncode == 3, proc.stderr                # not running, not unknown
    assert f"no daemon listening on {tmp_path / 'run' / 'control.sock'}" in proc.stdout
