# SPDX-License-Identifier: MIT
"""Writes each venue profile's answer schema for the answer fuzzer.

    python tools/fuzz_schemas.py DIR     -> DIR/<venue>.schema, one per venue

Each file holds the raw st_desk_schema the profile hands the native desk;
native/fuzz/fuzz_answer.c reads the one ST_FUZZ_SCHEMA names, so the fuzzer
reads answers exactly as the desk of that venue does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator._native import ffi
from orchestrator.venues.registry import ADAPTERS


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, adapter in sorted(ADAPTERS.items()):
        path = directory / f"{name}.schema"
        path.write_bytes(bytes(ffi.buffer(adapter.profile.schema.native())))
        paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/fuzz_schemas.py DIR")
    for written in write_schemas(Path(sys.argv[1])):
        print(written)
