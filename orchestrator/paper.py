# SPDX-License-Identifier: MIT
"""A paper venue: any venue of the registry traded against the exchange
simulator (`orchestrator.sim.exchange`, which speaks them all), for the demo,
the lab and the tests that run the daemon.

The venue's adapter says how the engine's config reaches it
(`VenueAdapter.paper_venue`); the simulator's module for it makes a fresh
account (`SimVenue.new_account`). Nothing here tells one venue from another.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.sim.exchange.venues import VENUES as SIM_VENUES
from orchestrator.venues.adapter import PaperVenue
from orchestrator.venues.registry import ADAPTERS


def toml_value(value: Any) -> str:
    """A TOML literal for a string, bool or number (a JSON string is a TOML basic string)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else json.dumps(str(value))


def toml_lines(keys: dict[str, Any]) -> str:
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())


@dataclass(frozen=True)
class PaperAccount:
    """One fresh account of `profile` on the simulator, and the engine's view of it."""

    profile: str
    entry: dict[str, str]         # the simulator's accounts-file entry
    credentials: dict[str, str]   # the same credentials by config key (api_key, secret, ...)

    @classmethod
    def new(cls, profile: str) -> PaperAccount:
        entry, credentials = SIM_VENUES[profile].new_account()
        return cls(profile, entry, credentials)

    def accounts_json(self) -> str:
        """The simulator's accounts file (--accounts) holding this account."""
        return json.dumps({SIM_VENUES[self.profile].name: [self.entry]})

    def secrets_toml(self) -> str:
        """The engine's secrets file: each credential as `paper_<key>`."""
        return toml_lines({f"paper_{k}": v for k, v in self.credentials.items()})

    def venue(self, host: str, ports: dict[str, int]) -> PaperVenue:
        """The venue on the simulator at `host` (the name in its certificate) with
        `ports` ({"ws_port", "rest_port"}, as its ready file says): its [[venues]]
        keys, with the names of its secrets, and its legs' instrument keys."""
        paper = ADAPTERS[self.profile].paper_venue(host, ports["ws_port"], ports["rest_port"])
        return PaperVenue(paper.keys | {k: f"paper_{k}" for k in self.credentials}, paper.leg,
                          paper.pace)


def write_private(path: Path, text: str) -> None:
    """A file only its owner reads, created so (no moment at a wider mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, 0o600)              # it may have existed with another mode
        f.write(text)


def write_account_files(work: Path, account: PaperAccount) -> None:
    """accounts.json (the simulator's) and secrets.toml (the engine's), owner-only."""
    write_private(work / "accounts.json", account.accounts_json())
    write_private(work / "secrets.toml", account.secrets_toml())
