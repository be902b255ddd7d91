# SPDX-License-Identifier: MIT
"""Bybit, simulated: the v5 trade WebSocket subset on ``/v5/trade`` (``auth``, ``ping``,
``order.create``, ``order.cancel``; spot only) and, on the REST port,
``GET /v5/market/time`` and ``GET /v5/order/realtime``.

``auth`` takes ``args`` [apiKey, expires (ms), hex HMAC-SHA256 of "GET/realtime" +
expires]; checked in this order: the shape (10001), the key (10003), the signature
(10004), expires in the future (10001 "request expired"), a second auth on the
connection (20001).  Orders before a successful auth are refused with 10003.

``order.create`` / ``order.cancel``: ``reqId`` (string, at most 36 characters; repeated
on a connection: 20006), ``header`` with ``X-BAPI-TIMESTAMP`` and optional
``X-BAPI-RECV-WINDOW`` (default 5000): server time - recv window <= timestamp < server
time + 1000, else 10002.  ``args`` holds exactly one order: category ``spot``, a known
symbol without "/" (170121), side Buy/Sell, orderType Limit/Market, qty and (Limit)
price as decimal strings, timeInForce GTC/IOC/FOK/PostOnly, orderLinkId of letters,
digits, "-", "_", at most 36 (10001).  Then the order count limit (10006, ``header``
``X-Bapi-Limit-Reset-Timestamp`` = when the interval ends) and a repeated orderLinkId
(170141).  An order whose orderLinkId matches ``--outcome-unknown-regex`` is executed
but answered 10016 (internal server error).  Answers carry ``reqId``, ``retCode``,
``retMsg``, ``op``, ``data``, ``retExtInfo``, ``header`` (X-Bapi-Limit,
X-Bapi-Limit-Status, X-Bapi-Limit-Reset-Timestamp, Traceid, Timenow) and ``connId``.
Order ids are 19-digit strings.  A PostOnly order that would take is cancelled.

REST ``/v5/order/realtime``: headers X-BAPI-API-KEY (10003), X-BAPI-SIGN = hex
HMAC-SHA256 of timestamp + api key + recv window + query string (10004),
X-BAPI-TIMESTAMP within X-BAPI-RECV-WINDOW (10002); query ``category=spot`` and
``orderLinkId`` / ``orderId`` (that order, any state) or else the open orders,
of ``symbol`` if given.  Answers are HTTP 200 ``{"retCode", "retMsg", "result":
{"category", "list", "nextPageCursor"}, "retExtInfo", "time"}``.

Market stream ``/v5/public/spot``: ``{"op": "subscribe", "args": ["orderbook.1.<SYMBOL>"],
"req_id"?}`` is answered ``{"success", "ret_msg": "subscribe", "conn_id", "req_id"?, "op"}``
(a symbol it does not quote: success false), then the topic pushes, on subscribing and on every
book step, Bybit's level-1 message (all snapshots): ``{"topic", "ts", "type": "snapshot",
"data": {"s", "b": [[price, size]], "a": [[price, size]], "u", "seq"}, "cts"}``.  ``ping`` is
answered ``{"success": true, "ret_msg": "pong", ...}``; everything sent there is logged.

Accounts: ``"bybit": [{"apiKey", "secret"}]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import json
import re
import secrets
import sys
import traceback
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import wire
from .accounts import no_other_fields, string_field
from .book import Quote, crossing_price
from .context import Context
from .link import Link
from .orders import Fill, Order
from .venue import RestAnswer, SimVenue, Trace, VenueService

NAME = "bybit"
WS_PATH = "/v5/trade"
STREAM_PATH = "/v5/public/spot"
BOOK_TOPIC = "orderbook.1."
TIME_PATH = "/v5/market/time"
ORDERS_PATH = "/v5/order/realtime"
DEFAULT_RECV_WINDOW = 5000
LINK_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,36}")
DECIMAL_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "PostOnly")
OPEN = ("New", "PartiallyFilled")


@dataclasses.dataclass(frozen=True)
class BybitAccount:
    api_key: str
    secret: str


def parse_account(entry: dict[str, Any], where: str) -> BybitAccount:
    api_key = string_field(entry, "apiKey", where)
    no_other_fields(entry, {"apiKey", "secret"}, where)
    return BybitAccount(api_key, string_field(entry, "secret", where))


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign_ok(secret: str, payload: str, given: str) -> bool:
    return len(given) == 64 and given.isascii() and hmac.compare_digest(
        sign(secret, payload), given.lower())


class BybitError(Exception):
    def __init__(self, code: int, msg: str, verdict: str = "rejected",
                 reset_ms: int | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.verdict, self.reset_ms = code, msg, verdict, reset_ms


def params_error(what: str) -> BybitError:
    return BybitError(10001, f"params error: {what}")


def recv_window_error(timestamp: int, now: int, window: int) -> BybitError:
    return BybitError(10002, "invalid request, please check your server timestamp or "
                      f"recv_window param. req_timestamp[{timestamp}],server_timestamp[{now}],"
                      f"recv_window[{window}]")


def check_window(timestamp_text: Any, window_text: Any, now: int) -> None:
    """server time - recv window <= timestamp < server time + 1000, else 10002."""
    if not isinstance(timestamp_text, str) or not timestamp_text.isdigit():
        raise params_error("X-BAPI-TIMESTAMP")
    window = DEFAULT_RECV_WINDOW
    if window_text is not None:
        if not isinstance(window_text, str) or not window_text.isdigit():
            raise params_error("X-BAPI-RECV-WINDOW")
        window = int(window_text)
    timestamp = int(timestamp_text)
    if not now - window <= timestamp < now + 1000:
        raise recv_window_error(timestamp, now, window)




@dataclasses.dataclass
class Session:
    conn_id: str
    api_key: str | None = None
    req_ids: set[str] = dataclasses.field(default_factory=set)


def _text(value: Any) -> str | None:
    """A string parameter as sent; None if it is anything else (a number included)."""
    return value if isinstance(value, str) and not isinstance(value, wire.JsonNumber) else None


def _decimal(args: dict[str, Any], name: str) -> Decimal | None:
    text = _text(args.get(name))
    if text is None:
        if name in args:
            raise params_error(name)
        return None
    if not DECIMAL_RE.fullmatch(text):
        raise params_error(name)
    return Decimal(text)


class BybitRest:
    """``GET /v5/market/time`` and the signed ``GET /v5/order/realtime``."""

    paths: tuple[str, ...] = (TIME_PATH, ORDERS_PATH)
    headers: tuple[str, ...] = ("x-bapi-api-key", "x-bapi-sign", "x-bapi-timestamp",
                                "x-bapi-recv-window")

    def __init__(self, api: BybitApi) -> None:
        self.api = api

    def http_error(self, status: int) -> RestAnswer:
        return RestAnswer(status, {"retCode": 10001 if status != 404 else 10017,
                                   "retMsg": "route not found" if status == 404 else
                                   "params error", "result": {}, "retExtInfo": {},
                                   "time": self.api.ctx.clock.ms()}, "error", status)

    def answer(self, method: str, path: str, headers: dict[str, str], body: str) -> RestAnswer:
        if method != "GET":
            return self.http_error(405)
        url = urlsplit(path)
        try:
            if url.path == TIME_PATH:
                now = self.api.ctx.clock.ms()
                return self._ok({"timeSecond": str(now // 1000),
                                 "timeNano": str(now * 1_000_000)})
            return self._ok(self.orders(url.query, headers))
        except BybitError as exc:
            return RestAnswer(200, {"retCode": exc.code, "retMsg": exc.msg, "result": {},
                                    "retExtInfo": {}, "time": self.api.ctx.clock.ms()},
                              "rejected", exc.code)

    def _ok(self, result: dict[str, Any]) -> RestAnswer:
        return RestAnswer(200, {"retCode": 0, "retMsg": "OK", "result": result,
                                "retExtInfo": {}, "time": self.api.ctx.clock.ms()},
                          "accepted", None)

    def orders(self, query: str, headers: dict[str, str]) -> dict[str, Any]:
        api_key = headers.get("x-bapi-api-key", "")
        account = self.api.accounts.get(api_key)
        if account is None:
            raise BybitError(10003, "API key is invalid.")
        timestamp = headers.get("x-bapi-timestamp", "")
        window = headers.get("x-bapi-recv-window")
        payload = f"{timestamp}{api_key}{window or ''}{query}"
        if not sign_ok(account.secret, payload, headers.get("x-bapi-sign", "")):
            raise BybitError(10004, f"error sign! origin_string[{payload}]")
        check_window(timestamp, window, self.api.ctx.clock.ms())
        params = parse_qs(query, keep_blank_values=True)
        one = {k: v[0] for k, v in params.items() if len(v) == 1}
        if one.get("category") != "spot":
            raise params_error("category")
        orders = [o for o in self.api.ctx.orders.orders
                  if o.venue == NAME and o.account == api_key]
        if "orderId" in one:
            orders = [o for o in orders if o.order_id == one["orderId"]]
        elif "orderLinkId" in one:
            orders = [o for o in orders if o.client_order_id == one["orderLinkId"]]
        else:
            orders = [o for o in orders if o.status in OPEN]
        if "symbol" in one:
            orders = [o for o in orders if o.symbol == one["symbol"]]
        return {"category": "spot", "list": [order_view(o) for o in reversed(orders)],
                "nextPageCursor": ""}


def order_view(order: Order) -> dict[str, Any]:
    """An order as /v5/order/realtime lists it (the fields the engine reads and a few)."""
    avg = order.quote_qty / order.executed_qty if order.executed_qty else Decimal(0)
    return {
        "orderId": order.order_id, "orderLinkId": order.client_order_id or "",
        "symbol": order.symbol, "price": str(order.price or 0), "qty": str(order.qty),
        "side": order.side, "orderStatus": order.status, "orderType": order.type,
        "timeInForce": order.time_in_force, "cumExecQty": str(order.executed_qty),
        "cumExecValue": str(order.quote_qty), "avgPrice": str(avg),
        "createdTime": str(order.transact_ms), "updatedTime": str(order.transact_ms),
    }


class BybitApi(VenueService):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.accounts: dict[str, BybitAccount] = ctx.accounts[NAME]
        self.link_id_re = ctx.client_id_re or LINK_ID_RE
        self._rest = BybitRest(self)
        self._order_ids: set[str] = set()

    def handles(self, route: str) -> bool:
        return route in (WS_PATH, STREAM_PATH)

    def rest(self) -> BybitRest:
        return self._rest

    def new_order_id(self) -> str:
        while True:
            order_id = str(secrets.randbelow(9 * 10**18 - 10**18) + 10**18)
            if order_id not in self._order_ids:
                self._order_ids.add(order_id)
                return order_id

    async def serve(self, link: Link) -> None:
        if urlsplit(link.path).path == STREAM_PATH:
            await self.serve_stream(link)
            return
        session = Session(conn_id=f"sim{link.serial}-{secrets.token_hex(4)}")
        async for t_ns, text, raw in link.messages():
            response, trace = self.answer(text, session, link.ip)
            if trace.method == "order.create":
                self.last_order_link = link
            self.ctx.recorder.request(
                NAME, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw, method=trace.method,
                verdict=trace.verdict, code=trace.code, client_order_id=trace.client_order_id)
            data = json.dumps(response, ensure_ascii=False)
            if trace.delay_ms > 0:
                link.send_later(functools.partial(str, data), trace.delay_ms)
            else:
                await link.send(data)

    async def serve_stream(self, link: Link) -> None:
        """The public spot stream: orderbook.1 topics, pushed once subscribed."""
        conn_id = f"sim{link.serial}-{secrets.token_hex(4)}"
        pumps: dict[str, asyncio.Task[None]] = {}
        try:
            async for t_ns, text, raw in link.messages():
                reply, verdict, symbols = self.stream_answer(text, conn_id)
                self.ctx.recorder.request(
                    NAME, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                    method=reply.get("op"), verdict=verdict, code=None, client_order_id=None)
                await link.send(json.dumps(reply))
                for symbol in symbols:
                    if symbol not in pumps:
                        pumps[symbol] = asyncio.create_task(self.pump_book(link, symbol))
        finally:
            for task in pumps.values():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stream_answer(self, text: str | None, conn_id: str
                      ) -> tuple[dict[str, Any], str, list[str]]:
        """The reply to one stream message, its verdict and the symbols it subscribes."""
        try:
            msg = wire.loads(text) if text is not None else None
        except wire.BadJson:
            msg = None
        op = _text(msg.get("op")) if isinstance(msg, dict) else None
        reply: dict[str, Any] = {"success": False, "ret_msg": "", "conn_id": conn_id}
        if isinstance(msg, dict) and _text(msg.get("req_id")) is not None:
            reply["req_id"] = msg["req_id"]
        if op == "ping":
            return {**reply, "success": True, "ret_msg": "pong", "op": "ping"}, "accepted", []
        args = msg.get("args") if isinstance(msg, dict) else None
        if op != "subscribe" or not isinstance(args, list) or not args:
            return {**reply, "ret_msg": "Invalid request", "op": op}, "error", []
        symbols = []
        for topic in args:
            name = _text(topic) or ""
            symbol = name[len(BOOK_TOPIC):] if name.startswith(BOOK_TOPIC) else ""
            if not symbol or "/" in symbol or self.ctx.book.get(symbol) is None:
                return {**reply, "ret_msg": f"Invalid symbol :[{topic}]", "op": op}, \
                    "rejected", []
            symbols.append(symbol)
        return {**reply, "success": True, "ret_msg": "subscribe", "op": op}, "accepted", symbols

    async def pump_book(self, link: Link, symbol: str) -> None:
        """Pushes the symbol's level-1 snapshot now and on every book step."""
        book = self.ctx.book
        while True:
            quote = book.get(symbol)
            assert quote is not None
            await link.send(self.book_message(quote))
            async with book.changed:
                await book.changed.wait()

    def book_message(self, quote: Quote) -> str:
        now = self.ctx.clock.ms()
        return json.dumps({
            "topic": BOOK_TOPIC + quote.symbol, "ts": now, "type": "snapshot",
            "data": {"s": quote.symbol, "b": [[str(quote.bid), str(quote.bid_qty)]],
                     "a": [[str(quote.ask), str(quote.ask_qty)]], "u": quote.update_id,
                     "seq": quote.update_id},
            "cts": now})

    def answer(self, text: str | None, session: Session, ip: str
               ) -> tuple[dict[str, Any], Trace]:
        trace = Trace()
        head: dict[str, Any] = {}
        data: Any = {}
        try:
            try:
                msg = wire.loads(text) if text is not None else None
            except wire.BadJson:
                msg = None
            if not isinstance(msg, dict):
                raise params_error("not a JSON object")
            op = _text(msg.get("op"))
            trace.method = op
            for name in ("reqId", "req_id"):
                if name in msg:
                    req_id = _text(msg[name])
                    if req_id is None or len(req_id) > 36:
                        raise params_error(name)
                    head[name] = req_id
            head["op"] = op
            if op == "ping":
                trace.verdict = "accepted"
                return {**head, "op": "pong", "retCode": 0, "retMsg": "OK",
                        "args": [str(self.ctx.clock.ms())], "connId": session.conn_id}, trace
            if op == "auth":
                self.auth(msg.get("args"), session)
            elif op in ("order.create", "order.cancel"):
                data = self.order_op(op, msg, head.get("reqId"), session, ip, trace)
            else:
                raise BybitError(10404, "op type is not found", "error")
            trace.verdict = "accepted"
            return self._answer(head, 0, "OK", data, session, trace), trace
        except BybitError as exc:
            trace.verdict, trace.code = exc.verdict, exc.code
            return self._answer(head, exc.code, exc.msg, data, session, trace,
                                exc.reset_ms), trace
        except Exception:  # a simulator bug must not take the connection down
            traceback.print_exc(file=sys.stderr)
            trace.verdict, trace.code = "error", 10016
            return self._answer(head, 10016, "internal server error", {}, session,
                                trace), trace

    def _answer(self, head: dict[str, Any], code: int, msg: str, data: Any, session: Session,
                trace: Trace, reset_ms: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {**head, "retCode": code, "retMsg": msg}
        if head.get("op") == "auth":
            return {**out, "connId": session.conn_id}
        now = self.ctx.clock.ms()
        limits = self.ctx.limits
        header = {"Traceid": secrets.token_hex(16), "Timenow": str(now)}
        if trace.account is not None:
            used = limits.orders_10s.count(trace.account, now)
            header = {"X-Bapi-Limit": str(limits.orders_10s_limit),
                      "X-Bapi-Limit-Status": str(max(limits.orders_10s_limit - used, 0)),
                      "X-Bapi-Limit-Reset-Timestamp": str(
                          reset_ms if reset_ms is not None else limits.orders_10s.end(now)),
                      **header}
        return {**out, "data": data, "retExtInfo": {}, "header": header,
                "connId": session.conn_id}

    def auth(self, args: Any, session: Session) -> None:
        if not isinstance(args, list) or len(args) != 3:
            raise params_error("args")
        api_key, expires, signature = _text(args[0]), args[1], _text(args[2])
        if isinstance(expires, wire.JsonNumber) and expires.is_integer():
            expires_text = str(expires)
        else:
            expires_text = _text(expires) or ""
        if api_key is None or signature is None or not expires_text.isdigit():
            raise params_error("args")
        account = self.accounts.get(api_key)
        if account is None:
            raise BybitError(10003, "API key is invalid.")
        if not sign_ok(account.secret, f"GET/realtime{expires_text}", signature):
            raise BybitError(10004, "Invalid sign")
        if int(expires_text) <= self.ctx.clock.ms():
            raise params_error("request expired")
        if session.api_key is not None:
            raise BybitError(20001, "Repeat auth")
        session.api_key = api_key

    def order_op(self, op: str, msg: dict[str, Any], req_id: str | None, session: Session,
                 ip: str, trace: Trace) -> dict[str, Any]:
        if session.api_key is None:
            raise BybitError(10003, "auth is required")
        trace.account = session.api_key
        if req_id is not None:
            if req_id in session.req_ids:
                raise BybitError(20006, "reqId is duplicated")
            session.req_ids.add(req_id)
        header = msg.get("header")
        if not isinstance(header, dict):
            raise params_error("header")
        check_window(header.get("X-BAPI-TIMESTAMP"), header.get("X-BAPI-RECV-WINDOW"),
                     self.ctx.clock.ms())
        args = msg.get("args")
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            raise params_error("args")
        if _text(args[0].get("category")) != "spot":
            raise BybitError(10404, "category is not correct/supported")
        if op == "order.cancel":
            return self.cancel(args[0], session.api_key, trace)
        trace.delay_ms = self.ctx.ack_delay_ms
        return self.create(args[0], session.api_key, ip, trace)

    def create(self, args: dict[str, Any], api_key: str, ip: str,
               trace: Trace) -> dict[str, Any]:
        ctx = self.ctx
        link_id = _text(args.get("orderLinkId"))
        if link_id is not None:
            if not self.link_id_re.fullmatch(link_id):
                raise params_error("orderLinkId")
            trace.client_order_id = link_id
        symbol = _text(args.get("symbol"))
        quote = ctx.book.get(symbol) if symbol else None
        if symbol is None or quote is None or "/" in symbol:
            raise BybitError(170121, "Invalid symbol.")
        side, kind = _text(args.get("side")), _text(args.get("orderType"))
        if side not in ("Buy", "Sell"):
            raise params_error("side")
        if kind not in ("Limit", "Market"):
            raise params_error("orderType")
        tif = _text(args.get("timeInForce")) or "GTC"
        if tif not in TIME_IN_FORCE:
            raise params_error("timeInForce")
        qty = _decimal(args, "qty")
        price = _decimal(args, "price")
        if qty is None or qty <= 0:
            raise params_error("qty")
        if kind == "Limit" and (price is None or price <= 0 or price % quote.tick != 0):
            raise params_error("price")
        now = ctx.clock.ms()
        refusal = ctx.limits.order_refusal(ip, api_key, now)
        if refusal is not None:
            raise BybitError(10006, "Too many visits!", reset_ms=refusal.retry_after)
        if link_id is not None and ctx.orders.client_id_taken(NAME, api_key, link_id):
            raise BybitError(170141, "Duplicate clientOrderId.")
        fill_at = crossing_price(quote, side == "Buy", price if kind == "Limit" else None)
        if fill_at is not None and tif != "PostOnly":
            status, executed = "Filled", qty
        elif fill_at is not None or tif in ("IOC", "FOK"):
            status, executed = "Cancelled", Decimal(0)
        else:
            status, executed = "New", Decimal(0)
        unknown = bool(link_id is not None and ctx.outcome_unknown_re is not None
                       and ctx.outcome_unknown_re.search(link_id))
        order = Order(
            venue=NAME, account=api_key, order_id=self.new_order_id(), client_order_id=link_id,
            symbol=symbol, side=side, type=kind, time_in_force=tif,
            price=price if kind == "Limit" else None, qty=qty, executed_qty=executed,
            quote_qty=executed * fill_at if fill_at is not None else Decimal(0),
            status=status, transact_ms=now, outcome_unknown=unknown)
        if status == "Filled":
            assert fill_at is not None
            order.fills.append(Fill(fill_at, qty, ctx.orders.next_trade_id()))
        ctx.limits.count_order(api_key, now)
        ctx.orders.add(order)
        if unknown:
            raise BybitError(10016, "Internal server error.", verdict="accepted")
        return {"orderId": order.order_id, "orderLinkId": link_id or ""}

    def cancel(self, args: dict[str, Any], api_key: str, trace: Trace) -> dict[str, Any]:
        order_id, link_id = _text(args.get("orderId")), _text(args.get("orderLinkId"))
        trace.client_order_id = link_id
        orders = self.ctx.orders
        if order_id is not None:
            order = orders.by_id(NAME, api_key, order_id)
        elif link_id is not None:
            order = orders.by_client_id(NAME, api_key, link_id)
        else:
            raise params_error("orderId or orderLinkId")
        if order is None or order.symbol != _text(args.get("symbol")) \
                or order.status not in OPEN:
            raise BybitError(170213, "Order does not exist.")
        order.status = "Cancelled"
        orders.changed()
        return {"orderId": order.order_id, "orderLinkId": order.client_order_id or ""}


def new_account() -> tuple[dict[str, str], dict[str, str]]:
    key, secret = "paper" + secrets.token_hex(8), secrets.token_hex(18)
    return {"apiKey": key, "secret": secret}, {"api_key": key, "secret": secret}


VENUE = SimVenue(name=NAME, parse_account=parse_account, start=BybitApi,
                 books=("BTCUSDT=52000.00:52000.10",), new_account=new_account)
