# SPDX-License-Identifier: MIT
"""Kraken, simulated: the WebSocket v2 subset on ``/v2`` (``ping``, ``add_order``,
``cancel_order``, ``subscribe`` to the ``ticker`` channel) and the REST
``POST /0/private/GetWebSocketsToken``, ``QueryOrders`` and ``OpenOrders`` on the REST port.

``subscribe`` with ``{"channel": "ticker", "symbol": [...], "event_trigger": "bbo"}``
is acknowledged per Kraken's docs, then each symbol gets a ``snapshot`` and an
``update`` on every book step: ``{"channel": "ticker", "type": "update", "data":
[{"symbol", "bid", "bid_qty", "ask", "ask_qty", "last", ...}]}`` with JSON numbers.
(Kraken serves it on its public endpoint; the simulator on the same ``/v2``.)

``add_order`` and ``cancel_order`` take a token from the REST endpoint; with
``--tokens-die-on-close`` the tokens a connection used are refused once it closed
(stricter than Kraken, which lets a token lapse 15 minutes after issue when no
connection keeps it: a client must fetch a fresh one for each connection).
``cancel_order`` takes ``cl_ord_id`` (a list; also ``order_id``) and answers once per
order: ``{"method": "cancel_order", "success": true, "result": {"order_id",
"cl_ord_id"}}``, or ``"EOrder:Unknown order"`` for one not open.

Orders are metered as Kraken's "Spot Trading Limits" guide says: "Each client has a
rate counter per pair ... incremented on each transaction ... decremented over time by
a decay rate based on client tier.  When the rate counter threshold is reached, the
engine will generate ``EOrder:Rate limit exceeded``".  Here each ``add_order`` adds 1
(its "Fixed" count, applied "even if the transaction fails validation"), the counter
decays by 1 a second (the starter tier's rate) and ``--pair-counter-max`` is the
threshold.  --outcome-unknown-regex: a matching ``cl_ord_id`` is executed but answered
``EGeneral:Internal error``.  Responses carry ``method``,
``req_id`` (when the request had one), ``success``, ``result`` or ``error``, and
RFC 3339 ``time_in`` / ``time_out``.  Limit and market orders execute against the
book (symbols with a "/").  Order ids are random ``OXXXXX-XXXXX-XXXXXX`` strings like
the real ones.

REST: headers ``API-Key`` and ``API-Sign``, form-encoded body with ``nonce``.
``QueryOrders`` takes ``txid`` (Kraken order ids, comma separated) or ``cl_ord_id`` and
answers ``{txid: {"cl_ord_id", "status", "vol", "vol_exec", "descr": {"pair", ...}}}``
with status ``pending``/``open``/``closed``/``canceled``/``expired`` (none for an id it
does not know); ``OpenOrders`` answers ``{"open": {txid: ...}}`` likewise.  Checked
in this order: the key (``EAPI:Invalid key``), ``API-Sign`` (``EAPI:Invalid
signature``), the nonce, which must be an integer above the last one accepted for the
key (``EAPI:Invalid nonce``).  Answers are Kraken's ``{"error": [...], "result":
{...}}`` with HTTP 200.  ``API-Sign`` is base64(HMAC-SHA512(key=base64decode(secret),
msg=uri_path + SHA256(nonce + postdata))).

Accounts: ``"kraken": [{"apiKey", "secret" (base64)}]``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import string
import sys
import time
import traceback
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import wire
from .accounts import AccountsError, no_other_fields, string_field
from .book import Quote, crossing_price
from .context import Context
from .link import Link
from .market import push_quotes
from .orders import Fill, Order
from .venue import RestAnswer, SimVenue, Trace, VenueService

NAME = "kraken"
WS_PATH = "/v2"
TOKEN_PATH = "/0/private/GetWebSocketsToken"
QUERY_PATH = "/0/private/QueryOrders"
OPEN_PATH = "/0/private/OpenOrders"
UNKNOWN_OUTCOME = "EGeneral:Internal error"
RATE_LIMITED = "EOrder:Rate limit exceeded"
COUNTER_DECAY_PER_S = 1.0  # Kraken's starter tier
# Our order states as QueryOrders spells them.
REST_STATUS = {"new": "open", "partially_filled": "open", "filled": "closed",
               "canceled": "canceled", "expired": "expired"}
TOKEN_LIFETIME_S = 900  # Kraken: "The token should be used within 15 minutes of creation"
ORDER_ID_CHARS = string.ascii_uppercase + string.digits

INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
MAX_NUMBER = Decimal(10) ** 20  # quantities and prices beyond these are not plausible
MIN_EXPONENT = -20
ORDER_TYPES = ("limit", "market")
OTHER_ORDER_TYPES = (
    "iceberg", "stop-loss", "stop-loss-limit", "take-profit", "take-profit-limit",
    "trailing-stop", "trailing-stop-limit", "settle-position",
)
TIME_IN_FORCE = ("gtc", "gtd", "ioc")
ADD_ORDER_PARAMS = (
    "order_type", "side", "order_qty", "symbol", "limit_price", "limit_price_type",
    "time_in_force", "margin", "post_only", "reduce_only", "effective_time", "expire_time",
    "deadline", "cl_ord_id", "order_userref", "display_qty", "fee_preference", "no_mpp",
    "stp_type", "cash_order_qty", "validate", "sender_sub_id", "triggers", "conditional",
    "token",
)
# cl_ord_id: a UUID (36 characters with hyphens or 32 without) or free text of up to
# 18 characters.
CL_ORD_ID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[\x21-\x7e]{1,18}"
)


@dataclasses.dataclass(frozen=True)
class KrakenAccount:
    api_key: str
    secret: str  # base64, as Kraken hands it out


def parse_account(entry: dict[str, Any], where: str) -> KrakenAccount:
    api_key = string_field(entry, "apiKey", where)
    no_other_fields(entry, {"apiKey", "secret"}, where)
    secret = string_field(entry, "secret", where)
    try:
        base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise AccountsError(f"{where}: 'secret' is not base64") from None
    return KrakenAccount(api_key, secret)


def api_sign(secret_b64: str, uri_path: str, nonce: str, postdata: str) -> str:
    """Kraken's ``API-Sign`` for a private REST request."""
    digest = hashlib.sha256((nonce + postdata).encode()).digest()
    key = base64.b64decode(secret_b64, validate=True)
    mac = hmac.new(key, uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def sign_ok(secret_b64: str, uri_path: str, nonce: str, postdata: str, given_sign: str) -> bool:
    """Whether ``given_sign`` is the right ``API-Sign`` for this request."""
    try:
        given = base64.b64decode(given_sign, validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = base64.b64decode(api_sign(secret_b64, uri_path, nonce, postdata))
    return hmac.compare_digest(expected, given)


class Tokens:
    """WebSocket tokens handed out by the REST endpoint, in memory only.

    A token is good for 15 minutes after it was issued; once a connection has used it
    successfully it stays good on that connection (Kraken: it "does not expire once a
    connection ... is maintained")."""

    def __init__(self, lifetime_s: float = TOKEN_LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (api key, issued)

    def issue(self, api_key: str) -> str:
        # Like Kraken's: 32 random bytes in standard base64, padding dropped.
        token = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self._tokens[token] = (api_key, time.monotonic())
        return token

    def revoke(self, token: str) -> None:
        self._tokens.pop(token, None)

    def check(self, token: str, used_here: set[str]) -> str | None:
        """The API key ``token`` belongs to, or None if it is unknown or expired."""
        entry = self._tokens.get(token)
        if entry is None:
            return None
        api_key, issued = entry
        if token not in used_here and time.monotonic() - issued > self.lifetime_s:
            return None
        return api_key


class KrakenError(Exception):
    def __init__(self, error: str, verdict: str = "rejected") -> None:
        super().__init__(error)
        self.error, self.verdict = error, verdict


@dataclasses.dataclass
class KrakenTrace(Trace):
    subscribed: tuple[str, ...] = ()    # ticker symbols to start pushing


def _number(params: dict[str, Any], name: str, *, required: bool) -> Decimal | None:
    value = params.get(name)
    if value is None:
        if required:
            raise KrakenError(INVALID_ARGUMENTS)
        return None
    if not isinstance(value, wire.JsonNumber):
        raise KrakenError(INVALID_ARGUMENTS)
    number = Decimal(value)
    if abs(number) >= MAX_NUMBER or (number != 0 and number.adjusted() < MIN_EXPONENT):
        raise KrakenError(INVALID_ARGUMENTS)
    return number


class KrakenRest:
    """``GetWebSocketsToken``, ``QueryOrders`` and ``OpenOrders``."""

    paths: tuple[str, ...] = (TOKEN_PATH, QUERY_PATH, OPEN_PATH)
    headers: tuple[str, ...] = ("api-key", "api-sign")

    def __init__(self, ctx: Context, tokens: Tokens) -> None:
        self.ctx = ctx
        self.tokens = tokens
        self.accounts: dict[str, KrakenAccount] = ctx.accounts[NAME]
        self.last_nonce: dict[str, int] = {}

    def http_error(self, status: int) -> RestAnswer:
        error = "EGeneral:Unknown method" if status == 404 else INVALID_ARGUMENTS
        return RestAnswer(status, {"error": [error], "result": {}}, "error", error)

    def answer(self, method: str, path: str, headers: dict[str, str], body: str) -> RestAnswer:
        if method != "POST":
            return self.http_error(405)
        form = parse_qs(body, keep_blank_values=True)
        account = self.accounts.get(headers.get("api-key", ""))
        if account is None:
            return self._refused("EAPI:Invalid key")
        nonce_values = form.get("nonce", [])
        nonce = nonce_values[0] if len(nonce_values) == 1 else ""
        if not sign_ok(account.secret, urlsplit(path).path, nonce, body,
                       headers.get("api-sign", "")):
            return self._refused("EAPI:Invalid signature")
        if not nonce.isdigit() or int(nonce) <= self.last_nonce.get(account.api_key, -1):
            return self._refused("EAPI:Invalid nonce")
        self.last_nonce[account.api_key] = int(nonce)
        route = urlsplit(path).path
        if route == QUERY_PATH:
            return self._ok(self._query(account.api_key, form))
        if route == OPEN_PATH:
            mine = [o for o in self.ctx.orders.orders if o.venue == NAME
                    and o.account == account.api_key and REST_STATUS.get(o.status) == "open"]
            return self._ok({"open": {str(o.order_id): order_info(o) for o in mine}})
        token = self.tokens.issue(account.api_key)
        return self._ok({"token": token, "expires": int(self.tokens.lifetime_s)})

    def _query(self, api_key: str, form: dict[str, list[str]]) -> dict[str, Any]:
        orders = self.ctx.orders
        found = [orders.by_id(NAME, api_key, txid)
                 for txid in ",".join(form.get("txid", [])).split(",") if txid]
        found += [orders.by_client_id(NAME, api_key, cl) for cl in form.get("cl_ord_id", [])]
        return {str(o.order_id): order_info(o) for o in found if o is not None}

    @staticmethod
    def _ok(result: dict[str, Any]) -> RestAnswer:
        return RestAnswer(200, {"error": [], "result": result}, "accepted", None)

    @staticmethod
    def _refused(error: str) -> RestAnswer:
        return RestAnswer(200, {"error": [error], "result": {}}, "rejected", error)


def order_info(order: Order) -> dict[str, Any]:
    """One order as QueryOrders and OpenOrders show it."""
    return {"cl_ord_id": order.client_order_id, "status": REST_STATUS.get(order.status, "open"),
            "vol": str(order.qty), "vol_exec": str(order.executed_qty),
            "descr": {"pair": order.symbol, "type": order.side, "ordertype": order.type,
                      "price": str(order.price or 0)}}


class PairCounters:
    """Kraken's per-pair order rate counters of each account, decaying with time."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._counts: dict[tuple[str, str], tuple[float, float]] = {}  # -> (count, at)

    def charge(self, api_key: str, symbol: str) -> bool:
        """Adds one transaction; False when the counter is past the threshold."""
        now = time.monotonic()
        count, at = self._counts.get((api_key, symbol), (0.0, now))
        count = max(0.0, count - (now - at) * COUNTER_DECAY_PER_S) + 1
        self._counts[(api_key, symbol)] = (count, now)
        return count <= self.threshold


class KrakenApi(VenueService):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tokens = Tokens()
        self._rest = KrakenRest(ctx, self.tokens)
        self._order_ids: set[str] = set()
        self._counters = PairCounters(ctx.pair_counter_max)

    def handles(self, route: str) -> bool:
        return route == WS_PATH

    def rest(self) -> KrakenRest:
        return self._rest

    def new_order_id(self) -> str:
        while True:
            chars = "".join(secrets.choice(ORDER_ID_CHARS) for _ in range(16))
            order_id = f"O{chars[:5]}-{chars[5:10]}-{chars[10:]}"
            if order_id not in self._order_ids:
                self._order_ids.add(order_id)
                return order_id

    async def serve(self, link: Link) -> None:
        pushes: list[asyncio.Task[None]] = []
        try:
            await self._serve(link, pushes)
        finally:
            for task in pushes:
                task.cancel()

    async def _serve(self, link: Link, pushes: list[asyncio.Task[None]]) -> None:
        used_tokens: set[str] = set()
        async for t_ns, text, raw in link.messages():
            time_in = self.ctx.clock.rfc3339()
            response, trace = self.answer(text, used_tokens)
            self.ctx.recorder.request(
                NAME, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                method=trace.method, verdict=trace.verdict, code=trace.code,
                client_order_id=trace.client_order_id,
            )

            def finish(response: dict[str, Any] = response, time_in: str = time_in) -> str:
                response["time_in"] = time_in
                response["time_out"] = self.ctx.clock.rfc3339()
                return json.dumps(response, ensure_ascii=False)

            if trace.delay_ms > 0:
                link.send_later(finish, trace.delay_ms)
            else:
                await link.send(finish())
            for symbol in trace.subscribed:
                quote = self.ctx.book.get(symbol)
                assert quote is not None
                await link.send(ticker(quote, "snapshot"))
                pushes.append(push_quotes(self.ctx, link, symbol, ticker))
        if self.ctx.tokens_die_on_close:
            for token in used_tokens:
                self.tokens.revoke(token)

    def answer(self, text: str | None, used_tokens: set[str]) -> tuple[dict[str, Any], KrakenTrace]:
        trace = KrakenTrace()
        head: dict[str, Any] = {}
        try:
            try:
                msg = wire.loads(text) if text is not None else None
            except wire.BadJson:
                msg = None
            if not isinstance(msg, dict):
                raise KrakenError(INVALID_ARGUMENTS, "error")
            method = msg.get("method")
            if not isinstance(method, str) or isinstance(method, wire.JsonNumber):
                raise KrakenError(INVALID_ARGUMENTS, "error")
            trace.method = method
            head["method"] = method
            req_id = msg.get("req_id")
            if req_id is not None:
                if not isinstance(req_id, wire.JsonNumber) or not req_id.is_integer() \
                        or len(req_id) > 20 or not -(2**63) <= int(req_id) < 2**63:
                    raise KrakenError(INVALID_ARGUMENTS, "error")
                head["req_id"] = int(req_id)
            if method == "ping":
                trace.verdict = "accepted"
                return {"method": "pong", **{k: v for k, v in head.items() if k != "method"}}, trace
            if method == "cancel_order":
                result = self.cancel_order(msg.get("params"), used_tokens, trace)
                trace.verdict = "accepted"
                return {**head, "result": result, "success": True}, trace
            if method == "subscribe":
                result = self.subscribe(msg.get("params"), trace)
                trace.verdict = "accepted"
                return {**head, "result": result, "success": True}, trace
            if method != "add_order":
                raise KrakenError(INVALID_ARGUMENTS, "error")
            trace.delay_ms = self.ctx.ack_delay_ms
            result = self.add_order(msg.get("params"), used_tokens, trace)
            trace.verdict = "accepted"
            return {**head, "result": result, "success": True}, trace
        except KrakenError as exc:
            trace.verdict, trace.code = exc.verdict, exc.error
            return {"error": exc.error, **head, "success": False}, trace
        except Exception:  # a simulator bug must not take the connection down
            traceback.print_exc(file=sys.stderr)
            trace.verdict, trace.code = "error", "EGeneral:Internal error"
            return {"error": "EGeneral:Internal error", **head, "success": False}, trace

    def subscribe(self, params: Any, trace: KrakenTrace) -> dict[str, Any]:
        """The ticker channel (the only one simulated) for symbols of the book."""
        if not isinstance(params, dict) or params.get("channel") != "ticker":
            raise KrakenError("EGeneral:Invalid arguments:channel")
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols or not all(
                isinstance(s, str) and self.ctx.book.get(s) for s in symbols):
            raise KrakenError("EGeneral:Invalid arguments:symbol")
        trigger = params.get("event_trigger", "trades")
        if trigger not in ("bbo", "trades"):
            raise KrakenError("EGeneral:Invalid arguments:event_trigger")
        trace.subscribed = tuple(symbols)
        return {"channel": "ticker", "symbol": symbols[0], "event_trigger": trigger,
                "snapshot": True}

    def _account(self, params: Any, used_tokens: set[str]) -> str:
        """The API key whose token ``params`` carries."""
        if not isinstance(params, dict):
            raise KrakenError(INVALID_ARGUMENTS)
        token = params.get("token")
        if not isinstance(token, str) or isinstance(token, wire.JsonNumber) or not token:
            raise KrakenError(INVALID_ARGUMENTS)
        api_key = self.tokens.check(token, used_tokens)
        if api_key is None:
            raise KrakenError("EAPI:Invalid token")
        used_tokens.add(token)
        return api_key

    def cancel_order(self, params: Any, used_tokens: set[str], trace: Trace) -> dict[str, Any]:
        """One order by ``cl_ord_id`` or ``order_id`` (a list of one)."""
        api_key = self._account(params, used_tokens)
        ids = [params.get(k) for k in ("cl_ord_id", "order_id") if k in params]
        if len(ids) != 1 or not isinstance(ids[0], list) or len(ids[0]) != 1 \
                or not isinstance(ids[0][0], str) or isinstance(ids[0][0], wire.JsonNumber):
            raise KrakenError(INVALID_ARGUMENTS)
        orders = self.ctx.orders
        order = orders.by_client_id(NAME, api_key, ids[0][0]) if "cl_ord_id" in params \
            else orders.by_id(NAME, api_key, ids[0][0])
        if order is None or REST_STATUS.get(order.status) != "open":
            raise KrakenError("EOrder:Unknown order")
        trace.client_order_id = order.client_order_id
        order.status = "canceled"
        orders.changed()
        result: dict[str, Any] = {"order_id": order.order_id}
        if order.client_order_id is not None:
            result["cl_ord_id"] = order.client_order_id
        return result

    def add_order(
        self, params: Any, used_tokens: set[str], trace: Trace
    ) -> dict[str, Any]:
        ctx = self.ctx
        api_key = self._account(params, used_tokens)
        if isinstance(params.get("symbol"), str) \
                and not self._counters.charge(api_key, params["symbol"]):
            raise KrakenError(RATE_LIMITED)
        cl_ord_id = params.get("cl_ord_id")
        if cl_ord_id is not None:
            if not isinstance(cl_ord_id, str) or isinstance(cl_ord_id, wire.JsonNumber) \
                    or not CL_ORD_ID_RE.fullmatch(cl_ord_id):
                raise KrakenError(INVALID_ARGUMENTS)
            trace.client_order_id = cl_ord_id
        if any(name not in ADD_ORDER_PARAMS for name in params):
            raise KrakenError(INVALID_ARGUMENTS)
        order_type, side, symbol = (params.get(k) for k in ("order_type", "side", "symbol"))
        if order_type not in ORDER_TYPES:
            raise KrakenError(INVALID_ARGUMENTS)
        if side not in ("buy", "sell"):
            raise KrakenError(INVALID_ARGUMENTS)
        if not isinstance(symbol, str) or isinstance(symbol, wire.JsonNumber):
            raise KrakenError(INVALID_ARGUMENTS)
        qty = _number(params, "order_qty", required=True)
        assert qty is not None
        price = _number(params, "limit_price", required=order_type == "limit")
        if order_type == "market" and price is not None:
            raise KrakenError(INVALID_ARGUMENTS)
        tif = params.get("time_in_force", "gtc")
        if tif not in TIME_IN_FORCE:
            raise KrakenError(INVALID_ARGUMENTS)
        if tif == "gtd" and not isinstance(params.get("expire_time"), str):
            raise KrakenError(INVALID_ARGUMENTS)
        post_only = params.get("post_only", False)
        if not isinstance(post_only, bool):
            raise KrakenError(INVALID_ARGUMENTS)
        quote = ctx.book.get(symbol)
        if quote is None or "/" not in symbol:
            raise KrakenError("EQuery:Unknown asset pair")
        if qty <= 0:
            raise KrakenError("EOrder:Invalid order")
        if price is not None and price <= 0:
            raise KrakenError("EOrder:Invalid price")
        if cl_ord_id is not None and ctx.orders.client_id_taken(NAME, api_key, cl_ord_id):
            raise KrakenError("EOrder:Duplicate order")
        fill_at = crossing_price(quote, side == "buy", price)
        if fill_at is not None and not post_only:
            status, executed = "filled", qty
        elif fill_at is not None or tif == "ioc":  # post-only that would take, or IOC
            status, executed = "canceled", Decimal(0)
        else:
            status, executed = "new", Decimal(0)
        unknown = bool(cl_ord_id is not None and ctx.outcome_unknown_re is not None
                       and ctx.outcome_unknown_re.search(cl_ord_id))
        order = Order(
            venue=NAME, account=api_key, order_id=self.new_order_id(),
            client_order_id=cl_ord_id, symbol=symbol, side=side, type=order_type,
            time_in_force=tif, price=price, qty=qty, executed_qty=executed,
            quote_qty=executed * fill_at if fill_at is not None and executed else Decimal(0),
            status=status, transact_ms=ctx.clock.ms(), outcome_unknown=unknown,
        )
        if status == "filled":
            assert fill_at is not None
            order.fills.append(Fill(fill_at, qty, ctx.orders.next_trade_id()))
        ctx.orders.add(order)
        if unknown:
            raise KrakenError(UNKNOWN_OUTCOME, "accepted")
        result: dict[str, Any] = {"order_id": order.order_id}
        if cl_ord_id is not None:
            result["cl_ord_id"] = cl_ord_id
        userref = params.get("order_userref")
        if isinstance(userref, wire.JsonNumber) and userref.is_integer():
            result["order_userref"] = int(userref)
        return result


def ticker(quote: Quote, kind: str = "update") -> str:
    """A ticker message with the quote's prices as JSON numbers, as Kraken sends them."""
    last = (quote.bid + quote.ask) / 2
    return (f'{{"channel":"ticker","type":"{kind}","data":[{{"symbol":{json.dumps(quote.symbol)},'
            f'"bid":{quote.bid},"bid_qty":{quote.bid_qty},"ask":{quote.ask},'
            f'"ask_qty":{quote.ask_qty},"last":{last},"volume":0.0,"vwap":{last},'
            f'"low":{quote.bid},"high":{quote.ask},"change":0.0,"change_pct":0.0}}]}}')


def new_account() -> tuple[dict[str, str], dict[str, str]]:
    key = "paper" + secrets.token_hex(24)
    secret = base64.b64encode(secrets.token_bytes(64)).decode()
    return {"apiKey": key, "secret": secret}, {"api_key": key, "secret": secret}


VENUE = SimVenue(name=NAME, parse_account=parse_account, start=KrakenApi,
                 books=("BTC/USD=52000.0:52000.1",), new_account=new_account)
