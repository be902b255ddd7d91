# SPDX-License-Identifier: MIT
"""Host failover: holding (or not holding) the etcd election key. docs/HA.md.

One job: an `Elector` thread campaigns for `[ha] key` with a lease of `ttl`
seconds, renews it, and tells its owner each change as a `Tenure` (epoch and
the CLOCK_MONOTONIC deadline the engine may trade until). It never touches the
engine itself: the daemon posts what it is told (one producer on the ring).

Fencing (docs/HA.md §3): the deadline of a renewal is `s + ttl - margin`, `s`
read before the keepalive was sent, so the engine stops before etcd can let
the key go; the engine enforces it by itself, without this thread. A standby
arms only once its own transaction created the key.

etcd is reached through its v3 JSON gateway with etcd3gw (docs/HA.md §2), one
client per endpoint; an endpoint that fails or times out is left for the next.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import etcd3gw
import requests
from etcd3gw.exceptions import Etcd3Exception

from orchestrator.config import HaConfig
from orchestrator.errors import StratumError

log = logging.getLogger("stratum.ha")
MAX_EPOCH = 9_999_999          # ids stay 16 digits (st_journal.h ST_JOURNAL_MAX_EPOCH)
WATCH_SILENCE_S = 10.0        # a watch stream quiet this long is reopened
API_PATH = "/v3/"              # etcd 3.4+ gateway (measured: 3.4 serves /v3/ and /v3beta/)
ETCD_ERRORS = (Etcd3Exception, requests.RequestException, ValueError, KeyError)


class HaError(StratumError, RuntimeError):
    """etcd refused or did not answer in time."""


@dataclass(frozen=True)
class Tenure:
    """What the daemon posts to the engine: arm until armed_until_ns, or disarm (0)."""
    epoch: int                  # the election revision; 0 before the first win
    armed_until_ns: int         # time.monotonic_ns(); 0 disarms
    reason: str                 # won, renewed, resigned, deadline, lost key, ...


@dataclass(frozen=True)
class HaState:
    role: str                   # active, standby or disarmed
    epoch: int
    holder: str | None          # who holds the key, as last seen
    peers: tuple[str, ...]      # hosts registered under key/hosts/
    lease_remaining_s: float    # until our deadline (active only)
    reason: str
    etcd_ok: bool


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(b64: str) -> str:
    return base64.b64decode(b64).decode(errors="replace")


class Elector:
    def __init__(self, cfg: HaConfig, on_change: Callable[[Tenure], None]) -> None:
        self.cfg, self.on_change = cfg, on_change
        self.clients = [self._client(url) for url in cfg.endpoints]
        self.current = 0
        self.lease: int | None = None
        self.epoch = 0
        self.armed_until_ns = 0
        self.holder: str | None = None
        self.peers: tuple[str, ...] = ()
        self.reason = "starting"
        self.etcd_ok = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._hold_off_until_ns = 0
        self._alive_from = 0               # monotonic ns before our lease's last renewal
        self._lock = threading.Lock()     # the fields status reads, and resign vs the thread
        self._thread = threading.Thread(target=self._run, name="ha-elector", daemon=True)
        self._watcher: threading.Thread | None = None
        self._watch_answer: requests.Response | None = None

    def _client(self, url: str) -> etcd3gw.Etcd3Client:
        parts = urlsplit(url)
        return etcd3gw.Etcd3Client(host=parts.hostname or "", port=parts.port or 2379,
                                   protocol=parts.scheme, timeout=self.cfg.request_timeout,
                                   api_path=API_PATH)

    # -- the owner's side ---------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def state(self) -> HaState:
        with self._lock:
            armed = self.armed_until_ns > time.monotonic_ns()
            role = "active" if armed else "standby" if self.etcd_ok and self.holder \
                and self.holder != self.cfg.name else "disarmed"
            remaining = max(0.0, (self.armed_until_ns - time.monotonic_ns()) / 1e9)
            return HaState(role, self.epoch, self.holder, self.peers, round(remaining, 3),
                           self.reason, self.etcd_ok)

    def resign(self, hold_off: float | None = None) -> bool:
        """Lets the key go at once (lease revoked): the standby's watch sees the key
        deleted and campaigns. The caller has disarmed the engine first. We do not
        campaign again for hold_off seconds (default 2 x ttl). True if etcd took it."""
        hold = self.cfg.ttl * 2 if hold_off is None else hold_off
        with self._lock:
            lease, self.lease = self.lease, None
            self._hold_off_until_ns = time.monotonic_ns() + int(hold * 1e9)
            if self.armed_until_ns:
                self._tell(Tenure(self.epoch, 0, "resigned"))
            self.holder = None if self.holder == self.cfg.name else self.holder
        if lease is None:
            return False
        try:
            self._call(lambda c: c.post(c.get_url("/kv/lease/revoke"), json={"ID": lease}))
        except HaError as exc:
            log.warning("ha: resign: %s (the lease runs out by itself within ttl)", exc)
            return False
        return True

    def close(self) -> None:
        """Resigns if holding, stops the thread (bounded by one request timeout)."""
        if self.armed_until_ns:
            self.resign()
        self._stop.set()
        self._wake.set()
        if self._watch_answer is not None:
            self._watch_answer.close()
        if self._thread.is_alive():
            self._thread.join(timeout=self.cfg.request_timeout * 3 + 1)

    # -- etcd -----------------------------------------------------------------------

    def _call(self, fn: Callable[[etcd3gw.Etcd3Client], Any]) -> Any:
        """fn on the current endpoint, then on each other one; HaError if none answers."""
        errors = []
        for _ in range(len(self.clients)):
            client = self.clients[self.current]
            try:
                return fn(client)
            except ETCD_ERRORS as exc:
                errors.append(f"{self.cfg.endpoints[self.current]}: {_short(exc)}")
                self.current = (self.current + 1) % len(self.clients)
        raise HaError("; ".join(errors))

    def _why_not(self) -> str:
        """After every endpoint failed: a member that answers /version but not a
        lease request has no leader (quorum lost); none answering is unreachable."""
        for client in self.clients:
            try:
                client.session.get(client.base_url + "/version",
                                   timeout=self.cfg.request_timeout).raise_for_status()
                return "no quorum"
            except requests.RequestException:
                continue
        return "etcd unreachable"

    def _grant(self) -> None:
        ttl = self.cfg.ttl
        self._alive_from = 0             # a fresh lease: its first keepalive sets it
        answer = self._call(lambda c: c.post(c.get_url("/lease/grant"), json={"TTL": ttl}))
        self.lease = int(answer["ID"])
        lease = self.lease
        self._call(lambda c: c.post(c.get_url("/kv/put"), json={
            "key": _b64(f"{self.cfg.key}/hosts/{self.cfg.name}"), "value": _b64(self.cfg.name),
            "lease": lease}))

    def _campaign(self) -> int:
        """Creates the key if nobody holds it: our epoch (its revision), else 0."""
        key, lease = _b64(self.cfg.key), self.lease
        txn = {"compare": [{"key": key, "result": "EQUAL", "target": "CREATE",
                            "create_revision": 0}],
               "success": [{"request_put": {"key": key, "value": _b64(self.cfg.name),
                                            "lease": lease}}],
               "failure": [{"request_range": {"key": key}}]}
        answer = self._call(lambda c: c.transaction(txn))
        if answer.get("succeeded", False):     # the gateway leaves out a false
            self.holder = self.cfg.name
            return int(answer["header"]["revision"])
        kvs = answer["responses"][0]["response_range"].get("kvs", [])
        self.holder = _text(kvs[0]["value"]) if kvs else None
        return 0

    def _still_ours(self) -> bool:
        """The key is ours, of this epoch (after a deadline: quorum came back)."""
        key = _b64(self.cfg.key)
        answer = self._call(lambda c: c.post(c.get_url("/kv/range"), json={"key": key}))
        kvs = answer.get("kvs", [])
        return bool(kvs) and int(kvs[0].get("create_revision", 0)) == self.epoch and \
            _text(kvs[0].get("value", "")) == self.cfg.name

    def _keepalive(self) -> int:
        """The lease's TTL after the renewal; 0 when etcd no longer has it."""
        lease = self.lease
        try:
            answer = self._call(lambda c: c.post(c.get_url("/lease/keepalive"),
                                                 json={"ID": lease}))
        except HaError as exc:
            if "lease not found" in str(exc):
                return 0
            raise
        return int(answer.get("result", {}).get("TTL", 0))

    def _read_peers(self) -> None:
        prefix = f"{self.cfg.key}/hosts/"
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        answer = self._call(lambda c: c.post(c.get_url("/kv/range"), json={
            "key": _b64(prefix), "range_end": _b64(end), "keys_only": True}))
        names = sorted(_text(kv["key"])[len(prefix):] for kv in answer.get("kvs", []))
        self.peers = tuple(n for n in names if n != self.cfg.name)

    # -- the thread ---------------------------------------------------------------------

    def _tell(self, tenure: Tenure) -> None:
        self.armed_until_ns = tenure.armed_until_ns
        self.reason = tenure.reason
        self.on_change(tenure)

    def _run(self) -> None:
        self._start_watch()
        while not self._stop.is_set():
            try:
                self._step()
                self.etcd_ok = True
            except HaError as exc:
                self._failed(exc)
            wait = self.cfg.renew_interval
            if self.armed_until_ns and not self.etcd_ok:
                wait = 0.02        # retry at once while the deadline allows (§3 rule 3)
            self._wake.wait(wait)
            self._wake.clear()

    def _step(self) -> None:
        if self.lease is None:
            if time.monotonic_ns() < self._hold_off_until_ns:
                return
            self._grant()
        if self.armed_until_ns or (self.epoch and self.holder == self.cfg.name):
            self._renew()
            return
        if time.monotonic_ns() < self._hold_off_until_ns:
            return
        # The fence needs `start`: a moment before a renewal etcd took, so that the
        # lease outlives start + ttl. The standby renews every renew_interval; a
        # renewal that recent serves (a campaign woken by the watch saves a trip).
        start = self._alive_from
        if time.monotonic_ns() - start > int(self.cfg.renew_interval * 1e9):
            start = time.monotonic_ns()
            if self._keepalive() <= 0:
                self.lease = None
                return
            self._alive_from = start
        epoch = self._campaign()
        if not epoch:
            self._read_peers()
            self.reason = f"standby: {self.holder} holds the key" if self.holder else "standby"
            return
        if epoch > MAX_EPOCH:
            self.reason = "epoch has more than 7 digits: use a dedicated etcd cluster"
            return
        with self._lock:
            if self.lease is None:                 # resigned meanwhile
                return
            self.epoch = epoch
            self._tell(Tenure(epoch, self._deadline(start), "won"))
        with contextlib.suppress(HaError):      # for status only: after the news
            self._read_peers()

    def _deadline(self, sent_ns: int) -> int:
        return sent_ns + int((self.cfg.ttl - self.cfg.margin) * 1e9)

    def _renew(self) -> None:
        start = time.monotonic_ns()
        ttl = self._keepalive()
        if ttl > 0:
            self._alive_from = start
        with self._lock:
            if self.lease is None:                 # resigned meanwhile
                return
            if ttl <= 0:
                self.lease, self.holder = None, None
                self._tell(Tenure(self.epoch, 0, "lost key"))
                return
            # After the deadline (quorum lost?) the same tenure again only if the
            # key is still ours (etcd keeps leases over a quorum loss, measured).
            if self.armed_until_ns <= time.monotonic_ns() and not self._still_ours():
                self.lease, self.holder = None, None
                self._tell(Tenure(self.epoch, 0, "lost key"))
                return
            self._tell(Tenure(self.epoch, self._deadline(start), "renewed"))
        with contextlib.suppress(HaError):      # for status only: never in the way
            self._read_peers()

    def _failed(self, exc: HaError) -> None:
        self.etcd_ok = False
        if self.armed_until_ns and time.monotonic_ns() < self.armed_until_ns:
            return              # retried at once; the engine stops by itself at the deadline
        why = self._why_not()
        with self._lock:
            if self.armed_until_ns:
                self._tell(Tenure(self.epoch, 0, f"deadline: {why}"))
            self.reason = f"{why} ({exc})"

    def _start_watch(self) -> None:
        """A DELETE of the key wakes the campaign at once (the planned handover
        is this path, not the TTL). The loop also polls every renew_interval, so
        a watch that breaks costs time, never correctness. etcd3gw's own watch
        has no timeout on its stream: this one reads the gateway's stream with
        requests, and reopens it when it breaks or stays silent."""
        def watch() -> None:
            request = {"create_request": {"key": _b64(self.cfg.key)}}
            while not self._stop.is_set():
                client = self.clients[self.current]
                try:
                    with client.session.post(
                            client.get_url("/watch"), json=request, stream=True,
                            timeout=(self.cfg.request_timeout, WATCH_SILENCE_S)) as answer:
                        self._watch_answer = answer
                        for line in answer.iter_lines():
                            if self._stop.is_set():
                                return
                            if b'"DELETE"' in line:
                                self._wake.set()
                except (requests.RequestException, OSError, AttributeError):
                    pass        # broken or closed stream: reopened below
                self._stop.wait(self.cfg.renew_interval)
        self._watcher = threading.Thread(target=watch, name="ha-watch", daemon=True)
        self._watcher.start()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return "timed out"
    return text[:120]
