# SPDX-License-Identifier: MIT
"""OKX v5 private WebSocket: `login` once per connection, then `order` ops.

From the OKX v5 API documentation (https://www.okx.com/docs-v5/en/):

* WebSocket login: `{"op": "login", "args": [{"apiKey", "passphrase",
  "timestamp", "sign"}]}`. "timestamp: the Unix Epoch time, the unit is
  seconds"; "sign = CryptoJS.enc.Base64.stringify(CryptoJS.HmacSHA256(
  timestamp + 'GET' + '/users/self/verify', secretKey))"; "method: always
  'GET'. requestPath: always '/users/self/verify'"; "The request will expire
  30 seconds after the timestamp." The answer is `{"event": "login", "code":
  "0", ...}` or `{"event": "error", "code": "60009", "msg": "Login failed."}`.
  Orders on a logged-in connection carry no signature: the native side only
  fills slots.
* WS / Place order: `{"id", "op": "order", "expTime", "args": [{"instId",
  "tdMode", "side", "ordType", "sz", "px", "clOrdId"}]}`. `id`: "A
  combination of case-sensitive alphanumerics, all numbers, or all letters
  of up to 32 characters"; `clOrdId`: "A combination of case-sensitive
  alphanumerics, all numbers, or all letters of up to 32 characters";
  `expTime`: "Request effective deadline. Unix timestamp format in
  milliseconds". The answer: `{"id", "op": "order", "data": [{"clOrdId",
  "ordId", "tag", "ts", "sCode", "sMsg"}], "code", "msg", "inTime",
  "outTime"}`; `code` "0" is success, "1" an order refused (its reason in
  `data[0].sCode`), another code a request refused as a whole.
* WS / Cancel order: `{"id", "op": "cancel-order", "args": [{"instId",
  "clOrdId"}]}`, answered the same way.
* REST Get order details: `GET /api/v5/trade/order?instId=&clOrdId=`, signed
  with the headers OK-ACCESS-KEY, OK-ACCESS-SIGN (base64 HMAC-SHA256 of
  timestamp + method + requestPath, the query included), OK-ACCESS-TIMESTAMP
  (ISO 8601 with milliseconds, e.g. 2020-12-08T09:08:57.715Z) and
  OK-ACCESS-PASSPHRASE. `GET /api/v5/trade/orders-pending?instType=&instId=`
  lists the open ones (the same signing). `GET /api/v5/public/time` gives
  the server time.
* Rate limit of WS place order: 60 requests per 2 seconds (user ID +
  instrument ID); over it, sCode 50011. The answer says not when it lifts, so
  the desk backs off for its default.

The documentation gives no signature with its inputs (its example secret
has no matching sign), so tests/test_okx_signing.py checks the signing
against an independent computation.

The engine stamps `expTime` with the timestamp slot, its clock offset set to
the venue's offset plus `recv_window_ms`: the venue drops an order that
reaches it after that deadline, with sCode 50102 (timestamp expired), which
is the clock event that resyncs and retries.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import ssl
import urllib.error
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

WS_URL = "wss://ws.okx.com:8443/ws/v5/private"
REST_URL = "https://www.okx.com"
VERIFY_PATH = "/users/self/verify"
ORDER_PATH = "/api/v5/trade/order"
PENDING_PATH = "/api/v5/trade/orders-pending"
TIME_PATH = "/api/v5/public/time"
ORDER_LIMITS = (RateLimit(60, 2, "place order/2s per instrument"),)
LOGIN_WINDOW_S = 30               # "The request will expire 30 seconds after the timestamp."
MAX_ID = 32                       # id and clOrdId: at most 32 alphanumerics
MAX_PREFIX = MAX_ID - CLIENT_ID_DIGITS
_ALNUM = re.compile(r"^[A-Za-z0-9]*$")

# The codes that matter (docs: "Error Code"), for operators.
ERRORS: dict[str, str] = {
    "1": "the order was refused (see sCode)",
    "50004": "endpoint request timeout: the outcome is unknown until the order is queried",
    "50011": "rate limit reached",
    "50102": "timestamp request expired: our clock offset is stale",
    "50105": "OK-ACCESS-PASSPHRASE incorrect",
    "50111": "invalid OK-ACCESS-KEY",
    "50113": "invalid sign",
    "51001": "instrument ID does not exist",
    "51016": "duplicated clOrdId",
    "51400": "cancellation failed: the order is filled, canceled or does not exist",
    "51603": "order does not exist",
    "60005": "invalid apiKey",
    "60006": "timestamp request expired",
    "60007": "invalid sign",
    "60009": "login failed",
    "60011": "please log in",
    "60024": "wrong passphrase",
}
UNKNOWN_OUTCOME = 50004
RATE_LIMIT = 50011
TIMESTAMP = 50102
NO_SUCH_ORDER = 51603
NOT_CANCELLABLE = 51400


def describe_error(code: str | int, message: str = "") -> str:
    meaning = ERRORS.get(str(code), "error")
    return f"okx {code}: {meaning}" + (f" ({message})" if message else "")


class OkxError(StratumError):
    """OKX refused a REST request; the message carries its code."""


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: Secret
    passphrase: Secret

    def __repr__(self) -> str:
        return "Credentials(api_key=<hidden>, secret=<hidden>, passphrase=<hidden>)"


# -- signing -----------------------------------------------------------------


def sign(secret: Secret, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """base64(HMAC-SHA256(secret, timestamp + method + requestPath + body))."""
    message = (timestamp + method + request_path + body).encode()
    return base64.b64encode(hmac.new(secret.reveal(), message, hashlib.sha256).digest()).decode()


def login_request(credentials: Credentials, timestamp_s: int) -> str:
    """The `login` op (it has no id: its answer is the connection's login event)."""
    stamp = str(timestamp_s)
    return json.dumps({"op": "login", "args": [{
        "apiKey": credentials.api_key,
        "passphrase": credentials.passphrase.reveal().decode(),
        "timestamp": stamp,
        "sign": sign(credentials.secret, stamp, "GET", VERIFY_PATH)}]},
        separators=(",", ":"))


def rest_timestamp(ms: int) -> str:
    """OK-ACCESS-TIMESTAMP: ISO 8601 UTC with milliseconds."""
    when = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def rest_get(rest_url: str, path_query: str, credentials: Credentials | None, now_ms: int, *,
             context: ssl.SSLContext | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """One REST GET (signed when credentials are given); the decoded answer."""
    headers = {}
    if credentials is not None:
        stamp = rest_timestamp(now_ms)
        headers = {"OK-ACCESS-KEY": credentials.api_key,
                   "OK-ACCESS-SIGN": sign(credentials.secret, stamp, "GET", path_query),
                   "OK-ACCESS-TIMESTAMP": stamp,
                   "OK-ACCESS-PASSPHRASE": credentials.passphrase.reveal().decode()}
    request = urllib.request.Request(rest_url + path_query, method="GET", headers=headers)
    what = f"okx REST {path_query.split('?')[0]}"
    answer = fetch_json(request, context=context, timeout=timeout, what=what, error=OkxError)
    if not isinstance(answer, dict):
        raise OkxError(f"{what}: not an OKX answer ({str(answer)[:80]})")
    return answer


def server_time_ms(rest_url: str, *, context: ssl.SSLContext | None = None,
                   timeout: float = 5.0) -> int:
    """The venue's clock (GET /api/v5/public/time)."""
    answer = rest_get(rest_url, TIME_PATH, None, 0, context=context, timeout=timeout)
    data = answer.get("data")
    stamp = data[0].get("ts") if isinstance(data, list) and data and \
        isinstance(data[0], dict) else None
    if not isinstance(stamp, str) or not stamp.isdigit():
        raise OkxError(f"okx public time: no ts in {str(answer)[:120]}")
    return int(stamp)


def order_query_path(inst_id: str, client_id: str) -> str:
    return ORDER_PATH + "?" + urllib.parse.urlencode({"instId": inst_id, "clOrdId": client_id})


def pending_path(inst_id: str) -> str:
    return PENDING_PATH + "?" + urllib.parse.urlencode({"instType": "SPOT", "instId": inst_id})


# -- orders ------------------------------------------------------------------


def client_order_id(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:0{CLIENT_ID_DIGITS}d}"


def check_prefix(prefix: str) -> str:
    if len(prefix) > MAX_PREFIX or not _ALNUM.match(prefix):
        raise ConfigError(f"client id prefix {prefix!r}: OKX clOrdIds are alphanumeric, at "
                          f"most {MAX_PREFIX} characters before our {CLIENT_ID_DIGITS} digits")
    return prefix


def ord_type(leg: Leg) -> str:
    """OKX's ordType: market, limit, post_only, fok or ioc."""
    if leg.order_type == "MARKET":
        return "market"
    if leg.order_type == "LIMIT_MAKER":
        return "post_only"
    if leg.order_type != "LIMIT":
        raise ConfigError(f"{leg.symbol}: order type {leg.order_type!r}: "
                          "LIMIT, LIMIT_MAKER or MARKET")
    kinds = {"GTC": "limit", "IOC": "ioc", "FOK": "fok"}
    if leg.time_in_force not in kinds:
        raise ConfigError(f"{leg.symbol}: time_in_force {leg.time_in_force!r}: "
                          f"one of {sorted(kinds)}")
    return kinds[leg.time_in_force]


def order_template(leg: Leg, *, client_prefix: str = "st") -> Template:
    """The `order` op of leg on a logged-in connection (spot, cash)."""
    args: dict[str, str] = {
        "instId": check_text(leg.symbol, "instId", '"\\'),
        "tdMode": "cash",
        "side": leg.side.name.lower(),
        "ordType": ord_type(leg),
        "sz": slot_value(Slot.QUANTITY),
        "clOrdId": check_prefix(client_prefix) + slot_value(Slot.CLIENT_ID),
    }
    if leg.has_price:
        args["px"] = slot_value(Slot.PRICE)
    else:
        args["tgtCcy"] = "base_ccy"    # sz in the base currency for a market buy too
    message = render_json({"id": slot_value(Slot.REQUEST_ID), "op": "order",
                           "expTime": slot_value(Slot.TIMESTAMP), "args": [args]})
    return Template(message.encode(), price_decimals=leg.price_decimals,
                    quantity_decimals=leg.quantity_decimals)


def cancel_request(request_id: str, inst_id: str, client_id: str) -> str:
    return json.dumps({"id": request_id, "op": "cancel-order",
                       "args": [{"instId": inst_id, "clOrdId": client_id}]},
                      separators=(",", ":"), ensure_ascii=False)


ORDER_STATUS = {
    "live": lib.ST_ORDER_STATUS_NEW,
    "partially_filled": lib.ST_ORDER_STATUS_PARTIAL,
    "filled": lib.ST_ORDER_STATUS_FILLED,
    "canceled": lib.ST_ORDER_STATUS_CANCELED,
    "mmp_canceled": lib.ST_ORDER_STATUS_CANCELED,
}

# Ids and codes are strings of digits; a refusal's reason is data[0].sCode
# (the op's own code says only "1"), a request refused as a whole has its
# reason in code and no data. The last nonzero of the two is the code.
SCHEMA = AnswerSchema(
    request_id=Field("id"), status=Field("code"), ok_value=0,
    client_id=Field("clOrdId", depth=3),
    codes=(Field("code"), Field("sCode", depth=3)),
    order_id=Field("ordId", depth=3),
    rules=(Rule(RATE_LIMIT, "rate_limit"), Rule(UNKNOWN_OUTCOME, "unknown"),
           Rule(TIMESTAMP, "clock"), Rule(50113, "auth"), Rule(50111, "auth"),
           Rule(60011, "auth")),
)
# The public WebSocket's bbo-tbt channel ("WS / Order book channel": best bid
# and offer, tick by tick): {"arg":{"channel":"bbo-tbt","instId":"BCH-USDT"},
# "data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0",
# "12"]],"ts":"1597026383085"}]}; the price is the first element of the level.
BOOK = BookSpec(
    bid=Field("bids", depth=3), ask=Field("asks", depth=3),
    subscribe=lambda symbol: json.dumps(
        {"op": "subscribe", "args": [{"channel": "bbo-tbt", "instId": symbol}]},
        separators=(",", ":")),
    default_url=lambda symbol: "wss://ws.okx.com:8443/ws/v5/public",
)
PROFILE = Profile("okx", SCHEMA, WS_URL, ORDER_LIMITS, book=BOOK)
