# SPDX-License-Identifier: MIT
"""Takeover: what a host does after winning the lease and before it arms
(docs/HA.md §4.6).

The old host's journal, when its state folder is reachable (`[ha]
peer_state_dir`: a folder the operator shares, e.g. read-only NFS), tells
0. first, whatever the old host: the venue's open orders (where its adapter
   has the `open_orders` capability: Binance openOrders.status per symbol,
   Kraken OpenOrders):
   ours of older tenures (client id // 10^9 is the epoch) are logged, the
   venue being the ground truth for what is live;
   a venue without it: a logged limit;
1. which triggers it traded: they go into our engine's seen-sets (our own
   journal's went in at start: `remember_own_triggers`), so a transaction
   fired before is never fired again here, however late it reaches us;
2. which of its orders have an unknown outcome: we ask the venue about each
   (Binance order.status by client id, Kraken QueryOrders by cl_ord_id) and
   journal the answer in our journal.
Unreachable: said in the log, and we arm anyway (the venue's open orders are
the ground truth for what is live).
"""

from __future__ import annotations

import logging
from typing import Any

from orchestrator.errors import StratumError
from orchestrator.journal import ORDER, Journal, fold
from orchestrator.venues.registry import ADAPTERS
from orchestrator.venues.session import OpenOrder, VenueError, VenueSession

log = logging.getLogger("stratum")
EPOCH_IDS = 10**9              # client id = epoch x 10^9 + lane x 10^8 + n
RECENT_TRIGGERS = 4096          # the engine's seen-set keeps about this many per venue
RECONCILE_TIMEOUT_S = 0.5       # docs/HA.md §4.6: armed within TTL + 1 s


def _ask_open_orders(venue: Any, session: VenueSession,
                     epoch: int) -> dict[str, list[OpenOrder]] | None:
    if not ADAPTERS[venue.profile].capabilities.open_orders:
        log.warning("ha: takeover epoch=%d %s: open orders of older tenures not reconciled "
                    "(no open-orders query for this venue yet)", epoch, venue.name)
        return None
    return session.ask_open_orders({leg.symbol for leg in venue.legs})


def _log_open_orders(venue: Any, session: Any, epoch: int,
                     found: dict[str, list[OpenOrder]]) -> None:
    symbols = {leg.symbol for leg in venue.legs}
    if not session.run_until(lambda: set(found) >= symbols, RECONCILE_TIMEOUT_S):
        log.warning("ha: takeover epoch=%d %s: openOrders.status: no answer in %g s", epoch,
                    venue.name, RECONCILE_TIMEOUT_S)
        return
    listed = [o for orders in found.values() for o in orders]
    prefix = venue.client_prefix
    ours = [o.client_id for o in listed if o.client_id.startswith(prefix)]
    older = [c for c in ours if c[len(prefix):].isdigit()
             and int(c[len(prefix):]) // EPOCH_IDS != epoch]
    log.info("ha: takeover epoch=%d venue=%s open=%d ours=%d older_tenures=%d%s", epoch,
             venue.name, len(listed), len(ours), len(older),
             f" ({', '.join(older[:5])})" if older else "")


def takeover(daemon: Any, epoch: int) -> None:
    """Reconciles the old host's orders before this host arms for `epoch`."""
    pairs = list(zip(daemon.config.venues, daemon.sessions, strict=True))
    # the venues' lists are asked first and read last: their round trips overlap ours
    asked = [_ask_open_orders(venue, session, epoch) for venue, session in pairs]
    _peer_journals(daemon, epoch)
    for (venue, session), found in zip(pairs, asked, strict=True):
        if found is not None:
            _log_open_orders(venue, session, epoch, found)


def remember_own_triggers(daemon: Any) -> None:
    """At start, with [ha]: our own journals' triggers into the seen-sets. A host
    restarted since it last traded has an empty seen-set, and the peers may
    announce those transactions again once it holds the lease (off the
    handover's path: a standby's journal takes no new order)."""
    for session in daemon.sessions:
        triggers = list(dict.fromkeys(r.trigger for r in session.desk.journal
                                      if r.type == ORDER))
        daemon.engine.seen(triggers[-RECENT_TRIGGERS:])


def _peer_journals(daemon: Any, epoch: int) -> None:
    peer_dir = daemon.config.ha.peer_state_dir
    if peer_dir is None:
        log.warning("ha: takeover epoch=%d: no [ha] peer_state_dir: the old host's "
                    "triggers and unknown orders are not reconciled", epoch)
        return
    for venue, session in zip(daemon.config.venues, daemon.sessions, strict=True):
        path = peer_dir / f"{venue.name}.journal"
        if not path.is_file():
            log.warning("ha: takeover epoch=%d %s: %s not found: not reconciled", epoch,
                        venue.name, path)
            continue
        try:
            journal = Journal(path)
        except (OSError, StratumError) as exc:
            log.warning("ha: takeover epoch=%d %s: %s unreadable (%s): not reconciled",
                        epoch, venue.name, path, exc)
            continue
        try:
            records = list(journal)
        finally:
            journal.close()
        triggers = list(dict.fromkeys(r.trigger for r in records if r.type == ORDER))
        daemon.engine.seen(triggers[-RECENT_TRIGGERS:])
        unknown = [o for o in fold(iter(records)).values() if o.outcome_unknown]
        resolved: dict[int, int] = {}
        if unknown and ADAPTERS[venue.profile].capabilities.reconcile:
            try:
                resolved = session.reconcile(unknown, timeout=RECONCILE_TIMEOUT_S)
            except VenueError as exc:
                log.warning("ha: takeover %s: %s", venue.name, exc)
        elif unknown:
            log.warning("ha: takeover epoch=%d %s: %d order(s) of unknown outcome not "
                        "reconciled (no order status query for this venue yet)", epoch,
                        venue.name, len(unknown))
        log.info("ha: takeover epoch=%d venue=%s triggers=%d unknown=%d resolved=%d", epoch,
                 venue.name, len(triggers), len(unknown), len(resolved))
