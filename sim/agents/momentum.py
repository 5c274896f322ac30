"""Momentum followers: buy when the short-term average of the mid is above the long-term one.

The group samples the mid its feed shows every ``sample_ms`` into two exponential moving averages
(time constants ``fast_s`` and ``slow_s``): every member would compute the same averages from the same
feed, so they are computed once. Members wake as one Poisson process (``count * wake_rate_per_agent``);
a member whose signal ``(fast - slow) / slow`` exceeds ``threshold_bps`` sends a market order of
``size_lots`` in its direction.
"""
from __future__ import annotations

import math

from ..client import BUY, SELL, SimClient
from .base import AgentContext
from .group import GroupAgent

__all__ = ["Momentum"]


class Momentum(GroupAgent):
    def __init__(self, name: str, ctx: AgentContext, *, count: int, wake_rate_per_agent: float,
                 fast_s: float, slow_s: float, threshold_bps: float, size_lots: int, sample_ms: int,
                 activity_elasticity: float = 0.0) -> None:
        super().__init__(name, ctx, count, count * wake_rate_per_agent, activity_elasticity)
        self.sample_ns = sample_ms * 1_000_000
        self.a_fast = 1.0 - math.exp(-(sample_ms / 1e3) / fast_s)
        self.a_slow = 1.0 - math.exp(-(sample_ms / 1e3) / slow_s)
        self.threshold = threshold_bps * 1e-4
        self.size = size_lots
        self.fast = self.slow = 0.0
        self.buys = self.sells = 0

    def start(self) -> None:
        super().start()
        self.ctx.after(self.sample_ns, self._sample)

    def _sample(self, _: object = None) -> None:
        m = self.mid(self.ctx.seen_row())
        if m > 0:
            if self.slow == 0.0:
                self.fast = self.slow = m
            else:
                self.fast += self.a_fast * (m - self.fast)
                self.slow += self.a_slow * (m - self.slow)
        self.ctx.after(self.sample_ns, self._sample)

    def signal(self) -> float:
        return (self.fast - self.slow) / self.slow if self.slow > 0 else 0.0

    def act(self, client: SimClient) -> None:
        s = self.signal()
        inst = self.ctx.instrument
        if s > self.threshold:
            row = client.tape_row(self.ctx.symbol)
            px = row[2] or row[4]
            if px and client.available(inst.quote.name) >= inst.notional(px, self.size) * 102 // 100:
                client.place_market(self.ctx.symbol, BUY, self.size)
                self.buys += 1
        elif s < -self.threshold:
            if client.available(inst.base.name) >= self.size * inst.lot_units:
                client.place_market(self.ctx.symbol, SELL, self.size)
                self.sells += 1

    def summary(self) -> dict:
        return {**super().summary(), "buys": self.buys, "sells": self.sells}
