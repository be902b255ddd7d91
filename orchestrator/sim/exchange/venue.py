# SPDX-License-Identifier: MIT
"""What a simulated venue is to the shared simulator: one :class:`SimVenue` per venue
module, listed in :mod:`.venues`.  The shared modules reach venues only through it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

from .context import Context
from .link import Link


class Account(Protocol):
    """A parsed entry of the accounts file."""

    @property
    def api_key(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class RestAnswer:
    """An answer of the REST port and what the ``rest`` log says about it."""

    status: int
    body: dict[str, Any]
    verdict: str  # accepted / rejected / error
    code: int | str | None


class RestApi(Protocol):
    """A venue's HTTPS endpoints on the REST port."""

    paths: tuple[str, ...]
    headers: tuple[str, ...]  # header names (lower case) it reads: a repeat is a 400

    def answer(self, method: str, path: str, headers: dict[str, str], body: str) -> RestAnswer:
        """The answer to one parsed request for one of ``paths``."""
        ...

    def http_error(self, status: int) -> RestAnswer:
        """The venue's answer to a request refused at the HTTP level (400, 404, 413)."""
        ...


class VenueService:
    """A venue's running simulator: the WebSocket paths it serves, its REST endpoints."""

    def handles(self, route: str) -> bool:
        """Whether the WebSocket path ``route`` (query string removed) is this venue's."""
        raise NotImplementedError

    async def serve(self, link: Link) -> None:
        """Serves one WebSocket connection on one of its routes until it ends."""
        raise NotImplementedError

    def rest(self) -> RestApi | None:
        """Its REST endpoints, if it has any."""
        return None

    # the connection that carried the venue's latest order (set by the venue); None: none
    last_order_link: Link | None = None

    def cut_last_order_link(self) -> None:
        """Drops, with no close frame, the connection that carried its latest order (as
        a venue's crash or a cable would), for failover tests."""
        link, self.last_order_link = self.last_order_link, None
        if link is not None:
            link.ws.transport.abort()


@dataclasses.dataclass
class Trace:
    """What the request log says about one WebSocket request."""

    method: str | None = None
    verdict: str = "error"            # accepted / rejected / error
    code: int | str | None = None     # the venue's error code, as it writes it
    client_order_id: str | None = None
    account: str | None = None        # whose limits the answer reports, where that matters
    delay_ms: int = 0                 # the answer waits this long (an ack delay)


@dataclasses.dataclass(frozen=True)
class SimVenue:
    name: str  # key of the accounts file and name of its request log (<name>.jsonl)
    parse_account: Callable[[dict[str, Any], str], Account]  # (entry, "name[i]") -> account
    start: Callable[[Context], VenueService]
    books: tuple[str, ...]  # SYMBOL=BID:ASK specs it publishes by default
    # A fresh random account (for a paper run): its accounts-file entry, and the
    # credentials the engine's config takes for it, by config key (api_key, secret, ...).
    new_account: Callable[[], tuple[dict[str, str], dict[str, str]]]
