# SPDX-License-Identifier: MIT
"""JSON decoding that keeps what a signature is computed over.

A signed payload may use each parameter's value as the client sent it, so a
JSON number must stay the text received (``100``, ``0.010``), never a float that
prints differently.  Objects remember duplicate keys, which a venue may refuse.
"""

from __future__ import annotations

import json
from typing import Any


class JsonNumber(str):
    """A JSON number, kept as the exact text received."""

    __slots__ = ()

    def is_integer(self) -> bool:
        text = self[1:] if self.startswith("-") else self
        return text.isdigit()


class JsonObject(dict[str, Any]):
    """A JSON object; ``duplicates`` names the keys that appeared more than once."""

    duplicates: tuple[str, ...] = ()


class BadJson(ValueError):
    """Not JSON, or JSON that Python's decoder would otherwise extend (NaN, Infinity)."""


def _pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    dups: list[str] = []
    for key, value in pairs:
        if key in obj:
            dups.append(key)
        obj[key] = value
    if dups:
        obj.duplicates = tuple(dups)
    return obj


def _no_constants(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def _check_strings(value: Any) -> None:
    """A ``\\ud800`` escape decodes to a lone surrogate, which is no Unicode text: it
    could be neither signed nor sent back.  Such JSON is refused like any bad JSON."""
    if isinstance(value, str):
        value.encode()
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode()
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def loads(text: str) -> Any:
    """Decodes ``text``: numbers become :class:`JsonNumber`, objects :class:`JsonObject`."""
    try:
        value = json.loads(
            text,
            parse_int=JsonNumber,
            parse_float=JsonNumber,
            parse_constant=_no_constants,
            object_pairs_hook=_pairs,
        )
        _check_strings(value)
    except (ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise BadJson(str(exc)) from None
    return value


def param_text(value: Any) -> str | None:
    """A scalar parameter as it appears in a signature payload; None for null,
    objects and arrays (which no signed parameter may be)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # JsonNumber included: its text as received
        return str(value)
    return None


def plain(value: Any) -> Any:
    """A decoded value turned back into ordinary JSON-serialisable Python."""
    if isinstance(value, JsonNumber):
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
