# SPDX-License-Identifier: MIT
"""One daemon per configuration: <run_dir>/stratum.pid, locked for the
daemon's life.

The lock is taken before anything else is created or opened (the engine's
shared page, the journals, the control socket), so a second `stratum run`
of the same configuration leaves the running one untouched. flock is
released by the kernel when the process ends, however it ends: a pid file
left behind by a crash does not block the next start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from orchestrator import safefs
from orchestrator.errors import StratumError

PID_FILE = "stratum.pid"


class AlreadyRunningError(StratumError):
    """Another daemon holds this configuration's lock."""

    def __init__(self, pid: str) -> None:
        self.pid = pid
        super().__init__(f"already running (pid {pid})")


class InstanceLock:
    """Holds <run_dir>/stratum.pid, with our pid in it, until release()."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / PID_FILE
        fd = safefs.open_file(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunningError(pid or "not written yet") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd: int | None = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)       # the pid file stays: removing it would race a new start
            self.fd = None


def running_pid(run_dir: Path) -> str | None:
    """The pid of the daemon holding this run folder's lock, or None when none
    does. Creates nothing and follows no symlink (`stratum check` asks)."""
    try:
        fd = os.open(run_dir / PID_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "not written yet"
    finally:
        os.close(fd)
    return None
