# SPDX-License-Identifier: MIT
"""OKX, simulated: the v5 private WebSocket subset on ``/ws/v5/private`` (``login``,
``order``, ``cancel-order``), the public ``/ws/v5/public`` with the ``bbo-tbt``
channel, and, on the REST port, ``GET /api/v5/public/time`` and
``GET /api/v5/trade/order`` (order details by ``clOrdId`` or ``ordId``) and
``GET /api/v5/trade/orders-pending`` (open orders, of one ``instId`` if given).

``login`` args ``[{apiKey, passphrase, timestamp (Unix s), sign}]``, sign =
base64(HMAC-SHA256(secretKey, timestamp + "GET" + "/users/self/verify")); checked in
this order: the key (60005), the timestamp, which expires 30 s after it was made
(60006; not digits: 60004), the passphrase (60024), the sign (60007).  Answers
``{"event": "login", "code": "0", "msg": "", "connId"}`` or ``{"event": "error",
"code", "msg", "connId"}``.  Orders before a login: code 60011.

``order`` / ``cancel-order``: ``{"id" (1 to 32 alphanumerics), "op", "expTime" (ms,
optional), "args": [one object]}``, answered ``{"id", "op", "data": [{"clOrdId",
"ordId", "tag", "ts", "sCode", "sMsg"}], "code", "msg", "inTime", "outTime"}``: code
"0", or "1" with the reason in sCode, or a request refused as a whole (a bad id
60012, an expired expTime 50102) with data [].  Spot only (``tdMode`` "cash",
instIds with a "-"); ordType market, limit, post_only, fok, ioc; ``clOrdId`` 1 to 32
alphanumerics (51000), unique per account (51016); unknown instId 51001; the shared
per-account order limit (``--orders-per-10s``, OKX's own is 60 per 2 s) gives 50011;
an order matching ``--outcome-unknown-regex`` is executed and answered 50004.  A
post-only order that would take is accepted and cancelled, as OKX does.  ``ordId``
is a decimal string.  ``cancel-order`` of an order that is not live: 51400.

REST private requests carry OK-ACCESS-KEY (50111), OK-ACCESS-TIMESTAMP (ISO 8601 ms;
bad 50112, more than 30 s off 50102), OK-ACCESS-PASSPHRASE (50105) and OK-ACCESS-SIGN
= base64(HMAC-SHA256(secretKey, timestamp + "GET" + path with query)) (50113).  An
unknown order is 51603.

``bbo-tbt``: after ``{"op": "subscribe", "args": [{"channel": "bbo-tbt", "instId"}]}``
(answered ``{"event": "subscribe", "arg", "connId"}``) a push per book step:
``{"arg": {"channel", "instId"}, "data": [{"asks": [[px, sz, "0", count]], "bids":
[...], "ts", "seqId"}]}``.

Accounts: ``"okx": [{"apiKey", "secretKey", "passphrase"}]``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import re
import secrets
import sys
import traceback
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import wire
from .accounts import no_other_fields, string_field
from .book import Quote, crossing_price
from .context import Context
from .link import Link
from .market import serve_stream
from .orders import Fill, Order
from .venue import RestAnswer, SimVenue, Trace, VenueService

NAME = "okx"
WS_PATH = "/ws/v5/private"
PUBLIC_PATH = "/ws/v5/public"
VERIFY_PATH = "/users/self/verify"
ORDER_PATH = "/api/v5/trade/order"
PENDING_PATH = "/api/v5/trade/orders-pending"
TIME_PATH = "/api/v5/public/time"
WINDOW_MS = 30_000       # login and REST timestamps expire 30 s after they were made
ID_RE = re.compile(r"[A-Za-z0-9]{1,32}")
DECIMAL_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
ORD_TYPES = ("market", "limit", "post_only", "fok", "ioc")
OPEN = ("live", "partially_filled")
ORDER_ARGS = ("instId", "tdMode", "side", "ordType", "sz", "px", "clOrdId", "tag", "tgtCcy",
              "ccy", "reduceOnly", "banAmend", "stpMode")
TIMEOUT_MSG = ("Endpoint request timeout (does not mean that the request was successful or "
               "failed, please check the request result).")


@dataclasses.dataclass(frozen=True)
class OkxAccount:
    api_key: str
    secret_key: str
    passphrase: str


def parse_account(entry: dict[str, Any], where: str) -> OkxAccount:
    no_other_fields(entry, {"apiKey", "secretKey", "passphrase"}, where)
    return OkxAccount(string_field(entry, "apiKey", where),
                      string_field(entry, "secretKey", where),
                      string_field(entry, "passphrase", where))


def sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(),
                                     hashlib.sha256).digest()).decode()


def sign_ok(secret: str, prehash: str, given: str) -> bool:
    return hmac.compare_digest(sign(secret, prehash).encode(), given.encode())


class Refused(Exception):
    """A refusal: ``s_code`` for one order (code "1"), else the request's own code."""

    def __init__(self, code: str, msg: str, *, s_code: bool = True,
                 verdict: str = "rejected") -> None:
        super().__init__(msg)
        self.code, self.msg, self.s_code, self.verdict = code, msg, s_code, verdict




def _decimal(args: dict[str, Any], name: str, required: bool) -> Decimal | None:
    value = args.get(name)
    if value is None or value == "":
        if required:
            raise Refused("51000", f"Parameter {name} error")
        return None
    if not isinstance(value, str) or isinstance(value, wire.JsonNumber) \
            or not DECIMAL_RE.fullmatch(value):
        raise Refused("51000", f"Parameter {name} error")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Refused("51000", f"Parameter {name} error") from None
    if number <= 0:
        raise Refused("51000", f"Parameter {name} error")
    return number


class OkxApi(VenueService):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.accounts: dict[str, OkxAccount] = ctx.accounts[NAME]
        self.client_id_re = ctx.client_id_re or ID_RE
        self._rest = OkxRest(self)
        self._next_order_id = 600_000_000_000_000_001

    def handles(self, route: str) -> bool:
        return route in (WS_PATH, PUBLIC_PATH)

    def rest(self) -> OkxRest:
        return self._rest

    async def serve(self, link: Link) -> None:
        if urlsplit(link.path).path == PUBLIC_PATH:
            await self.serve_public(link)
        else:
            await self.serve_private(link)

    async def serve_public(self, link: Link) -> None:
        """The public WebSocket: one `subscribe` to bbo-tbt of an instId, then a push
        per book step (other channels and ops get an error event)."""
        conn_id = f"{link.serial:08x}"
        async for t_ns, text, raw in link.messages():
            try:
                msg = wire.loads(text) if text is not None else None
            except wire.BadJson:
                msg = None
            args = msg.get("args") if isinstance(msg, dict) else None
            arg = args[0] if isinstance(args, list) and len(args) == 1 else None
            inst_id = arg.get("instId") if isinstance(arg, dict) else None
            ok = (isinstance(msg, dict) and msg.get("op") == "subscribe"
                  and isinstance(arg, dict) and arg.get("channel") == "bbo-tbt"
                  and isinstance(inst_id, str) and "-" in inst_id
                  and self.ctx.book.get(inst_id) is not None)
            self.ctx.recorder.request(
                NAME, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                method="subscribe" if ok else None, verdict="accepted" if ok else "error",
                code=None if ok else "60018", client_order_id=None)
            if not ok:
                await link.send(json.dumps(self._event_error(
                    "60018", "Wrong URL or channel doesn't exist", conn_id)))
                continue
            assert isinstance(inst_id, str)
            await link.send(json.dumps({"event": "subscribe", "arg": {
                "channel": "bbo-tbt", "instId": inst_id}, "connId": conn_id}))
            await serve_stream(self.ctx, NAME, link, inst_id,
                               self.bbo)
            return

    def bbo(self, quote: Quote) -> str:
        """A bbo-tbt push: [price, size, "0" (deprecated), orders] per side."""
        return json.dumps({"arg": {"channel": "bbo-tbt", "instId": quote.symbol}, "data": [{
            "asks": [[str(quote.ask), str(quote.ask_qty), "0", "1"]],
            "bids": [[str(quote.bid), str(quote.bid_qty), "0", "1"]],
            "ts": str(self.ctx.clock.ms()), "seqId": quote.update_id}]})

    async def serve_private(self, link: Link) -> None:
        conn_id = f"{link.serial:08x}"
        session: dict[str, str] = {}        # "api_key" once logged in
        async for t_ns, text, raw in link.messages():
            in_us = self.ctx.clock.ms() * 1000
            response, trace = self.answer(text, session, conn_id, link.ip)
            if trace.method == "order":
                self.last_order_link = link
            if trace.method == "login":
                raw = _without_passphrase(raw)
            self.ctx.recorder.request(
                NAME, t_ns=t_ns, conn=link.serial, path=link.path, raw=raw,
                method=trace.method, verdict=trace.verdict, code=trace.code,
                client_order_id=trace.client_order_id)

            def finish(response: dict[str, Any] = response, in_us: int = in_us) -> str:
                if "op" in response:
                    response["inTime"] = str(in_us)
                    response["outTime"] = str(self.ctx.clock.ms() * 1000)
                return json.dumps(response, ensure_ascii=False)

            if trace.delay_ms > 0:
                link.send_later(finish, trace.delay_ms)
            else:
                await link.send(finish())

    def answer(self, text: str | None, session: dict[str, str], conn_id: str,
               ip: str) -> tuple[dict[str, Any], Trace]:
        trace = Trace()
        try:
            msg = wire.loads(text) if text is not None else None
        except wire.BadJson:
            msg = None
        op = msg.get("op") if isinstance(msg, dict) else None
        if not isinstance(op, str) or isinstance(op, wire.JsonNumber):
            return self._event_error("60012", "Invalid request", conn_id), trace
        trace.method = op
        assert isinstance(msg, dict)
        if op == "login":
            return self.login(msg, session, conn_id, trace), trace
        if op not in ("order", "cancel-order"):
            return self._event_error("60012", f"Invalid request: {op}", conn_id), trace
        request_id = msg.get("id")
        head: dict[str, Any] = {"id": request_id if isinstance(request_id, str) else "",
                                "op": op}
        try:
            if not isinstance(request_id, str) or isinstance(request_id, wire.JsonNumber) \
                    or not ID_RE.fullmatch(request_id):
                raise Refused("60012", "Invalid request: id", s_code=False, verdict="error")
            if "api_key" not in session:
                raise Refused("60011", "Please log in", s_code=False)
            args = msg.get("args")
            if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
                raise Refused("60013", "Invalid args", s_code=False)
            if op == "order":
                self._check_exp_time(msg)
                trace.delay_ms = self.ctx.ack_delay_ms
                data = self.order(args[0], session["api_key"], ip, trace)
            else:
                data = self.cancel(args[0], session["api_key"], trace)
            trace.verdict = "accepted"
            return {**head, "data": [data], "code": "0", "msg": ""}, trace
        except Refused as exc:
            trace.verdict, trace.code = exc.verdict, exc.code
            if not exc.s_code:
                return {**head, "data": [], "code": exc.code, "msg": exc.msg}, trace
            client_id = args[0].get("clOrdId") if isinstance(args, list) else None
            return {**head, "data": [{
                "clOrdId": client_id if isinstance(client_id, str) else "", "ordId": "",
                "tag": "", "ts": str(self.ctx.clock.ms()), "sCode": exc.code,
                "sMsg": exc.msg}], "code": "1", "msg": ""}, trace
        except Exception:  # a simulator bug must not take the connection down
            traceback.print_exc(file=sys.stderr)
            trace.code = "50026"
            return {**head, "data": [], "code": "50026", "msg": "System error"}, trace

    @staticmethod
    def _event_error(code: str, msg: str, conn_id: str) -> dict[str, Any]:
        return {"event": "error", "code": code, "msg": msg, "connId": conn_id}

    def login(self, msg: dict[str, Any], session: dict[str, str], conn_id: str,
              trace: Trace) -> dict[str, Any]:
        args = msg.get("args")
        arg = args[0] if isinstance(args, list) and len(args) == 1 else None
        fields = ("apiKey", "passphrase", "timestamp", "sign")
        if not isinstance(arg, dict) or any(
                not isinstance(arg.get(f), str) or isinstance(arg.get(f), wire.JsonNumber)
                for f in fields):
            trace.code = "60012"
            return self._event_error("60012", "Invalid request", conn_id)
        account = self.accounts.get(arg["apiKey"])
        stamp = arg["timestamp"]
        refusal = None
        if account is None:
            refusal = ("60005", "Invalid apiKey")
        elif not stamp.isdigit() or len(stamp) > 12:
            refusal = ("60004", "Invalid timestamp")
        elif abs(self.ctx.clock.ms() - int(stamp) * 1000) > WINDOW_MS:
            refusal = ("60006", "Timestamp request expired")
        elif not hmac.compare_digest(arg["passphrase"].encode(), account.passphrase.encode()):
            refusal = ("60024", "Wrong passphrase")
        elif not sign_ok(account.secret_key, stamp + "GET" + VERIFY_PATH, arg["sign"]):
            refusal = ("60007", "Invalid sign")
        if refusal is not None:
            trace.verdict, trace.code = "rejected", refusal[0]
            return self._event_error(*refusal, conn_id)
        assert account is not None
        session["api_key"] = account.api_key
        trace.verdict = "accepted"
        return {"event": "login", "code": "0", "msg": "", "connId": conn_id}

    def _check_exp_time(self, msg: dict[str, Any]) -> None:
        exp = msg.get("expTime")
        if exp is None:
            return
        if not isinstance(exp, str) or isinstance(exp, wire.JsonNumber) or not exp.isdigit() \
                or len(exp) > 13:
            raise Refused("60013", "Invalid args: expTime", s_code=False)
        if self.ctx.clock.ms() > int(exp):
            raise Refused("50102", "Timestamp request expired", s_code=False)

    def order(self, args: dict[str, Any], api_key: str, ip: str, trace: Trace) -> dict[str, Any]:
        ctx = self.ctx
        if any(name not in ORDER_ARGS for name in args) or (
                isinstance(args, wire.JsonObject) and args.duplicates):
            raise Refused("51000", "Parameter error")
        client_id = args.get("clOrdId")
        if client_id is not None:
            if not isinstance(client_id, str) or isinstance(client_id, wire.JsonNumber) \
                    or not self.client_id_re.fullmatch(client_id):
                raise Refused("51000", "Parameter clOrdId error")
            trace.client_order_id = client_id
        inst_id, td_mode, side, kind = (args.get(k) for k in ("instId", "tdMode", "side",
                                                              "ordType"))
        if not isinstance(inst_id, str) or isinstance(inst_id, wire.JsonNumber):
            raise Refused("51000", "Parameter instId error")
        if td_mode != "cash":
            raise Refused("51000", "Parameter tdMode error")
        if side not in ("buy", "sell"):
            raise Refused("51000", "Parameter side error")
        if kind not in ORD_TYPES:
            raise Refused("51000", "Parameter ordType error")
        qty = _decimal(args, "sz", True)
        price = _decimal(args, "px", kind != "market")
        assert qty is not None
        quote = ctx.book.get(inst_id)
        if quote is None or "-" not in inst_id:
            raise Refused("51001", "Instrument ID does not exist")
        if price is not None and price % quote.tick != 0:
            raise Refused("51000", "Parameter px error")
        if ctx.limits.order_refusal(ip, api_key, ctx.clock.ms()) is not None:
            raise Refused("50011", "Rate limit reached. Please refer to API documentation and "
                          "throttle requests accordingly.")
        if client_id is not None and ctx.orders.client_id_taken(NAME, api_key, client_id):
            raise Refused("51016", "Duplicated clOrdId")
        fill_at = crossing_price(quote, side == "buy", None if kind == "market" else price)
        if fill_at is not None and kind != "post_only":
            state, executed = "filled", qty
        elif fill_at is not None or kind in ("ioc", "fok"):   # post-only that would take
            state, executed = "canceled", Decimal(0)
        else:
            state, executed = "live", Decimal(0)
        unknown = bool(client_id is not None and ctx.outcome_unknown_re is not None
                       and ctx.outcome_unknown_re.search(client_id))
        order = Order(
            venue=NAME, account=api_key, order_id=str(self._next_order_id),
            client_order_id=client_id, symbol=inst_id, side=side, type=kind,
            time_in_force=None, price=price, qty=qty, executed_qty=executed,
            quote_qty=executed * fill_at if fill_at is not None and executed else Decimal(0),
            status=state, transact_ms=ctx.clock.ms(), outcome_unknown=unknown)
        self._next_order_id += 1
        if state == "filled":
            assert fill_at is not None
            order.fills.append(Fill(fill_at, qty, ctx.orders.next_trade_id()))
        ctx.limits.count_order(api_key, ctx.clock.ms())
        ctx.orders.add(order)
        if unknown:
            raise Refused("50004", TIMEOUT_MSG, verdict="accepted")
        return self._placed(order, "Order placed")

    def _placed(self, order: Order, msg: str) -> dict[str, Any]:
        return {"clOrdId": order.client_order_id or "", "ordId": str(order.order_id),
                "tag": "", "ts": str(self.ctx.clock.ms()), "sCode": "0", "sMsg": msg}

    def find(self, api_key: str, inst_id: Any, client_id: Any, order_id: Any) -> Order | None:
        orders = self.ctx.orders
        if isinstance(order_id, str) and order_id:
            order = orders.by_id(NAME, api_key, order_id)
        elif isinstance(client_id, str) and client_id:
            order = orders.by_client_id(NAME, api_key, client_id)
        else:
            raise Refused("51000", "Parameter ordId or clOrdId error")
        return order if order is not None and order.symbol == inst_id else None

    def cancel(self, args: dict[str, Any], api_key: str, trace: Trace) -> dict[str, Any]:
        client_id = args.get("clOrdId")
        trace.client_order_id = client_id if isinstance(client_id, str) else None
        order = self.find(api_key, args.get("instId"), client_id, args.get("ordId"))
        if order is None or order.status not in OPEN:
            raise Refused("51400", "Order cancellation failed as the order has been filled, "
                          "canceled or does not exist.")
        order.status = "canceled"
        self.ctx.orders.changed()
        return self._placed(order, "")


class OkxRest:
    paths: tuple[str, ...] = (ORDER_PATH, PENDING_PATH, TIME_PATH)
    headers: tuple[str, ...] = ("ok-access-key", "ok-access-sign", "ok-access-timestamp",
                                "ok-access-passphrase")

    def __init__(self, api: OkxApi) -> None:
        self.api = api
        self.ctx = api.ctx

    def http_error(self, status: int) -> RestAnswer:
        return RestAnswer(status, {"code": "50000", "msg": f"HTTP {status}", "data": []},
                          "error", "50000")

    def answer(self, method: str, path: str, headers: dict[str, str], body: str) -> RestAnswer:
        if method != "GET":
            return self.http_error(405)
        if urlsplit(path).path == TIME_PATH:
            return RestAnswer(200, {"code": "0", "msg": "", "data": [
                {"ts": str(self.ctx.clock.ms())}]}, "accepted", None)
        account = self.api.accounts.get(headers.get("ok-access-key", ""))
        if account is None:
            return self._refused(401, "50111", "Invalid OK-ACCESS-KEY")
        stamp = headers.get("ok-access-timestamp", "")
        try:
            when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.UTC)
        except ValueError:
            return self._refused(401, "50112", "Invalid OK-ACCESS-TIMESTAMP")
        if abs(self.ctx.clock.ms() - when.timestamp() * 1000) > WINDOW_MS:
            return self._refused(401, "50102", "Timestamp request expired")
        if not hmac.compare_digest(headers.get("ok-access-passphrase", "").encode(),
                                   account.passphrase.encode()):
            return self._refused(401, "50105", "Invalid OK-ACCESS-PASSPHRASE")
        if not sign_ok(account.secret_key, stamp + method + path + body,
                       headers.get("ok-access-sign", "")):
            return self._refused(401, "50113", "Invalid Sign")
        query = parse_qs(urlsplit(path).query)
        one = {k: v[0] for k, v in query.items() if len(v) == 1}
        if urlsplit(path).path == PENDING_PATH:
            return RestAnswer(200, {"code": "0", "msg": "", "data": [
                self.details(o) for o in self.ctx.orders.orders
                if o.venue == NAME and o.account == account.api_key and o.status in OPEN
                and one.get("instId", o.symbol) == o.symbol]}, "accepted", None)
        try:
            order = self.api.find(account.api_key, one.get("instId"), one.get("clOrdId"),
                                  one.get("ordId"))
        except Refused as exc:
            return self._refused(400, exc.code, exc.msg)
        if order is None:
            return self._refused(200, "51603", "Order does not exist")
        return RestAnswer(200, {"code": "0", "msg": "", "data": [self.details(order)]},
                          "accepted", None)

    @staticmethod
    def details(order: Order) -> dict[str, Any]:
        """An order as order details and orders-pending show it."""
        return {
            "instType": "SPOT", "instId": order.symbol, "ordId": str(order.order_id),
            "clOrdId": order.client_order_id or "", "px": str(order.price or ""),
            "sz": str(order.qty), "ordType": order.type, "side": order.side,
            "state": order.status, "accFillSz": str(order.executed_qty),
            "avgPx": str(order.fills[0].price) if order.fills else "",
            "cTime": str(order.transact_ms), "uTime": str(order.transact_ms)}

    @staticmethod
    def _refused(status: int, code: str, msg: str) -> RestAnswer:
        return RestAnswer(status, {"code": code, "msg": msg, "data": []}, "rejected", code)


def _without_passphrase(raw: str) -> str:
    """A login as the request log keeps it: the passphrase is a secret a venue
    would not write down."""
    try:
        msg = json.loads(raw)
        for arg in msg["args"]:
            arg["passphrase"] = "(redacted)"
        return json.dumps(msg)
    except (ValueError, KeyError, TypeError):
        return "(a login, not logged)"


def new_account() -> tuple[dict[str, str], dict[str, str]]:
    key, secret = "paper" + secrets.token_hex(12), secrets.token_hex(16).upper()
    passphrase = "paper " + secrets.token_hex(8)
    return ({"apiKey": key, "secretKey": secret, "passphrase": passphrase},
            {"api_key": key, "secret": secret, "passphrase": passphrase})


VENUE = SimVenue(name=NAME, parse_account=parse_account, start=OkxApi,
                 books=("BTC-USDT=52000.0:52000.1",), new_account=new_account)
