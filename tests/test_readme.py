# SPDX-License-Identifier: MIT
"""README "Running it by hand", run as written so that it cannot rot: the two
blocks after the `paper-run` markers, in one bash, from a directory laid out
like a clone, in a network namespace of its own (its loopback has the README's
fixed ports to itself)."""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.test_daemon import stratum, wait

DONE = "__block_done__"


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- paper-run: {marker}", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """What bash printed up to `marker` (a guard deadline, not a timing)."""
    assert proc.stdout is not None
    out, deadline = "", time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while marker not in out:
            assert time.monotonic() < deadline, f"no {marker} in time: {out}"
            if sel.select(1.0):
                line = proc.stdout.readline()
                assert line, f"bash ended early: {out}"
                out += line
    return out


def test_the_paper_run_of_the_readme(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "orchestrator").symlink_to(ROOT / "orchestrator")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    paper = tmp_path / "build" / "paper"
    config = str(tmp_path / "examples" / "paper.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUM_")}
    bash = subprocess.Popen(
        ["unshare", "--net", "--", "bash", "-c", "ip link set lo up && exec bash -e"],
        cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert bash.stdin is not None
    try:
        bash.stdin.write(readme_block("start") + f"echo {DONE}\n")
        bash.stdin.flush()
        started = read_until(bash, DONE, 120)
        assert wait(lambda: json.loads(stratum("status", "--config", config, "--json").stdout)
                    .get("acks", 0) >= 2)
        bash.stdin.write(readme_block("stop") + f"echo {DONE}\nexit\n")
        bash.stdin.flush()
        stopped = read_until(bash, DONE, 120)
        bash.stdin.close()
        assert bash.wait(timeout=30) == 0, started + stopped
    finally:
        stratum("stop", "--config", config)   # needs no secrets (they are in bash's only)
        os.killpg(bash.pid, signal.SIGTERM)
        bash.wait(timeout=30)
    assert re.search(r"configuration +ok", started) and not re.search(r" wrong ", started)
    assert "stratum started" in started
    assert "triggers 3  orders 2  acks 2" in stopped, stopped
    assert "refused: too few announcers 0  venue 0  risk 0" in stopped
    orders = json.loads((paper / "exchange" / "orders.json").read_text())
    assert len(orders) == 2 and {o["status"] for o in orders} == {"FILLED"}, orders
    assert "stratum stopped" in (paper / "run" / "stratum.log").read_text()
