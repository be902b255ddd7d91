# SPDX-License-Identifier: MIT
"""The journal file: ids above any earlier file's, whole records only after a
torn write, refusal of what is not a journal, and a clear error when full."""

from __future__ import annotations

import struct
import time
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator._native import lib
from orchestrator.desk import Desk, RiskLimits
from orchestrator.errors import NativeError
from orchestrator.hotline import Connection, Loop, Trust
from orchestrator.journal import RESOLVED, Journal
from orchestrator.venues import binance
from tests.tlsutil import Pki

HEADER, RECORD = lib.ST_JOURNAL_HEADER_SIZE, lib.ST_JOURNAL_RECORD_SIZE


def desk_on(journal: Journal, pki: Pki) -> Desk:
    conn = Connection(Loop(), "wss://localhost:9/", Trust(str(pki.root_ca)), address="127.0.0.1")
    return Desk(binance.SCHEMA, conn, journal, RiskLimits(Decimal(1), Decimal(1)),
                price_decimals=2, quantity_decimals=8)


def test_new_journal_starts_above_the_clock(tmp_path: Path) -> None:
    before = time.time_ns() // 1_000_000 * 1000
    journal = Journal(tmp_path / "j", capacity=16)
    assert before <= journal.next_seq < 10**16        # fits the client id slot
    assert len(journal) == 0
    assert (tmp_path / "j").stat().st_mode & 0o077 == 0


def test_records_survive_reopen_and_a_torn_one_is_ignored(tmp_path: Path, pki: Pki) -> None:
    path = tmp_path / "j"
    journal = Journal(path, capacity=16)
    desk = desk_on(journal, pki)
    for seq in (11, 12, 13):
        desk.resolve(seq, lib.ST_ORDER_STATUS_FILLED, venue_order_id=seq * 10)
    journal.close()
    data = bytearray(path.read_bytes())
    third = HEADER + 2 * RECORD
    data[third:third + 4] = b"\0\0\0\0"              # its commit word never got written
    path.write_bytes(bytes(data))
    records = list(Journal(path))
    assert [(r.type, r.seq, r.venue_order_id) for r in records] == [
        (RESOLVED, 11, 110), (RESOLVED, 12, 120)]


@pytest.mark.parametrize("damage", ["garbage", "record_size", "capacity", "short"])
def test_what_is_not_a_journal_is_refused(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "j"
    Journal(path, capacity=4).close()
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data[:8] = b"NOTAJRNL"
    elif damage == "record_size":
        struct.pack_into("<I", data, 12, 64)
    elif damage == "capacity":
        struct.pack_into("<Q", data, 16, 10**6)       # more than the file holds
    else:
        data = data[:100]
    path.write_bytes(bytes(data))
    with pytest.raises(NativeError) as info:
        Journal(path)
    assert info.value.name == "ST_EJOURNAL_CORRUPT"


def test_full_journal_is_a_clear_error(tmp_path: Path, pki: Pki) -> None:
    journal = Journal(tmp_path / "j", capacity=2)
    desk = desk_on(journal, pki)
    desk.resolve(1, lib.ST_ORDER_STATUS_FILLED)
    desk.resolve(2, lib.ST_ORDER_STATUS_FILLED)
    with pytest.raises(NativeError, match="journal is full") as info:
        desk.resolve(3, lib.ST_ORDER_STATUS_FILLED)
    assert info.value.name == "ST_EJOURNAL_FULL"
