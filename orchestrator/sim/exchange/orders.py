# SPDX-License-Identifier: MIT
"""Every order the simulator accepted, for every venue.

Each venue module makes its own order ids.  A client order id, once accepted from an
account, stays taken for that account on that venue for the simulator's lifetime.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from .record import Recorder


@dataclasses.dataclass
class Fill:
    price: Decimal
    qty: Decimal
    trade_id: int


@dataclasses.dataclass
class Order:
    venue: str  # its SimVenue name
    account: str  # API key
    order_id: int | str
    client_order_id: str | None
    symbol: str
    side: str  # as the venue spells it: BUY/SELL, buy/sell
    type: str  # LIMIT/MARKET/LIMIT_MAKER, limit/market
    time_in_force: str | None
    price: Decimal | None  # None for market orders
    qty: Decimal
    executed_qty: Decimal
    quote_qty: Decimal  # executed quantity times price
    status: str  # NEW/FILLED/EXPIRED, new/filled/expired
    transact_ms: int
    fills: list[Fill] = dataclasses.field(default_factory=list)
    outcome_unknown: bool = False  # accepted, but answered "execution status unknown"
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "venue": self.venue, "account": self.account, "order_id": self.order_id,
            "client_order_id": self.client_order_id, "symbol": self.symbol,
            "side": self.side, "type": self.type, "time_in_force": self.time_in_force,
            "price": None if self.price is None else str(self.price), "qty": str(self.qty),
            "executed_qty": str(self.executed_qty), "quote_qty": str(self.quote_qty),
            "status": self.status, "transact_time_ms": self.transact_ms,
            "outcome_unknown": self.outcome_unknown,
        }


class OrderStore:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.orders: list[Order] = []
        self._by_id: dict[tuple[str, str, int | str], Order] = {}
        self._by_client: dict[tuple[str, str, str], Order] = {}
        self._next_trade_id = 1

    def next_trade_id(self) -> int:
        value = self._next_trade_id
        self._next_trade_id += 1
        return value

    def client_id_taken(self, venue: str, account: str, client_order_id: str) -> bool:
        return (venue, account, client_order_id) in self._by_client

    def add(self, order: Order) -> None:
        self.orders.append(order)
        self._by_id[(order.venue, order.account, order.order_id)] = order
        if order.client_order_id is not None:
            self._by_client[(order.venue, order.account, order.client_order_id)] = order
        self.recorder.write_orders([o.to_json() for o in self.orders])

    def changed(self) -> None:
        """An order's state changed (a cancel): orders.json is written again."""
        self.recorder.write_orders([o.to_json() for o in self.orders])

    def by_id(self, venue: str, account: str, order_id: int | str) -> Order | None:
        return self._by_id.get((venue, account, order_id))

    def by_client_id(self, venue: str, account: str, client_order_id: str) -> Order | None:
        return self._by_client.get((venue, account, client_order_id))
