# SPDX-License-Identifier: MIT
"""Thin 1:1 bindings over the native library, with error mapping.

Every function here checks its arguments, calls one native function and
turns a negative return into a typed exception through `ensure()`. The
friendlier objects (signing keys, mask sources) live in signing.py.

Each Python object that wraps a native one (Loop, Connection, Journal, Desk,
Engine, Strategy...) keeps it in its public `cdata` attribute: what another
wrapper hands to a native function that takes it. Nothing reaches for another
object's private attributes.
"""

from __future__ import annotations

import errno
from typing import Any

from orchestrator._native import ffi, lib
from orchestrator.errors import (
    BadArgumentError,
    NativeError,
    NativeOSError,
    UnsupportedCPUError,
)

CData = Any  # a cffi pointer; cffi ships no type stubs

SHA256_AUTO: int = lib.ST_SHA256_AUTO
SHA256_PORTABLE: int = lib.ST_SHA256_PORTABLE
SHA256_SHANI: int = lib.ST_SHA256_SHANI

_EXCEPTION_FOR_CODE: dict[int, type[NativeError]] = {
    lib.ST_ECPU_UNSUPPORTED: UnsupportedCPUError,
    lib.ST_EBAD_IMPL: BadArgumentError,
    lib.ST_EBUFFER_TOO_SMALL: BadArgumentError,
}


def error_name(code: int) -> str:
    """The name of an ST_* or -errno code, e.g. "ST_ECPU_UNSUPPORTED"."""
    return str(ffi.string(lib.st_error_name(code)).decode())


def strerror(code: int) -> str:
    """The one-line description of an ST_* or -errno code."""
    return str(ffi.string(lib.st_strerror(code)).decode())


def error_for(code: int, context: str = "") -> NativeError:
    """The exception that a failed native call with this code raises."""
    name, description = error_name(code), strerror(code)
    if code == -errno.EINVAL:
        return BadArgumentError(code, name, description, context)  # also a ValueError
    if lib.ST_ERRNO_MAX_NEG <= code < 0:
        return NativeOSError(code, name, description, context)
    return _EXCEPTION_FOR_CODE.get(code, NativeError)(code, name, description, context)


def ensure(rc: int, context: str) -> int:
    """Return rc when it is not an error; raise its typed exception otherwise."""
    if rc < 0:
        raise error_for(rc, context)
    return rc


def invalid_argument(context: str, why: str) -> BadArgumentError:
    """The error for an argument rejected before the native call."""
    return BadArgumentError(-errno.EINVAL, "EINVAL", why, context)


def _buffer(data: bytes | bytearray | memoryview) -> CData:
    return ffi.from_buffer(data)


# -- io_uring ----------------------------------------------------------------


def io_uring_probe() -> None:
    """Raise NativeOSError when this kernel will not give us an io_uring."""
    ensure(lib.st_loop_probe(), "io_uring")


# -- CPU ---------------------------------------------------------------------

CPU_FEATURE_NAMES = {
    lib.ST_CPU_SHA: "sha_ni",
    lib.ST_CPU_AES: "aes",
    lib.ST_CPU_PCLMUL: "pclmulqdq",
    lib.ST_CPU_AVX2: "avx2",
}


def cpu_features() -> list[str]:
    """The CPU features the native code detected, by /proc/cpuinfo name."""
    mask = lib.st_cpu_features()
    return [name for bit, name in CPU_FEATURE_NAMES.items() if mask & bit]


# -- SHA-256 -----------------------------------------------------------------


def sha256_impl_available(impl: int) -> bool:
    return bool(lib.st_sha256_impl_available(impl))


def sha256_auto_impl() -> int:
    return int(lib.st_sha256_auto_impl())


def sha256_impl_name(impl: int) -> str:
    return str(ffi.string(lib.st_sha256_impl_name(impl)).decode())


def sha256(data: bytes, impl: int = SHA256_AUTO) -> bytes:
    out = ffi.new("uint8_t[32]")
    ensure(lib.st_sha256(impl, _buffer(data), len(data), out), "sha256")
    return bytes(ffi.buffer(out))


def sha256_stream(chunks: list[bytes], impl: int = SHA256_AUTO) -> bytes:
    """SHA-256 through the streaming calls, one update per chunk."""
    ctx = ffi.new("st_sha256_context *")
    ensure(lib.st_sha256_init(ctx, impl), "sha256 init")
    for chunk in chunks:
        lib.st_sha256_update(ctx, _buffer(chunk), len(chunk))
    out = ffi.new("uint8_t[32]")
    lib.st_sha256_final(ctx, out)
    return bytes(ffi.buffer(out))


def sha256d(data: bytes) -> bytes:
    out = ffi.new("uint8_t[32]")
    lib.st_sha256d(_buffer(data), len(data), out)
    return bytes(ffi.buffer(out))


# -- HMAC-SHA256 -------------------------------------------------------------


def hmac_sha256_key_new(secret: bytes, impl: int = SHA256_AUTO) -> CData:
    """A precomputed key state; wiped when garbage-collected."""
    key = ffi.new("st_hmac_sha256_key *")
    ensure(lib.st_hmac_sha256_key_init(key, impl, _buffer(secret), len(secret)), "hmac key")
    return ffi.gc(key, lib.st_hmac_sha256_key_wipe)


def hmac_sha256(key: CData, msg: bytes) -> bytes:
    out = ffi.new("uint8_t[32]")
    lib.st_hmac_sha256(key, _buffer(msg), len(msg), out)
    return bytes(ffi.buffer(out))


def hmac_sha256_hex(key: CData, msg: bytes) -> str:
    out = ffi.new("char[64]")
    lib.st_hmac_sha256_hex(key, _buffer(msg), len(msg), out)
    return bytes(ffi.buffer(out)).decode("ascii")


def hmac_sha256_key_wipe(key: CData) -> None:
    lib.st_hmac_sha256_key_wipe(key)


# -- CSPRNG ------------------------------------------------------------------


def random_new(seed: bytes | None = None) -> CData:
    """A CSPRNG seeded by the kernel, or by a 32-byte seed (tests only)."""
    ctx = ffi.new("st_random_context *")
    if seed is None:
        ensure(lib.st_random_init(ctx), "random init")
    else:
        if len(seed) != 32:
            raise invalid_argument("random init", f"seed must be 32 bytes, got {len(seed)}")
        lib.st_random_init_seeded(ctx, _buffer(seed))
    return ffi.gc(ctx, lib.st_random_wipe)


def random_bytes(ctx: CData, n: int) -> bytes:
    if n < 0:
        raise invalid_argument("random", f"byte count must be >= 0, got {n}")
    out = ffi.new("uint8_t[]", n)
    lib.st_random_bytes(ctx, out, n)
    return bytes(ffi.buffer(out))


def random_reseed(ctx: CData) -> None:
    ensure(lib.st_random_reseed(ctx), "random reseed")


def random_refills(ctx: CData) -> int:
    return int(lib.st_random_refills(ctx))


# -- Benchmarks --------------------------------------------------------------


def bench_hmac_sha256_hex(key: CData, msg: bytes, batch: int, samples: int) -> list[float]:
    """Nanoseconds per st_hmac_sha256_hex() call, one value per batch."""
    out = ffi.new("double[]", samples)
    ensure(
        lib.st_bench_hmac_sha256_hex(key, _buffer(msg), len(msg), batch, samples, out),
        "bench hmac",
    )
    return list(out)
