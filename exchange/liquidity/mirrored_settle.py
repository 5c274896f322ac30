"""Children, routes and their settlement in the mirrored hub (reference §4.1 A1 agency, A2 principal).

Vocabulary: a user's order that the hub routes gets a **route** (``route_id``); each partner it routes to
gets one IOC **child** (``child_id``). Under principal settlement the user is filled at once and the child
is the operator's **hedge** (``parent`` 0). Amounts are ledger units, which are the same at every venue.

Agency, per child, at routing (:func:`open_agency_child`): the user's funds for the child (what a limit
order would hold for it: the notional at the child's limit price plus the user's home taker fee, or the
base) and the operator's home funds it must deliver (the base, or the quote at the child's limit price)
move from their engine accounts into hub **escrow** (engine Withdraw). On the report
(:func:`child_filled` / :func:`child_rejected`):

- a child reports ``filled`` partner lots; the user gets ``filled // lot_ratio`` whole home lots. Odd
  partner lots (a partial fill finer than the home lot) stay with the operator as inventory; the user's
  quote amount is the child's pro rata, rounded against the user;
- a buyer pays the partner's notional plus its home taker fee out of escrow; the operator's home account
  receives the notional, the fee account the fee, the buyer the base from the operator's escrowed base;
  a seller's escrowed base goes to the operator, the seller receives the partner's notional less its home
  fee out of the operator's escrowed quote (a better price than the child's limit is paid from the
  operator's available quote; if even that is short the seller gets what there is and the shortfall is
  counted in ``agency_shortfall_quote``);
- whatever escrow is left goes back to its owner, so a reported child leaves no escrow behind;
- the partner ledger moves by the child's base, quote and partner fee; the operator's cash and inventory
  (base across venues) by the difference between what it paid and received at the two venues.

The lots a child did not deliver (rejected, expired, or odd lots) are the route's *failed* lots; when the
route's last child has reported they follow ``stale_policy`` (the hub's ``_end_route``).

Principal (:func:`principal_fill`): the user trades with the operator's home account at once at the
displayed prices (home fee to the fee account); the operator's hedge child changes only the partner ledger,
the operator's inventory and its cash when it reports. The inventory cap holds whichever hedges in flight
fill: the hub keeps ``inventory - hedges selling >= -cap`` and ``inventory + hedges buying <= cap``
(``MirroredVenue._hedging``), so a principal fill is sized to what is left of that room.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Final

from exchange.book import fee
from exchange.enums import STP, OrderType, Side, TimeInForce

from .events import ChildRouted, RoutedFill
from .mirrored_links import PartnerLink, Snapshot

if TYPE_CHECKING:
    from .mirrored import MirroredVenue

__all__ = ["Child", "Route", "OrderCtx", "open_agency_child", "principal_fill", "child_filled",
           "child_rejected", "STALE_AGE_NS"]

STALE_AGE_NS: Final = 1_000_000_000   # a child routed on a snapshot older than this "fills on a stale quote"
_BUY: Final = Side.BUY


class OrderCtx:
    """The user's order as the router needs it (from the SubmitOrder, or from a route for a re-route).
    ``limit`` is 0 for a market order."""

    __slots__ = ("account", "symbol", "side", "order_type", "tif", "limit", "cid", "stp", "taker_bps",
                 "hold_bps")

    def __init__(self, account: int, symbol: str, side: Side, order_type: OrderType, tif: TimeInForce,
                 limit: int, cid: str, stp: STP | None, taker_bps: int, hold_bps: int) -> None:
        self.account: int = account
        self.symbol: str = symbol
        self.side: Side = side
        self.order_type: OrderType = order_type
        self.tif: TimeInForce = tif
        self.limit: int = limit
        self.cid: str = cid
        self.stp: STP | None = stp
        self.taker_bps: int = taker_bps
        self.hold_bps: int = hold_bps

    @property
    def buys(self) -> bool:
        return self.side == _BUY

    def state(self) -> list:
        return [self.account, self.symbol, int(self.side), int(self.order_type), int(self.tif), self.limit,
                self.cid, None if self.stp is None else int(self.stp), self.taker_bps, self.hold_bps]


class Route:
    """The routed part of one user order (agency). ``lots`` routed, ``filled`` delivered to the user,
    ``failed`` not delivered (rejected, expired, odd lots); ``open_children`` still to report;
    ``excluded``: venues a child of this order failed at (a re-route avoids them)."""

    __slots__ = ("route_id", "ctx", "lots", "filled", "failed", "open_children", "excluded", "home_order_id")

    def __init__(self, route_id: int, ctx: OrderCtx, excluded: list[str]) -> None:
        self.route_id: int = route_id
        self.ctx: OrderCtx = ctx
        self.lots: int = 0
        self.filled: int = 0
        self.failed: int = 0
        self.open_children: int = 0
        self.excluded: list[str] = excluded
        self.home_order_id: int = 0

    def state(self) -> list:
        return [self.route_id, self.ctx.state(), self.lots, self.filled, self.failed, self.open_children,
                list(self.excluded), self.home_order_id]


class Child:
    """An IOC child in flight. Home units (``price``, ``lots``) and partner units; ``reserve_*``: what it
    holds of the partner ledger; ``user_*``/``op_*``: its escrow (agency); ``snap_age_ns``: how old the
    snapshot it was routed on was; ``levels``: the mirrored levels it reserved."""

    __slots__ = ("child_id", "venue", "symbol", "side", "route_id", "price", "lots", "partner_price",
                 "partner_lots", "reserve_asset", "reserve_amount", "user_asset", "user_escrow", "op_asset",
                 "op_escrow", "snap_age_ns")

    def __init__(self, child_id: int, venue: str, symbol: str, side: Side, route_id: int, price: int, lots: int,
                 partner_price: int, partner_lots: int, reserve_asset: str, reserve_amount: int,
                 snap_age_ns: int) -> None:
        self.child_id: int = child_id
        self.venue: str = venue
        self.symbol: str = symbol
        self.side: Side = side
        self.route_id: int = route_id
        self.price: int = price
        self.lots: int = lots
        self.partner_price: int = partner_price
        self.partner_lots: int = partner_lots
        self.reserve_asset: str = reserve_asset
        self.reserve_amount: int = reserve_amount
        self.user_asset: str = ""
        self.user_escrow: int = 0
        self.op_asset: str = ""
        self.op_escrow: int = 0
        self.snap_age_ns: int = snap_age_ns

    def state(self) -> list:
        return [self.child_id, self.venue, self.symbol, int(self.side), self.route_id, self.price, self.lots,
                self.partner_price, self.partner_lots, self.reserve_asset, self.reserve_amount,
                self.user_asset, self.user_escrow, self.op_asset, self.op_escrow, self.snap_age_ns]


# ------------------------------------------------------------------------------------------ routing

def _open_child(hub: "MirroredVenue", link: PartnerLink, snap: Snapshot, side: Side, route_id: int,
                levels: list[tuple[int, int]], ts: int, out: list) -> Child:
    """Reserve the partner ledger and the mirrored levels for a child, emit its ChildRouted."""
    inst = hub.engine.instruments[snap.symbol]
    scale = snap.scale
    lots = sum(q for _, q in levels)
    price = levels[-1][0]   # the worst allocated level: the child's limit
    buys = side == _BUY
    if buys:
        n = inst.notional(price, lots)
        asset, amount = inst.quote.name, n + fee(n, max(link.spec.maker_bps, link.spec.taker_bps))
    else:
        asset, amount = inst.base.name, lots * inst.lot_units
    link.reserved[asset] = link.reserved.get(asset, 0) + amount
    for p, q in levels:
        snap.reserve(not buys, p, q)
    child_id = hub._next_child
    hub._next_child += 1
    child = Child(child_id, link.name, snap.symbol, side, route_id, price, lots, scale.price_to_partner(price),
                  scale.lots_to_partner(lots), asset, amount, hub._clock_at(ts) - snap.venue_ts)
    hub._children[child_id] = child
    if route_id == 0:
        hub._hedging[snap.symbol][0 if buys else 1] += lots * inst.lot_units
    c = link.counters
    c["children_sent"] += 1
    c["lots_sent"] += lots
    c["partner_lots_sent"] += child.partner_lots
    out.append(ChildRouted(ts, child_id, link.name, link.spec.operator_account, snap.symbol, side,
                           child.partner_price, child.partner_lots, route_id))
    return child


def open_agency_child(hub: "MirroredVenue", route: Route, link: PartnerLink, levels: list[tuple[int, int]],
                      ts: int, out: list) -> None:
    """Escrow the user's and the operator's funds for one child and send it (agency)."""
    ctx = route.ctx
    snap = link.snaps[ctx.symbol]
    inst = hub.engine.instruments[ctx.symbol]
    lots = sum(q for _, q in levels)
    price = levels[-1][0]
    n = inst.notional(price, lots)
    if ctx.buys:
        user_asset, user_amount = inst.quote.name, n + fee(n, ctx.taker_bps)
        op_asset, op_amount = inst.base.name, lots * inst.lot_units
    else:
        user_asset, user_amount = inst.base.name, lots * inst.lot_units
        op_asset, op_amount = inst.quote.name, n
    hub._move(ts, ctx.account, user_asset, -user_amount, out)
    hub._move(ts, hub._op, op_asset, -op_amount, out)
    child = _open_child(hub, link, snap, ctx.side, route.route_id, levels, ts, out)
    child.user_asset, child.user_escrow = user_asset, user_amount
    child.op_asset, child.op_escrow = op_asset, op_amount
    hub._escrow[user_asset] += user_amount
    hub._escrow[op_asset] += op_amount
    route.lots += lots
    route.open_children += 1


def principal_fill(hub: "MirroredVenue", ctx: OrderCtx, route_id: int, link: PartnerLink,
                   levels: list[tuple[int, int]], ts: int, out: list) -> int:
    """Fill the user at once at the displayed prices against the operator's home account and send the
    operator's hedge child. Returns the lots filled."""
    snap = link.snaps[ctx.symbol]
    inst = hub.engine.instruments[ctx.symbol]
    lots = sum(q for _, q in levels)
    n = sum(inst.notional(p, q) for p, q in levels)
    f = fee(n, ctx.taker_bps)
    base, quote, base_units = inst.base.name, inst.quote.name, lots * inst.lot_units
    op = hub._op
    if ctx.buys:
        hub._move(ts, ctx.account, quote, -(n + f), out)
        hub._move(ts, op, quote, n, out)
        hub._move(ts, hub.engine.fee_account, quote, f, out)
        hub._move(ts, op, base, -base_units, out)
        hub._move(ts, ctx.account, base, base_units, out)
        hub._operator_trade(ctx.symbol, -base_units, n)
        avg = -(-n // (lots * inst.quote_units_per_tick_lot))
    else:
        hub._move(ts, ctx.account, base, -base_units, out)
        hub._move(ts, op, base, base_units, out)
        hub._move(ts, op, quote, -n, out)
        hub._move(ts, ctx.account, quote, n - f, out)
        hub._move(ts, hub.engine.fee_account, quote, f, out)
        hub._operator_trade(ctx.symbol, base_units, -n)
        avg = n // (lots * inst.quote_units_per_tick_lot)
    out.append(RoutedFill(ts, ctx.account, ctx.symbol, ctx.side, avg, lots, n, f, link.name, ctx.cid, route_id))
    _open_child(hub, link, snap, ctx.side, 0, levels, ts, out)
    link.counters["lots_filled"] += lots
    return lots


# ------------------------------------------------------------------------------------------ reports

def _release(hub: "MirroredVenue", link: PartnerLink, child: Child) -> None:
    """The child has reported: its hold on the partner ledger (and, for a hedge, its pending base) ends."""
    link.reserved[child.reserve_asset] -= child.reserve_amount
    if child.route_id == 0:
        lot_units = hub.engine.instruments[child.symbol].lot_units
        hub._hedging[child.symbol][0 if child.side == _BUY else 1] -= child.lots * lot_units


def child_filled(hub: "MirroredVenue", child: Child, filled: int, quote_amount: int, partner_fee: int,
                 expired: int, ts: int, out: list) -> None:
    """Settle a child's final report: ``filled`` partner lots (> 0) traded for ``quote_amount`` plus
    ``partner_fee`` at the partner, ``expired`` partner lots did not."""
    link = hub._link(child.venue)
    inst = hub.engine.instruments[child.symbol]
    scale = link.snaps[child.symbol].scale
    buys = child.side == _BUY
    base, quote = inst.base.name, inst.quote.name
    _release(hub, link, child)
    partner_base = filled * scale.partner.lot_units
    if buys:
        link.ledger[quote] -= quote_amount + partner_fee
        link.ledger[base] += partner_base
    else:
        link.ledger[base] -= partner_base
        link.ledger[quote] += quote_amount - partner_fee
    c = link.counters
    c["partner_lots_filled"] += filled
    c["quote_filled"] += quote_amount
    if expired:
        c["children_partially_filled"] += 1
        c["stale_fill_failures"] += 1
    else:
        c["children_filled"] += 1
    if child.snap_age_ns > STALE_AGE_NS:
        c["fills_on_stale_quotes"] += 1
    if child.route_id == 0:   # principal hedge
        if buys:
            hub._operator_trade(child.symbol, partner_base, -(quote_amount + partner_fee))
        else:
            hub._operator_trade(child.symbol, -partner_base, quote_amount - partner_fee)
        if expired:
            hub._stats["hedge_failures"] += 1
            hub._stats["hedge_failed_lots"] += child.lots - filled // scale.lot_ratio
        return
    route = hub._routes[child.route_id]
    ctx = route.ctx
    user_lots = filled // scale.lot_ratio
    user_base = user_lots * inst.lot_units
    # The user's share of the partner's notional, rounded against the user when odd lots stay behind.
    share_num, share_den = user_lots * scale.lot_ratio, filled
    op, fee_account = hub._op, hub.engine.fee_account
    if buys:
        user_quote = -(-quote_amount * share_num // share_den)
        user_fee = fee(user_quote, ctx.taker_bps)
        assert user_quote + user_fee <= child.user_escrow, "a buy child cost more than its escrow"
        hub._move(ts, op, quote, user_quote, out)
        hub._move(ts, fee_account, quote, user_fee, out)
        hub._move(ts, ctx.account, quote, child.user_escrow - user_quote - user_fee, out)
        hub._move(ts, ctx.account, base, user_base, out)
        hub._move(ts, op, base, child.op_escrow - user_base, out)
        hub._operator_trade(child.symbol, partner_base - user_base, user_quote - quote_amount - partner_fee)
    else:
        user_quote = quote_amount * share_num // share_den
        paid = user_quote
        extra = max(0, user_quote - child.op_escrow)
        if extra:
            # The partner paid better than the child's limit: the operator tops up from its home quote.
            have = hub.engine.balances(op).get(quote)
            top_up = min(extra, have.available if have is not None else 0)
            hub._move(ts, op, quote, -top_up, out)
            hub._escrow[quote] += top_up
            child.op_escrow += top_up
            if top_up < extra:
                hub._stats["agency_shortfall_quote"] += extra - top_up
                paid = child.op_escrow
        user_fee = fee(paid, ctx.taker_bps)
        hub._move(ts, ctx.account, quote, paid - user_fee, out)
        hub._move(ts, fee_account, quote, user_fee, out)
        hub._move(ts, op, quote, child.op_escrow - paid, out)
        hub._move(ts, op, base, user_base, out)
        hub._move(ts, ctx.account, base, child.user_escrow - user_base, out)
        hub._operator_trade(child.symbol, user_base - partner_base, quote_amount - partner_fee - paid)
        user_quote = paid
    hub._escrow[child.user_asset] -= child.user_escrow
    hub._escrow[child.op_asset] -= child.op_escrow
    if user_lots:
        k = user_lots * inst.quote_units_per_tick_lot
        avg = -(-user_quote // k) if buys else user_quote // k
        out.append(RoutedFill(ts, ctx.account, ctx.symbol, ctx.side, avg, user_lots, user_quote, user_fee,
                              link.name, ctx.cid, route.route_id))
    c["lots_filled"] += user_lots
    route.filled += user_lots
    route.failed += child.lots - user_lots
    if user_lots < child.lots and link.name not in route.excluded:
        route.excluded.append(link.name)
    _child_done(hub, route, ts, out)


def child_rejected(hub: "MirroredVenue", child: Child, reason: str, ts: int, out: list) -> None:
    """A child traded nothing: release its reservation, return its escrow, count the failure."""
    link = hub._link(child.venue)
    _release(hub, link, child)
    c = link.counters
    c["children_failed"] += 1
    c["stale_fill_failures"] += 1
    link.failed_by_reason[reason] = link.failed_by_reason.get(reason, 0) + 1
    if child.route_id == 0:
        hub._stats["hedge_failures"] += 1
        hub._stats["hedge_failed_lots"] += child.lots
        return
    route = hub._routes[child.route_id]
    hub._move(ts, route.ctx.account, child.user_asset, child.user_escrow, out)
    hub._move(ts, hub._op, child.op_asset, child.op_escrow, out)
    hub._escrow[child.user_asset] -= child.user_escrow
    hub._escrow[child.op_asset] -= child.op_escrow
    route.failed += child.lots
    if link.name not in route.excluded:
        route.excluded.append(link.name)
    _child_done(hub, route, ts, out)


def _child_done(hub: "MirroredVenue", route: Route, ts: int, out: list) -> None:
    route.open_children -= 1
    if route.open_children == 0:
        hub._end_route(route, ts, out)

