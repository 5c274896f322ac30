"""Cross-venue arbitrage (reference §4.3, model C1): the market-based link between separate books.

One agent holds an account at the home venue and at each partner venue it watches, funded with the same
``funds`` at each. It subscribes to every venue's feed (its own latency per venue) and, whenever one venue's
bid exceeds another's ask by more than both venues' taker fees plus ``threshold_bps``, sends an IOC sell
at the rich venue's bid and an IOC buy at the cheap venue's ask for the same base amount (the coarser lot
decides the step), capped by the seen quantities, ``max_lots`` (home lots), what it holds and
``max_inventory_lots`` of drift per venue from its starting inventory. Legs can fail (the quote moved):
the leftover is inventory, which rebalancing moves back.

Rebalancing, every ``rebalance_every``: an asset that has fallen below half its starting amount at one
venue is topped up from the venue that holds the most of it: a Withdraw there now, a Deposit here
``transfer_delay`` later (both journaled at their venue; the amount in flight is counted by the world's
conservation check).

Prices are compared in quote ledger units per base ledger unit (exact integer cross-multiplication), so venues with
different ticks and lots compare correctly. Idle when there is no other book (pooled, or no partners).
"""
from __future__ import annotations

from math import gcd
from typing import TYPE_CHECKING, Any, ClassVar

from exchange import BalanceChanged, Deposit, Instrument, TimeInForce, Withdraw

from ..client import BUY, SELL, SimClient
from .base import Agent, AgentContext

if TYPE_CHECKING:
    from ..venue import SimVenue

__all__ = ["Arbitrageur"]


class _Leg:
    """The arbitrageur at one venue: its client there, the instrument's units, the taker fee, and what it
    started with (``start[asset]``)."""

    def __init__(self, name: str, venue: "SimVenue", client: SimClient, inst: Instrument, taker_bps: int) -> None:
        self.name: str = name
        self.venue: SimVenue = venue
        self.client: SimClient = client
        self.inst: Instrument = inst
        self.taker_bps: int = taker_bps
        # quote units per tick-lot net of the taker fee, selling and buying (x 10_000)
        self.sell_k: int = inst.quote_units_per_tick_lot * (10_000 - taker_bps)
        self.buy_k: int = inst.quote_units_per_tick_lot * (10_000 + taker_bps)
        self.start: dict[str, int] = {}

    def have(self, asset: str) -> int:
        """The balance of ``asset`` here, less what it started with."""
        return self.client.balance(asset) - self.start.get(asset, 0)


class Arbitrageur(Agent):
    subscribes: ClassVar[bool] = True

    def __init__(self, name: str, ctx: AgentContext, *, world: Any, latency: Any, profile: Any,
                 partners: list[str], threshold_bps: float, max_lots: int, max_inventory_lots: int,
                 rebalance_every: int, transfer_delay: int | None, min_gap_ms: int) -> None:
        super().__init__(name, ctx)
        self.world: Any = world
        self.latency: Any = latency
        self.profile: Any = profile
        self.partner_names: list[str] = partners
        # (1 + threshold) as the integer ratio thr_den / thr_num, the threshold in millionths
        self.thr_num: int = 1_000_000
        self.thr_den: int = 1_000_000 + int(round(threshold_bps * 100))
        self.max_units: int = max_lots * ctx.instrument.lot_units
        self.max_drift_units: int = max_inventory_lots * ctx.instrument.lot_units
        self.rebalance_ns: int = rebalance_every
        self.transfer_ns: int = transfer_delay if transfer_delay is not None else (
            world.spec.transfer_delay_ns if world is not None else 0)
        self.gap_ns: int = min_gap_ms * 1_000_000
        self.legs: list[_Leg] = []
        self._incoming: dict[tuple[str, str], int] = {}   # (venue, asset) -> amount on its way there
        self.next_ok: int = 0
        self.dislocations: int = 0   # pushes that showed a dislocation beyond fees (feasible or not)
        self.arbs: int = 0
        self.legs_sent: int = 0
        self.base_traded: int = 0
        self.transfers: int = 0
        self.transfers_landed: int = 0
        self.first_arb_ns: int = -1

    def wants_order_events(self) -> bool:
        return True

    def on_order_event(self, client: SimClient, event: Any) -> None:
        # A transfer counts as incoming until the venue's BalanceChanged for it reaches the client (its
        # balance then includes it), so a rebalance in between neither misses nor repeats it.
        if isinstance(event, BalanceChanged) and event.delta > 0:
            for leg in self.legs:
                if leg.client is client:
                    key = (leg.name, event.asset)
                    if self._incoming.get(key, 0) >= event.delta:
                        self._incoming[key] -= event.delta

    def start(self) -> None:
        w = self.world
        if w is None or w.model == "pooled" or not w.partner_venues:
            return   # one book (or no other venue): nothing to arbitrage
        ctx = self.ctx
        sc = w.sim.scenario
        names = self.partner_names or list(w.partner_venues)
        for n in names:
            if n not in w.partner_venues:
                raise ValueError(f"agents.{self.name}.partners: {n!r} is not a partner venue with its own book "
                                 f"({', '.join(w.partner_venues)})")
        home = ctx.new_client(self, 0)
        self.legs.append(_Leg(sc.home_venue, ctx.venue, home, ctx.instrument, sc.venues[sc.home_venue]["taker_bps"]))
        order, feed = self.profile
        for n in names:
            venue = w.partner_venues[n]
            if ctx.symbol not in venue.instruments:
                continue
            link = self.latency.add(self.name, n, order, feed)
            for asset, amount in ctx.funds.items():
                if amount > 0:
                    venue.apply_now(Deposit(ctx.kernel.now, ctx.first_account, asset, amount))
            c = SimClient(venue, ctx.first_account, self, link, ctx.compute_ns)
            for asset, amount in ctx.funds.items():
                c.balances[asset] = amount
            self.legs.append(_Leg(n, venue, c, venue.instruments[ctx.symbol], sc.venues[n]["taker_bps"]))
        for leg in self.legs:
            for asset in (leg.inst.base.name, leg.inst.quote.name):
                leg.start[asset] = leg.client.balance(asset)
            leg.client.feed = leg.venue.subscribe(leg.client)
        if self.rebalance_ns:
            ctx.after(self.rebalance_ns, self._rebalance)

    # ------------------------------------------------------------------ trading
    def on_market_data(self, client: SimClient, symbol: str) -> None:
        """A venue's top moved: check the pairs that venue is in (as the rich or the cheap side).

        The test ``bid_r * K_r / L_r * (1 - f_r) > ask_c * K_c / L_c * (1 + f_c) * (1 + threshold)`` (K: quote
        units per tick-lot, L: base units per lot, f: taker fee) is done on integers, cross-multiplied."""
        if symbol != self.ctx.symbol or self.ctx.kernel.now < self.next_ok:
            return
        moved = None
        tops = []
        for leg in self.legs:
            tops.append(leg.client.top(symbol))
            if leg.client is client:
                moved = leg
        best = None
        for i, rich in enumerate(self.legs):
            bid, bq = tops[i][0], tops[i][1]
            if not bid:
                continue
            for j, cheap in enumerate(self.legs):
                if i == j or (rich is not moved and cheap is not moved):
                    continue
                ask, aq = tops[j][2], tops[j][3]
                if not ask:
                    continue
                lhs = bid * rich.sell_k * cheap.inst.lot_units * self.thr_num
                rhs = ask * cheap.buy_k * rich.inst.lot_units * self.thr_den
                if lhs > rhs:
                    edge = lhs / rhs
                    if best is None or edge > best[0]:
                        best = (edge, rich, cheap, bid, bq, ask, aq)
        if best is None:
            return
        self.dislocations += 1
        _, rich, cheap, bid, bq, ask, aq = best
        self._fire(rich, cheap, bid, bq, ask, aq)

    def _fire(self, rich: _Leg, cheap: _Leg, bid: int, bq: int, ask: int, aq: int) -> None:
        ri, ci = rich.inst, cheap.inst
        step = ri.lot_units * ci.lot_units // gcd(ri.lot_units, ci.lot_units)
        units = min(bq * ri.lot_units, aq * ci.lot_units, self.max_units)
        base = ri.base.name
        # What the rich venue can sell and the cheap venue can pay for, and the drift limits.
        units = min(units, rich.client.available(base))
        if self.max_drift_units:
            units = min(units, rich.have(base) + self.max_drift_units, self.max_drift_units - cheap.have(base))
        budget = cheap.client.available(ci.quote.name) * 10_000 // (10_000 + cheap.taker_bps + 100)
        units = min(units, budget * ci.lot_units // (ask * ci.quote_units_per_tick_lot))
        units -= units % step
        if units <= 0:
            return
        sym = self.ctx.symbol
        rich.client.place_limit(sym, SELL, bid, units // ri.lot_units, tif=TimeInForce.IOC)
        cheap.client.place_limit(sym, BUY, ask, units // ci.lot_units, tif=TimeInForce.IOC)
        self.arbs += 1
        self.legs_sent += 2
        self.base_traded += units
        if self.first_arb_ns < 0:
            self.first_arb_ns = self.ctx.kernel.now
        self.next_ok = self.ctx.kernel.now + self.gap_ns

    # ------------------------------------------------------------------ rebalancing
    def _rebalance(self, _: object = None) -> None:
        inst = self.ctx.instrument
        for asset in (inst.base.name, inst.quote.name):
            poor = min(self.legs, key=lambda leg: self._expected(leg, asset))
            rich = max(self.legs, key=lambda leg: leg.client.available(asset) - leg.start.get(asset, 0))
            start = poor.start.get(asset, 0)
            if poor is rich or self._expected(poor, asset) >= -(start // 2):
                continue
            amount = min(rich.client.available(asset) - rich.start.get(asset, 0) // 2, -self._expected(poor, asset))
            if amount > 0:
                self._transfer(rich, poor, asset, amount)
        self.ctx.after(self.rebalance_ns, self._rebalance)

    def _expected(self, leg: _Leg, asset: str) -> int:
        """What a venue holds of ``asset`` against its start, counting transfers on their way to it."""
        return leg.have(asset) + self._incoming.get((leg.name, asset), 0)

    def _transfer(self, src: _Leg, dst: _Leg, asset: str, amount: int) -> None:
        now = self.ctx.kernel.now
        acct = src.client.account
        events = src.venue.apply_now(Withdraw(now, acct, asset, amount))
        if not any(getattr(e, "delta", 0) == -amount for e in events):
            return   # refused (funds moved meanwhile): nothing left
        self.world.transfers.leave(asset, amount)
        key = (dst.name, asset)
        self._incoming[key] = self._incoming.get(key, 0) + amount
        self.world.transfers.log.append((now, now + self.transfer_ns, src.name, dst.name, asset, amount))
        self.transfers += 1
        self.ctx.kernel.at(now + self.transfer_ns, self._land, (dst, asset, amount))

    def _land(self, arg: tuple[_Leg, str, int]) -> None:
        dst, asset, amount = arg
        dst.venue.apply_now(Deposit(self.ctx.kernel.now, dst.client.account, asset, amount))
        self.world.transfers.land(asset, amount)
        self.transfers_landed += 1

    def summary(self) -> dict:
        return {"venues": [leg.name for leg in self.legs], "dislocations_seen": self.dislocations,
                "arbs": self.arbs, "legs_sent": self.legs_sent, "base_units_traded": self.base_traded,
                "transfers": self.transfers, "transfers_landed": self.transfers_landed,
                "first_arb_ns": self.first_arb_ns if self.first_arb_ns >= 0 else None}
