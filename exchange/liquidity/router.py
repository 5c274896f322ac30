"""Where a taker order's quantity goes: home levels and partners' mirrored levels, best price after fees
first (reference §4.1, Reg NMS-style order protection). Pure functions of integers; the hub
(:mod:`.mirrored`) gathers the inputs and carries the plan out.

**Routing capacity.** A partner level can only take what the operator can pay for, so every mirrored
level is capped, jointly over all partners of a symbol side, walking the levels in routing order
(:func:`display_walk`, which decides what the consolidated book *shows*; :func:`plan` re-checks the same
limits for each order):

- at the partner (``VenueSide``): the operator's prefund there, less what children in flight hold, must
  cover the child's partner-side hold: for a buy child its notional at the child's limit price (its worst
  level) plus the partner fee at ``max(maker, taker)`` bps (what the partner engine holds), for a sell
  child its base; the child's expected notional is at most ``max_child_notional`` (0: no cap); its size
  at most the partner's max quantity;
- at home (``Shared``): the operator's home balance of what it must deliver to users (base when users
  buy, quote when they sell) and, under principal settlement, the room left under the inventory cap.

**Order of levels.** Levels compare by *effective* price: a buy at ``p`` with fee ``f`` bps costs
``p * (10000 + f)``, a sell yields ``p * (10000 - f)``; home levels use the user's taker fee, partner
levels the partner's taker fee. With ``no_trade_through`` the plan takes levels best first, home winning
ties, so no home fill is worse than a displayed partner level the order leaves (partly) untaken, except
for the documented exceptions in the hub. Without it, home fills first as far as the home book goes
within the limit (internalisation), and only the rest is routed; the hub counts the trade-throughs.
"""
from __future__ import annotations

from typing import Final

from exchange.book import fee

from .units import BPS

__all__ = ["VenueSide", "Shared", "Plan", "max_lots_for_cost", "effective_key", "display_walk", "plan"]

NO_LIMIT: Final = 0


def max_lots_for_cost(budget: int, unit_notional: int, bps: int) -> int:
    """The largest ``q >= 0`` with ``n + fee(n, bps) <= budget`` for ``n = unit_notional * q``.
    O(1) (a closed form, then a step or two to absorb the fee's rounding)."""
    if budget <= 0 or unit_notional <= 0:
        return 0
    q = budget * BPS // ((BPS + bps) * unit_notional)
    while True:
        n = unit_notional * (q + 1)
        if n + fee(n, bps) > budget:
            break
        q += 1
    while q > 0:
        n = unit_notional * q
        if n + fee(n, bps) <= budget:
            break
        q -= 1
    return q


def effective_key(price: int, fee_bps: int, taker_buys: bool) -> int:
    """A sort key, smaller = better for the taker: the price after the taker's fee."""
    return price * (BPS + fee_bps) if taker_buys else -price * (BPS - fee_bps)


class VenueSide:
    """One partner's side of one symbol as the router sees it: levels (home ticks, home lots, best first)
    and the limits a child there must respect (see the module docstring)."""

    __slots__ = ("venue", "index", "taker_bps", "hold_bps", "levels", "spend_left", "max_notional",
                 "max_lots", "min_lots", "min_notional", "level_map", "lots", "price_lots")

    def __init__(self, venue: str, index: int, taker_bps: int, hold_bps: int, levels: list[tuple[int, int]],
                 spend_left: int, max_notional: int, max_lots: int, min_lots: int = 1,
                 min_notional: int = 0, level_map: dict[int, int] | None = None, lots: int = -1,
                 price_lots: int = -1) -> None:
        self.venue: str = venue
        self.index: int = index
        self.taker_bps: int = taker_bps
        self.hold_bps: int = hold_bps
        self.levels: list[tuple[int, int]] = levels
        self.spend_left: int = spend_left      # prefund at the partner: quote (buy child) or base (sell)
        self.max_notional: int = max_notional  # 0: no cap
        self.max_lots: int = max_lots          # home lots
        self.min_lots: int = min_lots          # home lots
        self.min_notional: int = min_notional  # quote ledger units, at the child's limit price
        # Optional, precomputed by the caller (a snapshot side's cache): ``dict(levels)`` (shared, never
        # changed), the sum of the levels' lots and of price x lots; -1 / None: computed here.
        self.level_map: dict[int, int] | None = level_map
        self.lots: int = lots
        self.price_lots: int = price_lots

    def fits(self, price: int, lots: int, cum_lots: int, cum_notional: int, taker_buys: bool, k: int,
             lot: int) -> bool:
        """``room(...) >= lots``, decided without computing the room (no search for the fee's rounding)."""
        total = cum_lots + lots
        if total > self.max_lots:
            return False
        if taker_buys:
            n = price * k * total
            if n + fee(n, self.hold_bps) > self.spend_left:
                return False
        elif total * lot > self.spend_left:
            return False
        return not self.max_notional or cum_notional + price * k * lots <= self.max_notional

    def room(self, price: int, cum_lots: int, cum_notional: int, taker_buys: bool, k: int, lot: int) -> int:
        """Lots this venue's child can add at ``price`` (its new worst price) beyond ``cum_lots``."""
        room = self.max_lots - cum_lots
        if taker_buys:
            room = min(room, max_lots_for_cost(self.spend_left, price * k, self.hold_bps) - cum_lots)
        else:
            room = min(room, self.spend_left // lot - cum_lots)
        if self.max_notional:
            room = min(room, (self.max_notional - cum_notional) // (price * k))
        return room


class Shared:
    """Limits shared by every partner of one symbol side: the operator's home balance of the asset it
    delivers (base units when the taker buys, quote units when it sells) and, under principal, the base
    units left under the inventory cap (-1: no cap)."""

    __slots__ = ("home_left", "inventory_room")

    def __init__(self, home_left: int, inventory_room: int = -1) -> None:
        self.home_left: int = home_left
        self.inventory_room: int = inventory_room

    def room(self, price: int, taker_buys: bool, k: int, lot: int) -> int:
        room = self.home_left // lot if taker_buys else self.home_left // (price * k)
        if self.inventory_room >= 0:
            room = min(room, self.inventory_room // lot)
        return room

    def fits(self, price: int, lots: int, taker_buys: bool, k: int, lot: int) -> bool:
        """``room(...) >= lots`` without the divisions."""
        if (lots * lot if taker_buys else price * lots * k) > self.home_left:
            return False
        return self.inventory_room < 0 or lots * lot <= self.inventory_room

    def take(self, price: int, lots: int, taker_buys: bool, k: int, lot: int) -> None:
        self.home_left -= lots * lot if taker_buys else price * lots * k
        if self.inventory_room >= 0:
            self.inventory_room -= lots * lot


def _merged(venues: list[VenueSide], taker_buys: bool) -> list[tuple[int, int, int, int]]:
    """Every partner level as (effective key, venue index, price, lots), in routing order."""
    out = [(effective_key(p, v.taker_bps, taker_buys), v.index, p, q) for v in venues for p, q in v.levels]
    out.sort()
    return out


def display_walk(venues: list[VenueSide], shared: Shared, taker_buys: bool, k: int,
                 lot: int) -> dict[int, dict[int, int]]:
    """What each venue can show on one side of a symbol: its levels capped by routing capacity, walked in
    routing order so that an order taking the displayed levels best first always fits. Returns venue
    index -> {price: lots} (zero levels absent; when nothing binds, a venue's ``level_map`` itself if it
    has one: do not change the dicts). O(L log L) for L levels, O(venues) when nothing binds and the
    venues carry their totals."""
    if _fits_whole(venues, shared, taker_buys, k, lot):
        return {v.index: v.level_map if v.level_map is not None else dict(v.levels) for v in venues}
    by_index = {v.index: v for v in venues}
    cum: dict[int, int] = {v.index: 0 for v in venues}
    cum_n: dict[int, int] = {v.index: 0 for v in venues}
    shown: dict[int, dict[int, int]] = {v.index: {} for v in venues}
    merged = _merged(venues, taker_buys)
    # Skipping levels that would show 0 (the result is the plain walk's). With a venue's fills fixed, its
    # room and the shared room never grow with the price (a dearer ask costs more prefund and notional, a
    # dearer bid more home quote and notional), so a room gone at the lowest price still to come is gone
    # for good: for a buy that is the current ask (asks come in rising order), for a sell the venue's
    # last bid or, for the shared room, the lowest bid of any venue (the shared buy room has no price).
    lowest = min(p for _, _, p, _ in merged)
    done: set[int] = set()
    for _, i, p, q in merged:
        if i in done:
            continue
        v = by_index[i]
        if v.fits(p, q, cum[i], cum_n[i], taker_buys, k, lot) and shared.fits(p, q, taker_buys, k, lot):
            # The common case: the level fits in full (the rooms below would both be >= q).
            shown[i][p] = q
            cum[i] += q
            cum_n[i] += p * q * k
            shared.take(p, q, taker_buys, k, lot)
            continue
        vroom = v.room(p, cum[i], cum_n[i], taker_buys, k, lot)
        if vroom <= 0:
            if taker_buys or v.room(v.levels[-1][0], cum[i], cum_n[i], taker_buys, k, lot) <= 0:
                done.add(i)
                if len(done) == len(venues):
                    break
            continue
        sroom = shared.room(p, taker_buys, k, lot)
        if sroom <= 0:
            if taker_buys or shared.room(lowest, taker_buys, k, lot) <= 0:
                break
            continue
        x = min(q, vroom, sroom)
        shown[i][p] = x
        cum[i] += x
        cum_n[i] += p * x * k
        shared.take(p, x, taker_buys, k, lot)
    return shown


def _fits_whole(venues: list[VenueSide], shared: Shared, taker_buys: bool, k: int, lot: int) -> bool:
    """Whether every level of every venue fits the limits at once (the common case: capacity does not
    bind). Costs only grow as a child reaches worse levels, so if the whole fits, every prefix of the
    routing order does and the walk would show every level in full. O(L), no sort."""
    total_lots = 0
    total_notional = 0
    for v in venues:
        lots = v.lots
        if lots >= 0:
            notional = v.price_lots * k
        else:
            lots = 0
            notional = 0
            for p, q in v.levels:
                lots += q
                notional += p * q * k
        if v.room(v.levels[-1][0], 0, 0, taker_buys, k, lot) < lots or (v.max_notional and notional > v.max_notional):
            return False
        total_lots += lots
        total_notional += notional
    if shared.home_left < (total_lots * lot if taker_buys else total_notional):
        return False
    return shared.inventory_room < 0 or total_lots * lot <= shared.inventory_room


class Plan:
    """Where an order's lots go. ``home_lots`` are taken from the home book (a prefix of its levels);
    ``children`` maps venue index -> [(price, lots), ...] best first (one child per venue, at its worst
    price); ``protected_key`` is the best effective key among displayed partner levels within the limit
    that the plan leaves (partly) untaken (None: none), against which home fills are judged;
    ``budget_bound`` says the user's budget ended the plan."""

    __slots__ = ("home_lots", "children", "routed_lots", "protected_key", "budget_bound", "excluded")

    def __init__(self) -> None:
        self.home_lots: int = 0
        self.children: dict[int, list[tuple[int, int]]] = {}
        self.routed_lots: int = 0
        self.protected_key: int | None = None
        self.budget_bound: bool = False
        self.excluded: list[int] = []   # venues dropped because their child was below the partner's minimum

    def child_lots(self, index: int) -> int:
        return sum(q for _, q in self.children[index])

    def __repr__(self) -> str:
        return (f"Plan(home={self.home_lots}, children={self.children}, protected={self.protected_key}, "
                f"budget_bound={self.budget_bound}, excluded={self.excluded})")


def _plan_once(qty: int, taker_buys: bool, home: list[tuple[int, int]], venues: list[VenueSide],
               shared: Shared, no_trade_through: bool, user_taker_bps: int, budget: int, k: int,
               lot: int) -> Plan:
    plan = Plan()
    by_index = {v.index: v for v in venues}
    cum: dict[int, int] = {}
    cum_n: dict[int, int] = {}
    escrow: dict[int, int] = {}
    taken: dict[tuple[int, int], int] = {}
    home_spent = 0
    remaining = qty
    partner = _merged(venues, taker_buys)
    hkeys = [effective_key(p, user_taker_bps, taker_buys) for p, _ in home]
    hi = pi = 0
    while remaining > 0:
        use_home = False
        if hi < len(home):
            if no_trade_through:
                use_home = pi >= len(partner) or hkeys[hi] <= partner[pi][0]
            else:
                use_home = True
        elif pi >= len(partner):
            break
        if use_home:
            p, q = home[hi]
            hi += 1
            x = min(q, remaining)
            if budget >= 0:
                x = min(x, max_lots_for_cost(budget - home_spent - sum(escrow.values()), p * k,
                                             user_taker_bps))
            if x <= 0:
                plan.budget_bound = True
                break
            n = p * x * k
            home_spent += n + fee(n, user_taker_bps)
            plan.home_lots += x
            remaining -= x
            continue
        _, i, p, q = partner[pi]
        pi += 1
        v = by_index[i]
        c = cum.get(i, 0)
        x = min(q, remaining, v.room(p, c, cum_n.get(i, 0), taker_buys, k, lot),
                shared.room(p, taker_buys, k, lot))
        if budget >= 0 and x > 0:
            # The user's escrow for this child is re-priced at its new worst price.
            others = home_spent + sum(e for j, e in escrow.items() if j != i)
            x = min(x, max_lots_for_cost(budget - others, p * k, user_taker_bps) - c)
            if x < min(q, remaining):
                plan.budget_bound = True
        if x <= 0:
            if plan.budget_bound:
                break
            continue
        plan.children.setdefault(i, []).append((p, x))
        taken[(i, p)] = x
        cum[i] = c + x
        cum_n[i] = cum_n.get(i, 0) + p * x * k
        if budget >= 0:
            n = p * cum[i] * k
            escrow[i] = n + fee(n, user_taker_bps)
        shared.take(p, x, taker_buys, k, lot)
        plan.routed_lots += x
        remaining -= x
        if plan.budget_bound:
            break
    for key, i, p, q in partner:
        if taken.get((i, p), 0) < q:
            plan.protected_key = key
            break
    return plan


def plan(qty: int, taker_buys: bool, home: list[tuple[int, int]], venues: list[VenueSide],
         shared_factory: "SharedFactory", no_trade_through: bool, user_taker_bps: int, budget: int, k: int,
         lot: int) -> Plan:
    """Plan ``qty`` lots of a taker order.

    Args:
        qty: lots to place.
        taker_buys: the order buys (takes asks).
        home: home levels within the order's limit, best first, as (price, lots available to this order).
        venues: each routable partner's visible levels within the limit, best first, with its limits.
        shared_factory: builds a fresh :class:`Shared` (a plan that is redone starts from full capacity).
        no_trade_through: best price first (True) or home first (False), see the module docstring.
        user_taker_bps: the user's home taker fee.
        budget: the user's quote budget for a market buy (-1: not binding, checked by the caller).
        k, lot: the home instrument's quote units per tick x lot and base units per lot.

    Returns:
        The plan. A venue whose child would be below the partner's minimum quantity or notional is dropped
        and the rest re-planned without it (``Plan.excluded``). O(L log L) per round, at most one round per
        venue.
    """
    excluded: list[int] = []
    live = list(venues)
    while True:
        result = _plan_once(qty, taker_buys, home, live, shared_factory(), no_trade_through, user_taker_bps,
                            budget, k, lot)
        small = [i for i, levels in result.children.items()
                 if _too_small(next(v for v in live if v.index == i), levels, k)]
        if not small:
            result.excluded = excluded
            return result
        excluded.extend(small)
        live = [v for v in live if v.index not in small]


def _too_small(v: VenueSide, levels: list[tuple[int, int]], k: int) -> bool:
    lots = sum(q for _, q in levels)
    worst = levels[-1][0]
    return lots < v.min_lots or worst * lots * k < v.min_notional


class SharedFactory:
    """Makes fresh :class:`Shared` limits (a re-plan starts from full capacity)."""

    __slots__ = ("home_left", "inventory_room")

    def __init__(self, home_left: int, inventory_room: int = -1) -> None:
        self.home_left: int = home_left
        self.inventory_room: int = inventory_room

    def __call__(self) -> Shared:
        return Shared(self.home_left, self.inventory_room)
