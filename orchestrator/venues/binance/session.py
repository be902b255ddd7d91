# SPDX-License-Identifier: MIT
"""A Binance session: clock offset, logon, -1021 resync, reconciliation.

After each (re)connect a connection is made ready before orders use it: in
HMAC mode by measuring the clock offset with `time`; in session mode by
`session.logon` (whose answer carries serverTime, so it measures the offset
too). A -1021 answer resyncs the clock and the desk sends the refused order
again, once. Orders of unknown outcome are resolved with `order.status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from orchestrator._native import lib
from orchestrator.desk import Desk, Event
from orchestrator.journal import OrderState
from orchestrator.venues import binance
from orchestrator.venues.session import OpenOrder, VenueError, VenueSession


def clock_offset_ms(server_ms: int, sent_ns: int, received_ns: int) -> int:
    """Venue time minus ours, taking the request's flight as symmetric."""
    return int(server_ms - (sent_ns + received_ns) // 2_000_000)


class BinanceSession(VenueSession):
    name = "binance"

    def __init__(self, desk: Desk, credentials: binance.Credentials, *,
                 client_prefix: str = "st") -> None:
        super().__init__(desk)
        self.credentials = credentials
        self.mode = credentials.mode()
        self.client_prefix = client_prefix
        self.clock_offset_ms: int | None = None
        self.logged_on = [False] * len(desk.conns)

    def request_id(self, answer: dict[str, Any]) -> str | None:
        request_id = answer.get("id")
        return request_id if isinstance(request_id, str) else None

    # -- readiness ----------------------------------------------------------

    def prepare(self, conn: int) -> None:
        self.logged_on[conn] = False
        if self.mode is binance.AuthMode.SESSION:
            key = self.credentials
            self.send(conn, lambda rid: binance.logon_request(rid, key, self._now_ms()),
                      self._on_logon)
        else:
            self.send(conn, binance.time_request, self._on_time)

    def _now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + (self.clock_offset_ms or 0)

    def _on_time(self, conn: int, answer: dict[str, Any], sent_ns: int) -> None:
        server = (answer.get("result") or {}).get("serverTime")
        if not isinstance(server, int):
            self.state.errors.append(f"binance time: no serverTime in {str(answer)[:120]}")
            return
        self._set_offset(clock_offset_ms(server, sent_ns, time.time_ns()))
        self.mark_ready(conn)

    def _on_logon(self, conn: int, answer: dict[str, Any], sent_ns: int) -> None:
        if answer.get("status") != 200:
            error = answer.get("error") or {}
            self.state.errors.append("session.logon refused: " + binance.describe_error(
                int(error.get("code", 0)), str(error.get("msg", ""))))
            return
        server = (answer.get("result") or {}).get("serverTime")
        if isinstance(server, int):
            self._set_offset(clock_offset_ms(server, sent_ns, time.time_ns()))
        self.logged_on[conn] = True
        self.mark_ready(conn)

    def _set_offset(self, offset_ms: int) -> None:
        self.clock_offset_ms = offset_ms
        self.desk.set_clock_offset(offset_ms)

    # -- events -------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.kind == "clock":
            self.state.resyncs += 1
            self.send(event.conn, binance.time_request, self._on_resync)
        elif event.kind == "auth":
            self.state.errors.append(binance.describe_error(event.code))
        elif event.kind == "rate_limit" and event.http_status == 418:
            self.state.errors.append(binance.describe_error(event.code, "IP banned by the venue"))

    def _on_resync(self, conn: int, answer: dict[str, Any], sent_ns: int) -> None:
        server = (answer.get("result") or {}).get("serverTime")
        if not isinstance(server, int):
            self.state.errors.append("binance time: no serverTime in the resync answer")
            return
        offset = clock_offset_ms(server, sent_ns, time.time_ns())
        self.clock_offset_ms = offset
        self.desk.clock_synced(offset)

    # -- reconciliation -----------------------------------------------------

    def ask_outcome(self, seq: int, leg: int, done: Callable[[], None]) -> None:
        """order.status on the active connection; the answer is journaled."""
        def on_answer(seq: int, answer: dict[str, Any]) -> None:
            self._on_status(seq, answer)
            done()

        self._ask("order.status", int(lib.st_conn_pair_active(self.desk.pair)), seq, leg,
                  on_answer)

    def open_orders(self, symbols: set[str], timeout: float = 10.0) -> list[OpenOrder]:
        """The account's open orders (openOrders.status) of these symbols. Raises
        VenueError if a symbol's list does not come."""
        found = self.ask_open_orders(symbols)
        if not self.run_until(lambda: set(found) >= symbols, timeout):
            raise VenueError(f"openOrders.status: no answer in {timeout:g} s")
        return [order for orders in found.values() for order in orders]

    def ask_open_orders(self, symbols: set[str]) -> dict[str, list[OpenOrder]]:
        """Sends openOrders.status per symbol; the dict fills as the answers come
        (whoever steps the session), so other requests can go meanwhile."""
        conn = int(lib.st_conn_pair_active(self.desk.pair))
        found: dict[str, list[OpenOrder]] = {}
        for symbol in sorted(symbols):
            def build(request_id: str, symbol: str = symbol) -> str:
                return binance.open_orders_request(request_id, symbol, self.credentials,
                                                   self._now_ms(), self.logged_on[conn])

            def handle(_conn: int, answer: dict[str, Any], _sent_ns: int,
                       symbol: str = symbol) -> None:
                result = answer.get("result")
                found[symbol] = [
                    OpenOrder(str(o.get("clientOrderId", "")),
                              binance.ORDER_STATUS.get(str(o.get("status")), 0))
                    for o in (result if isinstance(result, list) else []) if isinstance(o, dict)]
                if answer.get("status") != 200:
                    code = int((answer.get("error") or {}).get("code", 0))
                    self.state.errors.append("openOrders.status: " + binance.describe_error(code))

            self.send(conn, build, handle)
        return found

    def cancel(self, orders: list[OrderState], timeout: float = 10.0) -> dict[int, int]:
        """Cancels open orders (order.cancel) and journals what the venue says.
        Returns {client id: ST_ORDER_STATUS_*} for those it answered."""
        self._ask_each("order.cancel", orders, self._on_cancel, timeout)
        return {o.seq: self.resolved[o.seq] for o in orders if o.seq in self.resolved}

    def _ask_each(self, method: str, orders: list[OrderState],
                  on_answer: Callable[[int, dict[str, Any]], None], timeout: float) -> None:
        conn = int(lib.st_conn_pair_active(self.desk.pair))
        answered: set[int] = set()

        def note(seq: int, answer: dict[str, Any]) -> None:
            answered.add(seq)
            on_answer(seq, answer)

        for order in orders:
            self._ask(method, conn, order.seq, order.leg, note)
        wanted = {o.seq for o in orders}
        self.run_until(lambda: wanted <= answered, timeout)

    def _ask(self, method: str, conn: int, seq: int, leg: int,
             on_answer: Callable[[int, dict[str, Any]], None]) -> None:
        symbol = self.desk.legs[leg].symbol
        client_id = binance.client_order_id(self.client_prefix, seq)
        logged_on = self.logged_on[conn]

        def build(request_id: str) -> str:
            return binance.order_request(method, request_id, symbol, client_id,
                                         self.credentials, self._now_ms(), logged_on)

        def handle(_conn: int, answer: dict[str, Any], _sent_ns: int) -> None:
            on_answer(seq, answer)

        self.send(conn, build, handle)

    def _on_cancel(self, seq: int, answer: dict[str, Any]) -> None:
        if answer.get("status") == 200:
            order_id = (answer.get("result") or {}).get("orderId")
            self.desk.resolve(seq, lib.ST_ORDER_STATUS_CANCELED,
                              order_id if isinstance(order_id, int) else 0)
            self.resolved[seq] = lib.ST_ORDER_STATUS_CANCELED
            return
        code = int((answer.get("error") or {}).get("code", 0))
        # -2011: not open any more (filled, expired, cancelled already): nothing to do.
        if code != binance.UNKNOWN_ORDER:
            self.state.errors.append(f"order.cancel for {seq}: " + binance.describe_error(code))

    def _on_status(self, seq: int, answer: dict[str, Any]) -> None:
        if answer.get("status") == 200:
            result = answer.get("result") or {}
            status = binance.ORDER_STATUS.get(str(result.get("status")),
                                              lib.ST_ORDER_STATUS_UNKNOWN)
            order_id = result.get("orderId")
            self.desk.resolve(seq, status, order_id if isinstance(order_id, int) else 0)
            self.resolved[seq] = status
            return
        code = int((answer.get("error") or {}).get("code", 0))
        if code == binance.NO_SUCH_ORDER:
            self.desk.resolve(seq, lib.ST_ORDER_STATUS_NOT_FOUND, 0, code)
            self.resolved[seq] = lib.ST_ORDER_STATUS_NOT_FOUND
        else:
            self.state.errors.append(f"order.status for {seq}: " + binance.describe_error(code))
