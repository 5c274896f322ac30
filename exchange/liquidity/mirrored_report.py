"""The mirrored hub's reads for reports and tests: ``stats()`` (JSON-able figures), ``state()`` (the whole
state, canonical, for ``state_hash``) and ``_check()`` (every invariant). Kept apart from the hot path in
:mod:`.mirrored`; nothing here changes the hub.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .mirrored import MirroredVenue

__all__ = ["stats", "state", "check", "shown_now"]

_SUMMED = ("children_sent", "children_filled", "children_partially_filled", "children_failed", "lots_sent",
           "lots_filled", "partner_lots_sent", "partner_lots_filled", "quote_filled", "fills_on_stale_quotes",
           "stale_fill_failures")


def stats(hub: "MirroredVenue") -> dict[str, Any]:
    """Counters and figures for reports (see the keys' names; lots are home lots unless ``partner_``).

    - children: ``children_sent/filled/partially_filled/failed``, ``failed_by_reason``, ``lots_sent``,
      ``lots_filled`` (home lots delivered), ``partner_lots_sent/filled``, ``fill_ratio`` (partner lots
      filled / sent), ``stale_fill_failures`` (children that got less than they asked),
      ``fills_on_stale_quotes`` (children that filled although routed on a snapshot over 1 s old);
    - orders: ``considered_orders`` (reached a visible partner level), ``routed_orders``, ``home_fills`` /
      ``home_fill_lots`` (every home trade), ``trade_throughs`` / ``trade_through_lots`` (home fills of
      considered orders worse after fees than a displayed partner level the order left;
      ``trade_throughs_later`` counts those of orders the hub placed for a route's failed lots), ``refused``,
      ``route_outcomes``;
    - operator: per symbol inventory (base across venues from routed trades), cash (quote) and P&L marked at
      the consolidated mid; ``operator_pnl_quote`` and ``operator_inventory_lots`` summed over symbols;
      ``hedge_failures``;
    - partners: per venue counters, health, ``prefund_left`` (ledger less in-flight holds) and ``exposure``
      (the whole ledger: what a default now would cost), ``exposure_booked`` at defaults.
    """
    from .mirrored_feed import mid_x2
    s = hub._stats
    venues: dict[str, Any] = {}
    totals = {k: 0 for k in _SUMMED}
    failed_by_reason: dict[str, int] = {}
    for link in hub.links:
        for k in _SUMMED:
            totals[k] += link.counters[k]
        for reason, n in link.failed_by_reason.items():
            failed_by_reason[reason] = failed_by_reason.get(reason, 0) + n
        venues[link.name] = {**link.counters, "failed_by_reason": dict(sorted(link.failed_by_reason.items())),
                             "health": link.health.name, "routable": link.routable,
                             "prefund_left": {a: link.spend_left(a) for a in sorted(link.ledger)},
                             "exposure": link.exposure()}
    operator: dict[str, Any] = {}
    pnl_total = 0
    inv_total = 0.0
    for symbol, (inv, cash) in sorted(hub._position.items()):
        inst = hub.engine.instruments[symbol]
        mark = inv * mid_x2(hub, symbol) * inst.quote_units_per_tick_lot // (2 * inst.lot_units)
        pnl = cash + mark
        lots = inv / inst.lot_units
        operator[symbol] = {"inventory_units": inv, "inventory_lots": lots, "cash_quote": cash, "pnl_quote": pnl}
        pnl_total += pnl
        inv_total += lots
    sent = totals["partner_lots_sent"]
    return {
        "model": "mirrored", "settlement": hub.config.settlement, "no_trade_through": hub.config.no_trade_through,
        "stale_policy": hub.config.stale_policy,
        **totals,
        "failed_by_reason": dict(sorted(failed_by_reason.items())),
        "fill_ratio": (totals["partner_lots_filled"] / sent) if sent else None,
        **dict(sorted(s.items())),
        "refused": dict(sorted(hub._refused.items())),
        "route_outcomes": dict(sorted(hub._route_outcomes.items())),
        "routes_open": len(hub._routes), "children_in_flight": len(hub._children),
        "escrow": {a: v for a, v in hub._escrow.items() if v},
        "operator": operator, "operator_pnl_quote": pnl_total, "operator_inventory_lots": inv_total,
        "prefund_left": {n: v["prefund_left"] for n, v in venues.items()},
        "exposure": {n: v["exposure"] for n, v in venues.items()},
        "exposure_booked": [{"venue": v, "asset": a, "amount": amt, "quote_value": val, "kind": kind}
                            for v, a, amt, val, kind in hub._exposure_booked],
        "venues": venues,
    }


def state(hub: "MirroredVenue") -> dict[str, Any]:
    """Everything the hub's future behaviour depends on, as canonical JSON-able data."""
    books = {}
    for symbol, sb in sorted(hub._books.items()):
        books[symbol] = {"active": sb.active, "update_id": sb.update_id, "home_best": [sb.home_bid, sb.home_ask],
                         "mirror_bids": sorted(sb.mirror_bids.items()),
                         "mirror_asks": sorted(sb.mirror_asks.items()),
                         "cons_bids": sorted(sb.cons_bids.items()), "cons_asks": sorted(sb.cons_asks.items()),
                         "home_bids": sorted(sb.home_bids.items()), "home_asks": sorted(sb.home_asks.items())}
    return {
        "engine": hub.engine.state(),
        "hub": {
            "clock": hub._clock, "deadline": hub._deadline, "next_child": hub._next_child,
            "next_route": hub._next_route, "links": [link.state() for link in hub.links], "books": books,
            "children": [c.state() for _, c in sorted(hub._children.items())],
            "routes": [r.state() for _, r in sorted(hub._routes.items())],
            "escrow": dict(sorted(hub._escrow.items())),
            "hub_withdrawn": dict(sorted(hub._hub_withdrawn.items())),
            "hub_deposited": dict(sorted(hub._hub_deposited.items())),
            "position": {s: list(p) for s, p in sorted(hub._position.items())},
            "hedging": {s: list(p) for s, p in sorted(hub._hedging.items())},
            "stats": dict(sorted(hub._stats.items())), "refused": dict(sorted(hub._refused.items())),
            "route_outcomes": dict(sorted(hub._route_outcomes.items())),
            "exposure_booked": [list(e) for e in hub._exposure_booked],
        },
    }


def shown_now(hub: "MirroredVenue", symbol: str) -> tuple[dict[int, dict[int, int]], dict[int, dict[int, int]]]:
    """What a fresh display walk would show for ``symbol`` now: (asks, bids), venue index -> {price: lots}."""
    from .mirrored_plan import shared_limits, venue_sides
    from .router import display_walk
    inst = hub.engine.instruments[symbol]
    out = []
    for buys in (True, False):
        venues = venue_sides(hub, symbol, buys, 0, [], False)
        out.append(display_walk(venues, shared_limits(hub, symbol, buys)(), buys, inst.quote_units_per_tick_lot,
                                inst.lot_units) if venues else {})
    return out[0], out[1]


def check(hub: "MirroredVenue") -> None:
    """Assert every invariant of the hub and its engine (AssertionError names the broken one)."""
    engine = hub.engine
    engine._check()
    assert not hub._dirty and not hub._passthrough, "book changes left unflushed after a command"
    for symbol, sb in hub._books.items():
        if sb.active:
            sb._check(engine.depth(symbol, 1 << 62), engine.best_bid_ask(symbol))
        links = hub._symbol_links[symbol]
        mirror_bids: dict[int, int] = {}
        mirror_asks: dict[int, int] = {}
        asks, bids = shown_now(hub, symbol)
        exact = hub._op != engine.fee_account   # fee income raises the operator's balance between refreshes
        for link in links:
            snap = link.snaps[symbol]
            if not link.shows(snap):
                assert not snap.shown_bids and not snap.shown_asks, f"{link.name} {symbol}: shown while pulled"
            for shown, fresh in ((snap.shown_asks, asks.get(link.index, {})),
                                 (snap.shown_bids, bids.get(link.index, {}))):
                if exact:
                    assert shown == fresh, f"{link.name} {symbol}: shows {shown}, a fresh walk gives {fresh}"
                else:
                    assert all(q <= fresh.get(p, 0) for p, q in shown.items()), f"{link.name} {symbol}: over-shown"
            for p, q in snap.shown_bids.items():
                mirror_bids[p] = mirror_bids.get(p, 0) + q
            for p, q in snap.shown_asks.items():
                mirror_asks[p] = mirror_asks.get(p, 0) + q
        if sb.active:
            assert sb.mirror_bids == mirror_bids and sb.mirror_asks == mirror_asks, f"{symbol}: mirror totals drifted"
        else:
            assert not mirror_bids and not mirror_asks, f"{symbol}: a passive book with mirrored levels"
    # Escrow: held by children in flight, equal to the hub's net withdrawals, never negative.
    held = {a: 0 for a in hub._escrow}
    reserved: dict[str, dict[str, int]] = {link.name: {a: 0 for a in link.reserved} for link in hub.links}
    per_route: dict[int, int] = {}
    for child in hub._children.values():
        if child.route_id:
            held[child.user_asset] += child.user_escrow
            held[child.op_asset] += child.op_escrow
            assert child.route_id in hub._routes, f"child {child.child_id} of a finished route {child.route_id}"
            per_route[child.route_id] = per_route.get(child.route_id, 0) + 1
        else:
            assert child.user_escrow == 0 and child.op_escrow == 0, "a hedge child holds escrow"
        reserved[child.venue][child.reserve_asset] += child.reserve_amount
    assert held == hub._escrow, f"escrow {hub._escrow} != children's escrow {held}"
    hedging = {s: [0, 0] for s in hub._hedging}
    for child in hub._children.values():
        if child.route_id == 0:
            units = child.lots * engine.instruments[child.symbol].lot_units
            hedging[child.symbol][0 if child.side == 1 else 1] += units
    assert hedging == hub._hedging, f"hedges in flight {hub._hedging} != children's {hedging}"
    cap = hub.config.inventory_cap_lots
    if hub._principal and cap:
        for symbol, (inv, _) in hub._position.items():
            buying, selling = hub._hedging[symbol]
            cap_units = cap * engine.instruments[symbol].lot_units
            assert -cap_units <= inv - selling and inv + buying <= cap_units, (
                f"{symbol}: inventory {inv} with hedges in flight (+{buying}, -{selling}) can leave the cap")
    external = hub.external_net_deposits()
    totals = engine.totals()
    for asset, amount in hub._escrow.items():
        assert amount >= 0, f"negative escrow of {asset}"
        assert amount == hub._hub_withdrawn[asset] - hub._hub_deposited[asset], f"{asset}: escrow != hub net moves"
        assert totals[asset] + amount == external[asset], (
            f"{asset}: engine {totals[asset]} + escrow {amount} != external deposits {external[asset]}")
    for route_id, route in hub._routes.items():
        assert route.open_children > 0 and per_route.get(route_id, 0) == route.open_children, (
            f"route {route_id}: {route.open_children} open children, {per_route.get(route_id, 0)} in flight")
        assert route.filled + route.failed <= route.lots
    for link in hub.links:
        assert link.reserved == reserved[link.name], f"{link.name}: reserved {link.reserved} != {reserved[link.name]}"
        for asset, amount in link.ledger.items():
            assert amount >= 0, f"{link.name}: the operator's {asset} there went negative ({amount})"
            assert 0 <= link.reserved[asset] <= amount, f"{link.name}: {asset} reserved beyond the ledger"
        assert (link.health, link.routable) == link.derived(), f"{link.name}: reported health is out of date"
