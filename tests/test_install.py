# SPDX-License-Identifier: MIT
"""The package as a user installs it: a wheel built from the tracked files alone,
installed into a fresh virtual environment in a temporary folder, run from a
folder with no checkout on `sys.path` (no `tools/`, no `tests/`, no source tree).

Heavy (a wheel build, a venv with the dependencies, the demo): marked
`integration`, kept out of the sanitizer pass (`.ci/run`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import __version__
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # Nothing of the checkout leaks in: no PYTHONPATH, no sanitizer runtime, no venv.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LD_PRELOAD", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: rc {result.returncode}\n" \
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv with the wheel built from `git ls-files`."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout: the wheel is built from the tracked files only")
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    tracked = _ok(_run(["git", "ls-files", "-z"], ROOT)).split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    wheels = tmp / "wheels"
    # The build dependencies (setuptools, wheel, cffi) are those of the running venv.
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
              "-q", "-w", str(wheels), str(src)], tmp))
    [wheel] = wheels.glob("stratum_engine-*.whl")
    venv = tmp / "venv"
    base_python = shutil.which("python3") or sys.executable
    _ok(_run([base_python, "-m", "venv", str(venv)], tmp))
    _ok(_run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp))
    shutil.rmtree(src)  # the installed package must not need its source
    return venv / "bin"


def test_the_installed_package_is_the_one_run(installed: Path, tmp_path: Path) -> None:
    where = _ok(_run([str(installed / "python"), "-c",
                      "import orchestrator, sys; print(orchestrator.__file__); print(sys.path)"],
                     tmp_path))
    assert str(installed.parent) in where.splitlines()[0]
    assert str(ROOT) not in where


def test_version(installed: Path, tmp_path: Path) -> None:
    assert _ok(_run([str(installed / "stratum"), "--version"], tmp_path)).split() \
        == ["stratum", __version__]


def test_check(installed: Path, tmp_path: Path) -> None:
    out = _ok(_run([str(installed / "stratum"), "check"], tmp_path))
    assert "native module" in out and "ok" in out


def test_demo(installed: Path, tmp_path: Path) -> None:
    out = _ok(_run([str(installed / "stratum"), "demo", "--work", str(tmp_path / "demo")],
                   tmp_path))
    assert "every deposit over the threshold traded as prescribed" in out
    assert (tmp_path / "demo" / "latency.png").stat().st_size > 0


def test_a_bench_suite_with_a_missing_extra_says_what_to_install(installed: Path,
                                                                 tmp_path: Path) -> None:
    result = _run([str(installed / "stratum"), "bench", "wsecho"], tmp_path, timeout=120)
    assert result.returncode == 1
    assert "picows" in result.stderr and "stratum-engine[bench]" in result.stderr
    assert "Traceback" not in result.stderr
