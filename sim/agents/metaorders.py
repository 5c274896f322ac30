"""Institutional meta-orders split into child market orders: the source of order-sign long memory.

Meta-orders arrive as a Poisson process (``arrival_rate_per_hour``, scaled by the news intensity to the
power ``activity_elasticity``); each picks a member, a side (buy with probability 1/2) and a size in
child orders ``N`` with ``P(N > n) ~ n^-size_alpha`` (``min_children``..``max_children``), then sends one
child of ``child_lots`` every ``child_interval_s`` on average (exponential gaps) until done. Lillo, Mike &
Farmer (2005): with meta-order sizes Pareto-distributed with tail exponent alpha, the autocorrelation of
trade signs decays as tau^-(alpha - 1) (reference §2.2); alpha = 1.5 gives gamma = 0.5.

Children are market orders of a fixed small size, so each meta-order moves the price only through the
liquidity it consumes; value traders and market makers absorb it, which keeps returns uncorrelated
while signs stay persistent (Lillo-Farmer's "efficient market" puzzle, reproduced by the mechanism).
"""
from __future__ import annotations

from ..client import BUY, SELL, SimClient
from .base import NS_PER_S, AgentContext
from .group import GroupAgent

__all__ = ["MetaOrderTraders"]


class _MetaOrder:
    __slots__ = ("client", "side", "left")

    def __init__(self, client: SimClient, side, left: int) -> None:
        self.client = client
        self.side = side
        self.left = left


class MetaOrderTraders(GroupAgent):
    def __init__(self, name: str, ctx: AgentContext, *, count: int, arrival_rate_per_hour: float,
                 size_alpha: float, min_children: int, max_children: int, child_lots: int,
                 child_interval_s: float, activity_elasticity: float = 0.0) -> None:
        super().__init__(name, ctx, count, arrival_rate_per_hour / 3600.0, activity_elasticity)
        self.alpha = size_alpha
        self.min_children = min_children
        self.max_children = max_children
        self.child_lots = child_lots
        self.child_ns = child_interval_s * NS_PER_S
        self.active = 0
        self.started = self.children = self.skipped = 0
        self.sizes_sum = 0

    def act(self, client: SimClient) -> None:
        d = self.ctx.draws
        n = int(d.pareto(self.alpha, self.min_children))
        if n > self.max_children:
            n = self.max_children
        meta = _MetaOrder(client, BUY if d.uniform() < 0.5 else SELL, n)
        self.started += 1
        self.sizes_sum += n
        self.active += 1
        self._child(meta)

    def _child(self, meta: _MetaOrder) -> None:
        if meta.client.compute_ns:
            meta.client.when_free(self._child_now, meta)   # a busy member sends when it is free
        else:
            self._child_now(meta.client, meta)

    def _child_now(self, c: SimClient, meta: _MetaOrder) -> None:
        ctx = self.ctx
        inst = ctx.instrument
        qty = self.child_lots
        if meta.side == BUY:
            row = c.tape_row(ctx.symbol)
            px = row[2] or row[4]
            ok = bool(px) and c.available(inst.quote.name) >= inst.notional(px, qty) * 102 // 100
        else:
            ok = c.available(inst.base.name) >= qty * inst.lot_units
        if ok:
            c.place_market(ctx.symbol, meta.side, qty)
            self.children += 1
        else:
            self.skipped += 1
        meta.left -= 1
        if meta.left > 0:
            ctx.after(int(ctx.draws.exponential(self.child_ns)) + 1, self._child, meta)
        else:
            self.active -= 1

    def summary(self) -> dict:
        return {**super().summary(), "meta_orders": self.started, "children_sent": self.children,
                "children_skipped_for_funds": self.skipped, "active_at_end": self.active,
                "mean_children": round(self.sizes_sum / self.started, 2) if self.started else 0}
