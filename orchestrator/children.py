# SPDX-License-Identifier: MIT
"""Child processes of the harness (the demo, the lab, the tests' simulators and
servers) that end with the process that started them, even one killed with
SIGKILL that runs no clean-up. Not for the daemon `stratum start` leaves running.
"""

from __future__ import annotations

import shutil

# util-linux (Essential on Debian): it sets the parent-death signal and execs argv.
_SETPRIV = shutil.which("setpriv")


def dies_with_parent(argv: list[str]) -> list[str]:
    """argv run so that it gets SIGKILL when its parent dies (plain argv where
    setpriv is missing)."""
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *argv] if _SETPRIV else argv
