# SPDX-License-Identifier: MIT
"""stratum-engine: a native low-latency data plane and its Python orchestrator.

Importing the package loads the compiled native module and checks that it was
built from this very version of the package (as cryptography does), so a stale
build fails at import with the command that fixes it.
"""

from __future__ import annotations

from orchestrator._version import __version__
from orchestrator.errors import NativeBuildError

REBUILD_HINT = "rebuild it with `make native` (or `pip install -e .`) in the source tree"


def check_native_version(compiled: str, package: str = __version__) -> None:
    """Raise NativeBuildError unless the native module matches the package version."""
    if compiled != package:
        raise NativeBuildError(
            f"the native module orchestrator._native was built for version {compiled}, "
            f"but the package is version {package}: {REBUILD_HINT}"
        )


def _load_native() -> None:
    try:
        from orchestrator._native import ffi, lib
    except ImportError as exc:
        raise NativeBuildError(
            f"the native module orchestrator._native is not built ({exc}): {REBUILD_HINT}"
        ) from exc
    check_native_version(ffi.string(lib.st_build_version()).decode())


_load_native()

__all__ = ["__version__", "check_native_version"]
