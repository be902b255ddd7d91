# SPDX-License-Identifier: MIT
"""Signing and randomness objects over the native core.

HmacSha256 holds a secret only as its precomputed native key state, never as
Python bytes, and its repr shows no key material.
"""

from __future__ import annotations

from enum import IntEnum

from orchestrator import native


class Sha256Impl(IntEnum):
    AUTO = native.SHA256_AUTO
    PORTABLE = native.SHA256_PORTABLE
    SHANI = native.SHA256_SHANI

    @property
    def label(self) -> str:
        return native.sha256_impl_name(self)

    @property
    def available(self) -> bool:
        return native.sha256_impl_available(self)

    @classmethod
    def fastest(cls) -> Sha256Impl:
        return cls(native.sha256_auto_impl())


class HmacSha256:
    """HMAC-SHA256 with the key state computed once per secret."""

    __slots__ = ("cdata", "impl")

    def __init__(self, secret: bytes, impl: Sha256Impl = Sha256Impl.AUTO) -> None:
        self.impl = Sha256Impl.fastest() if impl is Sha256Impl.AUTO else impl
        self.cdata = native.hmac_sha256_key_new(secret, self.impl)

    def digest(self, msg: bytes) -> bytes:
        return native.hmac_sha256(self.cdata, msg)

    def hexdigest(self, msg: bytes) -> str:
        """Lowercase hex MAC (the form venues that sign with hex want)."""
        return native.hmac_sha256_hex(self.cdata, msg)

    def wipe(self) -> None:
        """Zero the key state now rather than at garbage collection."""
        native.hmac_sha256_key_wipe(self.cdata)

    def __repr__(self) -> str:
        return f"HmacSha256(impl={self.impl.label!r}, key=<hidden>)"


class MaskSource:
    """CSPRNG for WebSocket masking keys (ChaCha20, fast key erasure)."""

    __slots__ = ("_ctx",)

    def __init__(self, seed: bytes | None = None) -> None:
        self._ctx = native.random_new(seed)

    def bytes(self, n: int) -> bytes:
        return native.random_bytes(self._ctx, n)

    def reseed(self) -> None:
        """Mix fresh kernel entropy into the key (a system call: off the hot path)."""
        native.random_reseed(self._ctx)

    @property
    def refills(self) -> int:
        return native.random_refills(self._ctx)

    def __repr__(self) -> str:
        return f"MaskSource(refills={self.refills})"
