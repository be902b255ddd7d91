# SPDX-License-Identifier: MIT
"""A Bybit session: clock from REST, `auth` once per connection, 10002 resync,
cancel over the trade WebSocket, reconciliation and open orders over REST.

A connection is ready only after its `auth` answer says retCode 0; every
reconnect authenticates again. The clock offset is measured with
GET /v5/market/time before the first auth (whose expiry is in venue time) and
again when an order is refused with 10002; the desk then sends that order
again, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator._native import lib
from orchestrator.desk import Desk, Event
from orchestrator.errors import StratumError
from orchestrator.journal import OrderState
from orchestrator.venues import bybit
from orchestrator.venues.session import OpenOrder, RestClockSession


def _order_id(value: Any) -> int:
    """Bybit's orderId (a string of digits) as the journal keeps it; 0 if it is not one."""
    text = str(value)
    return int(text) if text.isdigit() and int(text) < 2**63 else 0


class BybitSession(RestClockSession):
    name = "bybit"

    def __init__(self, desk: Desk, credentials: bybit.Credentials, rest: bybit.Rest, *,
                 recv_window_ms: int = 5000, client_prefix: str = "st") -> None:
        super().__init__(desk)
        self.credentials = credentials
        self.rest = rest
        self.recv_window_ms = recv_window_ms
        self.client_prefix = client_prefix

    def request_id(self, answer: dict[str, Any]) -> str | None:
        request_id = answer.get("reqId")
        return request_id if isinstance(request_id, str) else None

    # -- clock and login ------------------------------------------------------

    def server_time_ms(self) -> int:
        return self.rest.server_time_ms()

    def log_in(self, conn: int) -> None:
        expires = self._now_ms() + bybit.AUTH_LIFETIME_MS
        self.send(conn, lambda rid: bybit.auth_request(rid, self.credentials, expires),
                  self._on_auth)

    def _on_auth(self, conn: int, answer: dict[str, Any], _sent_ns: int) -> None:
        code = answer.get("retCode")
        if code != 0:
            self.state.errors.append("bybit auth refused: " + bybit.describe_error(
                code if isinstance(code, int) else -1, self._said(answer)))
            return
        self.mark_ready(conn)

    def _said(self, answer: dict[str, Any]) -> str:
        """An answer's retMsg for an error message, our API key left out."""
        return str(answer.get("retMsg", "")).replace(self.credentials.api_key, "<api key>")

    # -- events ---------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.kind == "clock":
            self.resync()
        elif event.kind == "auth":
            self.state.errors.append(bybit.describe_error(event.code))

    # -- reconciliation, cancel, open orders ----------------------------------

    def _rest_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        return self.rest.orders(self.credentials, params, self._now_ms(), self.recv_window_ms)

    def ask_outcome(self, seq: int, leg: int, done: Callable[[], None]) -> None:
        """GET /v5/order/realtime by orderLinkId (off this thread); none listed
        means the venue has no such order. The answer is journaled."""
        symbol = self.desk.legs[leg].symbol
        link_id = bybit.client_order_id(self.client_prefix, seq)

        def query() -> list[dict[str, Any]]:
            return [o for o in self._rest_orders({"symbol": symbol, "orderLinkId": link_id})
                    if o.get("orderLinkId") == link_id]

        def then(found: list[dict[str, Any]]) -> None:
            if not found:
                self.desk.resolve(seq, lib.ST_ORDER_STATUS_NOT_FOUND, 0, bybit.NO_SUCH_ORDER)
                self.resolved[seq] = lib.ST_ORDER_STATUS_NOT_FOUND
            else:
                status = bybit.ORDER_STATUS.get(str(found[0].get("orderStatus")),
                                                lib.ST_ORDER_STATUS_UNKNOWN)
                self.desk.resolve(seq, status, _order_id(found[0].get("orderId")))
                self.resolved[seq] = status
            done()

        def failed(exc: StratumError) -> None:
            self.state.errors.append(f"bybit order query for {seq}: {exc}")
            done()

        self.later(query, then, failed=failed)

    def ask_open_orders(self, symbols: set[str]) -> dict[str, list[OpenOrder]]:
        """The account's open orders of these symbols (REST, answered at once)."""
        return {symbol: [OpenOrder(str(o.get("orderLinkId", "")),
                                   bybit.ORDER_STATUS.get(str(o.get("orderStatus")), 0))
                         for o in self._rest_orders({"symbol": symbol})]
                for symbol in sorted(symbols)}

    def cancel(self, orders: list[OrderState], timeout: float = 10.0) -> dict[int, int]:
        """Cancels open orders (order.cancel by orderLinkId) and journals what the
        venue says. Returns {client id: ST_ORDER_STATUS_*} for those it answered."""
        conn = int(lib.st_conn_pair_active(self.desk.pair))
        answered: set[int] = set()
        for order in orders:
            self._cancel(conn, order, answered)
        wanted = {o.seq for o in orders}
        self.run_until(lambda: wanted <= answered, timeout)
        return {o.seq: self.resolved[o.seq] for o in orders if o.seq in self.resolved}

    def _cancel(self, conn: int, order: OrderState, answered: set[int]) -> None:
        symbol = self.desk.legs[order.leg].symbol
        link_id = bybit.client_order_id(self.client_prefix, order.seq)

        def build(request_id: str) -> str:
            return bybit.cancel_request(request_id, symbol, link_id, self._now_ms(),
                                        self.recv_window_ms)

        def handle(_conn: int, answer: dict[str, Any], _sent_ns: int) -> None:
            answered.add(order.seq)
            code = answer.get("retCode")
            if code == 0:
                order_id = _order_id((answer.get("data") or {}).get("orderId"))
                self.desk.resolve(order.seq, lib.ST_ORDER_STATUS_CANCELED, order_id)
                self.resolved[order.seq] = lib.ST_ORDER_STATUS_CANCELED
            elif code != bybit.NO_SUCH_ORDER:   # not open any more: nothing to do
                self.state.errors.append(f"order.cancel for {order.seq}: " + bybit.describe_error(
                    code if isinstance(code, int) else -1, self._said(answer)))

        self.send(conn, build, handle)
