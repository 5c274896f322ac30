"""Noise takers: market orders of random side and heavy-tailed size at Poisson times.

Sizes are ``min_lots * Pareto(size_alpha)`` rounded down and capped at ``max_lots`` (order sizes are
heavy-tailed, reference §2.2). ABIDES's noise agents trade once a day each; that is ``rate_per_s =
count / session seconds`` here, one group process rather than ``count`` sleeping agents. With
``activity_elasticity`` > 0 the rate follows the fundamental's news intensity (volume moves with
volatility).
"""
from __future__ import annotations

from ..client import BUY, SELL, SimClient
from .base import AgentContext
from .group import GroupAgent

__all__ = ["NoiseTaker"]


class NoiseTaker(GroupAgent):
    def __init__(self, name: str, ctx: AgentContext, *, count: int, rate_per_s: float, min_lots: int,
                 max_lots: int, size_alpha: float, buy_prob: float = 0.5,
                 activity_elasticity: float = 0.0) -> None:
        super().__init__(name, ctx, count, rate_per_s, activity_elasticity)
        self.min_lots = min_lots
        self.max_lots = max_lots
        self.alpha = size_alpha
        self.buy_prob = buy_prob
        self.orders = 0
        self.lots = 0

    def act(self, client: SimClient) -> None:
        ctx, d = self.ctx, self.ctx.draws
        inst = ctx.instrument
        qty = int(d.pareto(self.alpha, self.min_lots))
        if qty > self.max_lots:
            qty = self.max_lots
        if d.uniform() < self.buy_prob:
            # A market buy by quantity spends up to the whole available quote: check it roughly covers.
            row = client.tape_row(ctx.symbol)
            px = row[2] or row[4]
            if px and client.available(inst.quote.name) < inst.notional(px, qty) * 102 // 100:
                return
            side = BUY
        else:
            if client.available(inst.base.name) < qty * inst.lot_units:
                return
            side = SELL
        client.place_market(ctx.symbol, side, qty)
        self.orders += 1
        self.lots += qty

    def summary(self) -> dict:
        return {**super().summary(), "market_orders": self.orders, "lots": self.lots}
