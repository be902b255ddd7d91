# SPDX-License-Identifier: MIT
"""Wheels built as an operator builds them (`make wheelhouse`): from the tracked
files of the checkout alone (what a clone has), never from the working tree's leftovers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT


def clean_env() -> dict[str, str]:
    """Nothing of the checkout leaks into a child: no PYTHONPATH, no sanitizer
    runtime, no active venv."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "LD_PRELOAD", "VIRTUAL_ENV")}


def run_ok(cmd: list[str], cwd: Path, timeout: float = 900) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{cmd}: rc {result.returncode}\n" \
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def build_wheelhouse(work: Path) -> Path:
    """`make wheelhouse` (README's command) into a folder of `work`: the engine's
    wheel, built from `git ls-files`, and a wheel of every dependency."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout: the wheel is built from the tracked files only")
    wheels = work / "wheels"
    run_ok(["make", "--no-print-directory", "wheelhouse", f"WHEELHOUSE={wheels}"], ROOT)
    return wheels
