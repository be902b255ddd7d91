# SPDX-License-Identifier: MIT
"""cffi out-of-line API build of the native library (orchestrator._native).

The cdef is read from native/include: the text between `/* cdef-begin */`
and `/* cdef-end */` of each header, with `#define NAME value` turned into
`#define NAME ...` (the compiler supplies the value) and struct bodies made
opaque (`{ ...; }`), so cffi learns sizes from the compiler, not from us.

Set STRATUM_SANITIZE=1 to build with ASan + UBSan (see `make test SANITIZE=1`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
HEADERS = [
    "st_error.h", "st_cpu.h", "st_sha256.h", "st_hmac.h", "st_random.h",
    "st_tls.h", "st_ws.h", "st_loop.h", "st_conn.h", "st_btc.h", "st_strategy.h",
    "st_mempool.h", "st_order.h", "st_risk.h", "st_journal.h", "st_histogram.h", "st_desk.h",
    "st_engine.h", "st_bench.h",
]

_DEFINE = re.compile(r"^#define\s+(ST_[A-Z0-9_]+)\s+.*$", re.MULTILINE)
_STRUCT = re.compile(r"typedef struct (\w+) \{(.*?)\n\} (\w+);", re.DOTALL)
# A struct whose body says so keeps its fields visible to Python (plain counters).
_VISIBLE = "/* cdef-visible */"


def _read_version() -> str:
    text = (ROOT / "orchestrator" / "_version.py").read_text()
    match = re.search(r'__version__ = "([^"]+)"', text)
    if not match:
        raise RuntimeError("orchestrator/_version.py has no __version__")
    return match.group(1)


def cdef_of(header: str) -> str:
    """The cffi declarations of one public header."""
    text = (NATIVE / "include" / header).read_text()
    begin, end = "/* cdef-begin */", "/* cdef-end */"
    if begin not in text or end not in text:
        raise RuntimeError(f"native/include/{header} has no cdef markers")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    body = _DEFINE.sub(r"#define \1 ...", body)
    return _STRUCT.sub(_struct_decl, body)


def _struct_decl(match: re.Match[str]) -> str:
    tag, fields, name = match.groups()
    if _VISIBLE in fields:
        return f"typedef struct {tag} {{{fields}\n}} {name};"
    return f"typedef struct {tag} {{ ...; }} {name};"


def _compile_flags() -> tuple[list[str], list[str]]:
    flags = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror"]
    link: list[str] = []
    if os.environ.get("STRATUM_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        flags += [*san, "-fno-omit-frame-pointer"]
        link += san
    return flags, link


VERSION = _read_version()
ffibuilder = FFI()
ffibuilder.cdef("\n".join(cdef_of(h) for h in HEADERS))
ffibuilder.cdef("const char *st_build_version(void);")
_cflags, _ldflags = _compile_flags()
ffibuilder.set_source(
    "orchestrator._native",
    '#include "stratum.h"\n'
    f'static const char *st_build_version(void) {{ return "{VERSION}"; }}\n',
    sources=sorted(str(p.relative_to(ROOT)) for p in (NATIVE / "src").glob("*.c")),
    include_dirs=[str(NATIVE / "include"), str(NATIVE / "src")],
    libraries=["uring", "bearssl", "pthread"],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
