"""Fundamental (value) traders: they trade the gap between the fundamental and the price.

Each wake-up (one Poisson process for the group, rate ``count * wake_rate_per_agent``, scaled by the
news intensity to the power ``activity_elasticity``) one member observes V with private noise
(``obs_noise_bps``), withdraws its previous resting order and compares its estimate with the book as its
feed shows it:

- the ask is more than ``threshold_bps`` below the estimate: an IOC buy limited at the estimate (it takes
  every stale offer below value, up to its size); symmetric for the bid;
- otherwise, with probability ``passive_prob``, a resting limit on the side of its estimate,
  ``threshold_bps`` inside it: a layer of liquidity around value.

Size: ``size_lots`` per ``threshold_bps`` of gap, capped at ``max_lots``. These traders are what ties the
price to V; they trade at most once per wake-up, so they pull the price toward value within seconds,
not minutes, and leave no trend for 1-minute returns to pick up.
"""
from __future__ import annotations

from exchange import TimeInForce

from ..client import BUY, SELL, SimClient
from .base import AgentContext, ceil_price, floor_price
from .group import GroupAgent

__all__ = ["ValueTrader"]


class ValueTrader(GroupAgent):
    def __init__(self, name: str, ctx: AgentContext, *, count: int, wake_rate_per_agent: float,
                 obs_noise_bps: float, threshold_bps: float, size_lots: int, max_lots: int,
                 passive_prob: float, activity_elasticity: float = 0.0) -> None:
        if ctx.fundamental is None:
            raise ValueError(f"agent group {name!r} (value traders) needs a [fundamental] in the scenario")
        super().__init__(name, ctx, count, count * wake_rate_per_agent, activity_elasticity)
        self.noise = obs_noise_bps * 1e-4
        self.threshold = threshold_bps * 1e-4
        self.size = size_lots
        self.max_lots = max_lots
        self.passive_prob = passive_prob
        self.aggressive = self.passive = 0

    def act(self, client: SimClient) -> None:
        ctx, d = self.ctx, self.ctx.draws
        inst, symbol = ctx.instrument, ctx.symbol
        assert ctx.fundamental is not None
        for cid in list(client.orders):
            if not client.orders[cid].market:
                client.cancel(symbol, cid)
        est = ctx.fundamental.value * (1.0 + self.noise * d.normal())
        row = client.tape_row(symbol)
        bid, ask = row[0], row[2]
        thr = self.threshold * est
        if ask and ask < est - thr:
            qty = min(self.max_lots, self.size * max(1, int((est - ask) / thr)))
            price = floor_price(inst, est)
            if client.available(inst.quote.name) >= inst.notional(price, qty) * 101 // 100 + 1:
                client.place_limit(symbol, BUY, price, qty, tif=TimeInForce.IOC)
                self.aggressive += 1
            return
        if bid and bid > est + thr:
            qty = min(self.max_lots, self.size * max(1, int((bid - est) / thr)))
            if client.available(inst.base.name) >= qty * inst.lot_units:
                client.place_limit(symbol, SELL, ceil_price(inst, est), qty, tif=TimeInForce.IOC)
                self.aggressive += 1
            return
        if d.uniform() >= self.passive_prob:
            return
        mid = self.mid(row)
        if mid <= 0 or est >= mid:
            price = floor_price(inst, est - thr)
            if ask and price >= ask:
                return
            if client.available(inst.quote.name) < inst.notional(price, self.size) * 101 // 100 + 1:
                return
            client.place_limit(symbol, BUY, price, self.size)
        else:
            price = ceil_price(inst, est + thr)
            if bid and price <= bid:
                return
            if client.available(inst.base.name) < self.size * inst.lot_units:
                return
            client.place_limit(symbol, SELL, price, self.size)
        self.passive += 1

    def summary(self) -> dict:
        return {**super().summary(), "aggressive_orders": self.aggressive, "passive_orders": self.passive}
