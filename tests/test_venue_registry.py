# SPDX-License-Identifier: MIT
"""A venue is one unit: a folder of the same files, one adapter in the registry,
and the daemon and config know it only through that adapter."""

from __future__ import annotations

import re

import pytest

from orchestrator.venues.adapter import VenueAdapter
from orchestrator.venues.registry import ADAPTERS
from tests.conftest import ROOT

VENUES = ROOT / "orchestrator" / "venues"
FILES = {"__init__.py", "adapter.py", "session.py"}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_each_venue_is_a_folder_of_the_same_files(name: str) -> None:
    adapter = ADAPTERS[name]
    assert isinstance(adapter, VenueAdapter) and adapter.profile.name == name
    assert {p.name for p in (VENUES / name).glob("*.py")} == FILES
    assert adapter.auth_choices, "a venue takes at least one way to authenticate"
    adapter.profile.schema.native()   # its answer schema fits the native desk


def test_every_venue_folder_is_registered() -> None:
    folders = {p.name for p in VENUES.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(ADAPTERS)


@pytest.mark.parametrize("module", ["daemon.py", "config.py"])
def test_daemon_and_config_name_no_venue(module: str) -> None:
    text = (ROOT / "orchestrator" / module).read_text()
    named = [name for name in ADAPTERS if re.search(name, text, re.IGNORECASE)]
    assert named == [], f"{module} names {named}: reach venues through the registry"
