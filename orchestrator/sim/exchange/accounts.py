# SPDX-License-Identifier: MIT
"""The accounts file: which API keys exist and how each one signs.

    {"binance": [{"apiKey": "...", "hmacSecret": "..."},
                 {"apiKey": "...", "ed25519PublicKey": "-----BEGIN PUBLIC KEY-----..."}],
     "kraken": [{"apiKey": "...", "secret": "<base64>"}]}

Every problem is an :class:`AccountsError` whose message names the entry and field.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .signing import load_ed25519_public_key


class AccountsError(ValueError):
    """The accounts file is missing or malformed."""


@dataclasses.dataclass(frozen=True)
class BinanceAccount:
    api_key: str
    hmac_secret: str | None = None
    ed25519: Ed25519PublicKey | None = None


@dataclasses.dataclass(frozen=True)
class KrakenAccount:
    api_key: str
    secret: str  # base64, as Kraken hands it out


@dataclasses.dataclass(frozen=True)
class Accounts:
    binance: dict[str, BinanceAccount]
    kraken: dict[str, KrakenAccount]


def _string(entry: dict[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value:
        raise AccountsError(f"{where}: {field!r} must be a non-empty string")
    return value


def _entries(doc: dict[str, Any], venue: str) -> list[dict[str, Any]]:
    entries = doc.get(venue, [])
    if not isinstance(entries, list):
        raise AccountsError(f"{venue!r} must be a list of accounts")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise AccountsError(f"{venue}[{i}]: must be an object")
    return entries


def _binance(entry: dict[str, Any], where: str) -> BinanceAccount:
    api_key = _string(entry, "apiKey", where)
    unknown = set(entry) - {"apiKey", "hmacSecret", "ed25519PublicKey"}
    if unknown:
        raise AccountsError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    if ("hmacSecret" in entry) == ("ed25519PublicKey" in entry):
        raise AccountsError(f"{where}: needs exactly one of 'hmacSecret', 'ed25519PublicKey'")
    if "hmacSecret" in entry:
        return BinanceAccount(api_key, hmac_secret=_string(entry, "hmacSecret", where))
    pem = _string(entry, "ed25519PublicKey", where)
    try:
        key = load_ed25519_public_key(pem)
    except ValueError as exc:
        raise AccountsError(f"{where}: 'ed25519PublicKey' is not a PEM Ed25519 public key "
                            f"({exc})") from None
    return BinanceAccount(api_key, ed25519=key)


def _kraken(entry: dict[str, Any], where: str) -> KrakenAccount:
    api_key = _string(entry, "apiKey", where)
    unknown = set(entry) - {"apiKey", "secret"}
    if unknown:
        raise AccountsError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    secret = _string(entry, "secret", where)
    try:
        base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise AccountsError(f"{where}: 'secret' is not base64") from None
    return KrakenAccount(api_key, secret)


def load_accounts(path: Path) -> Accounts:
    """Reads and checks the accounts file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccountsError(f"cannot read it: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise AccountsError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise AccountsError("must be a JSON object")
    unknown = set(doc) - {"binance", "kraken"}
    if unknown:
        raise AccountsError(f"unknown venue {sorted(unknown)[0]!r}")
    binance: dict[str, BinanceAccount] = {}
    for i, entry in enumerate(_entries(doc, "binance")):
        account = _binance(entry, f"binance[{i}]")
        if account.api_key in binance:
            raise AccountsError(f"binance[{i}]: apiKey repeated")
        binance[account.api_key] = account
    kraken: dict[str, KrakenAccount] = {}
    for i, entry in enumerate(_entries(doc, "kraken")):
        kaccount = _kraken(entry, f"kraken[{i}]")
        if kaccount.api_key in kraken:
            raise AccountsError(f"kraken[{i}]: apiKey repeated")
        kraken[kaccount.api_key] = kaccount
    if not binance and not kraken:
        raise AccountsError("has no accounts")
    return Accounts(binance, kraken)
