# SPDX-License-Identifier: MIT
"""A Kraken session: orders carry a REST-issued token, fetched anew for every
(re)opened connection and put into the order templates before the connection
is marked ready; cancel over the WebSocket, order state over REST (see
__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from orchestrator._native import lib
from orchestrator.desk import Desk, Event
from orchestrator.errors import StratumError
from orchestrator.journal import OrderState
from orchestrator.venues import Leg, Secret
from orchestrator.venues.kraken import (
    CONTROL_REQ_ID_BASE,
    KrakenError,
    Rest,
    cancel_request,
    client_order_id,
    order_template,
)
from orchestrator.venues.session import OpenOrder, VenueSession


class KrakenSession(VenueSession):
    name = "kraken"

    def __init__(self, desk: Desk, rest: Rest, legs: Sequence[Leg], *,
                 client_prefix: str = "st") -> None:
        super().__init__(desk)
        self.rest = rest
        self.legs = tuple(legs)
        self.client_prefix = client_prefix
        self.token: Secret | None = None       # the one the templates carry

    def request_id(self, answer: dict[str, Any]) -> str | None:
        request_id = answer.get("req_id")
        if isinstance(request_id, int) and request_id > CONTROL_REQ_ID_BASE:
            return f"{self.name}-{request_id - CONTROL_REQ_ID_BASE}"
        return None

    def prepare(self, conn: int) -> None:
        """A fresh token (REST, off this thread) into every template, then ready.
        Without a token the connection is closed (it reconnects, paced by its
        backoff, and comes back here) and the error is reported."""
        self.later(self.rest.ws_token, lambda token: self._use_token(conn, token), conn=conn,
                   failed=lambda exc: self._no_token(conn, exc))

    def _no_token(self, conn: int, exc: StratumError) -> None:
        self.desk.conns[conn].abort()
        self.state.errors.append(f"connection {conn}: no WebSocket token: {exc}")

    def _use_token(self, conn: int, token: Secret) -> None:
        for index, leg in enumerate(self.legs):
            self.desk.replace_template(
                index, order_template(leg, token, client_prefix=self.client_prefix))
        self.token = token
        self.mark_ready(conn)      # posted after the swaps: the engine applies them first

    def on_event(self, event: Event) -> None:
        if event.kind == "auth":
            self.state.errors.append("kraken refused the order's token or key "
                                     f"(order {event.seq}): fetch a new token")

    # -- what the venue says about our orders ------------------------------------

    def ask_outcome(self, seq: int, leg: int, done: Callable[[], None]) -> None:
        """QueryOrders by cl_ord_id (off this thread); the answer is journaled."""
        cl_ord_id = client_order_id(self.client_prefix, seq)

        def then(status: int) -> None:
            if status:
                self.desk.resolve(seq, status)
                self.resolved[seq] = status
            done()

        def failed(exc: StratumError) -> None:
            self.state.errors.append(f"QueryOrders for {seq}: {exc}")
            done()

        self.later(lambda: self.rest.query_order(cl_ord_id), then, failed=failed)

    def ask_open_orders(self, symbols: set[str]) -> dict[str, list[OpenOrder]]:
        """The account's open orders of these symbols (OpenOrders, answered at once)."""
        found: dict[str, list[OpenOrder]] = {symbol: [] for symbol in symbols}
        try:
            listed = self.rest.open_orders()
        except KrakenError as exc:
            self.state.errors.append(str(exc))
            return {}
        for pair, cl_ord_id, status in listed:
            if pair in found:
                found[pair].append(OpenOrder(cl_ord_id, status))
        return found

    def cancel(self, orders: list[OrderState], timeout: float = 10.0) -> dict[int, int]:
        """Cancels open orders (cancel_order by cl_ord_id) and journals what Kraken
        says. Returns {client id: ST_ORDER_STATUS_*} for those it answered."""
        token = self.token
        if token is None:
            raise KrakenError("cancel: no connection has had a token yet")
        conn = int(lib.st_conn_pair_active(self.desk.pair))
        answered: set[int] = set()
        for order in orders:
            cl_ord_id = client_order_id(self.client_prefix, order.seq)

            def build(request_id: str, cl_ord_id: str = cl_ord_id) -> str:
                number = int(request_id.rsplit("-", 1)[1]) + CONTROL_REQ_ID_BASE
                return cancel_request(number, cl_ord_id, token)

            def handle(_conn: int, answer: dict[str, Any], _sent_ns: int,
                       seq: int = order.seq) -> None:
                answered.add(seq)
                self._on_cancel(seq, answer)

            self.send(conn, build, handle)
        wanted = {o.seq for o in orders}
        self.run_until(lambda: wanted <= answered, timeout)
        return {o.seq: self.resolved[o.seq] for o in orders if o.seq in self.resolved}

    def _on_cancel(self, seq: int, answer: dict[str, Any]) -> None:
        if answer.get("success") is True:
            self.desk.resolve(seq, lib.ST_ORDER_STATUS_CANCELED)
            self.resolved[seq] = lib.ST_ORDER_STATUS_CANCELED
            return
        error = str(answer.get("error", ""))
        # Unknown order: not open any more (filled, expired, cancelled already).
        if not error.startswith("EOrder:Unknown order"):
            self.state.errors.append(f"cancel_order for {seq}: {error or 'refused'}")
