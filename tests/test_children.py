# SPDX-License-Identifier: MIT
"""A harness child dies with its parent, even a parent killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from orchestrator.children import _SETPRIV

# The child says "up" once it runs, so after setpriv has set its parent-death
# signal (a parent killed before that would leave it, as setpriv does not check).
PARENT = """
import subprocess, sys
from orchestrator.children import dies_with_parent
child = subprocess.Popen(dies_with_parent(
    [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]))
print(child.pid, flush=True)
child.wait()
"""


@pytest.mark.skipif(_SETPRIV is None, reason="no setpriv here")
def test_the_child_of_a_sigkilled_parent_dies() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    lines = {parent.stdout.readline().strip() for _ in range(2)}   # in either order
    assert "up" in lines, lines
    [child] = [int(line) for line in lines if line != "up"]
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its SIGKILLed parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running, not a zombie (the child is re-parented and reaped by init)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
