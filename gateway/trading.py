"""The trading operations behind REST ``/api/v3/*`` and the WebSocket API ``order.*`` methods.

Each operation takes an authenticated :class:`~gateway.auth.ApiKey` and the request's
:class:`~gateway.params.Params`, validates everything it can before building a command (a refused request
never reaches the journal), submits through the pump, and answers in Binance's shapes. Responses to a
new order are built from that command's own events, so they show the order as it stood right after its
own matching, whatever happened after.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

from exchange import (CancelAll, OrderAccepted, OrderAmended, OrderCanceled, OrderExpired, OrderRejected,
                      CommandRejected, TradeExecuted)

from .auth import ApiKey
from .errors import BinanceError, reject_error
from .orders import CANCELED, OrderHistory, OrderRecord, fill_json, order_json, trade_json
from .params import (Params, new_client_order_id, parse_amend, parse_cancel, parse_int, parse_new_order,
                     parse_order_ref, parse_symbol)
from .pump import Pump

__all__ = ["Trading", "Pending", "ORDER_NOT_FOUND"]


class Pending(NamedTuple):
    """A validated request with one command to submit: ``finish(events)`` gives the answer (or raises
    BinanceError) from that command's events."""
    command: object
    finish: Callable[[list], object]


def ORDER_NOT_FOUND() -> BinanceError:
    return BinanceError(-2013, "Order does not exist.")


def _record_after(events: list, order_id: int, history: OrderHistory) -> OrderRecord:
    """The order as it stood after the command whose ``events`` these are (it was accepted by it); the
    status rules are ``history``'s."""
    rec: OrderRecord | None = None
    for ev in events:
        cls = type(ev)
        if cls is OrderAccepted and ev.order_id == order_id:
            rec = OrderRecord(ev)
        elif rec is None:
            continue
        elif cls is TradeExecuted and order_id in (ev.taker_order_id, ev.maker_order_id):
            rec.fill(ev)
        elif cls is OrderCanceled and ev.order_id == order_id:
            rec.status = CANCELED
        elif cls is OrderExpired and ev.order_id == order_id:
            rec.status = history.expiry_status(rec, ev.reason)[0]
    assert rec is not None, f"no OrderAccepted for order {order_id}"
    return rec


class Trading:
    """Trading operations over one pump and its order history."""

    def __init__(self, pump: Pump, history: OrderHistory) -> None:
        self.pump = pump
        self.history = history
        self.symbols = pump.symbols

    # ------------------------------------------------------------------ orders
    async def new_order(self, key: ApiKey, p: Params, *, test: bool = False) -> dict:
        """POST /api/v3/order (and ``order/test`` with ``test``: validated, never submitted)."""
        if test:
            inst = parse_symbol(p, self.symbols)
            parse_new_order(p, inst, key.account)
            p.get("computeCommissionRates")
            p.done()
            return {}
        pending = self.begin_new_order(key, p)
        return pending.finish(await self.pump.submit(pending.command))

    def begin_new_order(self, key: ApiKey, p: Params) -> Pending:
        """:meth:`new_order` in two halves: validate and build the command now; ``finish(events)`` answers
        once the pump has applied it (the WebSocket API calls it from the pump future's callback)."""
        inst = parse_symbol(p, self.symbols)
        new = parse_new_order(p, inst, key.account)
        p.done()
        return Pending(new.command, functools.partial(self._order_response, resp_type=new.resp_type))

    def _order_response(self, events: list, resp_type: str) -> dict:
        # A shared-liquidity hub (a live market's mirrored venue) may move escrow (BalanceChanged) before
        # the home part's OrderAccepted, and may route an order in full or refuse it, leaving no engine
        # order to answer with.
        first = next((e for e in events if type(e) is OrderAccepted or type(e) is OrderRejected), None)
        if first is None:
            raise BinanceError(-2010, "The order has no home-book part: the shared-liquidity hub routed it in "
                                      "full to partner venues or refused it. Its fills show as balance "
                                      "updates on the user data stream; routed orders have no orderId here.")
        if type(first) is OrderRejected:
            raise reject_error(first.reason)
        rec = _record_after(events, first.order_id, self.history)
        if resp_type == "ACK":
            return {"symbol": self.symbols.wire(rec.symbol), "orderId": rec.order_id, "orderListId": -1,
                    "clientOrderId": rec.client_order_id, "transactTime": rec.time_ns // 1_000_000}
        out = order_json(self.history, rec, query=False)
        if resp_type == "FULL":
            out["fills"] = [fill_json(self.history, ev, rec.order_id) for ev in events
                            if type(ev) is TradeExecuted and ev.taker_order_id == rec.order_id]
        return out

    def _cancel_json(self, account: int, ev, cancel_cid: str) -> dict:
        rec = self.history.get(account, ev.order_id)
        if rec is None:   # evicted already (tiny history cap): answer with what the event says
            return {"symbol": self.symbols.wire(ev.symbol), "orderId": ev.order_id, "orderListId": -1,
                    "status": CANCELED, "transactTime": ev.ts_ns // 1_000_000}
        body = order_json(self.history, rec, query=False)
        body["transactTime"] = ev.ts_ns // 1_000_000
        body.pop("workingTime", None)
        body.pop("origQuoteOrderQty", None)
        return {"symbol": body.pop("symbol"), "origClientOrderId": rec.client_order_id,
                "orderId": body.pop("orderId"), "orderListId": body.pop("orderListId"),
                "clientOrderId": cancel_cid, **{k: v for k, v in body.items() if k != "clientOrderId"}}

    async def cancel_order(self, key: ApiKey, p: Params) -> dict:
        """DELETE /api/v3/order: by orderId or origClientOrderId; -2011 if it is not open."""
        pending = self.begin_cancel_order(key, p)
        return pending.finish(await self.pump.submit(pending.command))

    def begin_cancel_order(self, key: ApiKey, p: Params) -> Pending:
        """:meth:`cancel_order` in two halves, as :meth:`begin_new_order`."""
        inst = parse_symbol(p, self.symbols)
        cmd = parse_cancel(p, inst, key.account)
        cancel_cid = p.get("newClientOrderId") or new_client_order_id()
        p.get("cancelRestrictions")
        p.done()
        return Pending(cmd, functools.partial(self._cancel_answer, key.account, cancel_cid))

    def _cancel_answer(self, account: int, cancel_cid: str, events: list) -> dict:
        first = events[0]
        if type(first) is CommandRejected:
            raise reject_error(first.reason)
        return self._cancel_json(account, first, cancel_cid)

    async def cancel_open_orders(self, key: ApiKey, p: Params) -> list[dict]:
        """DELETE /api/v3/openOrders: every open order on ``symbol``; -2011 if there is none."""
        inst = parse_symbol(p, self.symbols)
        p.done()
        events = await self.pump.submit(CancelAll(0, key.account, inst.symbol))
        if type(events[0]) is CommandRejected:
            raise reject_error(events[0].reason)
        return [self._cancel_json(key.account, ev, new_client_order_id()) for ev in events
                if type(ev) is OrderCanceled]

    async def cancel_replace(self, key: ApiKey, p: Params) -> dict:
        """POST /api/v3/order/cancelReplace: cancel an order and place a new one.

        STOP_ON_FAILURE places the new order only if the cancel succeeded; ALLOW_FAILURE places it
        either way. Both commands are validated before either is submitted. Failures answer -2021 (one
        part failed) or -2022 (both failed) with Binance's ``data`` object.
        """
        inst = parse_symbol(p, self.symbols)
        mode = p.req("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'cancelReplaceMode'; legal range "
                                      "is 'STOP_ON_FAILURE, ALLOW_FAILURE'.")
        cancel = parse_cancel(p, inst, key.account, id_name="cancelOrderId",
                              cid_name="cancelOrigClientOrderId")
        cancel_cid = p.get("cancelNewClientOrderId") or new_client_order_id()
        p.get("cancelRestrictions")
        p.get("orderRateLimitExceededMode")
        new = parse_new_order(p, inst, key.account)
        p.done()
        if mode == "ALLOW_FAILURE":
            cancel_events, order_events = await self.pump.submit_many([cancel, new.command])
        else:
            cancel_events = await self.pump.submit(cancel)
            order_events = None
            if type(cancel_events[0]) is not CommandRejected:
                order_events = await self.pump.submit(new.command)
        cancel_ok = type(cancel_events[0]) is not CommandRejected
        if cancel_ok:
            cancel_resp = self._cancel_json(key.account, cancel_events[0], cancel_cid)
        else:
            err = reject_error(cancel_events[0].reason)
            cancel_resp = err.body()
        if order_events is None:
            order_ok, order_resp, order_result = False, None, "NOT_ATTEMPTED"
        else:
            try:
                order_resp = self._order_response(order_events, new.resp_type)
                order_ok, order_result = True, "SUCCESS"
            except BinanceError as exc:
                order_ok, order_resp, order_result = False, exc.body(), "FAILURE"
        data = {"cancelResult": "SUCCESS" if cancel_ok else "FAILURE", "newOrderResult": order_result,
                "cancelResponse": cancel_resp, "newOrderResponse": order_resp}
        if cancel_ok and order_ok:
            return data
        if not cancel_ok and not order_ok and order_result == "FAILURE":
            raise _CancelReplaceError(-2022, "Order cancel-replace failed.", data)
        raise _CancelReplaceError(-2021, "Order cancel-replace partially failed.", data)

    async def amend_keep_priority(self, key: ApiKey, p: Params) -> dict:
        """PUT /api/v3/order/amend/keepPriority: lower an open order's quantity, keeping its place in
        the queue (Binance allows only a decrease: -2038 otherwise)."""
        inst = parse_symbol(p, self.symbols)
        cmd = parse_amend(p, inst, key.account)
        new_cid = p.get("newClientOrderId")
        p.done()
        rec = self.history.get(key.account, cmd.order_id, cmd.client_order_id)
        if rec is None or rec.symbol != inst.symbol or not rec.is_open:
            raise ORDER_NOT_FOUND()
        if cmd.new_qty_lots >= rec.qty_lots:
            raise BinanceError(-2038, "Order amend (quantity increase) is not supported: newQty must be "
                                      "below the order's current quantity.")
        events = await self.pump.submit(cmd._replace(order_id=rec.order_id, client_order_id=""))
        first = events[0]
        if type(first) is CommandRejected:
            raise reject_error(first.reason)
        assert type(first) is OrderAmended
        rec = self.history.get(key.account, first.order_id) or rec
        body = order_json(self.history, rec, query=False)
        return {"transactTime": first.ts_ns // 1_000_000, "executionId": first.seq, "amendedOrder": {
            "symbol": body["symbol"], "orderId": rec.order_id, "orderListId": -1,
            "origClientOrderId": rec.client_order_id, "clientOrderId": new_cid or rec.client_order_id,
            "price": body["price"], "qty": self.pump.engine.instruments[rec.symbol].format_qty(first.qty_lots),
            "executedQty": body["executedQty"], "preventedQty": "0", "quoteOrderQty": body["origQuoteOrderQty"],
            "cumulativeQuoteQty": body["cummulativeQuoteQty"], "status": body["status"],
            "timeInForce": body["timeInForce"], "type": body["type"], "side": body["side"],
            "workingTime": body["workingTime"], "selfTradePreventionMode": body["selfTradePreventionMode"]}}

    # ------------------------------------------------------------------ reads
    def query_order(self, key: ApiKey, p: Params) -> dict:
        """GET /api/v3/order: open or finished (within the history bound); -2013 if unknown."""
        inst = parse_symbol(p, self.symbols)
        oid, cid = parse_order_ref(p)
        p.done()
        rec = self.history.get(key.account, oid, "" if oid else cid)
        if rec is None or rec.symbol != inst.symbol or (oid and cid and rec.client_order_id != cid):
            raise ORDER_NOT_FOUND()
        return order_json(self.history, rec)

    def open_orders(self, key: ApiKey, p: Params) -> list[dict]:
        """GET /api/v3/openOrders, on one symbol or all."""
        inst = parse_symbol(p, self.symbols, required=False)
        p.done()
        out = []
        for v in self.pump.engine.open_orders(key.account, inst.symbol if inst else None):
            rec = self.history.get(key.account, v.order_id)
            if rec is not None:
                out.append(order_json(self.history, rec))
        return out

    def all_orders(self, key: ApiKey, p: Params) -> list[dict]:
        """GET /api/v3/allOrders: ``orderId`` (>=), else ``startTime``/``endTime``, else the newest;
        ``limit`` 1..1000 (default 500); ascending by order id."""
        inst = parse_symbol(p, self.symbols)
        from_id = parse_int(p, "orderId", lo=0)
        start, end = parse_int(p, "startTime"), parse_int(p, "endTime")
        limit = parse_int(p, "limit", default=500, lo=1, hi=1000)
        p.done()
        recs = self.history.orders(key.account, inst.symbol)
        if from_id is not None:
            recs = [r for r in recs if r.order_id >= from_id][:limit]
        else:
            if start is not None:
                recs = [r for r in recs if r.time_ns // 1_000_000 >= start]
            if end is not None:
                recs = [r for r in recs if r.time_ns // 1_000_000 <= end]
            recs = recs[:limit] if start is not None else recs[-limit:]
        return [order_json(self.history, r) for r in recs]

    def my_trades(self, key: ApiKey, p: Params) -> list[dict]:
        """GET /api/v3/myTrades: ``orderId``, ``fromId`` (>=), ``startTime``/``endTime``, ``limit``."""
        inst = parse_symbol(p, self.symbols)
        order_id = parse_int(p, "orderId", lo=1)
        from_id = parse_int(p, "fromId", lo=0)
        start, end = parse_int(p, "startTime"), parse_int(p, "endTime")
        limit = parse_int(p, "limit", default=500, lo=1, hi=1000)
        p.done()
        trades = self.history.trades(key.account, inst.symbol)
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id]
        if start is not None:
            trades = [t for t in trades if t.ts_ns // 1_000_000 >= start]
        if end is not None:
            trades = [t for t in trades if t.ts_ns // 1_000_000 <= end]
        trades = trades[:limit] if (from_id is not None or start is not None) else trades[-limit:]
        return [trade_json(self.history, t) for t in trades]

    def account(self, key: ApiKey, p: Params) -> dict:
        """GET /api/v3/account: fee rates, permissions and every balance."""
        omit = p.get("omitZeroBalances")
        if omit not in (None, "true", "false"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'omitZeroBalances'; legal range "
                                      "is 'true, false'.")
        p.done()
        engine = self.pump.engine
        tier = engine.fee_tier(key.account) or 0
        fees = engine.fee_tiers[tier]
        balances = engine.balances(key.account)
        assets = {a.name: a for inst in engine.instruments.values() for a in (inst.base, inst.quote)}
        rows = []
        for name in engine.assets:
            b = balances.get(name)
            free, locked = (b.available, b.held) if b is not None else (0, 0)
            if omit == "true" and free == 0 and locked == 0:
                continue
            rows.append({"asset": name, "free": assets[name].format(free), "locked": assets[name].format(locked)})
        rate = _bps
        return {
            "makerCommission": fees.maker_bps, "takerCommission": fees.taker_bps, "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": rate(fees.maker_bps), "taker": rate(fees.taker_bps),
                                "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": "TRADE" in key.permissions, "canWithdraw": False, "canDeposit": False,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": self.pump.last_ts_ns // 1_000_000, "accountType": "SPOT", "balances": rows,
            "permissions": ["SPOT"], "uid": key.account,
        }


def _bps(bps: int) -> str:
    """Basis points as Binance's 8-decimal rate string, exactly (10 -> "0.00100000")."""
    units = bps * 10_000          # 1e-8 units: bps / 1e4 = bps * 1e4 / 1e8
    return f"{units // 100_000_000}.{units % 100_000_000:08d}"


class _CancelReplaceError(BinanceError):
    """-2021/-2022 carry Binance's ``data`` object beside code and msg."""

    def __init__(self, code: int, msg: str, data: dict) -> None:
        super().__init__(code, msg)
        self.data = data

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg, "data": self.data}
