# SPDX-License-Identifier: MIT
# The one place the version lives: pyproject.toml reads it, and
# _build_native.py compiles it into the native module so a stale build is
# caught at import.
__version__ = "0.1.0"
