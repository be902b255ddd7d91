# SPDX-License-Identifier: MIT
"""The masking-key CSPRNG: ChaCha20 with fast key erasure, checked against an
independent ChaCha20 (the `cryptography` package)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from orchestrator.errors import BadArgumentError
from orchestrator.signing import MaskSource

BUFSIZE = 512  # ST_RANDOM_BUFSIZE
KEY_LEN = 32


def reference_stream(seed: bytes, n: int) -> bytes:
    """Each refill: 512 keystream bytes under the current key (nonce 0, counter 0);
    the first 32 become the next key, the other 480 are output."""
    key, out = seed, b""
    while len(out) < n:
        nonce = bytes(16)  # cryptography's ChaCha20 nonce = 32-bit counter + 96-bit nonce
        block = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor().update(
            bytes(BUFSIZE)
        )
        key, out = block[:KEY_LEN], out + block[KEY_LEN:]
    return out[:n]


@pytest.mark.parametrize("n", [1, 4, 479, 480, 481, 5000])
def test_seeded_stream_is_chacha20_with_key_erasure(n: int) -> None:
    seed = bytes(range(32))
    assert MaskSource(seed).bytes(n) == reference_stream(seed, n)


def test_small_reads_give_the_same_stream_as_one_large_read() -> None:
    seed = b"\x07" * 32
    source = MaskSource(seed)
    pieces = b"".join(source.bytes(4) for _ in range(1000))
    assert pieces == reference_stream(seed, 4000)
    assert source.refills == 9  # ceil(4000 / 480)


def test_kernel_seeded_sources_differ() -> None:
    assert MaskSource().bytes(32) != MaskSource().bytes(32)


def test_reseed_leaves_the_seeded_stream() -> None:
    seed = b"\x01" * 32
    source = MaskSource(seed)
    source.bytes(10)
    source.reseed()
    assert source.bytes(64) != reference_stream(seed, 74)[10:]


@pytest.mark.parametrize("seed", [b"", b"short", bytes(33)])
def test_seed_must_be_32_bytes(seed: bytes) -> None:
    with pytest.raises(BadArgumentError, match="seed must be 32 bytes"):
        MaskSource(seed)


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="byte count must be >= 0"):
        MaskSource().bytes(-1)
