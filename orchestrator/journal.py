# SPDX-License-Identifier: MIT
"""The order journal: an mmap'd append-only file of fixed-size records.

The native side appends an ORDER record when it queues an order and an ACK
record per answer (see native/include/st_journal.h). After a crash the file
is read back here: every order whose outcome is unknown (no answer, -1007,
timeout, disconnect) is listed, to be resolved by asking the venue, never by
sending it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator import native, safefs
from orchestrator._native import ffi, lib
from orchestrator.native import CData

ORDER = lib.ST_JOURNAL_ORDER
SEND_FAILED = lib.ST_JOURNAL_SEND_FAILED
ACK = lib.ST_JOURNAL_ACK
RESOLVED = lib.ST_JOURNAL_RESOLVED
TIMEOUT = lib.ST_JOURNAL_TIMEOUT

STATUS_NAMES = {
    lib.ST_ORDER_STATUS_NONE: "none",
    lib.ST_ORDER_STATUS_ACCEPTED: "accepted",
    lib.ST_ORDER_STATUS_NEW: "new",
    lib.ST_ORDER_STATUS_PARTIAL: "partially_filled",
    lib.ST_ORDER_STATUS_FILLED: "filled",
    lib.ST_ORDER_STATUS_CANCELED: "canceled",
    lib.ST_ORDER_STATUS_REJECTED: "rejected",
    lib.ST_ORDER_STATUS_EXPIRED: "expired",
    lib.ST_ORDER_STATUS_UNKNOWN: "unknown",
    lib.ST_ORDER_STATUS_NOT_FOUND: "not_found",
}


@dataclass(frozen=True)
class Record:
    type: int
    venue: int
    seq: int
    time_ns: int
    price: int
    quantity: int
    venue_order_id: int
    http_status: int
    error_code: int
    order_status: int
    leg: int
    side: int
    trigger: bytes
    detail: str


@dataclass
class OrderState:
    """What the journal knows about one order."""

    seq: int
    venue: int
    leg: int
    side: int
    price: int
    quantity: int
    trigger: bytes
    status: int = lib.ST_ORDER_STATUS_NONE
    answered: bool = False
    never_sent: bool = False
    error_code: int = 0
    venue_order_id: int = 0

    @property
    def outcome_unknown(self) -> bool:
        """Sent, and nobody has said what became of it."""
        if self.never_sent:
            return False
        return not self.answered or self.status == lib.ST_ORDER_STATUS_UNKNOWN

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, "?")


def _record(c: CData) -> Record:
    return Record(
        type=int(c.type), venue=int(c.venue), seq=int(c.seq), time_ns=int(c.time_ns),
        price=int(c.price), quantity=int(c.quantity),
        venue_order_id=int(c.venue_order_id), http_status=int(c.http_status),
        error_code=int(c.error_code), order_status=int(c.order_status),
        leg=int(c.leg), side=int(c.side), trigger=bytes(c.trigger),
        detail=ffi.string(c.detail).decode(errors="replace"),
    )


class Journal:
    """One journal file, open for appending (by the native venue) and reading.

    `capacity` (records) sizes a new file only; the daemon takes it from
    `[engine] journal_records`. An existing journal keeps the capacity it was made with.
    """

    def __init__(self, path: str | Path, capacity: int = 1 << 16) -> None:
        self.path = Path(path)
        self.cdata = ffi.new("st_journal *")
        # Opened here without following a symlink; the journal owns the descriptor.
        fd = safefs.open_file(self.path, os.O_RDWR | os.O_CREAT)
        native.ensure(lib.st_journal_open_fd(self.cdata, fd, capacity), f"journal {self.path}")

    def __len__(self) -> int:
        return int(lib.st_journal_count(self.cdata))

    def __iter__(self) -> Iterator[Record]:
        for i in range(len(self)):
            yield _record(lib.st_journal_get(self.cdata, i))

    @property
    def next_seq(self) -> int:
        return int(lib.st_journal_next_seq(self.cdata))

    def sync(self) -> None:
        native.ensure(lib.st_journal_sync(self.cdata), f"msync {self.path}")

    def close(self) -> None:
        lib.st_journal_close(self.cdata)

    def orders(self) -> dict[int, OrderState]:
        """Every order in the journal with what became of it, by client id."""
        return fold(self)

    def unknown(self) -> list[OrderState]:
        """Orders sent whose outcome nobody has told us."""
        return [o for o in self.orders().values() if o.outcome_unknown]

    def open_orders(self, resting_legs: set[int]) -> list[OrderState]:
        """Orders the venue may still hold on its book: NEW or partly filled, or
        accepted without a state (ACK answers) on a leg that can rest."""
        open_states = (lib.ST_ORDER_STATUS_NEW, lib.ST_ORDER_STATUS_PARTIAL)
        return [o for o in self.orders().values() if o.answered and (
            o.status in open_states or
            (o.status == lib.ST_ORDER_STATUS_ACCEPTED and o.leg in resting_legs))]


def fold(records: Iterator[Record] | Journal) -> dict[int, OrderState]:
    orders: dict[int, OrderState] = {}
    for r in records:
        if r.type == ORDER:
            orders[r.seq] = OrderState(r.seq, r.venue, r.leg, r.side, r.price, r.quantity,
                                       r.trigger)
            continue
        order = orders.get(r.seq)
        if order is None:
            continue
        if r.type == SEND_FAILED:
            order.never_sent = True
        elif r.type in (ACK, RESOLVED):
            order.answered = True
            order.status = r.order_status
            order.error_code = r.error_code
            order.venue_order_id = r.venue_order_id or order.venue_order_id
        elif r.type == TIMEOUT and not order.answered:
            order.status = lib.ST_ORDER_STATUS_UNKNOWN
    return orders
