# SPDX-License-Identifier: MIT
"""Orders whose outcome became unknown while the daemon runs (no answer in
`ack_timeout`, or their connection dropped), asked about until the venue says.

An unknown order stays open in the desk's risk until it is resolved, so without
this a few lost answers would stop a desk until the next start. Each one is
asked about (`VenueSession.ask_outcome`, without waiting) once its venue has a
ready connection and ASK_AFTER_S has passed (an order still on its way has
reached the venue by then), and again every ASK_AGAIN_S until the venue has
answered; the answer is journaled and frees the order in risk.
"""

from __future__ import annotations

import logging

from orchestrator.journal import STATUS_NAMES
from orchestrator.venues.session import VenueSession

log = logging.getLogger("stratum")
ASK_AFTER_S = 1.0
ASK_AGAIN_S = 10.0


class OutcomeAsker:
    """One venue's orders of unknown outcome, and when each is asked about next."""

    def __init__(self, name: str, session: VenueSession) -> None:
        self.name, self.session = name, session
        self.wanted: dict[int, tuple[int, float]] = {}   # client id -> (leg, ask at)

    def tick(self, now: float) -> None:
        """Takes the session's new unknown orders; asks about those due."""
        session = self.session
        for seq, leg in session.state.unknown:
            self.wanted[seq] = (leg, now + ASK_AFTER_S)
        session.state.unknown.clear()
        for seq, (leg, at) in list(self.wanted.items()):
            if seq in session.resolved:
                del self.wanted[seq]
                log.info("%s: order %d of unknown outcome reconciled: %s", self.name, seq,
                         STATUS_NAMES.get(session.resolved[seq], "?"))
            elif at <= now and session.ready:
                self.wanted[seq] = (leg, now + ASK_AGAIN_S)
                session.ask_outcome(seq, leg, lambda: None)
