# SPDX-License-Identifier: MIT
"""A venue is one unit: a folder of the same files, one adapter in the registry,
and the daemon and config know it only through that adapter; in the exchange
simulator, one module and one entry in its table, which the shared modules go
through."""

from __future__ import annotations

import re

import pytest

from orchestrator.sim.exchange.venue import SimVenue
from orchestrator.sim.exchange.venues import VENUES as SIM_VENUES
from orchestrator.venues.adapter import VenueAdapter
from orchestrator.venues.registry import ADAPTERS, DEMO_VENUE
from tests.conftest import ROOT

VENUES = ROOT / "orchestrator" / "venues"
FILES = {"__init__.py", "adapter.py", "session.py"}
OPTIONAL = {"reference.py"}      # a Python reference client (VenueAdapter.reference)
SIM = ROOT / "orchestrator" / "sim" / "exchange"


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_each_venue_is_a_folder_of_the_same_files(name: str) -> None:
    adapter = ADAPTERS[name]
    assert isinstance(adapter, VenueAdapter) and adapter.profile.name == name
    files = {p.name for p in (VENUES / name).glob("*.py")}
    assert FILES <= files <= FILES | OPTIONAL
    assert ("reference.py" in files) == (adapter.reference is not None)
    assert adapter.auth_choices, "a venue takes at least one way to authenticate"
    adapter.profile.schema.native()   # its answer schema fits the native desk


def test_every_venue_folder_is_registered() -> None:
    folders = {p.name for p in VENUES.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(ADAPTERS)


def test_every_venue_has_one_simulator_module() -> None:
    assert set(SIM_VENUES) == set(ADAPTERS)
    for name, venue in SIM_VENUES.items():
        assert isinstance(venue, SimVenue) and venue.name == name
        assert (SIM / f"{name}.py").is_file()


OWN = {"venues/registry.py", "sim/exchange/venues.py",
       *(str(p.relative_to(ROOT / "orchestrator")) for name in ADAPTERS
         for p in (VENUES / name).glob("*.py")),
       *(f"sim/exchange/{name}.py" for name in SIM_VENUES)}
MODULES = sorted(str(p.relative_to(ROOT / "orchestrator"))
                 for p in (ROOT / "orchestrator").rglob("*.py"))


@pytest.mark.parametrize("module", [m for m in MODULES if m not in OWN])
def test_no_module_outside_a_venue_names_one(module: str) -> None:
    text = (ROOT / "orchestrator" / module).read_text()
    names = set(ADAPTERS) | set(SIM_VENUES)
    named = [name for name in sorted(names) if re.search(name, text, re.IGNORECASE)]
    assert named == [], f"{module} names {named}: reach venues through the registry"


def test_the_demo_venue_has_a_reference_client() -> None:
    """The benches and the lab's bot time the engine against it."""
    assert ADAPTERS[DEMO_VENUE].reference is not None
