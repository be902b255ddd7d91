# SPDX-License-Identifier: MIT
"""An OKX session when its REST side fails: a clear error naming what, the
connection left unready, and reconciliation that names the order it could not
ask about (the rest of the session is the venue suite's TestOkx)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.demo import free_port
from orchestrator.venues.okx.session import OkxSession
from orchestrator.venues.session import VenueError
from tests.simutil import Sim, run_sim
from tests.tlsutil import Pki
from tests.venueutil import TIMEOUT, okx_venue, txid


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
