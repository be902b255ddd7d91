# SPDX-License-Identifier: MIT
"""The package as a user installs it: `make wheelhouse` (the wheel built from the
tracked files alone), installed with `pip --no-index` into a fresh virtual
environment in a temporary folder, run from a folder with no checkout on
`sys.path` (no `tools/`, no `tests/`, no source tree).

Heavy (a wheel build, a venv with the dependencies, the demo): marked
`integration`, kept out of the sanitizer pass (`.ci/run`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import __version__
from orchestrator.sim import self_signed_localhost
from tests.conftest import ROOT
from tests.packaging import clean_env, run_ok

pytestmark = pytest.mark.integration


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def installed(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv with the engine installed from the wheelhouse
    alone (`--no-index`: what a host with no route to PyPI does)."""
    venv = tmp_path_factory.mktemp("install") / "venv"
    run_ok([shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], venv.parent)
    run_ok([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
            "--find-links", str(wheelhouse), "stratum-engine"], venv.parent)
    return venv / "bin"


def test_the_installed_package_is_the_one_run(installed: Path, tmp_path: Path) -> None:
    where = run_ok([str(installed / "python"), "-c",
                    "import orchestrator, sys; print(orchestrator.__file__); print(sys.path)"],
                   tmp_path)
    assert str(installed.parent) in where.splitlines()[0]
    assert str(ROOT) not in where


def test_version(installed: Path, tmp_path: Path) -> None:
    assert run_ok([str(installed / "stratum"), "--version"], tmp_path).split() \
        == ["stratum", __version__]


def test_check_of_the_paper_example(installed: Path, tmp_path: Path) -> None:
    """examples/paper.toml as README's "Running it by hand" lays it out: its
    certificate under build/paper, its secrets in the environment."""
    for name in ("paper.toml", "strategy.toml"):
        (tmp_path / "examples").mkdir(exist_ok=True)
        shutil.copy(ROOT / "examples" / name, tmp_path / "examples" / name)
    (tmp_path / "build" / "paper").mkdir(parents=True)
    self_signed_localhost(tmp_path / "build" / "paper")
    env = clean_env() | {"STRATUM_SECRET_PAPER_API_KEY": "paper" + "k" * 60,
                         "STRATUM_SECRET_PAPER_SECRET": "s" * 64}
    result = subprocess.run([str(installed / "stratum"), "check", "--config",
                             "examples/paper.toml"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "examples/paper.toml is valid" in result.stdout


def test_demo(installed: Path, tmp_path: Path) -> None:
    out = run_ok([str(installed / "stratum"), "demo", "--work", str(tmp_path / "demo")],
                 tmp_path)
    assert "every deposit over the threshold traded as prescribed" in out
    assert (tmp_path / "demo" / "latency.png").stat().st_size > 0


def test_a_bench_suite_with_a_missing_extra_says_what_to_install(installed: Path,
                                                                 tmp_path: Path) -> None:
    result = _run([str(installed / "stratum"), "bench", "wsecho"], tmp_path, timeout=120)
    assert result.returncode == 1
    assert "picows" in result.stderr and "stratum-engine[bench]" in result.stderr
    assert "Traceback" not in result.stderr
