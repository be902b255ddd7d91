# SPDX-License-Identifier: MIT
"""Bybit v5 trade WebSocket (`order.create`), authenticated once per connection.

From Bybit's "Websocket Trade Guideline" (bybit-exchange.github.io/docs/v5/websocket/trade/
guideline), URL `wss://stream.bybit.com/v5/trade`:

* Authentication: `{"op": "auth", "args": ["api key", expiry timestamp, "signature"]}`;
  the answer's `retCode` is "0: auth success, 20001: repeat auth, 10004: invalid sign,
  10001: param error". The signature (Bybit's websocket "Authentication" section) is the
  hex HMAC-SHA256 of `"GET/realtime" + expires`, expires in ms and in the future.
* `order.create` / `order.cancel`: `reqId` ("used to match the response ... not more than
  36 characters"), `header` with `X-BAPI-TIMESTAMP` ("current timestamp") and
  `X-BAPI-RECV-WINDOW` ("default 5000 (ms). Bybit server time - X-BAPI-RECV-WINDOW <=
  X-BAPI-TIMESTAMP < Bybit server time + 1000"), `op`, and `args`: "array<object>, only
  one order" with the REST "Place Order" parameters (category, symbol, side, orderType,
  qty, price, timeInForce, orderLinkId: "max 36 characters. Combinations of numbers,
  letters (upper and lower cases), dashes, and underscores are supported").
* Answers: `reqId`, `retCode`, `retMsg`, `op`, `data` {orderId, orderLinkId}, and a
  `header` with `X-Bapi-Limit`, `X-Bapi-Limit-Status`, `X-Bapi-Limit-Reset-Timestamp`
  (ms), `Traceid`, `Timenow`.

Codes (Bybit "Error Codes", WS OE general code and UTA): 10001 request parameter error,
10002 "the request time exceeds the time window range", 10003 API key invalid, 10004
signature error, 10005 permission denied, 10006 too many visits (rate limit), 10016
"internal server error; service is restarting", 10429 "system level frequency
protection", 20006 "reqId is duplicated"; spot: 170121 invalid symbol, 170141 duplicate
clientOrderId, 170213 order does not exist.

Orders carry no signature: the connection is authenticated, so the native side only
fills the slots (request id, timestamp, price, quantity, client id). Reconciliation
asks REST `GET /v5/order/realtime` ("Get Open & Closed Orders": "You can query by ...
orderLinkId"; "You can query filled, cancelled, and rejected orders to the most recent
500 orders") signed with X-BAPI-API-KEY, X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW and
X-BAPI-SIGN = hex HMAC-SHA256 of timestamp + api key + recv_window + queryString
(Bybit "Integration Guidance"). The clock comes from REST `GET /v5/market/time`.
Spot only (category "spot").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import ssl
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

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

WS_URL = "wss://stream.bybit.com:443/v5/trade"
REST_URL = "https://api.bybit.com"
TIME_PATH = "/v5/market/time"
ORDERS_PATH = "/v5/order/realtime"
CATEGORY = "spot"
AUTH_LIFETIME_MS = 10_000        # how far ahead an auth's expiry is set
MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5000    # "default 5000 (ms)": left out of the header when so
# Bybit's "API Rate Limit Rules for VIPs": Default, Spot: 20/s per UID.
ORDER_LIMITS = (RateLimit(20, 1, "order.create/s (spot, per UID)"),)
MAX_PREFIX = 36 - CLIENT_ID_DIGITS
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]*$")

PARAMS = 10001
TIMESTAMP = 10002
API_KEY = 10003
SIGNATURE = 10004
PERMISSION = 10005
RATE_LIMIT = 10006
SERVER_ERROR = 10016
SYSTEM_FREQUENCY = 10429
NO_SUCH_ORDER = 170213

ERRORS: dict[int, str] = {
    PARAMS: "request parameter error",
    TIMESTAMP: "timestamp outside the recv window: our clock offset is stale",
    API_KEY: "API key invalid",
    SIGNATURE: "signature not valid: check the API secret",
    PERMISSION: "permission denied for this API key",
    RATE_LIMIT: "too many visits: rate limited until X-Bapi-Limit-Reset-Timestamp",
    SERVER_ERROR: "internal server error: the order's outcome is unknown until asked",
    SYSTEM_FREQUENCY: "system level frequency protection: rate limited",
    170121: "invalid symbol",
    170141: "duplicate orderLinkId",
    NO_SUCH_ORDER: "order does not exist",
}


def describe_error(code: int, message: str = "") -> str:
    meaning = ERRORS.get(code, "error")
    return f"bybit {code}: {meaning}" + (f" ({message})" if message else "")


class BybitError(StratumError):
    """Bybit refused a REST request, or its answer could not be read."""


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: Secret

    def __repr__(self) -> str:
        return "Credentials(api_key=<hidden>, secret=<hidden>)"


# -- signing -----------------------------------------------------------------


def auth_payload(expires_ms: int) -> str:
    return f"GET/realtime{expires_ms}"


def auth_signature(secret: Secret, expires_ms: int) -> str:
    """The third arg of `auth`: hex HMAC-SHA256 of "GET/realtime" + expires."""
    return hmac.new(secret.reveal(), auth_payload(expires_ms).encode(),
                    hashlib.sha256).hexdigest()


def rest_payload(timestamp_ms: int, api_key: str, recv_window_ms: int, query: str) -> str:
    """What X-BAPI-SIGN signs for a GET: timestamp + api key + recv_window + queryString."""
    return f"{timestamp_ms}{api_key}{recv_window_ms}{query}"


def rest_signature(secret: Secret, timestamp_ms: int, api_key: str, recv_window_ms: int,
                   query: str) -> str:
    payload = rest_payload(timestamp_ms, api_key, recv_window_ms, query).encode()
    return hmac.new(secret.reveal(), payload, hashlib.sha256).hexdigest()


# -- orders ------------------------------------------------------------------


def check_prefix(prefix: str) -> str:
    if len(prefix) > MAX_PREFIX or not _LINK_ID.match(prefix):
        raise ConfigError(f"client id prefix {prefix!r}: Bybit orderLinkIds are letters, "
                          f"digits, '-' and '_', at most {MAX_PREFIX} before our "
                          f"{CLIENT_ID_DIGITS} digits")
    return prefix


def client_order_id(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:0{CLIENT_ID_DIGITS}d}"


def check_recv_window(recv_window_ms: int) -> int:
    if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
        raise ConfigError(f"recv_window_ms {recv_window_ms}: 1 to {MAX_RECV_WINDOW_MS}")
    return recv_window_ms


def _header(timestamp: str, recv_window_ms: int) -> dict[str, str]:
    """The order's header; the documented default window is not sent (27 bytes less
    on the wire and to encrypt per order)."""
    if recv_window_ms == DEFAULT_RECV_WINDOW_MS:
        return {"X-BAPI-TIMESTAMP": timestamp}
    return {"X-BAPI-TIMESTAMP": timestamp, "X-BAPI-RECV-WINDOW": str(recv_window_ms)}


def order_args(leg: Leg, *, client_prefix: str = "st") -> dict[str, str]:
    """The one object of `order.create`'s args, with slot placeholders."""
    args = {"category": CATEGORY, "symbol": check_text(leg.symbol, "symbol", '"\\'),
            "side": leg.side.name.capitalize()}
    if leg.order_type == "MARKET":
        args["orderType"] = "Market"
    elif leg.order_type in ("LIMIT", "LIMIT_MAKER"):
        args["orderType"] = "Limit"
    else:
        raise ConfigError(f"{leg.symbol}: order type {leg.order_type!r}: "
                          "LIMIT, LIMIT_MAKER or MARKET")
    args["qty"] = slot_value(Slot.QUANTITY)
    if leg.has_price:
        args["price"] = slot_value(Slot.PRICE)
    if leg.order_type == "LIMIT_MAKER":
        args["timeInForce"] = "PostOnly"
    elif leg.order_type == "LIMIT":
        if leg.time_in_force not in ("GTC", "IOC", "FOK"):
            raise ConfigError(f"{leg.symbol}: timeInForce {leg.time_in_force!r}")
        args["timeInForce"] = leg.time_in_force
    args["orderLinkId"] = check_prefix(client_prefix) + slot_value(Slot.CLIENT_ID)
    return args


def order_template(leg: Leg, *, recv_window_ms: int = 5000,
                   client_prefix: str = "st") -> Template:
    """The `order.create` template of leg: the connection is authenticated, nothing signed."""
    message = render_json({
        "reqId": slot_value(Slot.REQUEST_ID),
        "header": _header(slot_value(Slot.TIMESTAMP), check_recv_window(recv_window_ms)),
        "op": "order.create",
        "args": [order_args(leg, client_prefix=client_prefix)],
    })
    return Template(message.encode(), price_decimals=leg.price_decimals,
                    quantity_decimals=leg.quantity_decimals)


# -- requests Python sends (not on the hot path) -------------------------------


def auth_request(request_id: str, credentials: Credentials, expires_ms: int) -> str:
    return json.dumps({"reqId": request_id, "op": "auth", "args": [
        credentials.api_key, expires_ms, auth_signature(credentials.secret, expires_ms)]},
        separators=(",", ":"))


def cancel_request(request_id: str, symbol: str, client_id: str, timestamp_ms: int,
                   recv_window_ms: int = 5000) -> str:
    return json.dumps({"reqId": request_id, "header": _header(str(timestamp_ms), recv_window_ms),
                       "op": "order.cancel",
                       "args": [{"category": CATEGORY, "symbol": symbol,
                                 "orderLinkId": client_id}]},
                      separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Rest:
    """Bybit's REST API at `url`, for what is not on the hot path."""

    url: str = REST_URL
    context: ssl.SSLContext | None = None
    timeout: float = 10.0

    def _get(self, path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}{path}?{query}" if query else
                                         self.url + path, headers=headers, method="GET")
        answer = fetch_json(request, context=self.context, timeout=self.timeout,
                            what=f"bybit GET {path}", error=BybitError)
        if not isinstance(answer, dict) or not isinstance(answer.get("retCode"), int):
            raise BybitError(f"bybit GET {path}: not a Bybit answer ({str(answer)[:80]})")
        return answer

    def server_time_ms(self) -> int:
        """GET /v5/market/time: the venue's clock (its `time` field, ms)."""
        answer = self._get(TIME_PATH, "", {})
        when = answer.get("time")
        if answer["retCode"] != 0 or not isinstance(when, int):
            raise BybitError(f"bybit GET {TIME_PATH}: no time in {str(answer)[:120]}")
        return when

    def orders(self, credentials: Credentials, params: dict[str, str], timestamp_ms: int,
               recv_window_ms: int = 5000) -> list[dict[str, Any]]:
        """GET /v5/order/realtime, signed: the orders `params` select."""
        query = urllib.parse.urlencode({"category": CATEGORY, **params})
        signature = rest_signature(credentials.secret, timestamp_ms, credentials.api_key,
                                   recv_window_ms, query)
        answer = self._get(ORDERS_PATH, query, {
            "X-BAPI-API-KEY": credentials.api_key, "X-BAPI-TIMESTAMP": str(timestamp_ms),
            "X-BAPI-RECV-WINDOW": str(recv_window_ms), "X-BAPI-SIGN": signature})
        if answer["retCode"] != 0:
            # A 10004's retMsg quotes the signed text, our API key in it.
            message = str(answer.get("retMsg", "")).replace(credentials.api_key, "<api key>")
            raise BybitError(f"GET {ORDERS_PATH}: " + describe_error(answer["retCode"], message))
        found = (answer.get("result") or {}).get("list")
        return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []


ORDER_STATUS = {
    "New": lib.ST_ORDER_STATUS_NEW,
    "PartiallyFilled": lib.ST_ORDER_STATUS_PARTIAL,
    "Untriggered": lib.ST_ORDER_STATUS_NEW,
    "Filled": lib.ST_ORDER_STATUS_FILLED,
    "Cancelled": lib.ST_ORDER_STATUS_CANCELED,
    "PartiallyFilledCanceled": lib.ST_ORDER_STATUS_CANCELED,
    "Rejected": lib.ST_ORDER_STATUS_REJECTED,
    "Deactivated": lib.ST_ORDER_STATUS_EXPIRED,
}

# The answer to order.create: {"reqId": "7", "retCode": 0, "retMsg": "OK", "op":
# "order.create", "data": {"orderId": "1321003749386327552", "orderLinkId": "..."},
# "header": {"X-Bapi-Limit": "20", "X-Bapi-Limit-Status": "19",
# "X-Bapi-Limit-Reset-Timestamp": "1711001595207", ...}, "connId": "..."}.
SCHEMA = AnswerSchema(
    request_id=Field("reqId"), status=Field("retCode"), ok_value=0,
    codes=(Field("retCode"),),
    order_id=Field("orderId", "data", 2),
    retry_at=Field("X-Bapi-Limit-Reset-Timestamp", "header", 2),
    rules=(Rule(RATE_LIMIT, "rate_limit"), Rule(SYSTEM_FREQUENCY, "rate_limit"),
           Rule(SERVER_ERROR, "unknown"), Rule(TIMESTAMP, "clock"),
           Rule(API_KEY, "auth"), Rule(SIGNATURE, "auth"), Rule(PERMISSION, "auth")),
)
# The public spot stream's orderbook.1.<symbol> topic ("Orderbook": level 1
# pushes snapshots only): {"topic":"orderbook.1.BTCUSDT","type":"snapshot",
# "data":{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],
# ...}}; the price is the first element of the level.
BOOK = BookSpec(
    bid=Field("b", "data", 2), ask=Field("a", "data", 2),
    subscribe=lambda symbol: json.dumps({"op": "subscribe", "args": [f"orderbook.1.{symbol}"]},
                                        separators=(",", ":")),
    default_url=lambda symbol: "wss://stream.bybit.com/v5/public/spot",
)
PROFILE = Profile("bybit", SCHEMA, WS_URL, ORDER_LIMITS, book=BOOK)
