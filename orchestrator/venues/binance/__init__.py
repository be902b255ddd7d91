# SPDX-License-Identifier: MIT
"""Binance Spot WebSocket API: `order.place` in two authentication modes.

* HMAC key: every order carries `apiKey` and `signature`, the hex
  HMAC-SHA256 of all its other params sorted by key, joined `k=v&...`,
  UTF-8, without percent-encoding. The native side signs each order.
* Ed25519 key: `session.logon` once per connection (signed here, in Python,
  with `cryptography`); after it orders carry no apiKey or signature, only a
  timestamp. Every reconnect needs a new logon.

`newOrderRespType` decides how much the answer says: ACK is the fastest
(accepted, no state), RESULT adds the status, FULL adds the fills.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from orchestrator._native import lib
from orchestrator.errors import ConfigError
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
    render_text,
    slot_value,
)

WS_URL = "wss://ws-api.binance.com:443/ws-api/v3"
# The documented defaults (exchangeInfo rateLimits); an account may differ.
ORDER_LIMITS = (RateLimit(50, 10, "ORDERS/10s"), RateLimit(160000, 86400, "ORDERS/day"))

RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
MAX_RECV_WINDOW_MS = 60000
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

# What the errors that matter mean, for operators.
ERRORS: dict[int, str] = {
    -1003: "too much request weight: rate limited (429) or banned (418) until retryAfter",
    -1007: "the venue timed out: the order's outcome is unknown until order.status says",
    -1015: "too many new orders: order rate limit hit",
    -1021: "timestamp outside recvWindow: our clock offset is stale",
    -1022: "signature not valid: check the API secret",
    -2010: "order rejected by the matching engine",
    -2011: "cancel refused: not an open order",
    -2013: "no such order",
    -2014: "API key format invalid",
    -2015: "API key, IP or permissions refused",
}


OUTCOME_UNKNOWN = -1007
TIMESTAMP = -1021
SIGNATURE = -1022
REJECTED = -2010
UNKNOWN_ORDER = -2011      # order.cancel: not an open order
NO_SUCH_ORDER = -2013


def describe_error(code: int, message: str = "") -> str:
    meaning = ERRORS.get(code, "error")
    return f"binance {code}: {meaning}" + (f" ({message})" if message else "")


class AuthMode(Enum):
    HMAC = "hmac"          # every order signed
    SESSION = "session"    # Ed25519 session.logon once per connection


@dataclass(frozen=True)
class Credentials:
    api_key: str
    hmac_secret: Secret | None = None
    ed25519_pem: Secret | None = None   # PKCS#8 PEM private key

    def __repr__(self) -> str:
        return f"Credentials(api_key=<hidden>, hmac={self.hmac_secret is not None}, " \
               f"ed25519={self.ed25519_pem is not None})"

    def mode(self) -> AuthMode:
        if self.ed25519_pem is not None:
            return AuthMode.SESSION
        if self.hmac_secret is not None:
            return AuthMode.HMAC
        raise ConfigError("binance credentials hold neither an HMAC secret nor an Ed25519 key")

    def ed25519_key(self) -> Ed25519PrivateKey:
        if self.ed25519_pem is None:
            raise ConfigError("binance credentials hold no Ed25519 key")
        try:
            key = load_pem_private_key(self.ed25519_pem.reveal(), password=None)
        except (ValueError, TypeError):
            # from None: the parser's message could quote the key material
            raise ConfigError(
                "binance Ed25519 key: not a PEM private key without password") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError("binance Ed25519 key: the PEM holds another kind of key")
        return key


# -- signing -----------------------------------------------------------------


def signing_payload(params: Mapping[str, str]) -> str:
    """All params but `signature`, sorted by key, `k=v` joined by `&`, unencoded."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def sign_hmac(secret: Secret, params: Mapping[str, str]) -> str:
    payload = signing_payload(params).encode()
    return hmac.new(secret.reveal(), payload, hashlib.sha256).hexdigest()


def sign_ed25519(key: Ed25519PrivateKey, params: Mapping[str, str]) -> str:
    return base64.b64encode(key.sign(signing_payload(params).encode())).decode()


# -- orders ------------------------------------------------------------------


def client_order_id(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:0{CLIENT_ID_DIGITS}d}"


def check_prefix(prefix: str) -> str:
    if not _CLIENT_ID.match(prefix + "0" * CLIENT_ID_DIGITS):
        raise ConfigError(
            f"client id prefix {prefix!r}: Binance ids are [.A-Z:/a-z0-9_-], at most "
            f"{36 - CLIENT_ID_DIGITS} characters before our {CLIENT_ID_DIGITS} digits"
        )
    return prefix


def order_params(leg: Leg, credentials: Credentials, *, response_type: str = "ACK",
                 recv_window_ms: int = 5000, client_prefix: str = "st") -> dict[str, str]:
    """The params of `order.place` for leg, with slot placeholders, unsigned."""
    if response_type not in RESPONSE_TYPES:
        raise ConfigError(f"newOrderRespType {response_type!r}: one of {RESPONSE_TYPES}")
    if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
        raise ConfigError(f"recvWindow {recv_window_ms}: 1 to {MAX_RECV_WINDOW_MS} ms")
    if leg.order_type not in ORDER_TYPES:
        raise ConfigError(f"{leg.symbol}: order type {leg.order_type!r}: one of {ORDER_TYPES}")
    params = {
        "symbol": check_text(leg.symbol, "symbol", '"\\&='),
        "side": leg.side.name,
        "type": leg.order_type,
        "quantity": slot_value(Slot.QUANTITY),
        "newClientOrderId": check_prefix(client_prefix) + slot_value(Slot.CLIENT_ID),
        "newOrderRespType": response_type,
        "recvWindow": str(recv_window_ms),
        "timestamp": slot_value(Slot.TIMESTAMP),
    }
    if leg.has_price:
        params["price"] = slot_value(Slot.PRICE)
    if leg.order_type == "LIMIT":   # LIMIT_MAKER takes none: it never takes liquidity
        if leg.time_in_force not in ("GTC", "IOC", "FOK"):
            raise ConfigError(f"{leg.symbol}: timeInForce {leg.time_in_force!r}")
        params["timeInForce"] = leg.time_in_force
    if credentials.mode() is AuthMode.HMAC:
        params["apiKey"] = check_text(credentials.api_key, "apiKey", '"\\&=')
    return params


def template_from_params(params: Mapping[str, str], *, signed: bool, price_decimals: int = 2,
                         quantity_decimals: int = 8) -> Template:
    """An `order.place` template over params (values may hold slot placeholders);
    signed adds the signature slot and the payload it signs."""
    ordered = {k: params[k] for k in sorted(params)}
    if signed:
        ordered["signature"] = slot_value(Slot.SIGNATURE)
    message = render_json({"id": slot_value(Slot.REQUEST_ID), "method": "order.place",
                           "params": ordered}, frozenset({Slot.REQUEST_ID})).encode()
    if not signed:
        return Template(message, price_decimals=price_decimals,
                        quantity_decimals=quantity_decimals)
    return Template(message, render_text(signing_payload(params)).encode(),
                    lib.ST_ORDER_SIGN_HMAC_HEX, price_decimals, quantity_decimals)


def order_template(leg: Leg, credentials: Credentials, **options: Any) -> Template:
    """The `order.place` template of leg: signed per order in HMAC mode."""
    return template_from_params(order_params(leg, credentials, **options),
                                signed=credentials.mode() is AuthMode.HMAC,
                                price_decimals=leg.price_decimals,
                                quantity_decimals=leg.quantity_decimals)


# -- requests Python sends (not on the hot path) -------------------------------


def _signed(params: dict[str, str], credentials: Credentials, logged_on: bool) -> dict[str, str]:
    if logged_on:
        return params
    params["apiKey"] = credentials.api_key
    if credentials.mode() is AuthMode.SESSION:
        params["signature"] = sign_ed25519(credentials.ed25519_key(), params)
    else:
        assert credentials.hmac_secret is not None
        params["signature"] = sign_hmac(credentials.hmac_secret, params)
    return params


def logon_request(request_id: str, credentials: Credentials, timestamp_ms: int) -> str:
    params = _signed({"timestamp": str(timestamp_ms)}, credentials, logged_on=False)
    return json.dumps({"id": request_id, "method": "session.logon", "params": params},
                      separators=(",", ":"))


def time_request(request_id: str) -> str:
    return json.dumps({"id": request_id, "method": "time"}, separators=(",", ":"))


def order_request(method: str, request_id: str, symbol: str, client_id: str,
                  credentials: Credentials, timestamp_ms: int, logged_on: bool = False) -> str:
    """`order.status` or `order.cancel` of one order, by its client order id."""
    if method not in ("order.status", "order.cancel"):
        raise ValueError(f"not an order request: {method}")
    params = {"symbol": symbol, "origClientOrderId": client_id, "timestamp": str(timestamp_ms)}
    params = _signed(params, credentials, logged_on)
    return json.dumps({"id": request_id, "method": method, "params": params},
                      separators=(",", ":"), ensure_ascii=False)


def open_orders_request(request_id: str, symbol: str, credentials: Credentials,
                        timestamp_ms: int, logged_on: bool = False) -> str:
    """`openOrders.status` of one symbol (weight 6; without a symbol it costs 80)."""
    params = _signed({"symbol": symbol, "timestamp": str(timestamp_ms)}, credentials, logged_on)
    return json.dumps({"id": request_id, "method": "openOrders.status", "params": params},
                      separators=(",", ":"), ensure_ascii=False)


ORDER_STATUS = {
    "NEW": lib.ST_ORDER_STATUS_NEW,
    "PARTIALLY_FILLED": lib.ST_ORDER_STATUS_PARTIAL,
    "FILLED": lib.ST_ORDER_STATUS_FILLED,
    "CANCELED": lib.ST_ORDER_STATUS_CANCELED,
    "PENDING_CANCEL": lib.ST_ORDER_STATUS_NEW,
    "REJECTED": lib.ST_ORDER_STATUS_REJECTED,
    "EXPIRED": lib.ST_ORDER_STATUS_EXPIRED,
    "EXPIRED_IN_MATCH": lib.ST_ORDER_STATUS_EXPIRED,
}

# The answer to order.place: {"id": 7, "status": 200, "result": {"orderId": 1,
# "status": "NEW", ...}} or {"id": 7, "status": 400, "error": {"code": -2010,
# "msg": "...", "data": {"retryAfter": <ms>}}} (retryAfter on 429/418 only).
SCHEMA = AnswerSchema(
    request_id=Field("id"),
    status=Field("status"), ok_value=200, status_is_http=True,
    codes=(Field("code", "error", 2),),
    order_status=Field("status", "result", 2), statuses=tuple(ORDER_STATUS.items()),
    order_id=Field("orderId", "result", 2),
    retry_at=Field("retryAfter", "data", 3),
    rules=(Rule(OUTCOME_UNKNOWN, "unknown"), Rule(429, "rate_limit", on="status"),
           Rule(418, "rate_limit", on="status"), Rule(TIMESTAMP, "clock"),
           Rule(SIGNATURE, "auth")),
)
# The <symbol>@bookTicker stream (Binance "WebSocket Streams", Individual
# Symbol Book Ticker Streams): {"u":400900217,"s":"BNBUSDT","b":"25.35190000",
# "B":"31.21000000","a":"25.36520000","A":"40.66000000"}; the URL names the
# stream, nothing is sent.
BOOK = BookSpec(
    bid=Field("b"), ask=Field("a"),
    subscribe=lambda symbol: None,
    default_url=lambda symbol: f"wss://stream.binance.com:9443/ws/{symbol.lower()}@bookTicker",
)
PROFILE = Profile("binance", SCHEMA, WS_URL, ORDER_LIMITS, book=BOOK)
