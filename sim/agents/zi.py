"""Zero-intelligence order flow (Farmer, Patelli & Zovko 2005; reference §2.4).

Three independent Poisson flows for the whole group: limit orders at rate ``limit_rate`` placed uniformly
at 1..``width_steps`` price steps from the opposite best quote (so some improve the spread), market
orders at rate ``market_rate``, and cancellations at rate ``cancel_rate`` *per resting order*. Every
order is ``size_lots`` and each side is equally likely. No strategy: the model predicts spread and
diffusion from the rates alone and claims no volatility clustering or sign memory.
"""
from __future__ import annotations

from typing import Any

from exchange import OrderAccepted, OrderCanceled, OrderExpired, OrderRejected, TradeExecuted

from ..client import BUY, SELL, SimClient
from .base import NS_PER_S, AgentContext, ceil_price, floor_price, step_at
from .group import GroupAgent

__all__ = ["ZeroIntelligence"]


class ZeroIntelligence(GroupAgent):
    def __init__(self, name: str, ctx: AgentContext, *, count: int, limit_rate: float, market_rate: float,
                 cancel_rate: float, size_lots: int, width_steps: int,
                 activity_elasticity: float = 0.0) -> None:
        super().__init__(name, ctx, count, limit_rate + market_rate, activity_elasticity)
        self.limit_rate = limit_rate
        self.market_rate = market_rate
        self.cancel_rate = cancel_rate
        self.size = size_lots
        self.width = width_steps
        # Resting orders as (client, cid) with a position index: O(1) add, remove and uniform choice.
        self.resting: list[tuple[SimClient, str]] = []
        self._pos: dict[tuple[int, str], int] = {}
        self._cid_of: dict[tuple[int, int], str] = {}    # (account, order_id) -> cid of resting orders
        self.placed = self.market_orders = self.cancels = 0

    def current_rate(self) -> float:
        base = self.limit_rate + self.market_rate + self.cancel_rate * len(self.resting)
        f = self.ctx.fundamental
        if self.elasticity and f is not None:
            return base * f.activity ** self.elasticity
        return base

    def _fire(self, _: object = None) -> None:
        d = self.ctx.draws
        self.actions += 1
        u = d.uniform() * (self.limit_rate + self.market_rate + self.cancel_rate * len(self.resting))
        if u < self.limit_rate:
            c = self.member(d.below(self.count))
            if c.compute_ns:
                c.when_free(self._limit)     # a busy member acts when it is free
            else:
                self._limit(c)
        elif u < self.limit_rate + self.market_rate:
            c = self.member(d.below(self.count))
            if c.compute_ns:
                c.when_free(self._market)
            else:
                self._market(c)
        elif self.resting:
            client, cid = self.resting[d.below(len(self.resting))]
            self._forget(client.account, cid)
            if client.compute_ns:
                client.when_free(self._cancel, cid)
            else:
                client.cancel(self.ctx.symbol, cid)
            self.cancels += 1
        if self.current_rate() > 0:
            self._schedule_next()
        else:   # nothing can happen until an order rests; the limit rate is 0 only in tests
            self.ctx.after(NS_PER_S, self._fire)

    def _cancel(self, client: SimClient, cid: str) -> None:
        client.cancel(self.ctx.symbol, cid)

    def _limit(self, client: SimClient, _: object = None) -> None:
        ctx, d = self.ctx, self.ctx.draws
        row = client.tape_row(ctx.symbol)
        inst = ctx.instrument
        ref = self.mid(row)
        if ref <= 0:   # an empty book: quote around value, or the instrument's start price
            ref = ctx.fundamental.value if ctx.fundamental is not None else float(ctx.reference_price)
            if ref <= 0:
                return
        k = 1 + d.below(self.width)
        if d.uniform() < 0.5:
            ask = row[2] or ceil_price(inst, ref)
            price = floor_price(inst, ask - k * step_at(inst, ask))
            if client.available(inst.quote.name) < inst.notional(price, self.size) * 101 // 100 + 1:
                return
            side = BUY
        else:
            bid = row[0] or floor_price(inst, ref)
            price = ceil_price(inst, bid + k * step_at(inst, bid))
            if client.available(inst.base.name) < self.size * inst.lot_units:
                return
            side = SELL
        cid = client.place_limit(ctx.symbol, side, price, self.size)
        self._pos[(client.account, cid)] = len(self.resting)
        self.resting.append((client, cid))
        self.placed += 1

    def _market(self, client: SimClient, _: object = None) -> None:
        inst = self.ctx.instrument
        if self.ctx.draws.uniform() < 0.5:
            if client.available(inst.quote.name) <= 0:
                return
            side = BUY
        else:
            if client.available(inst.base.name) < self.size * inst.lot_units:
                return
            side = SELL
        client.place_market(self.ctx.symbol, side, self.size)
        self.market_orders += 1

    def _forget(self, account: int, cid: str) -> None:
        i = self._pos.pop((account, cid), None)
        if i is None:
            return
        last = self.resting.pop()
        if i < len(self.resting):
            self.resting[i] = last
            self._pos[(last[0].account, last[1])] = i

    def wants_order_events(self) -> bool:
        return True

    def on_order_event(self, client: SimClient, event: Any) -> None:
        cls = event.__class__
        acct = client.account
        if cls is OrderAccepted:
            if (acct, event.client_order_id) in self._pos:
                self._cid_of[(acct, event.order_id)] = event.client_order_id
        elif cls is OrderCanceled or cls is OrderExpired:
            cid = self._cid_of.pop((acct, event.order_id), None)
            if cid is not None:
                self._forget(acct, cid)
        elif cls is TradeExecuted:
            oid = event.maker_order_id if event.maker_account == acct else event.taker_order_id
            cid = self._cid_of.get((acct, oid))
            if cid is not None and cid not in client.orders:   # filled completely
                del self._cid_of[(acct, oid)]
                self._forget(acct, cid)
        elif cls is OrderRejected:
            self._forget(acct, event.client_order_id)

    def summary(self) -> dict:
        return {**super().summary(), "limit_orders": self.placed, "market_orders": self.market_orders,
                "cancels": self.cancels, "resting_at_end": len(self.resting)}
