# SPDX-License-Identifier: MIT
"""Binance, simulated: the Spot WebSocket API subset on ``/ws-api/v3`` and the raw
market stream ``/ws/<symbol lowercase>@bookTicker`` (symbols without a "/").

Methods: ``ping``, ``time``, ``session.logon`` / ``session.status`` /
``session.logout``, ``order.place`` (LIMIT, MARKET, LIMIT_MAKER), ``order.status`` and
``order.cancel``.
Requests and responses are shaped as the Binance docs show them, with the documented
error codes and messages.  A signed request is checked in this order: API key (-2014,
-2015), signature (-1022), timestamp against ``recvWindow`` (-1021), then the
method's parameters, the order count limit (429 -1015), duplicate client order id
(-2010 "Duplicate order sent.").  Order ids are sequential integers per simulator.

Signatures: the payload is every parameter except ``signature``, sorted by name, joined
as ``name=value`` with ``&``, values as sent (no percent-encoding), UTF-8.  HMAC keys
sign it with HMAC-SHA256, hex (case-insensitive); Ed25519 keys sign it and send the
signature base64-encoded.

The market stream pushes ``{"u", "s", "b", "B", "a", "A"}`` on each book step, prices
and quantities as 8-decimal strings; anything the client sends there is logged and
ignored.

Accounts: ``"binance": [{"apiKey", "hmacSecret"} | {"apiKey", "ed25519PublicKey"}]``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import decimal
import functools
import hashlib
import hmac
import json
import re
import secrets
import string
import sys
import traceback
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from . import wire
from .accounts import AccountsError, no_other_fields, string_field
from .book import Quote, crossing_price
from .context import Context
from .limits import Refusal
from .link import Link
from .market import serve_stream
from .orders import Fill, Order
from .venue import SimVenue, Trace, VenueService

NAME = "binance"
WS_API_PATH = "/ws-api/v3"
STREAM_RE = re.compile(r"/ws/([a-z0-9]{1,32})@bookTicker")
# Binance's documented newClientOrderId rule.
CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")

WEIGHTS = {
    "ping": 1, "time": 1, "session.logon": 2, "session.status": 2, "session.logout": 2,
    "order.place": 1, "order.status": 4, "order.cancel": 1,
    "openOrders.status": 6,   # with a symbol; 80 without (ALL_OPEN_ORDERS_WEIGHT)
}
ALL_OPEN_ORDERS_WEIGHT = 80
CONNECT_WEIGHT = 2  # "Connecting to WebSocket API costs 2 weight."
MAX_RECV_WINDOW = Decimal(60000)
DEFAULT_RECV_WINDOW = Decimal(5000)
API_KEY_RE = re.compile(r"[A-Za-z0-9]{1,128}")
DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
DECIMAL_RE = re.compile(DECIMAL_RANGE)
LONG_RANGE = r"^[0-9]{1,20}$"
LONG_RE = re.compile(LONG_RANGE)
RECV_WINDOW_RANGE = r"^[0-9]{1,20}(\.[0-9]{1,3})?$"
RECV_WINDOW_RE = re.compile(RECV_WINDOW_RANGE)
EIGHT = Decimal("0.00000001")
_WIDE = decimal.Context(prec=60)

ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER")
OTHER_ORDER_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER")
AUTH_PARAMS = ("apiKey", "signature", "timestamp", "recvWindow", "returnRateLimits")
ORDER_PARAMS = (
    "symbol", "side", "type", "timeInForce", "price", "quantity", "quoteOrderQty",
    "newClientOrderId", "newOrderRespType", "selfTradePreventionMode", "strategyId",
    "strategyType", *AUTH_PARAMS,
)
UNSIMULATED_ORDER_PARAMS = (
    "stopPrice", "trailingDelta", "icebergQty", "pegPriceType", "pegOffsetValue",
    "pegOffsetType",
)
STATUS_PARAMS = ("symbol", "orderId", "origClientOrderId", *AUTH_PARAMS)
OPEN_ORDERS_PARAMS = ("symbol", *AUTH_PARAMS)
CANCEL_PARAMS = (*STATUS_PARAMS, "newClientOrderId", "cancelRestrictions")
TIMEOUT_MSG = ("Timeout waiting for response from backend server. Send status unknown; "
               "execution status unknown.")


def signature_payload(params: Mapping[str, str]) -> str:
    """The signature payload of a WebSocket API request's parameters."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def hmac_sign(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` keyed with ``secret`` (both UTF-8)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def hmac_ok(secret: str, payload: str, signature: str) -> bool:
    """Whether ``signature`` is the HMAC-SHA256 of ``payload``; hex case does not matter."""
    if len(signature) != 64 or not signature.isascii():
        return False
    return hmac.compare_digest(hmac_sign(secret, payload), signature.lower())


def load_ed25519_public_key(pem: str) -> Ed25519PublicKey:
    """Loads a PEM ``PUBLIC KEY``; ValueError if it is not an Ed25519 key."""
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def ed25519_ok(key: Ed25519PublicKey, payload: str, signature_b64: str) -> bool:
    """Whether ``signature_b64`` (standard base64) is ``key``'s Ed25519 signature of
    ``payload``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(signature, payload.encode())
    except InvalidSignature:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class BinanceAccount:
    api_key: str
    hmac_secret: str | None = None
    ed25519: Ed25519PublicKey | None = None


def parse_account(entry: dict[str, Any], where: str) -> BinanceAccount:
    api_key = string_field(entry, "apiKey", where)
    no_other_fields(entry, {"apiKey", "hmacSecret", "ed25519PublicKey"}, where)
    if ("hmacSecret" in entry) == ("ed25519PublicKey" in entry):
        raise AccountsError(f"{where}: needs exactly one of 'hmacSecret', 'ed25519PublicKey'")
    if "hmacSecret" in entry:
        return BinanceAccount(api_key, hmac_secret=string_field(entry, "hmacSecret", where))
    pem = string_field(entry, "ed25519PublicKey", where)
    try:
        key = load_ed25519_public_key(pem)
    except ValueError as exc:
        raise AccountsError(f"{where}: 'ed25519PublicKey' is not a PEM Ed25519 public key "
                            f"({exc})") from None
    return BinanceAccount(api_key, ed25519=key)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: int,
        msg: str,
        *,
        verdict: str = "rejected",
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.verdict, self.data = (
            status, code, msg, verdict, data)


def mandatory(name: str, *, verdict: str = "rejected") -> ApiError:
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                    "or malformed.", verdict=verdict)


def illegal(name: str, legal: str) -> ApiError:
    return ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range "
                    f"is '{legal}'.")


def not_required(name: str) -> ApiError:
    return ApiError(400, -1106, f"Parameter '{name}' sent when not required.")


def refused(refusal: Refusal, now: int) -> ApiError:
    return ApiError(refusal.status, refusal.code, refusal.msg,
                    data={"serverTime": now, "retryAfter": refusal.retry_after})


def fmt8(value: Decimal) -> str:
    return f"{value.quantize(EIGHT, context=_WIDE):f}"


@dataclasses.dataclass
class Session:
    connected_since: int
    return_rate_limits: bool
    api_key: str | None = None
    authorized_since: int | None = None




@dataclasses.dataclass
class Call:
    params: wire.JsonObject
    texts: dict[str, str]
    session: Session
    ip: str
    now: int
    trace: Trace


@dataclasses.dataclass
class NewOrder:
    symbol: str
    side: str
    type: str
    time_in_force: str | None
    price: Decimal | None
    qty: Decimal | None
    quote_qty: Decimal | None
    client_order_id: str | None
    resp_type: str
    stp_mode: str
    extra: dict[str, Any]


def _valid_id(rid: Any) -> bool:
    """Request ids as documented: a 64-bit signed integer, a string of at most 36
    characters, or null."""
    if rid is None:
        return True
    if isinstance(rid, wire.JsonNumber):
        return rid.is_integer() and len(rid) <= 20 and -(2**63) <= int(rid) < 2**63
    return isinstance(rid, str) and len(rid) <= 36


def _texts(params: wire.JsonObject) -> dict[str, str]:
    """Every parameter as signature-payload text; null, objects and arrays are malformed."""
    texts: dict[str, str] = {}
    for name, value in params.items():
        text = wire.param_text(value)
        if text is None:
            raise mandatory(name)
        texts[name] = text
    return texts


def _unread(params: wire.JsonObject, allowed: tuple[str, ...]) -> None:
    read = sum(1 for name in params if name in allowed)
    if read != len(params):
        raise ApiError(400, -1104, "Not all sent parameters were read; read "
                       f"'{read}' parameter(s) but was sent '{len(params)}'.")


def _decimal(texts: dict[str, str], name: str) -> Decimal | None:
    text = texts.get(name)
    if text is None:
        return None
    if text == "":
        raise mandatory(name)
    if not DECIMAL_RE.match(text):
        raise illegal(name, DECIMAL_RANGE)
    return Decimal(text)


def book_ticker(quote: Quote) -> str:
    return json.dumps({
        "u": quote.update_id, "s": quote.symbol, "b": fmt8(quote.bid), "B": fmt8(quote.bid_qty),
        "a": fmt8(quote.ask), "A": fmt8(quote.ask_qty),
    })


class BinanceApi(VenueService):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.accounts: dict[str, BinanceAccount] = ctx.accounts[NAME]
        self.client_id_re = ctx.client_id_re or CLIENT_ID_RE
        self._next_order_id = 1
        self.methods: dict[str, Callable[[Call], Any]] = {
            "ping": self.ping,
            "time": self.time,
            "session.logon": self.logon,
            "session.status": self.session_status,
            "session.logout": self.logout,
            "order.place": self.order_place,
            "order.status": self.order_status,
            "openOrders.status": self.open_orders_status,
            "order.cancel": self.order_cancel,
        }

    # ------------------------------------------------------------------ connection

    def stream_symbol(self, route: str) -> str | None:
        """The book symbol a market stream path names, or None if it names none."""
        found = STREAM_RE.fullmatch(route)
        if not found:
            return None
        for symbol in self.ctx.book.quotes:
            if "/" not in symbol and symbol.lower() == found.group(1):
                return symbol
        return None

    def handles(self, route: str) -> bool:
        return route == WS_API_PATH or self.stream_symbol(route) is not None

    def next_order_id(self) -> int:
        value = self._next_order_id
        self._next_order_id += 1
        return value

    async def serve(self, link: Link) -> None:
        symbol = self.stream_symbol(urlsplit(link.path).path)
        if symbol is not None:
            await serve_stream(self.ctx, NAME, link, symbol, book_ticker)
        else:
            await self.serve_api(link)

    async def serve_api(self, link: Link) -> None:
        ctx = self.ctx
        now = ctx.clock.ms()
        query = parse_qs(urlsplit(link.path).query)
        rrl = query.get("returnRateLimits", ["true"])[-1].lower() != "false"
        session = Session(connected_since=now, return_rate_limits=rrl)
        ctx.limits.weight.add(link.ip, now, CONNECT_WEIGHT)
        async for t_ns, text, raw in link.messages():
            response, trace = self.answer(text, session, link.ip)
            if trace.method == "order.place":
                self.last_order_link = link   # what SIGUSR1 cuts (a dead primary)
            ctx.recorder.request(
                NAME, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                method=trace.method, verdict=trace.verdict, code=trace.code,
                client_order_id=trace.client_order_id,
            )
            data = json.dumps(response, ensure_ascii=False)
            if trace.delay_ms > 0:
                link.send_later(functools.partial(str, data), trace.delay_ms)
            else:
                await link.send(data)

    def answer(self, text: str | None, session: Session, ip: str) -> tuple[dict[str, Any], Trace]:
        """The response to one received message, and what to log about it."""
        trace = Trace()
        request_id: Any = None
        include_limits = session.return_rate_limits
        result: Any = None
        try:
            try:
                msg = wire.loads(text) if text is not None else None
            except wire.BadJson:
                msg = None
            if not isinstance(msg, dict):
                raise ApiError(400, -1135, "Invalid JSON Request", verdict="error")
            if "id" not in msg:
                raise mandatory("id", verdict="error")
            rid = msg["id"]
            if not _valid_id(rid):
                raise mandatory("id", verdict="error")
            request_id = wire.plain(rid)
            method = msg.get("method")
            if not isinstance(method, str) or isinstance(method, wire.JsonNumber) or not method:
                raise mandatory("method", verdict="error")
            method = method.removeprefix("v3/")
            trace.method = method
            if method == "order.place":
                trace.delay_ms = self.ctx.ack_delay_ms
            params = msg.get("params", wire.JsonObject())
            if not isinstance(params, wire.JsonObject):
                raise ApiError(400, -1135, "Invalid 'params' in JSON request; expected an "
                               "object.", verdict="error")
            if params.duplicates or (isinstance(msg, wire.JsonObject) and msg.duplicates):
                raise ApiError(400, -1101, "Duplicate values for a parameter detected.")
            rrl = params.get("returnRateLimits")
            if rrl is not None:
                if rrl not in (True, False, "true", "false"):
                    raise illegal("returnRateLimits", "true, false")
                include_limits = rrl in (True, "true")
            handler = self.methods.get(method)
            if handler is None:
                raise ApiError(400, -1020, "This operation is not supported.", verdict="error")
            now = self.ctx.clock.ms()
            weight = WEIGHTS[method] if method != "openOrders.status" or "symbol" in params \
                else ALL_OPEN_ORDERS_WEIGHT
            refusal = self.ctx.limits.banned(ip, now) or self.ctx.limits.charge(ip, weight, now)
            if refusal is not None:
                raise refused(refusal, now)
            call = Call(params, _texts(params), session, ip, now, trace)
            result = handler(call)
            trace.verdict = "accepted"
            response: dict[str, Any] = {"id": request_id, "status": 200, "result": result}
        except ApiError as exc:
            trace.verdict = exc.verdict
            trace.code = exc.code
            error: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
            if exc.data is not None:
                error["data"] = exc.data
            response = {"id": request_id, "status": exc.status, "error": error}
        except Exception:  # a simulator bug must not take the connection down
            traceback.print_exc(file=sys.stderr)
            trace.verdict, trace.code = "error", -1000
            response = {"id": request_id, "status": 500, "error": {
                "code": -1000, "msg": "An unknown error occurred while processing the request."}}
        if include_limits:
            response["rateLimits"] = self.ctx.limits.report(ip, trace.account, self.ctx.clock.ms())
        return response, trace

    # ------------------------------------------------------------------ security

    def authenticate(self, call: Call, *, session_ok: bool = True) -> BinanceAccount:
        """The account a signed request acts for: its own apiKey + signature, or the
        connection's logged-on key when it sends neither."""
        api_key = call.texts.get("apiKey")
        signature = call.texts.get("signature")
        session = call.session
        if api_key is None and signature is None and session_ok and session.api_key:
            return self.accounts[session.api_key]
        if not api_key:
            raise mandatory("apiKey")
        if not API_KEY_RE.fullmatch(api_key):
            raise ApiError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(api_key)
        if account is None:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if signature is None and session_ok and session.api_key == api_key:
            return account
        if not signature:
            raise mandatory("signature")
        payload = signature_payload(call.texts)
        if account.hmac_secret is not None:
            ok = hmac_ok(account.hmac_secret, payload, signature)
        else:
            assert account.ed25519 is not None
            ok = ed25519_ok(account.ed25519, payload, signature)
        if not ok:
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        return account

    def check_timestamp(self, call: Call) -> None:
        """Binance's timing security: ``timestamp < serverTime + 1000`` and
        ``serverTime - timestamp <= recvWindow`` (timestamp in ms, or in µs)."""
        text = call.texts.get("timestamp")
        if not text:
            raise mandatory("timestamp")
        if not LONG_RE.match(text):
            raise illegal("timestamp", LONG_RANGE)
        stamp = Decimal(text)
        if stamp >= 10**14:  # microseconds
            stamp /= 1000
        window = DEFAULT_RECV_WINDOW
        rw_text = call.texts.get("recvWindow")
        if rw_text is not None:
            if not RECV_WINDOW_RE.match(rw_text):
                raise illegal("recvWindow", RECV_WINDOW_RANGE)
            window = Decimal(rw_text)
            if window > MAX_RECV_WINDOW:
                raise ApiError(400, -1102, "'recvWindow' contains unexpected value. Cannot be "
                               "greater than 60000.")
        now = Decimal(self.ctx.clock.ms())
        if not stamp < now + 1000:
            raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the "
                           "server's time.")
        if now - stamp > window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    # ------------------------------------------------------------------ general and session

    def ping(self, call: Call) -> dict[str, Any]:
        _unread(call.params, ("returnRateLimits",))
        return {}

    def time(self, call: Call) -> dict[str, Any]:
        _unread(call.params, ("returnRateLimits",))
        return {"serverTime": self.ctx.clock.ms()}

    def _session_result(self, session: Session) -> dict[str, Any]:
        return {
            "apiKey": session.api_key, "authorizedSince": session.authorized_since,
            "connectedSince": session.connected_since,
            "returnRateLimits": session.return_rate_limits,
            "serverTime": self.ctx.clock.ms(), "userDataStream": False,
        }

    def logon(self, call: Call) -> dict[str, Any]:
        _unread(call.params, AUTH_PARAMS)
        account = self.authenticate(call, session_ok=False)
        if account.ed25519 is None:  # "Only Ed25519 keys are supported for this feature."
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        self.check_timestamp(call)
        call.session.api_key = account.api_key
        call.session.authorized_since = self.ctx.clock.ms()
        return self._session_result(call.session)

    def session_status(self, call: Call) -> dict[str, Any]:
        _unread(call.params, ("returnRateLimits",))
        return self._session_result(call.session)

    def logout(self, call: Call) -> dict[str, Any]:
        _unread(call.params, ("returnRateLimits",))
        call.session.api_key = None
        call.session.authorized_since = None
        return self._session_result(call.session)

    # ------------------------------------------------------------------ orders

    def parse_order(self, call: Call) -> NewOrder:
        params, texts = call.params, call.texts
        unsimulated = [n for n in UNSIMULATED_ORDER_PARAMS if n in params]
        if unsimulated:
            raise ApiError(400, -1014, "Unsupported order combination.")
        _unread(params, ORDER_PARAMS)
        for name in ("symbol", "side", "type"):
            if not texts.get(name):
                raise mandatory(name)
        symbol, side, kind = texts["symbol"], texts["side"], texts["type"]
        if side not in ("BUY", "SELL"):
            raise ApiError(400, -1117, "Invalid side.")
        if kind in OTHER_ORDER_TYPES:
            raise ApiError(400, -1014, "Unsupported order combination.")
        if kind not in ORDER_TYPES:
            raise ApiError(400, -1116, "Invalid orderType.")
        tif = texts.get("timeInForce")
        if kind == "LIMIT":
            if not tif:
                raise mandatory("timeInForce")
            if tif not in TIME_IN_FORCE:
                raise ApiError(400, -1115, "Invalid timeInForce.")
        elif tif is not None:
            raise not_required("timeInForce")
        price = _decimal(texts, "price")
        qty = _decimal(texts, "quantity")
        quote_qty = _decimal(texts, "quoteOrderQty")
        if kind == "MARKET":
            if price is not None:
                raise not_required("price")
            if qty is None and quote_qty is None:
                raise ApiError(400, -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, "
                               "but both were empty/null!")
            if qty is not None and quote_qty is not None:
                raise not_required("quoteOrderQty")
        else:
            if quote_qty is not None:
                raise not_required("quoteOrderQty")
            if price is None:
                raise mandatory("price")
            if qty is None:
                raise mandatory("quantity")
        quote = self.ctx.book.get(symbol)
        if quote is None or "/" in symbol:
            raise ApiError(400, -1121, "Invalid symbol.")
        if price is not None and (price <= 0 or price % quote.tick != 0):
            raise ApiError(400, -1013, "Filter failure: PRICE_FILTER")
        if qty is not None and qty <= 0:
            raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
        if quote_qty is not None and quote_qty <= 0:
            raise ApiError(400, -1013, "Filter failure: NOTIONAL")
        client_id = texts.get("newClientOrderId")
        if client_id is not None and not self.client_id_re.search(client_id):
            raise illegal("newClientOrderId", self.client_id_re.pattern)
        resp_type = texts.get("newOrderRespType", "FULL" if kind != "LIMIT_MAKER" else "ACK")
        if resp_type not in RESP_TYPES:
            raise illegal("newOrderRespType", ", ".join(RESP_TYPES))
        stp = texts.get("selfTradePreventionMode", "NONE")
        if stp not in STP_MODES:
            raise illegal("selfTradePreventionMode", ", ".join(STP_MODES))
        extra: dict[str, Any] = {}
        for name in ("strategyId", "strategyType"):
            if name in texts:
                if not LONG_RE.match(texts[name]):
                    raise illegal(name, LONG_RANGE)
                extra[name] = int(texts[name])
        if extra.get("strategyType", 1_000_000) < 1_000_000:
            raise ApiError(400, -1134, "strategyType was less than 1000000.")
        return NewOrder(symbol, side, kind, tif, price, qty, quote_qty, client_id, resp_type,
                        stp, extra)

    def order_place(self, call: Call) -> dict[str, Any]:
        ctx = self.ctx
        account = self.authenticate(call)
        call.trace.account = account.api_key
        self.check_timestamp(call)
        new = self.parse_order(call)
        call.trace.client_order_id = new.client_order_id
        refusal = ctx.limits.order_refusal(call.ip, account.api_key, call.now)
        if refusal is not None:
            raise refused(refusal, call.now)
        if new.client_order_id is not None and ctx.orders.client_id_taken(
                NAME, account.api_key, new.client_order_id):
            raise ApiError(400, -2010, "Duplicate order sent.")
        quote = ctx.book.get(new.symbol)
        assert quote is not None
        buy = new.side == "BUY"
        fill_at = crossing_price(quote, buy, None if new.type == "MARKET" else new.price)
        if new.type == "LIMIT_MAKER" and fill_at is not None:
            raise ApiError(400, -2010, "Order would immediately match and take.")
        qty = new.qty
        if qty is None:  # MARKET by quoteOrderQty
            assert new.quote_qty is not None and fill_at is not None
            qty = (new.quote_qty / fill_at).quantize(EIGHT, decimal.ROUND_DOWN, context=_WIDE)
        if fill_at is not None:
            status, executed = "FILLED", qty
        elif new.time_in_force in ("IOC", "FOK"):
            status, executed = "EXPIRED", Decimal(0)
        else:
            status, executed = "NEW", Decimal(0)
        client_id = new.client_order_id or "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(22))
        now = ctx.clock.ms()
        unknown = bool(new.client_order_id is not None and ctx.outcome_unknown_re is not None
                       and ctx.outcome_unknown_re.search(new.client_order_id))
        order = Order(
            venue=NAME, account=account.api_key, order_id=self.next_order_id(),
            client_order_id=client_id, symbol=new.symbol, side=new.side, type=new.type,
            time_in_force=new.time_in_force or "GTC", price=new.price, qty=qty,
            executed_qty=executed,
            quote_qty=executed * fill_at if fill_at is not None else Decimal(0),
            status=status, transact_ms=now, outcome_unknown=unknown,
            extra={"stp": new.stp_mode, "quote_order_qty": new.quote_qty, **new.extra},
        )
        if fill_at is not None:
            order.fills.append(Fill(fill_at, qty, ctx.orders.next_trade_id()))
        ctx.limits.count_order(account.api_key, call.now)
        ctx.orders.add(order)
        call.trace.client_order_id = client_id
        if unknown:
            raise ApiError(400, -1007, TIMEOUT_MSG, verdict="accepted")
        return self.order_result(order, new.resp_type)

    def order_result(self, order: Order, resp_type: str) -> dict[str, Any]:
        result: dict[str, Any] = {
            "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id, "transactTime": order.transact_ms,
        }
        if resp_type == "ACK":
            return result
        result.update(self._order_fields(order))
        result["workingTime"] = order.transact_ms
        result["selfTradePreventionMode"] = order.extra["stp"]
        for name in ("strategyId", "strategyType"):
            if name in order.extra:
                result[name] = order.extra[name]
        if resp_type == "FULL":
            result["fills"] = [{
                "price": fmt8(f.price), "qty": fmt8(f.qty), "commission": fmt8(Decimal(0)),
                "commissionAsset": "BNB", "tradeId": f.trade_id,
            } for f in order.fills]
        return result

    @staticmethod
    def _order_fields(order: Order) -> dict[str, Any]:
        quote_order_qty = order.extra.get("quote_order_qty") or Decimal(0)
        return {
            "price": fmt8(order.price or Decimal(0)), "origQty": fmt8(order.qty),
            "executedQty": fmt8(order.executed_qty), "origQuoteOrderQty": fmt8(quote_order_qty),
            "cummulativeQuoteQty": fmt8(order.quote_qty), "status": order.status,
            "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        }

    def _find_order(self, call: Call, params: tuple[str, ...]) -> Order:
        """The order a status or cancel request names (by orderId or client id)."""
        account = self.authenticate(call)
        self.check_timestamp(call)
        _unread(call.params, params)
        texts = call.texts
        symbol = texts.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        order_id_text = texts.get("orderId")
        client_id = texts.get("origClientOrderId")
        if order_id_text is None and client_id is None:
            raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, "
                           "but both were empty/null!")
        if self.ctx.book.get(symbol) is None or "/" in symbol:
            raise ApiError(400, -1121, "Invalid symbol.")
        call.trace.client_order_id = client_id
        orders = self.ctx.orders
        if order_id_text is not None:
            if not LONG_RE.match(order_id_text):
                raise illegal("orderId", LONG_RANGE)
            order = orders.by_id(NAME, account.api_key, int(order_id_text))
            if order is not None and client_id is not None and order.client_order_id != client_id:
                raise ApiError(400, -2039, "Client order ID is not correct for this order ID.")
        else:
            assert client_id is not None
            order = orders.by_client_id(NAME, account.api_key, client_id)
        if order is None or order.symbol != symbol:
            raise ApiError(400, -2013, "Order does not exist.")
        return order

    def order_status(self, call: Call) -> dict[str, Any]:
        return self._order_view(self._find_order(call, STATUS_PARAMS))

    def open_orders_status(self, call: Call) -> list[dict[str, Any]]:
        """The account's open orders (NEW, PARTIALLY_FILLED), of one symbol if given."""
        account = self.authenticate(call)
        self.check_timestamp(call)
        _unread(call.params, OPEN_ORDERS_PARAMS)
        symbol = call.texts.get("symbol")
        if symbol is not None and (self.ctx.book.get(symbol) is None or "/" in symbol):
            raise ApiError(400, -1121, "Invalid symbol.")
        return [self._order_view(o) for o in self.ctx.orders.orders
                if o.venue == NAME and o.account == account.api_key
                and o.status in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o.symbol == symbol)]

    def _order_view(self, order: Order) -> dict[str, Any]:
        """An order as order.status and openOrders.status show it."""
        return {
            "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id, **self._order_fields(order),
            "stopPrice": fmt8(Decimal(0)), "icebergQty": fmt8(Decimal(0)),
            "time": order.transact_ms, "updateTime": order.transact_ms, "isWorking": True,
            "workingTime": order.transact_ms, "selfTradePreventionMode": order.extra["stp"],
            **{k: order.extra[k] for k in ("strategyId", "strategyType") if k in order.extra},
        }


    def order_cancel(self, call: Call) -> dict[str, Any]:
        """Cancels an open order (NEW or PARTIALLY_FILLED); anything else is -2011."""
        try:
            order = self._find_order(call, CANCEL_PARAMS)
        except ApiError as exc:
            if exc.code == -2013:
                raise ApiError(400, -2011, "Unknown order sent.") from None
            raise
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(400, -2011, "Unknown order sent.")
        order.status = "CANCELED"
        self.ctx.orders.changed()
        return {
            "symbol": order.symbol, "origClientOrderId": order.client_order_id,
            "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": call.texts.get("newClientOrderId") or f"cancel{order.order_id}",
            "transactTime": self.ctx.clock.ms(), **self._order_fields(order),
            "selfTradePreventionMode": order.extra["stp"],
        }


def new_account() -> tuple[dict[str, str], dict[str, str]]:
    key, secret = "paper" + secrets.token_hex(24), secrets.token_hex(32)
    return {"apiKey": key, "hmacSecret": secret}, {"api_key": key, "secret": secret}


VENUE = SimVenue(name=NAME, parse_account=parse_account, start=BinanceApi,
                 books=("BTCUSDT=52000.00:52000.10",), new_account=new_account)
