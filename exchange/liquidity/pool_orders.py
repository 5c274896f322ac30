"""Order arithmetic for the pooled book's pre-trade credit: what an order could add to its venue's
obligations (its worst case), and how much of it its own venue's orders can fill (the ``own_venue`` cap).
Pure functions over the engine's public reads; :mod:`exchange.liquidity.pooled` calls them.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from exchange.commands import SubmitOrder
from exchange.engine import Engine, OrderView
from exchange.enums import STP, OrderType, Side

__all__ = ["WorstCase", "worst_case", "OwnRun", "own_run"]


class WorstCase(NamedTuple):
    """An order could add up to ``amount`` of ``asset`` to what its venue owes. A sell's base counts at
    ``sell_price`` at least (0: at the mark); ``seed_price`` seeds an untraded symbol's mark."""

    asset: str
    amount: int
    sell_price: int
    seed_price: int


def _walk_cost(levels: list[tuple[int, int]], lots: int, k: int) -> int:
    """Quote notional of the first ``lots`` lots of ``levels`` (best first); all of them if fewer."""
    cost = 0
    for price, qty in levels:
        take = qty if qty < lots else lots
        cost += price * take * k
        lots -= take
        if lots <= 0:
            break
    return cost


def _walk_lots(levels: list[tuple[int, int]], quote: int, k: int) -> int:
    """An upper bound of the lots a market order spending or raising ``quote`` takes from ``levels``."""
    lots = 0
    for price, qty in levels:
        unit = price * k
        afford = -(-quote // unit)
        take = qty if qty < afford else afford
        lots += take
        quote -= take * unit
        if quote <= 0:
            break
    return lots


def worst_case(engine: Engine, cmd: SubmitOrder) -> WorstCase | None:
    """What ``cmd`` could add to its venue's obligations if every lot traded with another venue, or None
    if the engine will reject it anyway (malformed: let the engine say why).

    - limit buy: the notional of its quantity at its limit price (quote);
    - limit sell: its base, valued at least at its limit price;
    - market buy by quote amount: that amount; by quantity: the cost of walking that many lots (plus the
      account's own resting sells, which self-trade prevention may skip) up the asks, at most the
      account's available quote;
    - market sell by quantity: its base; by quote amount: the lots walking the bids raises that amount
      (plus the account's own resting buys), at most its available base; both valued at least at the
      best bid.
    Complexity: O(1) for limit orders; market orders by quantity or quote walk the book's L2
    (O(levels log levels)).
    """
    inst = engine.instruments[cmd.symbol]
    side, otype = cmd.side, cmd.order_type
    price, qty, quote_qty = cmd.price_ticks, cmd.qty_lots, cmd.quote_qty
    if side != Side.BUY and side != Side.SELL:
        return None
    buy = side == Side.BUY
    k = inst.quote_units_per_tick_lot
    if otype == OrderType.LIMIT or otype == OrderType.LIMIT_MAKER:
        if quote_qty != 0 or not inst.valid_price(price) or not inst.min_qty_lots <= qty <= inst.max_qty_lots:
            return None
        if buy:
            return WorstCase(inst.quote.name, inst.notional(price, qty), 0, price)
        return WorstCase(inst.base.name, qty * inst.lot_units, price, price)
    if otype != OrderType.MARKET or (qty > 0) == (quote_qty > 0) or qty < 0 or quote_qty < 0:
        return None
    if qty > inst.max_qty_lots:
        return None
    bid, _ = engine.best_bid_ask(cmd.symbol)
    balances = engine.balances(cmd.account)
    own = [o for o in engine.open_orders(cmd.account, cmd.symbol) if (o.side == Side.SELL) == buy]
    own_lots = sum(o.remaining_lots for o in own)
    if buy:
        if quote_qty:
            return WorstCase(inst.quote.name, quote_qty, 0, 0)
        asks = engine.depth(cmd.symbol, 1 << 62).asks
        cost = _walk_cost(asks, qty + own_lots, k)
        available = balances[inst.quote.name].available if balances else 0
        return WorstCase(inst.quote.name, min(cost, available), 0, 0)
    best = bid or 0
    if qty:
        return WorstCase(inst.base.name, qty * inst.lot_units, best, best)
    bids = engine.depth(cmd.symbol, 1 << 62).bids
    lots = _walk_lots(bids, quote_qty, k) + own_lots
    available = balances[inst.base.name].available if balances else 0
    return WorstCase(inst.base.name, min(lots * inst.lot_units, available), best, best)


class OwnRun(NamedTuple):
    """The part of a taker order its own venue's orders can fill: ``lots`` for ``notional`` quote units,
    the last maker used at ``last_price``."""

    lots: int
    notional: int
    last_price: int


def own_run(opposite: list[OrderView], buy: bool, limit: int, venue: str, account: int, stp: STP,
            venue_of: Callable[[int], str], want_lots: int, want_quote: int, k: int) -> OwnRun:
    """Walk ``opposite`` (the engine's l3 of the side a taker takes from, priority order) the way the
    engine's matching would, and stop at the first maker of another venue or whose price does not cross
    ``limit`` (0: a market order, any price). The taker's own orders follow its ``stp``: NONE trades with
    them, EXPIRE_MAKER skips them (the engine expires them and goes on), the others stop there (the engine
    expires the taker). At most ``want_lots`` lots (if non-zero) and at most ``want_quote`` quote units
    (if non-zero; per maker rounded down to whole lots, as the engine does for orders by quote amount).

    An order for exactly ``lots`` lots (or ``notional`` quote units) then trades with these makers only:
    the engine walks the same makers in the same order and stops when its quantity runs out. O(makers
    walked).
    """
    lots = notional = last = 0
    for o in opposite:
        p = o.price_ticks
        if limit and (p > limit if buy else p < limit):
            break
        if venue_of(o.account) != venue:
            break
        if o.account == account and stp != STP.NONE:
            if stp == STP.EXPIRE_MAKER:
                continue
            break
        take = o.remaining_lots
        if want_lots and take > want_lots - lots:
            take = want_lots - lots
        if want_quote:
            can = (want_quote - notional) // (p * k)
            if take > can:
                take = can
        if take <= 0:
            break
        lots += take
        notional += p * take * k
        last = p
        if want_lots and lots >= want_lots:
            break
    return OwnRun(lots, notional, last)
