# SPDX-License-Identifier: MIT
"""Wheels built as a user or an operator builds them: from the tracked files of
the checkout alone (what a clone has), never from the working tree's leftovers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def build_wheels(work: Path, with_dependencies: bool) -> Path:
    """A folder with the engine's wheel (and, if asked, a wheel of every
    dependency: a wheelhouse), built from `git ls-files`."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout: wheels are built from the tracked files only")
    src, wheels = work / "src", work / "wheels"
    for name in filter(None, run_ok(["git", "ls-files", "-z"], ROOT).split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    # The build dependencies (setuptools, wheel, cffi) are those of the running venv.
    run_ok([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation",
            *([] if with_dependencies else ["--no-deps"]), "-w", str(wheels), str(src)], work)
    shutil.rmtree(src)
    return wheels
