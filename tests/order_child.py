# SPDX-License-Identifier: MIT
"""The process tests/test_crash.py kills: it fires N triggers at exchange_sim
over a Binance desk, says which orders it sent, then keeps its loop running
until it is killed (the simulator holds the answers back).

    python -m tests.order_child WS_PORT ROOT_CA JOURNAL N
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.venueutil import HMAC, binance_venue, txid


def main() -> None:
    ws_port, root_ca, journal, count = sys.argv[1:5]
    venue = binance_venue(int(ws_port), Path(root_ca), Path(journal), HMAC)
    for n in range(int(count)):
        assert venue.desk.fire(txid(1000 + n)) == 1
    sent = [e.seq for e in venue.desk.events() if e.kind == "sent"]
    print("SENT", *sent, flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        venue.session.step(0.01)


if __name__ == "__main__":
    main()
