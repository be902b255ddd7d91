# SPDX-License-Identifier: MIT
"""Folders and files the daemon creates, made safe against other local users.

The daemon runs as root; its run and state folders come from a configuration
and may sit where another user can write (/tmp). So:

- a folder of ours (`prepare_folder`) must not be a symlink, must be owned by
  our effective uid and not writable by group or others. It is created 0700
  when missing; an existing folder is never chmod'ed (a run_dir of /tmp is
  refused, not turned 0700).
- every folder above it, and every symlink on the way, must belong to root or
  to us, and a folder above that others may write must be sticky (like /tmp):
  then nobody else can swap a component after the check.
- files are opened relative to the folder's descriptor with O_NOFOLLOW, and
  must be regular files of ours with one link (`open_file`). None needs
  O_EXCL: each may be left by a previous run, and the control socket is
  created by bind(), which never follows a symlink or reuses a name.

Each refusal is an UnsafePathError naming the path and what is wrong.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from orchestrator.errors import UnsafePathError

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _owner(path: Path | str, st: os.stat_result, allowed: tuple[int, ...]) -> None:
    if st.st_uid not in allowed:
        want = " or ".join(str(uid) for uid in sorted(set(allowed)))
        raise UnsafePathError(f"{path}: owned by uid {st.st_uid}, not {want}")


def _not_writable_by_others(path: Path | str, st: os.stat_result, sticky_ok: bool) -> None:
    if st.st_mode & 0o022 and not (sticky_ok and st.st_mode & stat.S_ISVTX):
        who = "group and others" if st.st_mode & 0o022 == 0o022 else \
            "group" if st.st_mode & 0o020 else "others"
        raise UnsafePathError(f"{path}: writable by {who} "
                              f"(mode {stat.S_IMODE(st.st_mode):04o})")


def _check_ancestors(folder: Path) -> None:
    """Every folder above `folder`, as written and as resolved, and every
    symlink on the way, belongs to root or us; the writable ones are sticky."""
    trusted = (0, os.geteuid())
    parent = Path(os.path.abspath(folder)).parent
    for path in (parent, Path(os.path.realpath(parent))):
        for prefix in (*reversed(path.parents), path):
            try:
                st = os.lstat(prefix)
            except FileNotFoundError:
                break                   # created below, by us
            _owner(prefix, st, trusted)
            if stat.S_ISDIR(st.st_mode):
                _not_writable_by_others(prefix, st, sticky_ok=True)


def _open_folder(folder: Path) -> int:
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):   # O_DIRECTORY on a symlink: ENOTDIR
            link = os.path.islink(folder)
            raise UnsafePathError(f"{folder}: "
                                  f"{'is a symlink, not a folder' if link else 'not a folder'}"
                                  ) from None
        raise UnsafePathError(f"{folder}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        _owner(folder, st, (os.geteuid(),))
        _not_writable_by_others(folder, st, sticky_ok=False)
    except BaseException:
        os.close(fd)
        raise
    return fd


def prepare_folder(folder: Path) -> None:
    """Checks `folder` and the folders above it, creating it (0700) and missing
    parents (0755) if needed. UnsafePathError says what is wrong."""
    _check_ancestors(folder)
    parent = Path(os.path.abspath(folder)).parent
    for missing in (*reversed(parent.parents), parent):
        with contextlib.suppress(FileExistsError):
            os.mkdir(missing, 0o755)    # never writable by others, whatever the umask
    _check_ancestors(folder)            # again, now that all exist
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, FOLDER_MODE)   # an existing one is checked as it is, never chmod'ed
    os.close(_open_folder(folder))


def _open_at(dir_fd: int, folder: Path, name: str, flags: int, mode: int = FILE_MODE) -> int:
    """Opens `name` in an open folder without following a symlink; the file must
    be a regular file of ours with one link. Returns the descriptor."""
    path = folder / name
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{path}: is a symlink") from None
        if exc.errno == errno.EEXIST:
            raise UnsafePathError(f"{path}: already exists") from None
        raise UnsafePathError(f"{path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"{path}: not a regular file")
        _owner(path, st, (os.geteuid(),))
        if st.st_nlink != 1:
            raise UnsafePathError(f"{path}: has {st.st_nlink} hard links")
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """Opens `path` safely: its folder must pass the folder check (itself, not
    the folders above: `prepare_folder` checked those at start)."""
    dir_fd = _open_folder(path.parent)
    try:
        return _open_at(dir_fd, path.parent, path.name, flags, mode)
    finally:
        os.close(dir_fd)


def remove_socket(path: Path) -> None:
    """Removes a socket left by a daemon that died; anything else there (a
    symlink, a file) is refused, never removed or followed."""
    dir_fd = _open_folder(path.parent)
    try:
        try:
            st = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a socket"
            raise UnsafePathError(f"{path}: is {kind}; remove it if it is not needed")
        os.unlink(path.name, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
