# SPDX-License-Identifier: MIT
"""[ha] (docs/HA.md §4.1): a good section loads with its defaults; each broken
one fails with one line naming the key. No etcd needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.errors import ConfigError
from tests.test_config import GOOD, write

HA = """
[ha]
name = "host-a"
endpoints = ["http://198.18.20.1:2379", "http://198.18.20.2:2379"]
"""


def test_without_ha_nothing_changes(tmp_path: Path) -> None:
    assert load_config(write(tmp_path)).ha is None


def test_good_ha_loads_with_the_documented_defaults(tmp_path: Path) -> None:
    ha = load_config(write(tmp_path, GOOD + HA + 'peer_state_dir = "peer"\n')).ha
    assert ha is not None
    assert ha.name == "host-a" and ha.key == "/stratum/leader"
    assert ha.endpoints == ("http://198.18.20.1:2379", "http://198.18.20.2:2379")
    assert (ha.ttl, ha.renew_interval, ha.request_timeout, ha.margin) == (3, 0.5, 0.5, 0.5)
    assert ha.peer_state_dir == tmp_path / "peer"


BROKEN = {
    "unknown key": ("tll = 3\n", r"ha\.tll: unknown key"),
    "empty endpoints": (None, r"ha\.endpoints: empty list"),
    "bad endpoint": (None, r"ha\.endpoints\[1\]: 'htp://x': expected http://HOST:PORT"),
    "ttl below etcd's minimum": ("ttl = 1\n", r"ha\.ttl: 1 is not in 2\.\.3600"),
    "ttl not above margin": ("ttl = 3\nmargin = 3\n", r"ha\.margin: 3 must be below ttl 3"),
    "renewal cannot fit": ("renew_interval = 1.5\nrequest_timeout = 1\n",
                           r"ha\.renew_interval: renew_interval \+ 2 x request_timeout \(3\.5\) "
                           r"must be at most ttl - margin \(2\.5\)"),
    "relative key": ('key = "leader"\n', r"ha\.key: 'leader': must start with '/'"),
    "bad name": ('name2 = 1\n', r"ha\.name2: unknown key"),
    "name with a space": (None, r"ha\.name: 'a b': 1 to 32 of"),
    "missing name": (None, r"ha\.name: missing"),
}


def _text(case: str, extra: str | None) -> str:
    if case == "empty endpoints":
        return HA.replace('["http://198.18.20.1:2379", "http://198.18.20.2:2379"]', "[]")
    if case == "bad endpoint":
        return HA.replace('"http://198.18.20.2:2379"', '"htp://x"')
    if case == "name with a space":
        return HA.replace('"host-a"', '"a b"')
    if case == "missing name":
        return HA.replace('name = "host-a"\n', "")
    return HA + (extra or "")


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_ha_fails_naming_the_key(tmp_path: Path, case: str) -> None:
    extra, pattern = BROKEN[case]
    with pytest.raises(ConfigError, match=pattern) as info:
        load_config(write(tmp_path, GOOD + _text(case, extra)))
    assert "\n" not in str(info.value)
