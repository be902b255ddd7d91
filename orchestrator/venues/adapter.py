# SPDX-License-Identifier: MIT
"""What a venue is to the rest of the engine: one adapter object.

Each venue folder `orchestrator/venues/<name>/` holds the same files:
`__init__.py` (its profile, signing, order templates and answer schema, from
the venue's documentation), `session.py` (what keeps a connection ready and
reconciles) and `adapter.py` (the one object registered in
`orchestrator/venues/registry.py`); a venue with a Python reference client adds
`reference.py`. The daemon and the config reach a venue only through its
adapter: its profile, the config keys and auth choices it takes, `build()`, and
what it can do (capabilities), never its class. The demo and the benches reach it
the same way: `paper_venue()` and `reference`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.desk import Desk
from orchestrator.venues import Profile, Secret, Side, Template
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


@dataclass(frozen=True)
class PaperVenue:
    """A venue of this kind configured against the exchange simulator
    (`orchestrator.sim.exchange`, which speaks every venue on one port pair): the
    demo's and the lab's venue."""

    keys: dict[str, Any]   # its [[venues]] keys but name, address, trust, credentials, legs
    leg: dict[str, Any]    # its legs' instrument keys (symbol: a book the simulator publishes)
    # [venues.risk] pace keys (orders_per_second, burst) inside its documented limits
    pace: dict[str, Any]


class Reference(ABC):
    """A venue's order written the way users write it in Python (a dict, `hmac`,
    `json`): what `stratum bench order`, `stratum bench sign` and the lab's Python
    bot time the engine against."""

    row: str    # the example template (`order/<row>/native`) that `example_order` matches
    # (secret, payload, signature): the signing example of the venue's documentation
    signing_example: tuple[bytes, bytes, str]

    @abstractmethod
    def example_order(self, request_id: int, client_id: int, timestamp_ms: int, price: int,
                      quantity: int) -> str:
        """The `row` template's order for these values (price and quantity in units of
        the leg's decimals), built from scratch: the text the native build gives."""

    @abstractmethod
    def example_signed_bytes(self) -> tuple[bytes, bytes]:
        """(key, payload) of what one `row` order signs: no signed order can be built
        faster than this HMAC."""

    @abstractmethod
    def order(self, credentials: Mapping[str, str], request_id: int, symbol: str, side: Side,
              price: str, quantity: str, client_id: str) -> str:
        """A LIMIT IOC order stamped with the wall clock and signed with `credentials`
        (by config key: api_key, secret)."""


class VenueAdapter(ABC):
    profile: Profile
    auth_choices: tuple[str, ...]        # the config's `auth`; the first is the default
    options: frozenset[str] = frozenset()  # venue keys of its own beyond the common ones
    capabilities: Capabilities = Capabilities()
    reference: Reference | None = None

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

    @abstractmethod
    def paper_venue(self, host: str, ws_port: int, rest_port: int) -> PaperVenue:
        """This venue against the exchange simulator at `host` (the name its
        certificate is for), WebSocket and REST ports."""
