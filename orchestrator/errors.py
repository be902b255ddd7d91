# SPDX-License-Identifier: MIT
"""The exception hierarchy.

One base, StratumError; each subclass also subclasses the builtin it is a
kind of, so callers may catch either (`except ValueError` still works for a
ConfigError).
"""

from __future__ import annotations


class StratumError(Exception):
    """Base of every error stratum raises on purpose."""


class NativeError(StratumError):
    """A native call failed; `code` is its ST_* or -errno code, `name` its name."""

    def __init__(self, code: int, name: str, description: str, context: str = "") -> None:
        self.code = code
        self.name = name
        prefix = f"{context}: " if context else ""
        self.message = f"{prefix}{description} ({name})"
        super().__init__(self.message)

    def __str__(self) -> str:
        # OSError would print "[Errno N] ..." instead; keep one format for all.
        return self.message


class NativeOSError(NativeError, OSError):
    """A native call failed with -errno."""

    def __init__(self, code: int, name: str, description: str, context: str = "") -> None:
        NativeError.__init__(self, code, name, description, context)
        self.errno = -code
        self.strerror = description


class UnsupportedCPUError(NativeError, RuntimeError):
    """The CPU lacks instructions that the requested implementation needs."""


class BadArgumentError(NativeError, ValueError):
    """A native call was given an argument it cannot use."""


class NativeBuildError(StratumError, ImportError):
    """The compiled native module is missing or does not match this package."""


class ConfigError(StratumError, ValueError):
    """A configuration file or value is invalid; the message names the key."""


class ListenError(StratumError, OSError):
    """A port or socket the daemon serves on cannot be bound (the message says which)."""


class NotBuiltError(StratumError, NotImplementedError):
    """A command or feature that this version does not have yet."""


class UnsafePathError(StratumError, PermissionError):
    """A folder or file the daemon would use is not safe: a symlink, owned by
    another user, or writable by others. The message names it and says why."""
