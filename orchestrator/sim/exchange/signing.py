# SPDX-License-Identifier: MIT
"""Signature checks exactly as the venues document them.  Pure functions, no I/O.

* Binance WebSocket API: the payload is every parameter except ``signature``, sorted
  by name, joined as ``name=value`` with ``&``, values as sent (no percent-encoding),
  UTF-8.  HMAC keys sign it with HMAC-SHA256, hex (case-insensitive); Ed25519 keys
  sign it and send the signature base64-encoded.
* Kraken REST: ``API-Sign`` is base64(HMAC-SHA512(key=base64decode(secret),
  msg=uri_path + SHA256(nonce + postdata))).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

__all__ = [
    "binance_ed25519_ok",
    "binance_hmac_ok",
    "binance_hmac_sign",
    "binance_payload",
    "kraken_api_sign",
    "kraken_sign_ok",
    "load_ed25519_public_key",
]


def binance_payload(params: Mapping[str, str]) -> str:
    """The signature payload of a Binance WebSocket API request's parameters."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def binance_hmac_sign(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` keyed with ``secret`` (both UTF-8)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def binance_hmac_ok(secret: str, payload: str, signature: str) -> bool:
    """Whether ``signature`` is the HMAC-SHA256 of ``payload``; hex case does not matter."""
    if len(signature) != 64 or not signature.isascii():
        return False
    return hmac.compare_digest(binance_hmac_sign(secret, payload), signature.lower())


def load_ed25519_public_key(pem: str) -> Ed25519PublicKey:
    """Loads a PEM ``PUBLIC KEY``; ValueError if it is not an Ed25519 key."""
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def binance_ed25519_ok(key: Ed25519PublicKey, payload: str, signature_b64: str) -> bool:
    """Whether ``signature_b64`` (standard base64) is ``key``'s Ed25519 signature of
    ``payload``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(signature, payload.encode())
    except InvalidSignature:
        return False
    return True


def kraken_api_sign(secret_b64: str, uri_path: str, nonce: str, postdata: str) -> str:
    """Kraken's ``API-Sign`` for a private REST request."""
    digest = hashlib.sha256((nonce + postdata).encode()).digest()
    key = base64.b64decode(secret_b64, validate=True)
    mac = hmac.new(key, uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def kraken_sign_ok(
    secret_b64: str, uri_path: str, nonce: str, postdata: str, api_sign: str
) -> bool:
    """Whether ``api_sign`` is the right ``API-Sign`` for this request."""
    try:
        given = base64.b64decode(api_sign, validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = base64.b64decode(kraken_api_sign(secret_b64, uri_path, nonce, postdata))
    return hmac.compare_digest(expected, given)
