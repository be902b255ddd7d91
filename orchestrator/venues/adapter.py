# SPDX-License-Identifier: MIT
"""What a venue is to the rest of the engine: one adapter object.

Each venue folder `orchestrator/venues/<name>/` holds the same files:
`__init__.py` (its profile, signing, order templates and answer schema, from
the venue's documentation), `session.py` (what keeps a connection ready and
reconciles) and `adapter.py` (the one object registered in
`orchestrator/venues/registry.py`). The daemon and the config reach a venue
only through its adapter: its profile, the config keys and auth choices it
takes, `build()`, and what it can do (capabilities), never its class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.desk import Desk
from orchestrator.venues import Profile, Secret, Template
from orchestrator.venues.session import VenueSession

if TYPE_CHECKING:   # config imports the registry: only the annotation here
    from orchestrator.config import VenueConfig


@dataclass(frozen=True)
class Capabilities:
    """What a venue's session can do beyond placing orders."""

    reconcile: bool = False   # asks the venue about orders of unknown outcome
    cancel: bool = False      # cancels open orders (`cancel_on_stop`)
    open_orders: bool = False  # lists the account's open orders (host failover's takeover)


@dataclass(frozen=True)
class Built:
    """A venue made ready to add to an engine: one template per configured leg
    (in order) and the session that keeps its connections ready."""

    templates: tuple[Template, ...]
    session: VenueSession


class VenueAdapter(ABC):
    profile: Profile
    auth_choices: tuple[str, ...]        # the config's `auth`; the first is the default
    options: frozenset[str] = frozenset()  # venue keys of its own beyond the common ones
    capabilities: Capabilities = Capabilities()

    @property
    def name(self) -> str:
        return self.profile.name

    @abstractmethod
    def build(self, desk: Desk, venue: VenueConfig, state_dir: Path) -> Built:
        """The templates and session of `venue` over `desk` (whose key it may set);
        state_dir keeps what must outlive the process (nonces)."""

    @abstractmethod
    def example_templates(self) -> dict[str, tuple[Template, Secret | None]]:
        """Order templates of an example leg (IOC limit buy) with made-up
        credentials, as on a logged-in connection, by row name (the venue's
        name, or name-mode), each with the key the native side signs it with (None:
        unsigned): what `stratum bench order` and the allocation test build."""
