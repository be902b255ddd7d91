# SPDX-License-Identifier: MIT
"""An OKX session beyond the venue suite's TestOkx: when its REST side fails, a
clear error naming what (the connection left unready, reconciliation naming
the order it could not ask about); its open orders (REST orders-pending)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator._native import lib
from orchestrator.demo import free_port
from orchestrator.venues import okx
from orchestrator.venues.okx.session import OkxSession
from orchestrator.venues.session import OpenOrder, VenueError
from tests.simutil import Sim, run_sim
from tests.tlsutil import Pki
from tests.venueutil import OKX_LEG, TIMEOUT, okx_venue, txid


@pytest.fixture(scope="module")
def sim(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with run_sim(tmp_path_factory.mktemp("sim"), pki, "--outcome-unknown-regex", "^st") as s:
        yield s


def test_venue_clock_unreachable_is_a_clear_error(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    venue = okx_venue(sim.ws_port, sim.rest_port, pki.root_ca, tmp_path / "journal",
                      rest_url=f"https://localhost:{free_port()}", wait_ready=False)
    with pytest.raises(VenueError, match=r"okx REST /api/v5/public/time"):
        venue.session.run_until(lambda: False, TIMEOUT)
    assert venue.session.ready == set()


def test_reconcile_names_the_order_it_could_not_ask(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    venue = okx_venue(sim.ws_port, sim.rest_port, pki.root_ca, tmp_path / "journal")
    assert venue.desk.fire(txid(40)) == 1
    venue.wait(("unknown",))
    [order] = venue.journal.unknown()
    assert isinstance(venue.session, OkxSession)
    venue.session.rest_url = f"https://localhost:{free_port()}"   # the venue's REST is down
    with pytest.raises(VenueError, match=rf"okx order query for {order.seq}: okx REST"):
        venue.session.reconcile([order])
    assert venue.journal.unknown() == [order]


def test_open_orders_list_the_resting_ones(sim: Sim, pki: Pki, tmp_path: Path) -> None:
    """What host failover's takeover asks (the open_orders capability)."""
    venue = okx_venue(sim.ws_port, sim.rest_port, pki.root_ca, tmp_path / "journal",
                      leg=replace(OKX_LEG, time_in_force="GTC", offset_bps=-100),
                      client_prefix="ab")             # not the simulator's unknown-outcome ^st
    venue.fire_and_wait(41)
    [order] = venue.journal.open_orders({0})
    found = venue.session.ask_open_orders({"BTC-USDT"})
    assert found == {"BTC-USDT": [OpenOrder(okx.client_order_id("ab", order.seq),
                                            lib.ST_ORDER_STATUS_NEW)]}
    venue.session.cancel([order])
    assert venue.session.ask_open_orders({"BTC-USDT"}) == {"BTC-USDT": []}
