"""A market maker: post-only quotes on both sides around a fair value, skewed by inventory, within limits.

Fair value: ``anchor * V + (1 - anchor) * mid`` where V is the fundamental (if the scenario has one) and
mid the book as the feed showed it. Half-spread: at least ``min_half_spread_steps`` price steps, wider in
volatile times (``vol_spread`` times the fundamental's current one-minute sigma), which makes the
spread's distribution right-skewed. Inventory skew: the quotes shift against the position, by up to
``skew_steps`` at ``max_position_lots``; at the limit the side that would grow the position is pulled.
``levels`` quotes per side, ``spacing_steps`` apart; an inner quote is moved when it is a step off, a
deeper one when it is ``spacing_steps`` off (amend keeps the order; a price change loses priority).

With ``take_lots`` > 0 it also picks off stale quotes: an offer seen at least ``take_edge_steps`` below fair
value (a bid as far above) is taken with an IOC limited at that edge, up to ``take_lots`` and the position
limit. This is what keeps the price within a step or two of value within milliseconds of a fundamental
move; without it the price catches up over seconds and 1-minute returns inherit a positive
autocorrelation (the ABIDES failure, reference §1.1.7).

Requotes on every fill, on pushed market data (at most every ``min_requote_ms``) and every ``refresh_ms``.
"""
from __future__ import annotations

from typing import Any, ClassVar, Final

from exchange import CommandRejected, OrderRejected, TimeInForce, TradeExecuted

from ..client import BUY, SELL, SimClient
from .base import Agent, AgentContext, ceil_price, floor_price, step_at

__all__ = ["MarketMaker"]

_IOC: Final = TimeInForce.IOC


class MarketMaker(Agent):
    subscribes: ClassVar[bool] = True

    def __init__(self, name: str, ctx: AgentContext, *, levels: int, size_lots: int, spacing_steps: int,
                 min_half_spread_steps: float, vol_spread: float, skew_steps: float, max_position_lots: int,
                 anchor: float, refresh_ms: int, min_requote_ms: int, take_lots: int = 0,
                 take_edge_steps: float = 1.0, member: int = 0) -> None:
        super().__init__(name, ctx)
        self.member: int = member
        self.levels: int = levels
        self.size: int = size_lots
        self.spacing: int = spacing_steps
        self.min_half: float = min_half_spread_steps
        self.vol_spread: float = vol_spread
        self.skew: float = skew_steps
        self.max_pos: int = max_position_lots
        self.anchor: float = anchor if ctx.fundamental is not None else 0.0
        self.refresh_ns: int = refresh_ms * 1_000_000
        self.min_requote_ns: int = min_requote_ms * 1_000_000
        self.take_lots: int = take_lots
        self.take_edge: float = take_edge_steps
        self.takes = 0
        self.client: SimClient | None = None
        self.base0 = 0
        inst = ctx.instrument
        self._base_asset: str = inst.base.name
        self._lot_units: int = inst.lot_units
        self._single_tick: bool = inst.single_tick
        # The live quote per ladder slot: index level (bids) or levels + level (asks); "" for none.
        self.slots: list[str] = [""] * (2 * levels)
        self.sent: dict[str, int] = {}                  # cid -> last price sent (place or amend)
        self.last_requote: int = -(1 << 62)
        self._last_key: tuple[int, ...] = ()
        self.pending = False
        self.requotes = self.amends = self.places = self.fills = 0
        self.peak_position = 0

    def start(self) -> None:
        self.client = c = self.ctx.new_client(self, self.member)
        self.base0 = c.balance(self._base_asset)
        c.feed = self.ctx.venue.subscribe(c)
        self.ctx.after(0, self._timer)

    # ------------------------------------------------------------------ triggers
    def _timer(self, _: object = None) -> None:
        self._wake()
        self.ctx.after(self.refresh_ns, self._timer)

    def _wake(self) -> None:
        """A timer wake-up: requote now, or when the agent is free (computation delay)."""
        c = self.client
        if c is not None and c.compute_ns:
            c.when_free(self._requote_for)
        else:
            self.requote()

    def _requote_for(self, client: SimClient, _: object = None) -> None:
        self.requote()

    def on_market_data(self, client: SimClient, symbol: str) -> None:
        self._soon()

    def _soon(self) -> None:
        now = self.ctx.kernel.now
        if now - self.last_requote >= self.min_requote_ns:
            self.requote()
        elif not self.pending:
            self.pending = True
            self.ctx.kernel.at(self.last_requote + self.min_requote_ns, self._deferred)

    def _deferred(self, _: object = None) -> None:
        self.pending = False
        self._wake()

    def wants_order_events(self) -> bool:
        return True

    def on_order_event(self, client: SimClient, event: Any) -> None:
        if isinstance(event, TradeExecuted):
            self.fills += 1
            self._soon()
        elif isinstance(event, OrderRejected):
            self._drop(event.client_order_id)
            self._last_key = ()
        elif isinstance(event, CommandRejected):
            # A refused amend (it would have crossed): forget what we sent, so the next requote resends.
            for cid in self.sent:
                o = client.orders.get(cid)
                if o is not None:
                    self.sent[cid] = o.price_ticks
            self._last_key = ()

    def _drop(self, cid: str) -> None:
        self.sent.pop(cid, None)
        slots = self.slots
        for i in range(len(slots)):
            if slots[i] == cid:
                slots[i] = ""

    # ------------------------------------------------------------------ quoting
    def position_lots(self) -> int:
        c = self.client
        assert c is not None
        return (c.balance(self._base_asset) - self.base0) // self._lot_units

    def fair_value(self, row: tuple[int, ...]) -> float:
        mid = self.mid(row) or float(self.ctx.reference_price)
        f = self.ctx.fundamental
        if f is None or self.anchor <= 0:
            return mid
        if mid <= 0 or self.anchor >= 1:
            return f.value
        return self.anchor * f.value + (1 - self.anchor) * mid

    def requote(self) -> None:
        c = self.client
        if c is None:
            return
        ctx = self.ctx
        inst, symbol = ctx.instrument, ctx.symbol
        self.last_requote = ctx.kernel.now
        self.requotes += 1
        row = c.tape_row(symbol)
        fair = self.fair_value(row)
        if fair <= 0:
            return
        step = step_at(inst, int(fair))
        pos = self.position_lots()
        if abs(pos) > self.peak_position:
            self.peak_position = abs(pos)
        half = self.min_half * step
        f = ctx.fundamental
        if f is not None and self.vol_spread:
            half = max(half, self.vol_spread * f.sigma_now_per_min() * fair)
        center = fair - self.skew * step * max(-1.0, min(1.0, pos / self.max_pos))
        row_bid, row_ask = row[0], row[2]
        own = c.orders
        # Nothing that decides a quote has changed since the last requote: nothing to send. (Most pushes
        # are other traders' book changes; this keeps a requote at ~1 us for them.)
        key = (int(center * 8 / step), int(half * 8 / step), pos, row_bid, row_ask, len(own))
        if key == self._last_key:
            return
        self._last_key = key
        # Never cross someone else's quote as seen: post-only would be refused anyway.
        slots, sent = self.slots, self.sent
        for i in range(len(slots)):     # filled, canceled or refused: free the slot
            cid = slots[i]
            if cid and cid not in own:
                slots[i] = ""
                sent.pop(cid, None)
        # Own best bid and ask in one pass (0: none on that side; this agent only sends limit orders, whose
        # prices are >= 1).
        own_bid = own_ask = 0
        for o in own.values():
            p = o.price_ticks
            if o.side == BUY:
                if not own_bid or p > own_bid:
                    own_bid = p
            elif o.side == SELL:
                if not own_ask or p < own_ask:
                    own_ask = p
        max_pos = self.max_pos
        if self.take_lots:
            edge = self.take_edge * step
            if row_ask and row_ask <= fair - edge and pos < max_pos and (not own_ask or row_ask < own_ask):
                c.place_limit(symbol, BUY, floor_price(inst, fair - edge), min(self.take_lots, max_pos - pos),
                              tif=_IOC)
                self.takes += 1
            elif row_bid and row_bid >= fair + edge and pos > -max_pos and (not own_bid or row_bid > own_bid):
                c.place_limit(symbol, SELL, ceil_price(inst, fair + edge), min(self.take_lots, max_pos + pos),
                              tif=_IOC)
                self.takes += 1
        capped = bool(row_ask) and (not own_ask or row_ask < own_ask)
        bid_cap = row_ask - step
        ask_floor = row_bid + step if row_bid and (not own_bid or row_bid > own_bid) else 0   # 0: none
        # The ladder loop runs ~20 times per requote: locals, and price rounding inlined for single-tick
        # instruments (floor/ceil of a positive price >= 1 is int arithmetic there), same results.
        single = self._single_tick
        levels, size, gap = self.levels, self.size, self.spacing * step
        for s in range(2):
            is_buy = s == 0
            side = BUY if is_buy else SELL
            allowed = pos < max_pos if is_buy else pos > -max_pos
            base = s * levels
            for level in range(levels):
                cid = slots[base + level]
                if not allowed:
                    if cid:
                        c.cancel(symbol, cid)
                        self._drop(cid)
                    continue
                off = half + level * gap
                if is_buy:
                    v = center - off
                    if single:
                        price = int(v)
                        if price < 1:
                            price = 1
                    else:
                        price = floor_price(inst, v)
                    if capped and price > bid_cap:
                        price = floor_price(inst, bid_cap)
                else:
                    v = center + off
                    if single:
                        price = int(v)
                        if price < v:
                            price += 1
                        if price < 1:
                            price = 1
                    else:
                        price = ceil_price(inst, v)
                    if ask_floor and price < ask_floor:
                        price = ceil_price(inst, ask_floor)
                if not cid:
                    cid = c.place_limit(symbol, side, price, size, post_only=True)
                    slots[base + level] = cid
                    sent[cid] = price
                    self.places += 1
                elif abs(sent.get(cid, 0) - price) >= (step if level == 0 else gap):
                    c.amend(symbol, cid, new_price_ticks=price)
                    sent[cid] = price
                    self.amends += 1

    def summary(self) -> dict[str, Any]:
        return {"requotes": self.requotes, "amends": self.amends, "quotes_placed": self.places,
                "fills": self.fills, "stale_quotes_taken": self.takes,
                "position_lots": self.position_lots() if self.client else 0,
                "peak_abs_position_lots": self.peak_position}
