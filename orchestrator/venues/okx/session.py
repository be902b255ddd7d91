# SPDX-License-Identifier: MIT
"""An OKX session: clock offset, `login` per connection, 50102 resync, cancel
and reconciliation.

A connection is ready once its `login` is answered with code "0"; every
reconnect logs in again. The venue's clock comes from REST public time; the
desk's offset is that clock plus the order window, so the timestamp slot
written into `expTime` is the deadline (see __init__.py). Orders of unknown
outcome are asked by clOrdId over REST; resting orders are cancelled with the
WebSocket `cancel-order` op.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

from orchestrator._native import lib
from orchestrator.desk import Desk, Event
from orchestrator.errors import StratumError
from orchestrator.journal import OrderState
from orchestrator.venues import okx
from orchestrator.venues.session import OpenOrder, Pending, RestClockSession

REST_TIMEOUT_S = 10.0


class OkxSession(RestClockSession):
    name = "okx"

    def __init__(self, desk: Desk, credentials: okx.Credentials, *, rest_url: str = okx.REST_URL,
                 context: ssl.SSLContext | None = None, window_ms: int = 5000,
                 client_prefix: str = "st") -> None:
        super().__init__(desk)
        self.credentials = credentials
        self.rest_url = rest_url
        self.context = context
        self.window_ms = window_ms
        self.client_prefix = client_prefix

    def new_request_id(self, n: int) -> str:
        return f"{self.name}{n}"      # OKX ids are alphanumeric; letters keep it Python's

    def request_id(self, answer: dict[str, Any]) -> str | None:
        request_id = answer.get("id")
        return request_id if isinstance(request_id, str) else None

    def answer_key(self, conn: int, answer: dict[str, Any]) -> str | None:
        # The login answer is an event with no id: {"event": "login" | "error", ...}.
        if "id" not in answer and answer.get("event") in ("login", "error"):
            return f"login@{conn}"
        return self.request_id(answer)

    # -- clock and login ------------------------------------------------------

    def server_time_ms(self) -> int:
        return okx.server_time_ms(self.rest_url, context=self.context)

    def desk_offset(self, offset_ms: int) -> int:
        return offset_ms + self.window_ms     # the slot is expTime: now + the window

    def log_in(self, conn: int) -> None:
        self._pending[f"login@{conn}"] = Pending(self._on_login, time.time_ns())
        self.desk.send_control(okx.login_request(self.credentials, self._now_ms() // 1000), conn)

    def _on_login(self, conn: int, answer: dict[str, Any], _sent_ns: int) -> None:
        if answer.get("event") == "login" and answer.get("code") == "0":
            self.mark_ready(conn)
            return
        self.state.errors.append("okx login refused: " + okx.describe_error(
            str(answer.get("code", "")), str(answer.get("msg", ""))))

    # -- events ---------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.kind == "clock":
            self.resync()
        elif event.kind == "auth":
            self.state.errors.append(okx.describe_error(event.code))

    # -- reconciliation and cancel -------------------------------------------

    def ask_outcome(self, seq: int, leg: int, done: Callable[[], None]) -> None:
        """GET /api/v5/trade/order by clOrdId (off this thread); the answer is
        journaled."""
        path = okx.order_query_path(self.desk.legs[leg].symbol,
                                    okx.client_order_id(self.client_prefix, seq))

        def query() -> Any:
            return okx.rest_get(self.rest_url, path, self.credentials, self._now_ms(),
                                context=self.context, timeout=REST_TIMEOUT_S)

        def then(answer: Any) -> None:
            self._on_order(seq, answer)
            done()

        def failed(exc: StratumError) -> None:
            self.state.errors.append(f"okx order query for {seq}: {exc}")
            done()

        self.later(query, then, failed=failed)

    def _on_order(self, seq: int, answer: dict[str, Any]) -> None:
        code = str(answer.get("code", ""))
        data = answer.get("data")
        if code == "0" and isinstance(data, list) and data and isinstance(data[0], dict):
            status = okx.ORDER_STATUS.get(str(data[0].get("state")), lib.ST_ORDER_STATUS_UNKNOWN)
            self.desk.resolve(seq, status, _order_id(data[0]))
            self.resolved[seq] = status
        elif code == str(okx.NO_SUCH_ORDER):
            self.desk.resolve(seq, lib.ST_ORDER_STATUS_NOT_FOUND, 0, okx.NO_SUCH_ORDER)
            self.resolved[seq] = lib.ST_ORDER_STATUS_NOT_FOUND
        else:
            self.state.errors.append(f"okx order query for {seq}: " +
                                     okx.describe_error(code, str(answer.get("msg", ""))))

    def ask_open_orders(self, symbols: set[str]) -> dict[str, list[OpenOrder]]:
        """The account's open orders per symbol (REST orders-pending; the answer comes
        at once, so the dict is full on return but for the symbols that failed)."""
        found: dict[str, list[OpenOrder]] = {}
        for symbol in sorted(symbols):
            try:
                answer = okx.rest_get(self.rest_url, okx.pending_path(symbol), self.credentials,
                                      self._now_ms(), context=self.context)
            except okx.OkxError as exc:
                self.state.errors.append(f"okx open orders of {symbol}: {exc}")
                continue
            data = answer.get("data")
            if str(answer.get("code")) != "0" or not isinstance(data, list):
                self.state.errors.append(f"okx open orders of {symbol}: " + okx.describe_error(
                    str(answer.get("code", "")), str(answer.get("msg", ""))))
                continue
            found[symbol] = [OpenOrder(str(o.get("clOrdId", "")),
                                       okx.ORDER_STATUS.get(str(o.get("state")), 0))
                             for o in data if isinstance(o, dict)]
        return found

    def cancel(self, orders: list[OrderState], timeout: float = 10.0) -> dict[int, int]:
        """Cancels open orders (cancel-order) and journals what the venue says."""
        conn = int(lib.st_conn_pair_active(self.desk.pair))
        answered: set[int] = set()
        for order in orders:
            symbol = self.desk.legs[order.leg].symbol
            client_id = okx.client_order_id(self.client_prefix, order.seq)

            def handle(_conn: int, answer: dict[str, Any], _sent_ns: int,
                       seq: int = order.seq) -> None:
                answered.add(seq)
                self._on_cancel(seq, answer)

            def build(request_id: str, symbol: str = symbol, client_id: str = client_id) -> str:
                return okx.cancel_request(request_id, symbol, client_id)

            self.send(conn, build, handle)
        self.run_until(lambda: {o.seq for o in orders} <= answered, timeout)
        return {o.seq: self.resolved[o.seq] for o in orders if o.seq in self.resolved}

    def _on_cancel(self, seq: int, answer: dict[str, Any]) -> None:
        data = answer.get("data")
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        code = str(answer.get("code", ""))
        s_code = str(first.get("sCode", code))
        if code == "0" and s_code == "0":
            self.desk.resolve(seq, lib.ST_ORDER_STATUS_CANCELED, _order_id(first))
            self.resolved[seq] = lib.ST_ORDER_STATUS_CANCELED
        elif s_code != str(okx.NOT_CANCELLABLE):   # filled or gone already: nothing to do
            self.state.errors.append(f"okx cancel-order for {seq}: " + okx.describe_error(
                s_code, str(first.get("sMsg", answer.get("msg", "")))))


def _order_id(data: dict[str, Any]) -> int:
    """ordId as the journal keeps it (0 when it is not a 64-bit number)."""
    text = data.get("ordId")
    return int(text) if isinstance(text, str) and text.isdigit() and int(text) < 2**63 else 0
