# SPDX-License-Identifier: MIT
"""Kraken WS v2 `add_order` and `cancel_order`, authenticated by a token from
REST; order state from REST `QueryOrders` / `OpenOrders`.

The token comes from `POST /0/private/GetWebSocketsToken`, signed with
API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path +
SHA256(nonce + postdata))). Kraken refuses a nonce that is not above the
last one it saw for the key, so ours never goes backwards, even across
restarts: the last nonce used is kept in a file and the next is above both
it and the clock. Orders carry the token; they are not signed one by one.

Kraken's "Spot Websockets Authentication" guide: the token "can be used ...
for the duration of the websockets connection" and "should be used within
15 minutes of creation"; its WebSocket overview: "Tokens are short-lived;
obtain a fresh token on each connection." So the session fetches one on
every (re)open and the order templates are replaced with it before the
connection is marked ready (Desk.replace_template).

`cancel_order` (WS v2): "The orders to be cancelled can be identified by a
range of client or Kraken identifiers" -- we send `cl_ord_id`, "A list of
client cl_ord_id identifiers". An order of unknown outcome has no Kraken id
we heard of, so `QueryOrders` is asked by `cl_ord_id` ("cl_ord_id ...
Kraken uses this identifier to provide status updates back to the client",
the cl_ord_id guide); its answer's `status` is one of pending, open, closed,
canceled, expired.

Rate limits ("Spot Trading Limits"): "Each client has a rate counter per
pair ... When the rate counter threshold is reached, the engine will
generate EOrder:Rate limit exceeded". The answer says not when to retry; the
counter decays by at least 1 a second (the starter tier's rate; higher tiers
decay faster), so the desk's default backoff of 1 s (ST_DESK_DEFAULT_BACKOFF_MS,
native/include/st_desk.h) frees room for at least one more order.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import json
import os
import ssl
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestrator import safefs
from orchestrator._native import lib
from orchestrator.errors import ConfigError, StratumError
from orchestrator.venues import (
    CLIENT_ID_DIGITS,
    AnswerSchema,
    BookSpec,
    Field,
    Leg,
    Profile,
    RateLimit,
    Rule,
    Secret,
    Slot,
    Template,
    check_text,
    fetch_json,
    render_json,
    slot_value,
)

WS_URL = "wss://ws-auth.kraken.com:443/v2"
REST_URL = "https://api.kraken.com"
TOKEN_PATH = "/0/private/GetWebSocketsToken"
QUERY_ORDERS_PATH = "/0/private/QueryOrders"
OPEN_ORDERS_PATH = "/0/private/OpenOrders"
# Requests Python sends on an order connection (cancel_order) take req_ids
# above any client id (ST_ORDER_CLIENT_ID_DIGITS digits), so the desk never
# takes their answers for an order's.
CONTROL_REQ_ID_BASE = 10**CLIENT_ID_DIGITS
# Kraken meters orders per pair with a decaying counter that depends on the
# account tier; this is a conservative start (Starter tier: 60, decay 1/s).
ORDER_LIMITS = (RateLimit(60, 60, "orders/min (starter tier)"),)
# Kraken answers with error strings; these codes stand for their classes.
EORDER = -30001
EAPI_AUTH = -30002
RATE_LIMIT = -30003
OTHER = -30004
UNKNOWN_OUTCOME = -30005
# QueryOrders' order states.
ORDER_STATUS = {"pending": lib.ST_ORDER_STATUS_NEW, "open": lib.ST_ORDER_STATUS_NEW,
                "closed": lib.ST_ORDER_STATUS_FILLED, "canceled": lib.ST_ORDER_STATUS_CANCELED,
                "expired": lib.ST_ORDER_STATUS_EXPIRED}
# The answer to add_order: {"method": "add_order", "req_id": 7, "success": true,
# "result": {"order_id": "O...", "cl_ord_id": "..."}} or {..., "success": false,
# "error": "EOrder:Insufficient funds"}. The first matching prefix decides. An
# internal error or an unavailable service leaves the order's fate open: it is
# asked about (QueryOrders), never assumed refused.
SCHEMA = AnswerSchema(
    request_id=Field("req_id"),
    status=Field("success"),
    error_text=Field("error"),
    text_codes=(("EOrder:Rate limit", RATE_LIMIT), ("EAPI:Rate limit", RATE_LIMIT),
                ("EGeneral:Too many requests", RATE_LIMIT), ("EAPI:", EAPI_AUTH),
                ("EGeneral:Permission", EAPI_AUTH), ("EOrder:", EORDER),
                ("EGeneral:Internal error", UNKNOWN_OUTCOME), ("EService:", UNKNOWN_OUTCOME)),
    default_code=OTHER,
    order_id=Field("order_id", "result", 2),
    rules=(Rule(RATE_LIMIT, "rate_limit"), Rule(EAPI_AUTH, "auth"),
           Rule(UNKNOWN_OUTCOME, "unknown")),
)
# The public ticker channel with event_trigger "bbo" (Kraken "Spot WebSocket
# v2", ticker: "bbo: on a change in the best-bid-offer price levels"):
# {"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":
# 0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.4,...}]}, prices as
# JSON numbers; subscription acks and heartbeats carry no bid and are ignored.
BOOK = BookSpec(
    bid=Field("bid", depth=3), ask=Field("ask", depth=3),
    subscribe=lambda symbol: json.dumps(
        {"method": "subscribe",
         "params": {"channel": "ticker", "symbol": [symbol], "event_trigger": "bbo"}},
        separators=(",", ":")),
    default_url=lambda symbol: "wss://ws.kraken.com/v2",
)
PROFILE = Profile("kraken", SCHEMA, WS_URL, ORDER_LIMITS, book=BOOK)
MAX_PREFIX = 18 - CLIENT_ID_DIGITS  # cl_ord_id free text is at most 18 characters


class KrakenError(StratumError):
    """Kraken refused a REST request; the message carries its error strings."""


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: Secret        # base64, as Kraken issues it

    def __repr__(self) -> str:
        return "Credentials(api_key=<hidden>, secret=<hidden>)"

    def secret_bytes(self) -> bytes:
        try:
            return base64.b64decode(self.secret.reveal(), validate=True)
        except binascii.Error:
            raise ConfigError("kraken API secret is not base64") from None


def api_sign(secret: bytes, uri_path: str, nonce: str, postdata: str) -> str:
    """The API-Sign header of one private REST request."""
    inner = hashlib.sha256((nonce + postdata).encode()).digest()
    mac = hmac.new(secret, uri_path.encode() + inner, hashlib.sha512).digest()
    return base64.b64encode(mac).decode()


class NonceSource:
    """Nonces that only go up, remembered in a file across restarts.

    Each nonce is above the clock in µs and above the last one handed out;
    the file is rewritten (and fsynced) before the nonce is used, under an
    exclusive lock, so two processes never get the same one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def next(self) -> int:
        fd = safefs.open_file(self.path, os.O_RDWR | os.O_CREAT)   # never a symlink
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 64).decode(errors="replace").strip()
            try:
                last = int(text) if text else 0
            except ValueError:
                raise ConfigError(f"{self.path}: not a nonce file (holds {text[:20]!r})") \
                    from None
            nonce = max(time.time_ns() // 1000, last + 1)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(nonce).encode())
            os.fsync(fd)
            return nonce
        finally:
            os.close(fd)


class Rest:
    """Kraken's private REST endpoints the session uses, each call signed with a
    fresh nonce."""

    def __init__(self, credentials: Credentials, nonces: NonceSource, *,
                 rest_url: str = REST_URL, context: ssl.SSLContext | None = None,
                 timeout: float = 10.0) -> None:
        self.credentials, self.nonces = credentials, nonces
        self.rest_url, self.context, self.timeout = rest_url, context, timeout

    def call(self, path: str, fields: dict[str, str] | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """The `result` of one private call; KrakenError names what was refused."""
        name = path.rsplit("/", 1)[-1]
        nonce = str(self.nonces.next())
        postdata = urllib.parse.urlencode({"nonce": nonce, **(fields or {})})
        request = urllib.request.Request(
            self.rest_url + path, data=postdata.encode(), method="POST",
            headers={
                "API-Key": self.credentials.api_key,
                "API-Sign": api_sign(self.credentials.secret_bytes(), path, nonce, postdata),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        answer = fetch_json(request, context=self.context, timeout=timeout or self.timeout,
                            what=name, error=KrakenError)
        if not isinstance(answer, dict):
            raise KrakenError(f"{name}: not a Kraken answer ({str(answer)[:80]})")
        errors, result = answer.get("error", []), answer.get("result", {})
        if errors:
            raise KrakenError(f"{name} refused: {', '.join(map(str, errors))}")
        if not isinstance(result, dict):
            raise KrakenError(f"{name}: the answer holds no result")
        return result

    def ws_token(self) -> Secret:
        """A WebSocket token (GetWebSocketsToken)."""
        token = self.call(TOKEN_PATH).get("token")
        if not isinstance(token, str) or not token:
            raise KrakenError("GetWebSocketsToken: the answer holds no token")
        return Secret(token)

    def query_order(self, cl_ord_id: str, timeout: float | None = None) -> int:
        """ST_ORDER_STATUS_* of the order with this cl_ord_id (QueryOrders);
        NOT_FOUND when Kraken has none."""
        result = self.call(QUERY_ORDERS_PATH, {"cl_ord_id": cl_ord_id}, timeout)
        infos = [o for o in result.values()
                 if isinstance(o, dict) and o.get("cl_ord_id") == cl_ord_id]
        if not infos:
            return int(lib.ST_ORDER_STATUS_NOT_FOUND)
        return order_status(infos[0])

    def open_orders(self) -> list[tuple[str, str, int]]:
        """(pair, cl_ord_id, ST_ORDER_STATUS_*) of every open order (OpenOrders)."""
        listed = self.call(OPEN_ORDERS_PATH).get("open")
        return [(str((o.get("descr") or {}).get("pair", "")), str(o.get("cl_ord_id") or ""),
                 order_status(o))
                for o in (listed.values() if isinstance(listed, dict) else [])
                if isinstance(o, dict)]


def order_status(info: dict[str, Any]) -> int:
    """ST_ORDER_STATUS_* of one QueryOrders / OpenOrders entry (0: a word we do not know)."""
    status = ORDER_STATUS.get(str(info.get("status")), 0)
    try:
        executed = Decimal(str(info.get("vol_exec", "0")))
    except ArithmeticError:
        executed = Decimal(0)
    if status == lib.ST_ORDER_STATUS_NEW and executed > 0:
        return int(lib.ST_ORDER_STATUS_PARTIAL)
    return int(status)


def client_order_id(prefix: str, seq: int) -> str:
    """The cl_ord_id the desk gave order `seq` (see order_template)."""
    return f"{prefix}{seq:0{CLIENT_ID_DIGITS}d}"


def cancel_request(req_id: int, cl_ord_id: str, token: Secret) -> str:
    """`cancel_order` of one order by its cl_ord_id."""
    return json.dumps({"method": "cancel_order", "req_id": req_id,
                       "params": {"cl_ord_id": [cl_ord_id], "token": token.reveal().decode()}},
                      separators=(",", ":"))


def check_prefix(prefix: str) -> str:
    if len(prefix) > MAX_PREFIX or not prefix.isalnum():
        raise ConfigError(f"client id prefix {prefix!r}: Kraken takes at most {MAX_PREFIX} "
                          f"letters or digits before our {CLIENT_ID_DIGITS} digits")
    return prefix


def order_template(leg: Leg, token: Secret, *, client_prefix: str = "st") -> Template:
    """The `add_order` template of leg; the token rides in every order."""
    if leg.order_type not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
        raise ConfigError(f"{leg.symbol}: order type {leg.order_type!r}: "
                          "LIMIT, LIMIT_MAKER or MARKET")
    params: dict[str, object] = {
        "order_type": "market" if leg.order_type == "MARKET" else "limit",
        "side": leg.side.name.lower(),
        "order_qty": slot_value(Slot.QUANTITY),
        "symbol": check_text(leg.symbol, "symbol", '"\\'),
        "cl_ord_id": check_prefix(client_prefix) + slot_value(Slot.CLIENT_ID),
    }
    if leg.has_price:
        params["limit_price"] = slot_value(Slot.PRICE)
    if leg.order_type == "LIMIT_MAKER":
        params["post_only"] = True
    elif leg.order_type == "LIMIT":
        if leg.time_in_force not in ("GTC", "IOC", "FOK"):
            raise ConfigError(f"{leg.symbol}: time_in_force {leg.time_in_force!r}")
        params["time_in_force"] = leg.time_in_force.lower()
    params["token"] = check_text(token.reveal().decode(), "token", '"\\')
    message = render_json({"method": "add_order", "params": params,
                           "req_id": slot_value(Slot.REQUEST_ID)},
                          frozenset({Slot.REQUEST_ID, Slot.PRICE, Slot.QUANTITY}))
    return Template(message.encode(), price_decimals=leg.price_decimals,
                    quantity_decimals=leg.quantity_decimals)
