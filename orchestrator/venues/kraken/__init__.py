# SPDX-License-Identifier: MIT
"""Kraken WS v2 `add_order`, authenticated by a token from REST.

The token comes from `POST /0/private/GetWebSocketsToken`, signed with
API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path +
SHA256(nonce + postdata))). Kraken refuses a nonce that is not above the
last one it saw for the key, so ours never goes backwards, even across
restarts: the last nonce used is kept in a file and the next is above both
it and the clock. Orders carry the token; they are not signed one by one.
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
from pathlib import Path

from orchestrator import safefs
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
    render_json,
    slot_value,
)

WS_URL = "wss://ws-auth.kraken.com:443/v2"
REST_URL = "https://api.kraken.com"
TOKEN_PATH = "/0/private/GetWebSocketsToken"
# Kraken meters orders per pair with a decaying counter that depends on the
# account tier; this is a conservative start (Starter tier: 60, decay 1/s).
ORDER_LIMITS = (RateLimit(60, 60, "orders/min (starter tier)"),)
# Kraken answers with error strings; these codes stand for their classes.
EORDER = -30001
EAPI_AUTH = -30002
RATE_LIMIT = -30003
OTHER = -30004
# The answer to add_order: {"method": "add_order", "req_id": 7, "success": true,
# "result": {"order_id": "O...", "cl_ord_id": "..."}} or {..., "success": false,
# "error": "EOrder:Insufficient funds"}. The first matching prefix decides.
SCHEMA = AnswerSchema(
    request_id=Field("req_id"),
    status=Field("success"),
    error_text=Field("error"),
    text_codes=(("EOrder:Rate limit", RATE_LIMIT), ("EAPI:Rate limit", RATE_LIMIT),
                ("EGeneral:Too many requests", RATE_LIMIT), ("EAPI:", EAPI_AUTH),
                ("EGeneral:Permission", EAPI_AUTH), ("EOrder:", EORDER)),
    default_code=OTHER,
    order_id=Field("order_id", "result", 2),
    rules=(Rule(RATE_LIMIT, "rate_limit"), Rule(EAPI_AUTH, "auth")),
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


def get_ws_token(credentials: Credentials, nonces: NonceSource, *, rest_url: str = REST_URL,
                 context: ssl.SSLContext | None = None, timeout: float = 10.0) -> Secret:
    """A WebSocket token from REST GetWebSocketsToken."""
    nonce = str(nonces.next())
    postdata = urllib.parse.urlencode({"nonce": nonce})
    request = urllib.request.Request(
        rest_url + TOKEN_PATH, data=postdata.encode(), method="POST",
        headers={
            "API-Key": credentials.api_key,
            "API-Sign": api_sign(credentials.secret_bytes(), TOKEN_PATH, nonce, postdata),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        body = response.read(65536)
    try:
        answer = json.loads(body)
        errors, result = answer.get("error", []), answer.get("result", {})
    except (ValueError, AttributeError):
        raise KrakenError(f"GetWebSocketsToken: not a Kraken answer ({body[:80]!r})") from None
    if errors:
        raise KrakenError(f"GetWebSocketsToken refused: {', '.join(map(str, errors))}")
    token = result.get("token") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        raise KrakenError("GetWebSocketsToken: the answer holds no token")
    return Secret(token)


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
