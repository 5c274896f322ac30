"""A scheduled execution agent: buys (or sells) ``qty_lots`` over ``duration_s`` in equal slices.

Starting at ``start_s`` it sends one market order every ``duration_s / slices`` seconds (the last slice
takes the remainder), and records the mid its feed showed at arrival (the decision price), the fills and
the mid after the last slice. Its :meth:`summary` is the impact measurement: the volume-weighted fill
price against the arrival mid (implementation shortfall, in bps, positive = cost) and the mid's move
over the execution.
"""
from __future__ import annotations

from typing import Any

from exchange import Side, TradeExecuted

from ..client import BUY, SELL, SimClient
from .base import NS_PER_S, Agent, AgentContext

__all__ = ["ScheduledExecution"]


class ScheduledExecution(Agent):
    def __init__(self, name: str, ctx: AgentContext, *, side: str, qty_lots: int, start_s: float,
                 duration_s: float, slices: int, member: int = 0) -> None:
        super().__init__(name, ctx)
        self.side: Side = BUY if side == "buy" else SELL
        self.qty = qty_lots
        self.start_ns = int(start_s * NS_PER_S)
        self.interval_ns = max(1, int(duration_s * NS_PER_S) // slices)
        self.slices = slices
        self.member = member
        self.client: SimClient | None = None
        self.sent_lots = 0
        self.sent_slices = 0
        self.filled_lots = 0
        self.filled_quote = 0
        self.arrival_mid = 0.0
        self.end_mid = 0.0

    def start(self) -> None:
        self.ctx.kernel.schedule(max(self.ctx.kernel.now, self.start_ns), self._slice)

    def _slice(self, _: object = None) -> None:
        if self.client is None:
            self.client = self.ctx.new_client(self, self.member)
        c = self.client
        if c.compute_ns:
            c.when_free(self._slice_now)     # a busy agent sends the slice when it is free
        else:
            self._slice_now(c)

    def _slice_now(self, c: SimClient, _: object = None) -> None:
        if self.sent_slices == 0:
            self.arrival_mid = self.mid(c.tape_row(self.ctx.symbol))
        self.sent_slices += 1
        qty = self.qty - self.sent_lots if self.sent_slices == self.slices else self.qty // self.slices
        if qty > 0:
            c.place_market(self.ctx.symbol, self.side, qty)
            self.sent_lots += qty
        if self.sent_slices < self.slices:
            self.ctx.after(self.interval_ns, self._slice)
        else:
            self.ctx.after(self.interval_ns, self._finish)

    def _finish(self, _: object = None) -> None:
        if self.client is not None:
            self.end_mid = self.mid(self.client.tape_row(self.ctx.symbol))

    def wants_order_events(self) -> bool:
        return True

    def on_order_event(self, client: SimClient, event: Any) -> None:
        if event.__class__ is TradeExecuted:
            self.filled_lots += event.qty_lots
            self.filled_quote += event.price_ticks * event.qty_lots

    def summary(self) -> dict:
        vwap = self.filled_quote / self.filled_lots if self.filled_lots else 0.0
        sign = 1 if self.side == BUY else -1
        out = {"side": self.side.name.lower(), "target_lots": self.qty, "sent_lots": self.sent_lots,
               "filled_lots": self.filled_lots, "arrival_mid": self.arrival_mid, "vwap": round(vwap, 3),
               "end_mid": self.end_mid}
        if self.arrival_mid > 0 and vwap:
            out["shortfall_bps"] = round(sign * (vwap / self.arrival_mid - 1) * 1e4, 3)
        if self.arrival_mid > 0 and self.end_mid > 0:
            out["mid_move_bps"] = round(sign * (self.end_mid / self.arrival_mid - 1) * 1e4, 3)
        return out
