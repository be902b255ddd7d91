# SPDX-License-Identifier: MIT
"""A local attacker against the root daemon: an unprivileged user (made here,
removed after) prepares the run and state folders in a shared, sticky folder
like /tmp: folders of its own, symlinks to a root-owned victim file, folders
others may write. `stratum run` as root must refuse each with exit 1 and a
message naming the folder or file, leave the victim's bytes and mode as they
were, create nothing outside its folders and chmod nothing."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.demo import World
from orchestrator.errors import UnsafePathError
from orchestrator.venues import kraken
from tests.conftest import ROOT

VICTIM_BYTES = b"root's precious file\n"
RUN_TIMEOUT_S = 30      # a guard only: a refusal takes a second or two


@dataclass(frozen=True)
class Attacker:
    name: str
    uid: int
    gid: int

    def run(self, *cmd: str) -> None:
        """A command as this user (no root capabilities, no supplementary groups)."""
        subprocess.run(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                        "--clear-groups", *cmd], check=True, timeout=10)


@pytest.fixture(scope="module")
def attacker() -> Iterator[Attacker]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the daemon under attack runs as root")
    if not (shutil.which("useradd") and shutil.which("userdel") and shutil.which("setpriv")):
        pytest.skip("needs useradd, userdel and setpriv to make the attacker")
    name = f"stratumtest-{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, timeout=30)
    try:
        entry = subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True)
        gid = subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True)
        yield Attacker(name, int(entry.stdout), int(gid.stdout))
    finally:
        subprocess.run(["userdel", name], check=True, timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo's exchange simulator and a configuration that would run."""
    with ExitStack() as stack:
        w = World(tmp_path_factory.mktemp("world"), stack)
        w.start_exchange()
        yield w


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder like /tmp (root's, 1777) that the attacker can reach and write."""
    path = Path(tempfile.mkdtemp(prefix="stratumtest-", dir="/tmp"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_bytes(VICTIM_BYTES)
    os.chmod(path, 0o644)
    return path


def tree(root: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every entry under root: mode, owner, size, and the bytes or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            data = os.readlink(path).encode() if path.is_symlink() else \
                path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
            out[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_size, data)
    return out


def run_daemon(world: World, run_dir: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    text = world.config.read_text().replace(
        'state_dir = "state"\nrun_dir = "run"',
        f'state_dir = "{state_dir}"\nrun_dir = "{run_dir}"')
    assert str(run_dir) in text
    config = world.work / f"attacked-{secrets.token_hex(4)}.toml"
    config.write_text(text)
    args = [sys.executable, "-m", "orchestrator", "run", "--config", str(config)]
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:       # it was killed; the checks that follow say more
        return subprocess.CompletedProcess(args, -9, "", "the daemon ran instead of refusing")


# Each case prepares (shared, victim, attacker) and returns (run_dir, state_dir,
# the message expected on stderr, a folder whose mode must stay as it is).
Case = Callable[[Path, Path, Attacker], tuple[Path, Path, str, Path]]


def attacker_owns_run_dir(shared: Path, victim: Path, a: Attacker) -> tuple[Path, Path, str, Path]:
    run = shared / "run"
    a.run("mkdir", "-m", "0700", str(run))
    for name in ("engine.state", "stratum.pid", "control.sock"):
        a.run("ln", "-s", str(victim), str(run / name))
    return run, shared / "state", f"{run}: owned by uid {a.uid}, not 0", run


def attacker_owns_state_dir(shared: Path, victim: Path, a: Attacker
                            ) -> tuple[Path, Path, str, Path]:
    state = shared / "state"
    a.run("mkdir", "-m", "0755", str(state))
    a.run("ln", "-s", str(victim), str(state / "sim-binance.journal"))
    return shared / "run", state, f"{state}: owned by uid {a.uid}, not 0", state


def run_dir_is_a_symlink(shared: Path, victim: Path, a: Attacker) -> tuple[Path, Path, str, Path]:
    # to root's folder holding the victim: engine.state etc. would land next to it
    a.run("ln", "-s", str(victim.parent), str(shared / "run"))
    return shared / "run", shared / "state", f"{shared / 'run'}: is a symlink, not a folder", \
        victim.parent


def run_dir_group_writable(shared: Path, victim: Path, a: Attacker
                           ) -> tuple[Path, Path, str, Path]:
    run = shared / "run"
    run.mkdir()
    os.chown(run, 0, a.gid)
    os.chmod(run, 0o770)
    a.run("ln", "-s", str(victim), str(run / "engine.state"))
    return run, shared / "state", f"{run}: writable by group (mode 0770)", run


def run_dir_like_tmp(shared: Path, victim: Path, a: Attacker) -> tuple[Path, Path, str, Path]:
    # run_dir = /tmp itself: the old daemon made it 0700
    return shared, shared / "state", f"{shared}: writable by group and others (mode 1777)", \
        shared


def under_a_folder_of_the_attacker(shared: Path, victim: Path, a: Attacker
                                   ) -> tuple[Path, Path, str, Path]:
    # the run folder would be new, but the attacker could rename what is above it
    home = shared / "home"
    a.run("mkdir", "-m", "0755", str(home))
    return home / "run", home / "state", f"{home}: owned by uid {a.uid}, not 0", home


CASES: dict[str, Case] = {
    "run_dir owned by the attacker, symlinks inside": attacker_owns_run_dir,
    "state_dir owned by the attacker, journal symlink": attacker_owns_state_dir,
    "run_dir is a symlink": run_dir_is_a_symlink,
    "run_dir group-writable": run_dir_group_writable,
    "run_dir like /tmp (1777)": run_dir_like_tmp,
    "folders under a folder of the attacker": under_a_folder_of_the_attacker,
}


@pytest.mark.parametrize("case", CASES)
def test_a_folder_prepared_by_another_user_is_refused(
        case: str, attacker: Attacker, world: World, shared: Path, victim: Path) -> None:
    run_dir, state_dir, message, kept = CASES[case](shared, victim, attacker)
    mode = kept.lstat().st_mode
    before, victims = tree(shared), tree(victim.parent)
    proc = run_daemon(world, run_dir, state_dir)
    assert victim.read_bytes() == VICTIM_BYTES
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert tree(victim.parent) == victims           # nothing created next to it
    assert kept.lstat().st_mode == mode             # nothing chmod'ed
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().endswith(message), proc.stderr
    assert "Traceback" not in proc.stderr
    created = set(tree(shared)) - set(before)
    assert not [p for p in created if not (shared / p).is_relative_to(run_dir)
                and not (shared / p).is_relative_to(state_dir)]


# Names in sound folders (root's, 0700) that are symlinks: the folder checks stop
# the attacker first, so these were left by root; each file is still opened
# without following the link.
FILES = {"engine.state": "run", "control.sock": "run", "stratum.pid": "run",
         "sim-binance.journal": "state"}


@pytest.mark.parametrize("name", FILES)
def test_a_symlink_in_a_sound_folder_is_not_followed(
        name: str, world: World, tmp_path: Path, victim: Path) -> None:
    run_dir, state_dir = tmp_path / "run", tmp_path / "state"
    for folder in (run_dir, state_dir):
        folder.mkdir(mode=0o700)
    link = (run_dir if FILES[name] == "run" else state_dir) / name
    link.symlink_to(victim)
    proc = run_daemon(world, run_dir, state_dir)
    assert victim.read_bytes() == VICTIM_BYTES
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert link.is_symlink()
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().endswith(f"{link}: is a symlink") or \
        f"{link}: is a symlink;" in proc.stderr, proc.stderr


def test_a_hard_link_is_not_written_through(world: World, tmp_path: Path, victim: Path) -> None:
    run_dir, state_dir = tmp_path / "run", tmp_path / "state"
    for folder in (run_dir, state_dir):
        folder.mkdir(mode=0o700)
    os.link(victim, state_dir / "sim-binance.journal")
    proc = run_daemon(world, run_dir, state_dir)
    assert victim.read_bytes() == VICTIM_BYTES
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().endswith(f"{state_dir / 'sim-binance.journal'}: has 2 hard links")


def test_the_kraken_nonce_file_is_not_followed(attacker: Attacker, shared: Path,
                                               tmp_path: Path, victim: Path) -> None:
    own = tmp_path / "state"
    own.mkdir(mode=0o700)
    (own / "k.nonce").symlink_to(victim)
    theirs = shared / "state"
    attacker.run("mkdir", "-m", "0700", str(theirs))
    attacker.run("ln", "-s", str(victim), str(theirs / "k.nonce"))
    with pytest.raises(UnsafePathError, match=f"{own / 'k.nonce'}: is a symlink"):
        kraken.NonceSource(own / "k.nonce").next()
    with pytest.raises(UnsafePathError, match=f"{theirs}: owned by uid {attacker.uid}"):
        kraken.NonceSource(theirs / "k.nonce").next()
    assert victim.read_bytes() == VICTIM_BYTES
