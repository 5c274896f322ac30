"""How the mirrored hub sees an order before routing it: the engine's own acceptance rules, the user's
own resting orders, the home and partner levels within the limit and the routing limits, and the plan
(:func:`exchange.liquidity.router.plan`). Reads only; :mod:`.mirrored` carries the plan out.
"""
from __future__ import annotations

from heapq import nlargest, nsmallest
from typing import TYPE_CHECKING, Final

from exchange.book import buy_hold
from exchange.commands import SubmitOrder
from exchange.engine import OrderView
from exchange.enums import STP, OrderType, Side, TimeInForce
from exchange.instruments import Instrument

from .consolidated import SymbolBook
from .mirrored_settle import OrderCtx
from .router import Plan, SharedFactory, VenueSide, effective_key, plan

if TYPE_CHECKING:
    from .mirrored import MirroredVenue

__all__ = ["order_ctx", "engine_would_accept", "own_opposite", "market_budget", "plan_order", "home_levels",
           "venue_sides", "shared_limits", "protected_key", "can_fund"]

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_LIMIT: Final = OrderType.LIMIT
_MARKET: Final = OrderType.MARKET
_IOC: Final = TimeInForce.IOC
MAX_CLIENT_ORDER_ID: Final = 36


def order_ctx(hub: "MirroredVenue", cmd: SubmitOrder) -> OrderCtx | None:
    """The order as the router sees it; None if its account or an enum field is unknown (the engine
    rejects it)."""
    tier = hub.engine.fee_tier(cmd.account)
    if tier is None:
        return None
    fees = hub.engine.fee_tiers[tier]
    try:
        side, otype, tif = Side(cmd.side), OrderType(cmd.order_type), TimeInForce(cmd.tif)
        stp = None if cmd.stp is None else STP(cmd.stp)
    except ValueError:
        return None
    return OrderCtx(cmd.account, cmd.symbol, side, otype, tif, cmd.price_ticks if otype == _LIMIT else 0,
                    cmd.client_order_id, stp, fees.taker_bps, max(fees.maker_bps, fees.taker_bps))


def engine_would_accept(hub: "MirroredVenue", cmd: SubmitOrder, ctx: OrderCtx) -> bool:
    """CONTRACT.md's SubmitOrder checks 1-7 for a LIMIT or MARKET-by-quantity order."""
    inst = hub.engine.instruments[cmd.symbol]
    qty = cmd.qty_lots
    if len(cmd.client_order_id) > MAX_CLIENT_ORDER_ID or cmd.quote_qty != 0:
        return False
    if ctx.order_type == _MARKET:
        if ctx.tif != _IOC or cmd.price_ticks != 0:
            return False
    elif not inst.valid_price(cmd.price_ticks) or inst.notional(cmd.price_ticks, qty) < inst.min_notional:
        return False
    if not inst.min_qty_lots <= qty <= inst.max_qty_lots or hub.engine.is_halted(cmd.symbol):
        return False
    if cmd.client_order_id and any(o.client_order_id == cmd.client_order_id
                                   for o in hub.engine.open_orders(cmd.account)):
        return False
    bal = hub.engine.balances(cmd.account)
    if ctx.buys:
        have = bal[inst.quote.name].available
        if ctx.order_type == _MARKET:
            return have > 0
        return buy_hold(cmd.price_ticks, qty, inst.quote_units_per_tick_lot, ctx.hold_bps) <= have
    return qty * inst.lot_units <= bal[inst.base.name].available


def own_opposite(hub: "MirroredVenue", ctx: OrderCtx) -> list[OrderView]:
    """The user's own resting orders on the side the order would take. O(own orders)."""
    opposite = _SELL if ctx.buys else _BUY
    return [o for o in hub.engine.open_orders(ctx.account, ctx.symbol) if o.side == opposite]


def market_budget(hub: "MirroredVenue", ctx: OrderCtx) -> int:
    """A market buy's quote budget (the engine's: all available quote); -1 where funds are checked
    for the whole order up front."""
    if ctx.order_type != _MARKET or not ctx.buys:
        return -1
    inst = hub.engine.instruments[ctx.symbol]
    return hub.engine.balances(ctx.account)[inst.quote.name].available


def plan_order(hub: "MirroredVenue", ctx: OrderCtx, lots: int, exclude: list[str], own: list[OrderView],
               budget: int) -> Plan | None:
    """Plan ``lots`` of the order over the consolidated book; None if it must not be routed."""
    buys = ctx.buys
    limit = ctx.limit
    stp = hub.engine.default_stp if ctx.stp is None else ctx.stp
    own_lots: dict[int, int] = {}
    for o in own:
        if limit == 0 or (o.price_ticks <= limit if buys else o.price_ticks >= limit):
            if stp == STP.EXPIRE_TAKER or stp == STP.EXPIRE_BOTH:
                return None   # the engine would expire the order at its own maker: keep it simple, home
            if stp == STP.EXPIRE_MAKER:
                own_lots[o.price_ticks] = own_lots.get(o.price_ticks, 0) + o.remaining_lots
    sb = hub._books[ctx.symbol]
    venues = venue_sides(hub, ctx.symbol, buys, limit, exclude, True)
    if not venues:
        return None
    home = home_levels(sb, buys, limit, lots, own_lots)
    inst = hub.engine.instruments[ctx.symbol]
    return plan(lots, buys, home, venues, shared_limits(hub, ctx.symbol, buys), hub.config.no_trade_through,
                ctx.taker_bps, budget, inst.quote_units_per_tick_lot, inst.lot_units)


def home_levels(sb: SymbolBook, buys: bool, limit: int, need: int,
                own_lots: dict[int, int]) -> list[tuple[int, int]]:
    """Home levels within ``limit`` best first, as many as can cover ``need`` lots (own orders that
    EXPIRE_MAKER would remove taken out). O(n log k)."""
    side = sb.home_asks if buys else sb.home_bids
    if limit:
        prices = [p for p in side if p <= limit] if buys else [p for p in side if p >= limit]
    else:
        prices = list(side)
    k = 16
    while True:
        top = nsmallest(k, prices) if buys else nlargest(k, prices)
        levels = [(p, side[p] - own_lots.get(p, 0)) for p in top]
        levels = [lv for lv in levels if lv[1] > 0]
        if len(top) == len(prices) or sum(q for _, q in levels) >= need:
            return levels
        k *= 4


def venue_sides(hub: "MirroredVenue", symbol: str, buys: bool, limit: int, exclude: list[str],
                for_plan: bool) -> list[VenueSide]:
    """Each showing partner's side of ``symbol`` that a taker who ``buys`` would take: for a plan its
    visible shown levels within ``limit``, for the display walk its snapshot less reservations."""
    sb = hub._books[symbol]
    inst = hub.engine.instruments[symbol]
    out: list[VenueSide] = []
    for link in hub._symbol_links[symbol]:
        snap = link.snaps[symbol]
        if link.name in exclude or not link.shows(snap):
            continue
        if for_plan:
            if buys:
                levels = sorted((p, q) for p, q in snap.shown_asks.items()
                                if p > sb.home_bid and (not limit or p <= limit))
            else:
                levels = sorted(((p, q) for p, q in snap.shown_bids.items()
                                 if (not sb.home_ask or p < sb.home_ask) and (not limit or p >= limit)),
                                reverse=True)
            level_map: dict[int, int] | None = None
            lots = price_lots = -1
        else:
            view = snap.side(not buys)
            levels, level_map, lots, price_lots = view.levels, view.level_map, view.lots, view.price_lots
        if not levels:
            continue
        spec = link.spec
        scale = snap.scale
        pinst = scale.partner
        spend = inst.quote.name if buys else inst.base.name
        out.append(VenueSide(link.name, link.index, spec.taker_bps, max(spec.maker_bps, spec.taker_bps),
                             levels, link.spend_left(spend), hub.config.max_child_notional,
                             pinst.max_qty_lots // scale.lot_ratio,
                             -(-pinst.min_qty_lots // scale.lot_ratio), pinst.min_notional,
                             level_map, lots, price_lots))
    return out


def shared_limits(hub: "MirroredVenue", symbol: str, buys: bool) -> SharedFactory:
    """The operator's home balance of what it delivers to a taker who ``buys`` (base) or sells (quote),
    and the principal inventory room (router.Shared)."""
    inst = hub.engine.instruments[symbol]
    asset = inst.base.name if buys else inst.quote.name
    have = hub.engine.balances(hub._op).get(asset)
    room = -1
    cap = hub.config.inventory_cap_lots
    if hub._principal and cap > 0:
        # Hedges in flight may still fill either way: the cap must hold whichever of them fill.
        inv = hub._position[symbol][0]
        buying, selling = hub._hedging[symbol]
        cap_units = cap * inst.lot_units
        room = max(0, cap_units + inv - selling if buys else cap_units - inv - buying)
    return SharedFactory(have.available if have is not None else 0, room)


def protected_key(hub: "MirroredVenue", symbol: str, buys: bool, limit: int,
                  exclude: list[str]) -> int | None:
    """The best effective price among the visible partner levels within ``limit``."""
    best: int | None = None
    for v in venue_sides(hub, symbol, buys, limit, exclude, True):
        key = effective_key(v.levels[0][0], v.taker_bps, buys)
        if best is None or key < best:
            best = key
    return best


def can_fund(hub: "MirroredVenue", ctx: OrderCtx, lots: int, inst: Instrument) -> bool:
    """Whether the user can still pay for ``lots`` more of a limit order (a market buy has a budget)."""
    bal = hub.engine.balances(ctx.account)
    if ctx.buys:
        if ctx.order_type == _MARKET:
            return bal[inst.quote.name].available > 0
        need = buy_hold(ctx.limit, lots, inst.quote_units_per_tick_lot, ctx.hold_bps)
        return need <= bal[inst.quote.name].available
    return lots * inst.lot_units <= bal[inst.base.name].available
