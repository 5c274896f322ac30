"""Order and own-trade history, projected from engine events, and Binance's order payloads.

The engine keeps only open orders; Binance clients also ask about finished ones (``GET /api/v3/order``
after a fill, ``allOrders``, ``myTrades``). :class:`OrderHistory` is a pump listener that keeps, per
account, every open order and the newest ``order_cap`` finished ones (older finished orders are dropped
oldest first: a documented bound, Binance itself only keeps a window), and the newest ``trade_cap`` own
trades.

Restart: the app feeds the journal records that :func:`exchange.journal.recover` replays through this
projection (``Pump.add_listener(..., replay=True)``), so the history is rebuilt exactly from the journal
with no file of its own. If recovery started from a snapshot, the records before it are not replayed:
:meth:`OrderHistory.seed_open_orders` then adds the engine's open orders that the replay did not see (their
``cummulativeQuoteQty`` is estimated at the order's price) and older finished orders are not known. The
gateway never writes snapshots itself, so this only happens after ``bdax journal snapshot``.

The payload builders here (:func:`order_json`, :func:`fill_json`, execution reports) are shared by REST
and the WebSocket API. Decimal fields use the instrument's price/quantity grid and the assets' decimals.
"""
from __future__ import annotations

from collections import deque
from typing import Protocol

from exchange import (EndReason, OrderAccepted, OrderAmended, OrderCanceled, OrderExpired, OrderType, Side,
                      TimeInForce, TradeExecuted)
from exchange import STP, BalanceChanged
from exchange.decimals import unit_of

from .symbols import SymbolTable

__all__ = ["OrderHistory", "OrderRecord", "TradeRecord", "UserSink", "order_json", "fill_json",
           "trade_json", "STATUS_OPEN", "formats"]

NEW, PARTIALLY_FILLED, FILLED = "NEW", "PARTIALLY_FILLED", "FILLED"
CANCELED, EXPIRED, EXPIRED_IN_MATCH = "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"
STATUS_OPEN = (NEW, PARTIALLY_FILLED)
_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}
_TYPE = {OrderType.LIMIT: "LIMIT", OrderType.MARKET: "MARKET", OrderType.LIMIT_MAKER: "LIMIT_MAKER"}
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_STP = {s: s.name for s in STP}


class _Formats:
    """The formatters of one instrument: price, qty, quote amount (and the quote asset's name)."""

    __slots__ = ("price", "qty", "quote", "quote_name", "base")

    def __init__(self, inst) -> None:
        self.price = unit_of(inst.price_unit).format
        self.qty = unit_of(inst.lot_size).format
        self.quote = unit_of(inst.quote.unit).format
        self.base = unit_of(inst.base.unit).format
        self.quote_name = inst.quote.name


_formats: dict[int, tuple] = {}


def formats(inst) -> _Formats:
    """The (cached) formatters of instrument ``inst``."""
    hit = _formats.get(id(inst))
    if hit is None or hit[0] is not inst:
        hit = _formats[id(inst)] = (inst, _Formats(inst))
    return hit[1]


_SIDE_OF = {int(m): m for m in Side}
_TYPE_OF = {int(m): m for m in OrderType}
_TIF_OF = {int(m): m for m in TimeInForce}
_STP_OF = {int(m): m for m in STP}


class OrderRecord:
    """One order as Binance reports it. Mutable; only :class:`OrderHistory` changes it."""

    __slots__ = ("order_id", "account", "symbol", "side", "order_type", "tif", "price_ticks", "qty_lots",
                 "quote_qty", "client_order_id", "stp", "status", "executed_lots", "cum_quote", "time_ns",
                 "update_ns", "last_price_ticks")

    def __init__(self, ev: OrderAccepted) -> None:
        self.order_id = ev.order_id
        self.account = ev.account
        self.symbol = ev.symbol
        # Perf (G6): table lookups, not Side(...) etc. (an Enum call is ~0.2 us; 8 per order placed).
        self.side = _SIDE_OF[ev.side]
        self.order_type = _TYPE_OF[ev.order_type]
        self.tif = _TIF_OF[ev.tif]
        self.price_ticks = ev.price_ticks
        self.qty_lots = ev.qty_lots
        self.quote_qty = ev.quote_qty
        self.client_order_id = ev.client_order_id
        self.stp = _STP_OF[ev.stp]
        self.status = NEW
        self.executed_lots = 0
        self.cum_quote = 0
        self.last_price_ticks = 0
        self.time_ns = self.update_ns = ev.ts_ns

    @property
    def is_open(self) -> bool:
        return self.status in STATUS_OPEN

    def fill(self, ev: TradeExecuted) -> bool:
        """Count one of this order's fills; True if it is now FILLED."""
        self.executed_lots += ev.qty_lots
        self.cum_quote += ev.quote_amount
        self.last_price_ticks = ev.price_ticks
        self.update_ns = ev.ts_ns
        done = self.executed_lots >= self.qty_lots if self.qty_lots else self.cum_quote >= self.quote_qty
        self.status = FILLED if done else PARTIALLY_FILLED
        return done


class TradeRecord:
    """One fill from one account's side."""

    __slots__ = ("trade_id", "symbol", "order_id", "price_ticks", "qty_lots", "quote_amount", "commission",
                 "is_buyer", "is_maker", "ts_ns")

    def __init__(self, trade_id, symbol, order_id, price_ticks, qty_lots, quote_amount, commission, is_buyer,
                 is_maker, ts_ns) -> None:
        self.trade_id, self.symbol, self.order_id = trade_id, symbol, order_id
        self.price_ticks, self.qty_lots, self.quote_amount = price_ticks, qty_lots, quote_amount
        self.commission, self.is_buyer, self.is_maker, self.ts_ns = commission, is_buyer, is_maker, ts_ns


class UserSink(Protocol):
    """Where user-stream events go (the WebSocket API hub implements it)."""

    def wants(self, account: int) -> bool: ...
    def emit(self, account: int, payload: dict) -> None: ...
    def positions(self, touched: dict[int, set[str]], ts_ns: int) -> None: ...


class _Account:
    __slots__ = ("orders", "finished", "by_cid", "trades")

    def __init__(self, trade_cap: int) -> None:
        self.orders: dict[int, OrderRecord] = {}     # by order id, ascending (ids only grow)
        self.finished: deque[int] = deque()          # finished order ids, oldest first
        self.by_cid: dict[str, int] = {}             # client order id -> newest order id with it
        self.trades: deque[TradeRecord] = deque(maxlen=trade_cap)


class OrderHistory:
    """Per-account order and trade history (see the module docstring for bounds and restart)."""

    def __init__(self, symbols: SymbolTable, *, order_cap: int = 10_000, trade_cap: int = 10_000) -> None:
        self.symbols = symbols
        self.order_cap = order_cap
        self.trade_cap = trade_cap
        self._accounts: dict[int, _Account] = {}
        self._insts = {inst.symbol: inst for _, inst in symbols.items()}
        self._assets = {a.name: a for inst in self._insts.values() for a in (inst.base, inst.quote)}
        self.sink: UserSink | None = None

    # ------------------------------------------------------------------ reads
    def _acct(self, account: int) -> _Account:
        a = self._accounts.get(account)
        if a is None:
            a = self._accounts[account] = _Account(self.trade_cap)
        return a

    def get(self, account: int, order_id: int = 0, client_order_id: str = "") -> OrderRecord | None:
        """The account's order by id, else by client order id (the newest with it)."""
        a = self._accounts.get(account)
        if a is None:
            return None
        if order_id:
            return a.orders.get(order_id)
        oid = a.by_cid.get(client_order_id) if client_order_id else None
        return a.orders.get(oid) if oid is not None else None

    def orders(self, account: int, symbol: str | None = None) -> list[OrderRecord]:
        """The account's known orders (open and kept finished ones), ascending by order id."""
        a = self._accounts.get(account)
        if a is None:
            return []
        return [r for r in a.orders.values() if symbol is None or r.symbol == symbol]

    def trades(self, account: int, symbol: str | None = None) -> list[TradeRecord]:
        """The account's kept own trades, ascending by trade id."""
        a = self._accounts.get(account)
        if a is None:
            return []
        return [t for t in a.trades if symbol is None or t.symbol == symbol]

    # ------------------------------------------------------------------ projection
    def seed_open_orders(self, engine) -> int:
        """Add the engine's open orders that no replayed event introduced (recovery from a snapshot).
        Returns how many were added."""
        added = 0
        for account in engine.accounts():
            a = self._acct(account)
            for v in engine.open_orders(account):
                if v.order_id in a.orders:
                    continue
                rec = OrderRecord(OrderAccepted(v.order_id, v.ts_ns, v.order_id, v.account, v.symbol, v.side,
                                                v.order_type, v.tif, v.price_ticks, v.qty_lots, 0,
                                                v.client_order_id, v.stp))
                rec.executed_lots = v.filled_lots
                rec.cum_quote = self._insts[v.symbol].notional(v.price_ticks, v.filled_lots)
                rec.status = PARTIALLY_FILLED if v.filled_lots else NEW
                a.orders[v.order_id] = rec
                if v.client_order_id:
                    a.by_cid[v.client_order_id] = v.order_id
                added += 1
            a.orders = dict(sorted(a.orders.items()))   # keep ascending ids
        return added

    def on_events(self, events) -> None:
        """Pump listener: apply one command's events (and emit user-stream events to the sink)."""
        sink = self.sink
        touched: dict[int, set[str]] | None = {} if sink is not None else None
        ts = 0
        for ev in events:
            cls = type(ev)
            ts = ev.ts_ns
            if cls is OrderAccepted:
                rec = OrderRecord(ev)
                a = self._acct(ev.account)
                a.orders[ev.order_id] = rec
                if ev.client_order_id:
                    a.by_cid[ev.client_order_id] = ev.order_id
                if touched is not None and sink.wants(ev.account):
                    sink.emit(ev.account, self.execution_report(rec, "NEW", ts))
                    self._touch(touched, rec, hold_only=True)
            elif cls is TradeExecuted:
                self._on_trade(ev, sink, touched)
            elif cls is OrderCanceled or cls is OrderExpired:
                rec = self.get(ev.account, ev.order_id)
                if rec is None:
                    continue
                if cls is OrderCanceled:
                    rec.status, x = CANCELED, "CANCELED"
                else:
                    rec.status, x = self.expiry_status(rec, ev.reason)
                rec.update_ns = ts
                self._finish(rec)
                if touched is not None and sink.wants(ev.account):
                    sink.emit(ev.account, self.execution_report(rec, x, ts))
                    self._touch(touched, rec, hold_only=True)
            elif cls is OrderAmended:
                rec = self.get(ev.account, ev.order_id)
                if rec is None:
                    continue
                rec.price_ticks, rec.qty_lots, rec.update_ns = ev.price_ticks, ev.qty_lots, ts
                if touched is not None and sink.wants(ev.account):
                    sink.emit(ev.account, self.execution_report(rec, "REPLACED", ts))
                    self._touch(touched, rec, hold_only=True)
            elif cls is BalanceChanged:
                if touched is not None and sink.wants(ev.account):
                    asset_obj = self._asset(ev.asset)
                    sink.emit(ev.account, {"e": "balanceUpdate", "E": ts // 1_000_000, "a": ev.asset,
                                           "d": asset_obj.format(ev.delta) if asset_obj else str(ev.delta),
                                           "T": ts // 1_000_000})
                    touched.setdefault(ev.account, set()).add(ev.asset)
        if touched:
            sink.positions(touched, ts)

    def expiry_status(self, rec: OrderRecord, reason: int) -> tuple[str, str]:
        """(order status, executionReport ``x``) of an order the engine expired for ``reason``.

        A MARKET order by quoteOrderQty that stopped with less quote left than one lot costs at its last
        fill price is FILLED, as Binance reports it (the dust cannot buy another lot; ccxt would otherwise
        show a fully spent order as expired). A remainder that could still buy a lot means the book ran
        out: EXPIRED, as on Binance."""
        if reason == EndReason.SELF_TRADE:
            return EXPIRED_IN_MATCH, "TRADE_PREVENTION"
        if (reason == EndReason.IOC_REMAINDER and rec.quote_qty and rec.executed_lots
                and rec.quote_qty - rec.cum_quote < self._insts[rec.symbol].notional(rec.last_price_ticks, 1)):
            return FILLED, "EXPIRED"
        return EXPIRED, "EXPIRED"

    def _asset(self, name: str):
        return self._assets.get(name)

    def _touch(self, touched: dict, rec: OrderRecord, hold_only: bool) -> None:
        inst = self._insts[rec.symbol]
        assets = touched.setdefault(rec.account, set())
        if hold_only:
            assets.add(inst.quote.name if rec.side == Side.BUY else inst.base.name)
        else:
            assets.add(inst.quote.name)
            assets.add(inst.base.name)

    def _on_trade(self, ev: TradeExecuted, sink, touched) -> None:
        buyer_is_taker = ev.aggressor == Side.BUY
        for order_id, account, fee, is_maker in ((ev.maker_order_id, ev.maker_account, ev.maker_fee, True),
                                                 (ev.taker_order_id, ev.taker_account, ev.taker_fee, False)):
            a = self._acct(account)
            is_buyer = buyer_is_taker != is_maker
            a.trades.append(TradeRecord(ev.seq, ev.symbol, order_id,
                                        ev.price_ticks, ev.qty_lots, ev.quote_amount, fee, is_buyer, is_maker,
                                        ev.ts_ns))
            rec = a.orders.get(order_id)
            if rec is None:
                continue
            if rec.fill(ev):
                self._finish(rec)
            if touched is not None and sink.wants(account):
                sink.emit(account, self.execution_report(rec, "TRADE", ev.ts_ns, trade=ev, fee=fee,
                                                         is_maker=is_maker))
                self._touch(touched, rec, hold_only=False)

    def _finish(self, rec: OrderRecord) -> None:
        a = self._acct(rec.account)
        a.finished.append(rec.order_id)
        while len(a.finished) > self.order_cap:
            old = a.finished.popleft()
            gone = a.orders.pop(old, None)
            if gone is not None and gone.client_order_id and a.by_cid.get(gone.client_order_id) == old:
                del a.by_cid[gone.client_order_id]

    # ------------------------------------------------------------------ payloads
    def execution_report(self, rec: OrderRecord, x: str, ts_ns: int, *, trade: TradeExecuted | None = None,
                         fee: int = 0, is_maker: bool = False) -> dict:
        """Binance's ``executionReport`` user event for ``rec`` after this execution."""
        f = formats(self._insts[rec.symbol])
        ms = ts_ns // 1_000_000
        price, qty, quote = f.price, f.qty, f.quote
        return {
            "e": "executionReport", "E": ms, "s": self.symbols.wire(rec.symbol), "c": rec.client_order_id,
            "S": _SIDE[rec.side], "o": _TYPE[rec.order_type], "f": _wire_tif(rec),
            "q": qty(_orig_qty(rec)), "p": price(rec.price_ticks),
            "P": price(0), "F": qty(0), "g": -1,
            "C": rec.client_order_id if x == "CANCELED" else "", "x": x, "X": rec.status, "r": "NONE",
            "i": rec.order_id, "l": qty(trade.qty_lots if trade else 0),
            "z": qty(rec.executed_lots),
            "L": price(trade.price_ticks if trade else 0),
            "n": quote(fee), "N": f.quote_name if trade else None,
            "T": ms, "t": trade.seq if trade else -1, "I": 0, "w": rec.is_open and rec.order_type != OrderType.MARKET,
            "m": is_maker, "M": False, "O": rec.time_ns // 1_000_000,
            "Z": quote(rec.cum_quote), "Y": quote(trade.quote_amount if trade else 0),
            "Q": quote(rec.quote_qty), "W": rec.time_ns // 1_000_000, "V": _STP[rec.stp],
        }


def _orig_qty(rec: OrderRecord) -> int:
    # A market order by quote amount has no quantity of its own; Binance reports what it executed.
    return rec.qty_lots if rec.qty_lots else rec.executed_lots


def _wire_tif(rec: OrderRecord) -> str:
    # Binance reports MARKET orders as GTC (binance-compat §4.2); the engine runs them as IOC.
    return "GTC" if rec.order_type == OrderType.MARKET else _TIF[rec.tif]


def order_json(history: OrderHistory, rec: OrderRecord, *, query: bool = True) -> dict:
    """The order object: the query shape (GET order, openOrders, allOrders) or, with ``query=False``,
    the RESULT shape of a new order (``transactTime`` instead of ``time``/``updateTime``)."""
    f = formats(history._insts[rec.symbol])
    if not query:
        # Perf (G4): the RESULT shape is built directly (it used to be the query shape, rebuilt).
        return {"symbol": history.symbols.wire(rec.symbol), "orderId": rec.order_id, "orderListId": -1,
                "clientOrderId": rec.client_order_id, "transactTime": rec.update_ns // 1_000_000,
                "price": f.price(rec.price_ticks), "origQty": f.qty(_orig_qty(rec)),
                "executedQty": f.qty(rec.executed_lots), "origQuoteOrderQty": f.quote(rec.quote_qty),
                "cummulativeQuoteQty": f.quote(rec.cum_quote), "status": rec.status,
                "timeInForce": _wire_tif(rec), "type": _TYPE[rec.order_type], "side": _SIDE[rec.side],
                "workingTime": rec.time_ns // 1_000_000, "selfTradePreventionMode": _STP[rec.stp]}
    return {
        "symbol": history.symbols.wire(rec.symbol), "orderId": rec.order_id, "orderListId": -1,
        "clientOrderId": rec.client_order_id, "price": f.price(rec.price_ticks),
        "origQty": f.qty(_orig_qty(rec)), "executedQty": f.qty(rec.executed_lots),
        "cummulativeQuoteQty": f.quote(rec.cum_quote), "status": rec.status,
        "timeInForce": _wire_tif(rec), "type": _TYPE[rec.order_type], "side": _SIDE[rec.side],
        "stopPrice": f.price(0), "icebergQty": f.qty(0),
        "time": rec.time_ns // 1_000_000, "updateTime": rec.update_ns // 1_000_000,
        "isWorking": rec.is_open, "workingTime": rec.time_ns // 1_000_000,
        "origQuoteOrderQty": f.quote(rec.quote_qty), "selfTradePreventionMode": _STP[rec.stp]}


def fill_json(history: OrderHistory, ev: TradeExecuted, order_id: int) -> dict:
    """One ``fills[]`` entry of a FULL response, from ``order_id``'s side of the trade."""
    f = formats(history._insts[ev.symbol])
    fee = ev.taker_fee if ev.taker_order_id == order_id else ev.maker_fee
    return {"price": f.price(ev.price_ticks), "qty": f.qty(ev.qty_lots),
            "commission": f.quote(fee), "commissionAsset": f.quote_name, "tradeId": ev.seq}


def trade_json(history: OrderHistory, t: TradeRecord) -> dict:
    """A ``myTrades`` entry."""
    f = formats(history._insts[t.symbol])
    return {"symbol": history.symbols.wire(t.symbol), "id": t.trade_id, "orderId": t.order_id,
            "orderListId": -1, "price": f.price(t.price_ticks), "qty": f.qty(t.qty_lots),
            "quoteQty": f.quote(t.quote_amount), "commission": f.quote(t.commission),
            "commissionAsset": f.quote_name, "time": t.ts_ns // 1_000_000, "isBuyer": t.is_buyer,
            "isMaker": t.is_maker, "isBestMatch": True}
