# SPDX-License-Identifier: MIT
"""The accounts file: which API keys exist and how each one signs.

    {"<venue>": [{"apiKey": "...", <what the venue's keys sign with>}, ...], ...}

Each venue module parses its own entries (its ``SimVenue.parse_account``).  Every
problem is an :class:`AccountsError` whose message names the entry and field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# venue name -> API key -> that venue's account
Accounts = dict[str, dict[str, Any]]
Parser = Callable[[dict[str, Any], str], Any]


class AccountsError(ValueError):
    """The accounts file is missing or malformed."""


def string_field(entry: dict[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value:
        raise AccountsError(f"{where}: {field!r} must be a non-empty string")
    return value


def no_other_fields(entry: dict[str, Any], fields: set[str], where: str) -> None:
    unknown = set(entry) - fields
    if unknown:
        raise AccountsError(f"{where}: unknown field {sorted(unknown)[0]!r}")


def _entries(doc: dict[str, Any], venue: str) -> list[dict[str, Any]]:
    entries = doc.get(venue, [])
    if not isinstance(entries, list):
        raise AccountsError(f"{venue!r} must be a list of accounts")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise AccountsError(f"{venue}[{i}]: must be an object")
    return entries


def load_accounts(path: Path, parsers: Mapping[str, Parser]) -> Accounts:
    """Reads and checks the accounts file; ``parsers`` maps venue name to its parser."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccountsError(f"cannot read it: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise AccountsError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise AccountsError("must be a JSON object")
    unknown = set(doc) - set(parsers)
    if unknown:
        raise AccountsError(f"unknown venue {sorted(unknown)[0]!r}")
    accounts: Accounts = {}
    for venue, parse in parsers.items():
        accounts[venue] = {}
        for i, entry in enumerate(_entries(doc, venue)):
            account = parse(entry, f"{venue}[{i}]")
            if account.api_key in accounts[venue]:
                raise AccountsError(f"{venue}[{i}]: apiKey repeated")
            accounts[venue][account.api_key] = account
    if not any(accounts.values()):
        raise AccountsError("has no accounts")
    return accounts
