"""One load bot on the wire: its WebSocket API connection (orders, user data) and its market-stream
connection (depth diffs kept as a :class:`~sim.bots.book.LocalBook`, trades), feeding its shadow venue.

Commands the agent sends (through its SimClient -> shadow venue -> :class:`~sim.bots.context.WireEngine`)
become signed WS API requests: SubmitOrder -> ``order.place`` (``newOrderRespType=ACK``), CancelOrder ->
``order.cancel``, CancelAll -> ``openOrders.cancelAll``, AmendOrder -> ``order.amend.keepPriority`` (a
quantity decrease at the same price) or ``order.cancelReplace`` keeping the client order id (anything
else). Answers are matched by request id; ack latency is measured from the moment the request is handed
to the socket to its answer. User data (``executionReport``, ``outboundAccountPosition``) is translated
(:mod:`sim.bots.translate`) and handed to the client's ``receive``; market data is folded into the shadow
venue (``BookUpdated`` / ``TradeExecuted`` through its ``_route``), so ``top``/``tape_row`` and the market
maker's ``on_market_data`` work as in a simulation.

A dropped connection (either socket) is a disconnect: the bot reconnects with backoff (0.1 s doubling to
2 s), resubscribes, resyncs its book from a fresh snapshot, its balances from ``account.status`` and its
orders from ``openOrders.status`` (orders the client thinks open that are not are ended for the agent),
and resolves requests that were in flight at the drop with ``order.status`` by client order id: found ->
acknowledged after all (recorded for the audit), unknown -> never arrived (rejected for the agent).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any, Callable

import websockets

from exchange import (AmendOrder, BookUpdated, CancelAll, CancelOrder, Instrument, OrderCanceled,
                      OrderType, Side, SubmitOrder, TimeInForce, TradeExecuted)
from exchange.enums import EndReason
from gateway.auth import sign

from .book import LocalBook
from .stats import Stats
from .translate import Translator, ms_ns

__all__ = ["Bot"]

_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


class Bot:
    """Args: ``ws_base`` (``ws://host:port``), ``rest`` (an async ``depth(wire symbol) -> REST depth
    snapshot``, shared by the run's bots: :class:`sim.bots.runner.SnapshotBroker`), account and
    key, ``inst`` (the engine instrument) and ``wire`` (its wire symbol), ``stats``, ``driver``."""

    def __init__(self, name: str, ws_base: str, rest: Callable, account: int, api_key: str, secret: str,
                 inst: Instrument, wire: str, stats: Stats, driver: Any) -> None:
        self.name, self.ws_base, self.rest = name, ws_base, rest
        self.account, self.api_key, self.secret = account, api_key, secret.encode()
        self.inst, self.wire, self.stats, self.driver = inst, wire, stats, driver
        self.venue: Any = None               # the shadow venue (set by the runner)
        self.book = LocalBook(lambda p, q: (inst.price_to_ticks(p), inst.qty_to_lots(q)))
        self.translator = Translator(account, {wire: inst}, None)
        self.out: list[tuple[int, str]] = []
        self._out_ready = asyncio.Event()
        self.pending: dict[int, tuple] = {}  # request id -> (method, cid, t_send or 0, extra)
        self.next_id = 0
        self.maker_cids: set[str] = set()    # orders placed post-only (a cancelReplace keeps the type)
        self.acked: dict[int, str] = {}      # order id -> cid: every order the server acknowledged
        self.fills: list[list] = []          # [account, tradeId, orderId, price, qty]
        self.api: Any = None
        self.md: Any = None
        self.connected = False
        self.stopping = False
        self.reconnects = 0
        self._snap_task: asyncio.Task | None = None
        # The server's ORDERS rate limit per key as (orders, window seconds), from exchangeInfo; None: no
        # client-side throttle (the benchmark's config sets limits far above what it offers).
        self.order_limit: tuple[int, float] | None = None
        self.order_times: deque[float] = deque()

    # ------------------------------------------------------------------ sending (kernel actions)
    def client(self) -> Any:
        return self.venue.clients.get(self.account) if self.venue is not None else None

    def _request(self, method: str, params: dict, cid: str = "", extra: Any = None, signed: bool = True) -> int:
        self.next_id += 1
        rid = self.next_id
        if signed:
            params["apiKey"] = self.api_key
            params["timestamp"] = str(time.time_ns() // 1_000_000)
            params["signature"] = sign(self.secret, "&".join(f"{k}={params[k]}" for k in sorted(params)))
        self.pending[rid] = (method, cid, 0.0, extra)
        self.out.append((rid, json.dumps({"id": rid, "method": method, "params": params})))
        self._out_ready.set()
        return rid

    def send(self, cmd: Any) -> None:
        """WireEngine's ``send``: one agent command -> one request (called inside a kernel action)."""
        inst, wire = self.inst, self.wire
        t = type(cmd)
        if t is SubmitOrder:
            p = {"symbol": wire, "side": _SIDE[cmd.side], "newClientOrderId": cmd.client_order_id,
                 "newOrderRespType": "ACK"}
            if cmd.order_type == OrderType.MARKET:
                p["type"] = "MARKET"
                if cmd.qty_lots:
                    p["quantity"] = inst.format_qty(cmd.qty_lots)
                else:
                    p["quoteOrderQty"] = inst.quote.format(cmd.quote_qty)
            else:
                p["type"] = "LIMIT_MAKER" if cmd.order_type == OrderType.LIMIT_MAKER else "LIMIT"
                if p["type"] == "LIMIT":
                    p["timeInForce"] = _TIF[cmd.tif]
                else:
                    self.maker_cids.add(cmd.client_order_id)
                p["price"] = inst.format_price(cmd.price_ticks)
                p["quantity"] = inst.format_qty(cmd.qty_lots)
            if self._over_limit():   # as the server's -1015 would, without the round trip; delivered
                # after this kernel action (this runs inside one: the agent is sending).
                asyncio.get_running_loop().call_soon(
                    self._deliver, self.translator.rejected(inst.symbol, cmd.client_order_id))
                return
            self.stats.orders += 1
            self._request("order.place", p, cmd.client_order_id)
        elif t is CancelOrder:
            self._request("order.cancel", {"symbol": wire, "origClientOrderId": cmd.client_order_id},
                          cmd.client_order_id)
        elif t is CancelAll:
            self._request("openOrders.cancelAll", {"symbol": wire})
        elif t is AmendOrder:
            self._amend(cmd)

    def _amend(self, cmd: AmendOrder) -> None:
        c = self.client()
        o = c.orders.get(cmd.client_order_id) if c is not None else None
        if o is None or o.market:
            return
        price = cmd.new_price_ticks or o.price_ticks
        total = cmd.new_qty_lots or o.qty_lots
        if price == o.price_ticks and total < o.qty_lots:
            self._request("order.amend.keepPriority", {"symbol": self.wire, "origClientOrderId": o.client_order_id,
                                                       "newQty": self.inst.format_qty(total)}, o.client_order_id)
            return
        left = total - (o.qty_lots - o.remaining_lots)
        if left <= 0:
            self._request("order.cancel", {"symbol": self.wire, "origClientOrderId": o.client_order_id},
                          o.client_order_id)
            return
        if self._over_limit():       # the order stays as it is on the server, and so in the client
            return
        maker = o.client_order_id in self.maker_cids
        p = {"symbol": self.wire, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": o.client_order_id,
             "newClientOrderId": o.client_order_id, "side": _SIDE[o.side], "type": "LIMIT_MAKER" if maker else "LIMIT",
             "price": self.inst.format_price(price), "quantity": self.inst.format_qty(left),
             "newOrderRespType": "ACK"}
        if not maker:
            p["timeInForce"] = "GTC"
        self.translator.replacing[o.client_order_id] = self.translator.replacing.get(o.client_order_id, 0) + 1
        self.stats.orders += 1
        self._request("order.cancelReplace", p, o.client_order_id)

    async def _writer(self, ws: Any) -> None:
        pending = self.pending
        while True:
            await self._out_ready.wait()
            self._out_ready.clear()
            batch, self.out = self.out, []
            for rid, text in batch:
                p = pending.get(rid)
                if p is not None:
                    pending[rid] = (p[0], p[1], time.perf_counter(), p[3])
                await ws.send(text)

    def _over_limit(self) -> bool:
        """True if one more order now would pass the server's ORDERS limit: the order is not sent (counted
        in ``throttled``). A quoting agent re-quotes on the next market data anyway, and a queue of stale
        quotes behind a ten-second window would only grow."""
        if self.order_limit is None or self._order_slot() == 0.0:
            return False
        self.stats.throttled += 1
        return True

    def _order_slot(self) -> float:
        """Seconds until the next order fits the server's ORDERS limit (a sliding window never exceeds the
        server's fixed windows); 0: it fits now, and it is counted."""
        limit, window = self.order_limit   # type: ignore[misc]
        times = self.order_times
        now = time.monotonic()
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= limit:
            return times[0] + window - now + 0.001
        times.append(now)
        return 0.0

    # ------------------------------------------------------------------ receiving
    def _deliver(self, events: list) -> None:
        c = self.client()
        if c is None or not events:
            return
        self.translator.client = c
        self.driver.catch_up()
        c.receive(events)
        self.driver.catch_up()
        self.driver.poke()

    def _on_api(self, msg: dict) -> None:
        ev = msg.get("event")
        if ev is not None:
            self._on_user(ev)
            return
        rid = msg.get("id")
        p = self.pending.pop(rid, None) if isinstance(rid, int) else None
        if p is None:
            return
        method, cid, t_send, extra = p
        if t_send:
            self.stats.latency(time.perf_counter() - t_send)
        if msg.get("status") == 200:
            if method in ("order.place", "order.cancelReplace"):
                self.stats.acks += 1
                if method == "order.place":
                    self.acked[int(msg["result"]["orderId"])] = cid
                else:
                    self._replace_answered(cid, None)
            if extra is not None:
                extra(msg.get("result"))
            return
        err = msg.get("error") or {}
        self.stats.reject(err.get("code"), err.get("msg", ""), method)
        if extra is not None:
            extra(None)
        if method == "order.place":
            self._deliver(self.translator.rejected(self.inst.symbol, cid))
        elif method == "order.cancelReplace":
            self._replace_answered(cid, err)

    def _replace_answered(self, cid: str, err: Any) -> None:
        n = self.translator.replacing.get(cid, 0) - 1
        if err is None:
            if n <= 0:
                self.translator.replacing.pop(cid, None)
                self.translator.held.pop(cid, None)
            else:
                self.translator.replacing[cid] = n
            return
        if n > 0:
            self.translator.replacing[cid] = n
        self.translator.replacing.setdefault(cid, 0)
        self._deliver(self.translator.replace_failed(cid, self.inst.symbol))

    def _on_user(self, ev: dict) -> None:
        e = ev.get("e")
        if e == "executionReport":
            c = self.client()
            self.translator.client = c
            if c is None:
                return
            if ev["x"] == "NEW":
                self.acked[int(ev["i"])] = ev["c"]
            elif ev["x"] == "TRADE":
                self.stats.fills += 1
                self.fills.append([self.account, int(ev["t"]), int(ev["i"]), ev["L"], ev["l"]])
            self._deliver(self.translator.execution_report(ev))
        elif e == "outboundAccountPosition":
            c = self.client()
            if c is not None:
                for b in ev.get("B", ()):
                    a = self._asset(b["a"])
                    if a is not None:
                        c.balances[a.name] = a.to_units(b["f"]) + a.to_units(b["l"])

    def _asset(self, name: str) -> Any:
        i = self.inst
        return i.base if i.base.name == name else i.quote if i.quote.name == name else None

    def _on_md(self, msg: dict) -> None:
        data = msg.get("data", msg)
        e = data.get("e")
        if e == "depthUpdate":
            ch = self.book.on_diff(data)
            if ch is not None:
                self._route_book(ch, ms_ns(data.get("E")))
            elif self.book.needs_snapshot():
                self._want_snapshot()
        elif e == "trade":
            price, qty = self.inst.price_to_ticks(data["p"]), self.inst.qty_to_lots(data["q"])
            aggressor = Side.SELL if data.get("m") else Side.BUY
            self.driver.catch_up()
            self.venue._route([TradeExecuted(0, ms_ns(data.get("T")), self.inst.symbol, price, qty,
                                             self.inst.notional(price, qty), aggressor, 0, -1, 0, -1, 0, 0)])
            self.driver.poke()

    def _route_book(self, ch: tuple, ts: int) -> None:
        if ch[0] or ch[1]:
            self.driver.catch_up()
            self.venue._route([BookUpdated(0, ts, self.inst.symbol, 0, tuple(ch[0]), tuple(ch[1]))])
            self.driver.poke()

    def _want_snapshot(self) -> None:
        if self._snap_task is None or self._snap_task.done():
            self._snap_task = asyncio.get_running_loop().create_task(self._snapshot())

    async def _snapshot(self) -> None:
        while self.book.needs_snapshot() and not self.stopping:
            snap = await self.rest(self.wire)
            self._route_book(self.book.on_snapshot(snap), 0)
            self.stats.gaps = sum(b.book.gaps for b in self.stats.bots)
            if self.book.needs_snapshot():
                await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ lifecycle
    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Connect, serve until :meth:`stop`, reconnecting after drops."""
        delay = 0.1
        first = True
        while not self.stopping:
            try:
                await self._session(first, ready)
                delay = 0.1
            except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError):
                pass
            if self.stopping:
                break
            if self.connected:
                self.connected = False
                self.stats.disconnects += 1
                self.stats.connected -= 1
            first = False
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def _session(self, first: bool, ready: asyncio.Event | None) -> None:
        streams = f"{self.wire.lower()}@depth@100ms/{self.wire.lower()}@trade"
        async with websockets.connect(self.ws_base + "/ws-api/v3", max_size=None, compression=None) as api, \
                websockets.connect(f"{self.ws_base}/stream?streams={streams}", max_size=None,
                                   compression=None) as md:
            self.api, self.md = api, md
            self.book.reset()
            in_flight = [] if first else self._orphans()
            self._request("userDataStream.subscribe.signature", {})
            writer = asyncio.create_task(self._writer(api))
            md_task = asyncio.create_task(self._md_loop(md))
            reader = asyncio.create_task(self._api_loop(api))
            try:
                self._want_snapshot()
                if not first:
                    self.reconnects += 1
                    self.stats.reconnects += 1
                    await self._resync(in_flight)
                self.connected = True
                self.stats.connected += 1
                if ready is not None:
                    ready.set()
                await reader
            finally:
                for t in (writer, md_task, reader):
                    t.cancel()

    async def _api_loop(self, api: Any) -> None:
        async for text in api:
            self._on_api(json.loads(text))
            if self.stopping:
                break

    async def _md_loop(self, md: Any) -> None:
        try:
            async for text in md:
                self._on_md(json.loads(text))
        finally:
            if not self.stopping:
                await self.api.close()     # one connection down: treat the bot as disconnected

    def _orphans(self) -> list[tuple]:
        """Requests in flight at the drop (their answers are lost): (method, cid)."""
        out = [(m, cid) for m, cid, _, _ in self.pending.values() if m in ("order.place", "order.cancelReplace")]
        self.pending.clear()
        self.out.clear()
        self.translator.replacing.clear()
        self.translator.held.clear()
        return out

    async def _call(self, method: str, params: dict) -> Any:
        fut = asyncio.get_running_loop().create_future()
        self._request(method, params, extra=lambda r: fut.done() or fut.set_result(r))
        return await asyncio.wait_for(fut, 10)

    async def _resync(self, in_flight: list[tuple]) -> None:
        """After a reconnect: resolve lost answers, then orders and balances from the server."""
        for method, cid in in_flight:
            r = await self._call("order.status", {"symbol": self.wire, "origClientOrderId": cid})
            if r is not None:
                self.acked[int(r["orderId"])] = cid
                self.stats.acks += 1
                self.stats.recovered_acks += 1
            elif method == "order.place":
                self._deliver(self.translator.rejected(self.inst.symbol, cid))
        opened = await self._call("openOrders.status", {"symbol": self.wire}) or []
        acct = await self._call("account.status", {})
        c = self.client()
        if c is None:
            return
        live = {o["clientOrderId"]: o for o in opened}
        gone = [OrderCanceled(0, 0, o.order_id, self.account, o.symbol, o.remaining_lots, EndReason.USER)
                for cid, o in c.orders.items() if cid not in live and o.order_id]
        for cid, o in list(c.orders.items()):
            w = live.get(cid)
            if w is not None:
                o.order_id = int(w["orderId"])
                c.by_id[o.order_id] = o
                o.remaining_lots = self.inst.qty_to_lots(w["origQty"]) - self.inst.qty_to_lots(w["executedQty"])
            elif not o.order_id:
                c.orders.pop(cid, None)
        self._deliver(gone)
        if acct is not None:
            for b in acct.get("balances", ()):
                a = self._asset(b["asset"])
                if a is not None:
                    c.balances[a.name] = a.to_units(b["free"]) + a.to_units(b["locked"])

    async def stop(self) -> None:
        self.stopping = True
        for ws in (self.api, self.md):
            if ws is not None:
                await ws.close()
