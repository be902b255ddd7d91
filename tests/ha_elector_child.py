# SPDX-License-Identifier: MIT
"""An Elector alone, for tests/test_ha_elector.py (run inside a namespace):
`python -m tests.ha_elector_child NAME KEY TTL ENDPOINT...`. Prints one JSON
line per Tenure with the time.monotonic_ns() it was told; stdin lines
`resign`, `state` and `quit` drive it."""

from __future__ import annotations

import json
import sys
import time

from orchestrator.config import HaConfig
from orchestrator.ha import Elector, Tenure


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> int:
    name, key, ttl, *endpoints = sys.argv[1:]
    cfg = HaConfig(name, tuple(endpoints), key, int(ttl), 0.5, 0.5, 0.5, None)

    def changed(t: Tenure) -> None:
        say(kind="tenure", epoch=t.epoch, until=t.armed_until_ns, reason=t.reason,
            mono_ns=time.monotonic_ns())

    elector = Elector(cfg, changed)
    elector.start()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "resign":
            say(kind="resigned", ok=elector.resign(), mono_ns=time.monotonic_ns())
        elif cmd == "state":
            s = elector.state()
            say(kind="state", role=s.role, epoch=s.epoch, holder=s.holder, peers=s.peers,
                reason=s.reason, etcd_ok=s.etcd_ok)
        elif cmd == "quit":
            break
    elector.close()
    say(kind="closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
