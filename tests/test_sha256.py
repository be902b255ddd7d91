# SPDX-License-Identifier: MIT
"""SHA-256 / SHA-256d through the Python bindings, on both native backends.

The C test native/tests/test_sha256.c holds the FIPS 180-4 and boundary
known answers; here the two backends are held against each other and against
hashlib on random input, and SHA-256d against real Bitcoin block hashes.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import native
from orchestrator.errors import BadArgumentError, UnsupportedCPUError
from orchestrator.sim import mainnet_block

BOTH = [native.SHA256_PORTABLE, native.SHA256_SHANI]


def _require(impl: int) -> None:
    if not native.sha256_impl_available(impl):
        pytest.skip(f"this CPU cannot run {native.sha256_impl_name(impl)}")


@pytest.mark.parametrize("impl", BOTH, ids=native.sha256_impl_name)
@pytest.mark.parametrize("length", [0, 55, 56, 63, 64, 65, 1 << 20])
def test_boundary_lengths_match_hashlib(impl: int, length: int) -> None:
    _require(impl)
    data = bytes(i % 251 for i in range(length))
    assert native.sha256(data, impl) == hashlib.sha256(data).digest()


@settings(max_examples=10_000, deadline=None, database=None)
@given(st.binary(max_size=1024))
def test_backends_agree_on_10000_random_inputs(data: bytes) -> None:
    portable = native.sha256(data, native.SHA256_PORTABLE)
    assert portable == hashlib.sha256(data).digest()
    if native.sha256_impl_available(native.SHA256_SHANI):
        assert native.sha256(data, native.SHA256_SHANI) == portable


@pytest.mark.parametrize("impl", BOTH, ids=native.sha256_impl_name)
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=6))
def test_streaming_equals_one_shot(impl: int, data: bytes, cuts: list[int]) -> None:
    _require(impl)
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert native.sha256_stream(chunks, impl) == hashlib.sha256(data).digest()


def test_sha256d_genesis_block_header() -> None:
    header = bytes.fromhex(
        "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd"
        "7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
    )
    assert native.sha256d(header)[::-1].hex() == (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    )


def test_sha256d_of_the_shared_mainnet_block_header() -> None:
    block = mainnet_block()
    expected = block.stem.removeprefix("block-")
    assert native.sha256d(block.read_bytes()[:80])[::-1].hex() == expected


def test_unknown_impl_is_a_value_error() -> None:
    with pytest.raises(BadArgumentError, match=r"no such implementation \(ST_EBAD_IMPL\)"):
        native.sha256(b"", 99)
    with pytest.raises(ValueError):
        native.sha256(b"", -1)


@pytest.mark.skipif(
    native.sha256_impl_available(native.SHA256_SHANI), reason="only on CPUs without SHA-NI"
)
def test_shani_refused_without_the_instructions() -> None:
    with pytest.raises(UnsupportedCPUError, match="ST_ECPU_UNSUPPORTED"):
        native.sha256(b"", native.SHA256_SHANI)
