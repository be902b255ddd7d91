# SPDX-License-Identifier: MIT
"""Bybit's REST side against the simulator over real TLS: the clock and the signed
order query, and what a refusal may say."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.venues import Secret, bybit
from tests import simutil
from tests.simutil import Sim, run_sim
from tests.tlsutil import Pki, client_context


@pytest.fixture(scope="module")
def sim(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with run_sim(tmp_path_factory.mktemp("sim"), pki) as s:
        yield s


def rest(sim: Sim, pki: Pki) -> bybit.Rest:
    return bybit.Rest(f"https://localhost:{sim.rest_port}", client_context(pki.root_ca))


def test_signed_query_answers_and_the_clock_is_read(sim: Sim, pki: Pki) -> None:
    api = rest(sim, pki)
    now = api.server_time_ms()
    credentials = bybit.Credentials(simutil.BYBIT_KEY, Secret(simutil.BYBIT_SECRET))
    assert api.orders(credentials, {"orderLinkId": "st-none"}, now) == []


def test_a_refusal_names_its_code_but_never_the_api_key(sim: Sim, pki: Pki) -> None:
    """Bybit's 10004 message quotes the signed text, API key included ("error sign!
    origin_string[...]"): our error keeps the code and leaves the key out."""
    api = rest(sim, pki)
    credentials = bybit.Credentials(simutil.BYBIT_KEY, Secret("not-the-secret"))
    with pytest.raises(bybit.BybitError, match="10004") as refused:
        api.orders(credentials, {"orderLinkId": "st-none"}, api.server_time_ms())
    assert simutil.BYBIT_KEY not in str(refused.value)
    stale = bybit.Credentials(simutil.BYBIT_KEY, Secret(simutil.BYBIT_SECRET))
    with pytest.raises(bybit.BybitError, match="10002"):
        api.orders(stale, {"orderLinkId": "st-none"}, api.server_time_ms() - 60_000)
