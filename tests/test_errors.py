# SPDX-License-Identifier: MIT
"""The error model: every native code is named, and maps to a typed exception."""

from __future__ import annotations

import errno

import pytest

from orchestrator import check_native_version, native
from orchestrator._native import lib
from orchestrator.errors import (
    NativeBuildError,
    NativeError,
    NativeOSError,
    StratumError,
    UnsupportedCPUError,
)

ST_CODES = sorted(
    name for name in dir(lib)
    if (name.startswith("ST_E") or name == "ST_NEED_MORE") and getattr(lib, name) < 0
)


def test_codes_are_found() -> None:
    assert {"ST_NEED_MORE", "ST_ECPU_UNSUPPORTED", "ST_EBAD_IMPL"} <= set(ST_CODES)


@pytest.mark.parametrize("name", [n for n in ST_CODES if n != "ST_ERRNO_MAX_NEG"])
def test_every_code_in_the_headers_is_in_the_table(name: str) -> None:
    code = getattr(lib, name)
    assert code < lib.ST_ERRNO_MAX_NEG, f"{name} collides with the -errno range"
    assert native.error_name(code) == name
    assert native.strerror(code) != "unknown error code"


def test_errno_codes_become_os_errors() -> None:
    exc = native.error_for(-errno.ECONNRESET, "venue binance")
    assert isinstance(exc, NativeOSError) and isinstance(exc, OSError)
    assert isinstance(exc, StratumError)
    assert exc.errno == errno.ECONNRESET
    assert str(exc) == "venue binance: Connection reset by peer (ECONNRESET)"


def test_ensure_passes_results_and_raises_typed_errors() -> None:
    assert native.ensure(5, "x") == 5
    with pytest.raises(UnsupportedCPUError) as info:
        native.ensure(lib.ST_ECPU_UNSUPPORTED, "sha256")
    assert isinstance(info.value, RuntimeError)
    assert info.value.name == "ST_ECPU_UNSUPPORTED"


def test_unknown_code_still_raises() -> None:
    exc = native.error_for(-99999)
    assert type(exc) is NativeError
    assert "ST_UNKNOWN_ERROR" in str(exc)


def test_version_mismatch_says_how_to_rebuild() -> None:
    check_native_version("1.2.3", "1.2.3")
    with pytest.raises(NativeBuildError, match=r"built for version 0\.0\.1.*make native"):
        check_native_version("0.0.1", "1.2.3")
    with pytest.raises(ImportError):
        check_native_version("0.0.1", "1.2.3")


def test_tls_failures_carry_bearssl_names() -> None:
    not_trusted = lib.ST_TLS_CODE_BASE - 62  # BR_ERR_X509_NOT_TRUSTED
    assert str(native.error_for(not_trusted)) == (
        "certificate not trusted (BR_ERR_X509_NOT_TRUSTED)"
    )
    alert = lib.ST_TLS_CODE_BASE - (256 + 40)  # received handshake_failure
    assert native.error_name(alert) == "BR_ERR_RECV_FATAL_ALERT(handshake_failure)"
