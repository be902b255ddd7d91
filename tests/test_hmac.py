# SPDX-License-Identifier: MIT
"""HMAC-SHA256 with a precomputed key state, on both SHA-256 backends.

RFC 4231 cases 1-7 are in native/tests/test_hmac.c; here: every HMAC-SHA256
case of tests/data/signing.json, agreement with Python's hmac on
random keys and messages, and that secrets do not leak through repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import native
from orchestrator.bench import sign
from orchestrator.signing import HmacSha256, Sha256Impl
from tests.conftest import signing_cases

IMPLS = [Sha256Impl.PORTABLE, Sha256Impl.SHANI]
# Binance signs with HMAC-SHA256 hex; Kraken's case is HMAC-SHA512 (tested below).
HMAC_SHA256_CASES = [c for c in signing_cases() if c["name"].startswith("binance-")]


def _require(impl: Sha256Impl) -> None:
    if not impl.available:
        pytest.skip(f"this CPU cannot run {impl.label}")


def test_signing_json_has_the_binance_hmac_cases() -> None:
    names = {c["name"] for c in HMAC_SHA256_CASES}
    assert {"binance-wsapi-hmac-1", "binance-wsapi-hmac-2-non-ascii",
            "binance-rest-hmac-classic"} <= names


@pytest.mark.parametrize("impl", IMPLS, ids=lambda i: i.label)
@pytest.mark.parametrize("case", HMAC_SHA256_CASES, ids=lambda c: c["name"])
def test_signing_json_case(impl: Sha256Impl, case: dict[str, Any]) -> None:
    _require(impl)
    key = HmacSha256(case["secret"].encode(), impl)
    assert key.hexdigest(case["payload"].encode("utf-8")) == case["signature"]
    assert key.digest(case["payload"].encode("utf-8")).hex() == case["signature"]


def test_kraken_recipe_with_native_sha256() -> None:
    """Kraken's API-Sign nests SHA-256(nonce + postdata) inside HMAC-SHA512."""
    [case] = [c for c in signing_cases() if c["name"] == "kraken-rest-api-sign"]
    inner = native.sha256((case["nonce"] + case["postdata"]).encode())
    mac = hmac.new(base64.b64decode(case["secret"]), case["uri_path"].encode() + inner,
                   hashlib.sha512)
    assert base64.b64encode(mac.digest()).decode() == case["signature"]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda i: i.label)
@settings(max_examples=2000, deadline=None)
@given(secret=st.binary(max_size=200), msg=st.binary(max_size=700))
def test_matches_python_hmac(impl: Sha256Impl, secret: bytes, msg: bytes) -> None:
    _require(impl)
    expected = hmac.new(secret, msg, hashlib.sha256).hexdigest()
    assert HmacSha256(secret, impl).hexdigest(msg) == expected


def test_bench_payload_is_the_first_binance_case() -> None:
    first = signing_cases()[0]
    assert first["name"] == "binance-wsapi-hmac-1"
    assert sign.PAYLOAD == first["payload"].encode()
    assert sign.SECRET == first["secret"].encode()
    assert sign.SIGNATURE == first["signature"]
    assert len(sign.PAYLOAD) == 197


def test_repr_hides_the_secret() -> None:
    secret = b"marker-secret-5f2c"
    key = HmacSha256(secret)
    assert "marker" not in repr(key) and "<hidden>" in repr(key)


def test_wipe_zeroes_the_key_state() -> None:
    key = HmacSha256(b"secret")
    state = native.ffi.buffer(key.cdata)
    assert any(state[:])
    key.wipe()
    assert not any(state[:])


def test_auto_resolves_to_the_fastest_backend() -> None:
    assert HmacSha256(b"k").impl == Sha256Impl.fastest()
    assert Sha256Impl.fastest() != Sha256Impl.AUTO
