"""Model A, mirrored partner depth + router (DESIGN.md §4, reference §4.1): :class:`MirroredVenue`.

The home venue's engine plus what it knows of its partners. It takes every engine command and every
liquidity command (:mod:`.commands`) and returns events, deterministically and without I/O:

- **Consolidated book.** Each PartnerQuote replaces that partner's snapshot of a symbol (converted to home
  units by :mod:`.units`, haircut, floored to lots). Fresh snapshots of routable partners are shown beside
  the home engine's own orders (:mod:`.consolidated`): ``depth``/``best_bid_ask`` and every ``BookUpdated``
  the hub emits describe that consolidated book; ``depth_by_venue`` breaks it down.
- **Routing.** A LIMIT (any time in force) or MARKET-by-quantity SubmitOrder that reaches a visible
  mirrored level is planned by :mod:`.router`: home levels and partner levels compared after fees, at most
  one IOC child per partner. The user's order goes to the engine with the routed quantity taken off (same
  price, time in force, client id and stp), so the engine takes exactly the home share and rests or
  expires the rest as the user asked; nothing goes to the engine when everything is routed. MARKET by
  quote and LIMIT_MAKER orders stay home. An order the engine would reject (symbol, account, spec, price,
  quantity, notional, halt, duplicate client id, funds for the whole order) goes to the engine unchanged
  and nothing is routed; so does one that meets its own resting order under EXPIRE_TAKER/EXPIRE_BOTH, a
  FOK the consolidated book cannot fill whole, and any order of the operator's own account.
- **Settlement.** Agency or principal, see :mod:`.mirrored_settle`. A child's failed lots follow
  ``stale_policy`` when the route's last child has reported: ``expire``; ``rest`` (a GTC order's rest
  rests at home at its limit: the home part's order grows by an amend if still open, else a new order
  with the user's client id; other orders expire); ``reroute`` (plan again over the current book without
  the venues that failed this order; what is not routed goes home: GTC rests, IOC/FOK fill what home has
  within the limit, MARKET takes home liquidity; RouteEnded says REROUTED, RESTED or EXPIRED).
- **Health** (:mod:`.mirrored_links`): the kill switch pulls a partner whose heartbeat is older than
  ``heartbeat_timeout_ns`` at any command (a PartnerStateChanged with reason HEARTBEAT_TIMEOUT every time
  it trips, even for a partner already unroutable); a stale feed pulls a snapshot; DOWN and DEFAULTED pull at
  once, DEFAULTED also books the exposure. Children already in flight are honoured as reported.
- **Not routed**: AmendOrder (an amend that crosses trades at home), and nothing the hub does actively:
  mirrored levels that cross each other (two partners' prices apart by more than their spreads) stay
  shown, so the consolidated book can be crossed between partners, as a consolidated quote can be.
- ``inventory_cap_lots`` 0 means no cap (as ``max_child_notional`` 0 does).

**no_trade_through** (on by default): a home fill is never worse after fees than a displayed partner level
the same order left untaken, because (1) the plan takes levels best first, and (2) what is displayed is
capped by what the hub can route (prefund, operator home balance, child notional cap, inventory cap), so
an order can always take a displayed level in full. Documented exceptions, all counted in
``stats()["trade_throughs"]``: a child below the partner's minimum quantity or notional is not sent (its
level is not protected, as odd lots under Reg NMS); two symbols drawing on one operator balance can shrink
each other's capacity after display; a market buy's leftover budget may buy at home after the plan ran out
of money at a partner level (the engine's fee rounding per trade is finer than the plan's); the home
remainder of a re-routed or rested order is a new home order at the user's limit. A home remainder below
the instrument's minimum quantity or notional is not placed: OrderRefused(HOME_REMAINDER_TOO_SMALL).
With the rule off the order fills at home first and only the rest is routed.

**Conservation.** Every move of funds is an engine Withdraw or Deposit the hub issues with the command's
``ts_ns`` (users see BalanceChanged). For every asset ``a``::

    engine.totals()[a] + escrow()[a] == external_net_deposits()[a]
    escrow()[a] == sum of the escrow of every child in flight == hub withdrawals - hub deposits of a

where ``external_net_deposits`` is what the shells deposited less what they withdrew (the engine's net
deposits with the hub's own moves taken out). Across venues (the tests check it with real partner engines),
home engine + escrow + partner engines hold exactly every deposit made anywhere. ``_check`` asserts the
home identities, the consolidated book against a recomputation, and the ledgers.

**Clock.** The hub's time is the largest ``ts_ns`` it has been given; time-driven changes (kill switch,
stale snapshots) happen at the first command past their deadline, before that command's own effect.
"""
from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any, Callable, Final, Iterable

from exchange.commands import COMMAND_TYPES, AmendOrder, Deposit, SubmitOrder, Withdraw, check_types
from exchange.engine import Depth, Engine, FeeTier
from exchange.enums import STP, OrderType, Side, TimeInForce
from exchange.events import BalanceChanged, BookUpdated, OrderAccepted, OrderAmended, TradeExecuted
from exchange.instruments import Instrument

from .engine_reads import EngineReads
from .commands import (ChildFilled, ChildRejected, PartnerHeartbeat, PartnerQuote, PartnerStatus, SettleDue,
                       SettlementDone, SettlementFailed)
from .config import ConfigError, SharingConfig
from .consolidated import SymbolBook
from .events import OrderRefused, RouteEnded
from .health import Health
from .mirrored_feed import (NEVER, advance, no_settlement, on_child_filled, on_child_rejected, on_heartbeat,
                            on_quote, on_status, on_tick)
from .mirrored_links import NO_TIME, PartnerLink
from .mirrored_plan import (can_fund, engine_would_accept, market_budget, order_ctx, own_opposite, plan_order,
                            protected_key, shared_limits, venue_sides)
from .mirrored_settle import Child, OrderCtx, Route, open_agency_child, principal_fill
from .router import Plan, display_walk, effective_key

__all__ = ["MirroredVenue"]

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_LIMIT: Final = OrderType.LIMIT
_MARKET: Final = OrderType.MARKET
_GTC: Final = TimeInForce.GTC
_IOC: Final = TimeInForce.IOC
_FOK: Final = TimeInForce.FOK
ALL_LEVELS: Final = 1 << 62
_ENGINE_TYPES: Final = frozenset(COMMAND_TYPES.values())
_EMPTY: Final[dict[int, int]] = {}   # "shows nothing"; never stored, never changed
_NOTHING_SHOWN: Final[list[dict[int, int]]] = []


class MirroredVenue(EngineReads):
    """The home venue under the mirrored model: an engine-like hub (see the module docstring).

    Args:
        instruments: the home venue's instruments.
        config: a ``SharingConfig`` with ``model == "mirrored"``; validated against ``instruments``.
        fee_tiers, default_stp, fee_account: as :class:`exchange.Engine`.

    Raises:
        ConfigError: the configuration is not a valid mirrored one.
    """

    def __init__(self, instruments: Iterable[Instrument], config: SharingConfig,
                 fee_tiers: dict[int, FeeTier] | None = None, default_stp: STP = STP.EXPIRE_MAKER,
                 fee_account: int = 0) -> None:
        self.engine: Engine = Engine(list(instruments), fee_tiers=fee_tiers, default_stp=default_stp,
                                     fee_account=fee_account)
        if config.model != "mirrored":
            raise ConfigError(f"MirroredVenue needs sharing.model = 'mirrored', got {config.model!r}")
        config.validate(self.engine.instruments)
        self.config: SharingConfig = config
        self.links: list[PartnerLink] = [PartnerLink(p, i, self.engine.instruments)
                                         for i, p in enumerate(config.partners)]
        self._link_by_name: dict[str, PartnerLink] = {link.name: link for link in self.links}
        self._books: dict[str, SymbolBook] = {s: SymbolBook(s) for s in self.engine.instruments}
        self._symbol_links: dict[str, list[PartnerLink]] = {
            s: [link for link in self.links if s in link.snaps] for s in self.engine.instruments}
        self._op: int = config.operator_account
        self._principal: bool = config.settlement == "principal"
        self._clock: int = NO_TIME
        self._deadline: int = NEVER
        self._children: dict[int, Child] = {}
        self._routes: dict[int, Route] = {}
        self._next_child: int = 1
        self._next_route: int = 1
        assets = list(self.engine.assets)
        self._escrow: dict[str, int] = {a: 0 for a in assets}
        self._hub_withdrawn: dict[str, int] = {a: 0 for a in assets}
        self._hub_deposited: dict[str, int] = {a: 0 for a in assets}
        # Operator position per symbol: [base ledger units, quote ledger units] from routed trades.
        self._position: dict[str, list[int]] = {s: [0, 0] for s in self.engine.instruments}
        # Principal hedges in flight per symbol: [base units being bought, base units being sold].
        self._hedging: dict[str, list[int]] = {s: [0, 0] for s in self.engine.instruments}
        self._stats: dict[str, int] = {k: 0 for k in (
            "considered_orders", "routed_orders", "home_fills", "home_fill_lots", "trade_throughs",
            "trade_through_lots", "trade_throughs_later", "hedge_failures", "hedge_failed_lots",
            "agency_shortfall_quote", "routes_ended")}
        self._refused: dict[str, int] = {}
        self._route_outcomes: dict[str, int] = {}
        self._exposure_booked: list[list] = []
        self._dirty: set[str] = set()
        self._passthrough: list[BookUpdated] = []
        self._handlers: dict[type, Callable[[Any], list]] = {
            PartnerQuote: partial(on_quote, self), PartnerHeartbeat: partial(on_heartbeat, self),
            PartnerStatus: partial(on_status, self), ChildFilled: partial(on_child_filled, self),
            ChildRejected: partial(on_child_rejected, self), SettleDue: partial(on_tick, self),
            SettlementDone: partial(no_settlement, self), SettlementFailed: partial(no_settlement, self),
        }

    # ================================================================== the entry point
    def handle(self, command: Any) -> list:
        """Apply one engine or liquidity command; return its events in order (engine events with
        BookUpdated describing the consolidated book, and liquidity events).

        Raises:
            TypeError: not a command, or a mistyped field (nothing changes).
            ValueError: a liquidity command naming an unknown venue, symbol or child, or reporting what
                the hub never asked (a shell's bug; nothing changes).
        """
        cls = command.__class__
        if cls is SubmitOrder:
            return self._on_submit(command)
        handler = self._handlers.get(cls)
        if handler is not None:
            return handler(command)
        if cls not in _ENGINE_TYPES:
            raise TypeError(f"not a command the mirrored venue takes: {command!r:.80}")
        ts = command[0]
        if type(ts) is int and ts > self._deadline:
            check_types(command)
            out: list = []
            advance(self, ts, out)
            self._call(command, out)
            self._operator_touched(command)
            self._tick(ts)
            return self._finish(ts, out)
        events = self.engine.handle(command)
        if ts > self._clock:
            self._clock = ts
        if cls is AmendOrder:
            self._count_fills(events)
        if command[1] == self._op:   # the account field (a symbol for Halt/Resume: never equal)
            self._operator_touched(command)
        return self._translate(events, ts)

    # ================================================================== engine plumbing
    def _translate(self, events: list, ts: int) -> list:
        """An engine call's events as the hub's: BookUpdated of active symbols absorbed and re-issued."""
        if not self._dirty:
            if not events:
                return events
            last = events[-1]
            if last.__class__ is not BookUpdated:
                return events
            if len(events) < 2 or events[-2].__class__ is not BookUpdated:
                # One symbol changed (most commands): no sorting of symbols, no lists to merge.
                sb = self._books[last.symbol]
                if not sb.active:
                    return events   # a passive symbol: the engine's book is the consolidated one
                events.pop()
                if sb.mirror_bids or sb.mirror_asks:
                    bu = sb.translate(last, self.engine.best_bid_ask)
                else:
                    bu = sb.reissue(last)
                if bu is not None:
                    events.append(bu)
                return events
        out: list = []
        for ev in events:
            if ev.__class__ is BookUpdated:
                self._absorb(ev)
            else:
                out.append(ev)
        return self._finish(ts, out)

    def _call(self, command: Any, out: list) -> list:
        """Apply an engine command; its events go to ``out`` except BookUpdated, which are absorbed."""
        events = self.engine.handle(command)
        for ev in events:
            cls = ev.__class__
            if cls is BookUpdated:
                self._absorb(ev)
                continue
            if cls is TradeExecuted:
                self._stats["home_fills"] += 1
                self._stats["home_fill_lots"] += ev.qty_lots
            out.append(ev)
        return events

    def _absorb(self, ev: BookUpdated) -> None:
        sb = self._books[ev.symbol]
        if sb.active:
            sb.absorb(ev.bids, ev.asks)
            self._dirty.add(ev.symbol)
        else:
            self._passthrough.append(ev)

    def _finish(self, ts: int, out: list) -> list:
        """Append the command's BookUpdated events (symbols in name order) and return ``out``."""
        if self._dirty or self._passthrough:
            seq = self.engine.last_seq
            waiting: dict[str, list[BookUpdated]] = {}
            for ev in self._passthrough:
                waiting.setdefault(ev.symbol, []).append(ev)
            for symbol in sorted(set(waiting) | self._dirty):
                out.extend(waiting.get(symbol, ()))
                if symbol in self._dirty:
                    sb = self._books[symbol]
                    bid, ask = self.engine.best_bid_ask(symbol)
                    sb.set_home_best(bid, ask)
                    bu = sb.flush(seq, ts)
                    if bu is not None:
                        out.append(bu)
            self._dirty.clear()
            self._passthrough = []
        return out

    def _count_fills(self, events: list) -> None:
        stats = self._stats
        for ev in events:
            if ev.__class__ is TradeExecuted:
                stats["home_fills"] += 1
                stats["home_fill_lots"] += ev.qty_lots

    def _move(self, ts: int, account: int, asset: str, amount: int, out: list) -> None:
        """Move funds between an engine account and the hub: ``amount`` > 0 deposits, < 0 withdraws."""
        if amount == 0:
            return
        if amount > 0:
            events = self.engine.handle(Deposit(ts, account, asset, amount))
            self._hub_deposited[asset] += amount
        else:
            events = self.engine.handle(Withdraw(ts, account, asset, -amount))
            self._hub_withdrawn[asset] -= amount
        ev = events[0]
        assert ev.__class__ is BalanceChanged, f"the hub's own move of {amount} {asset} for account " \
                                               f"{account} was refused: {ev}"
        out.append(ev)

    def _tick(self, ts: int) -> None:
        if ts > self._clock:
            self._clock = ts

    def _clock_at(self, ts: int) -> int:
        return ts if ts > self._clock else self._clock

    def _operator_touched(self, command: Any) -> None:
        """The operator's own commands change what the hub can route: show it."""
        if getattr(command, "account", None) == self._op and any(sb.active for sb in self._books.values()):
            self._refresh_all()

    # ================================================================== orders
    def _on_submit(self, cmd: SubmitOrder) -> list:
        ts = cmd.ts_ns
        out: list = []
        late = type(ts) is int and ts > self._deadline
        if late:
            check_types(cmd)
            advance(self, ts, out)
        sb = self._books.get(cmd.symbol) if type(cmd.symbol) is str else None
        if sb is not None and (sb.mirror_asks or sb.mirror_bids) and cmd.account != self._op and _reaches(sb, cmd):
            check_types(cmd)
            self._submit_with_mirror(cmd, sb, out)
        elif not late and not self._dirty:
            events = self.engine.handle(cmd)
            if ts > self._clock:
                self._clock = ts
            self._count_fills(events)
            if cmd.account == self._op:
                self._operator_touched(cmd)
            return self._translate(events, ts)
        else:
            self._call(cmd, out)
            self._operator_touched(cmd)
        self._tick(ts)
        return self._finish(ts, out)

    def _submit_with_mirror(self, cmd: SubmitOrder, sb: SymbolBook, out: list) -> None:
        """A user's LIMIT or MARKET order that reaches a visible mirrored level: route it, or pass it on
        unchanged (judging its home fills against the partner levels it could have had)."""
        buys = cmd.side == _BUY
        market = cmd.order_type == _MARKET
        routable = not market or (cmd.qty_lots > 0 and cmd.quote_qty == 0)
        limit = 0 if market else cmd.price_ticks
        self._stats["considered_orders"] += 1
        ctx = order_ctx(self, cmd) if routable else None
        if ctx is None or not engine_would_accept(self, cmd, ctx):
            self._plain(cmd, out, protected_key(self, sb.symbol, buys, limit, []), buys)
            return
        own = own_opposite(self, ctx)
        result = plan_order(self, ctx, cmd.qty_lots, [], own, market_budget(self, ctx))
        if result is None or result.routed_lots == 0 or (
                cmd.tif == _FOK and result.home_lots + result.routed_lots < cmd.qty_lots):
            self._plain(cmd, out, protected_key(self, sb.symbol, buys, limit, []), buys)
            return
        route = self._execute(ctx, result, [], cmd.ts_ns, out)
        rest = cmd.qty_lots - result.routed_lots
        if rest > 0:
            placed = self._place_home(cmd._replace(qty_lots=rest), ctx, rest, cmd.ts_ns, out, result.protected_key)
            if route is not None and placed:
                route.home_order_id = placed
        self._refresh_all()

    def _plain(self, cmd: SubmitOrder, out: list, protected: int | None, buys: bool) -> int:
        """Pass an order to the engine unchanged, judging its home fills against ``protected``."""
        events = self._call(cmd, out)
        return self._judge(events, protected, buys, cmd.account)

    def _judge(self, events: list, protected: int | None, buys: bool, account: int, later: bool = False) -> int:
        """Count the taker's home fills worse than the protected partner level (``later``: of an order the
        hub placed for a route's failed lots); return the order id."""
        order_id = 0
        taker_bps = 0
        for ev in events:
            cls = ev.__class__
            if cls is OrderAccepted:
                order_id = ev.order_id
                tier = self.engine.fee_tier(account)
                taker_bps = self.engine.fee_tiers[tier].taker_bps if tier is not None else 0
            elif cls is TradeExecuted and protected is not None and ev.taker_order_id == order_id:
                if effective_key(ev.price_ticks, taker_bps, buys) > protected:
                    self._stats["trade_throughs"] += 1
                    self._stats["trade_through_lots"] += ev.qty_lots
                    if later:
                        self._stats["trade_throughs_later"] += 1
        return order_id

    # ================================================================== planning

    # ================================================================== executing a plan
    def _execute(self, ctx: OrderCtx, result: Plan, excluded: list[str], ts: int, out: list) -> Route | None:
        """Send the plan's children (agency: escrow first; principal: fill the user at once). Returns the
        route (agency) or None (principal: its RouteEnded is emitted here)."""
        route_id = self._next_route
        self._next_route += 1
        self._stats["routed_orders"] += 1
        if self._principal:
            filled = 0
            for index, levels in sorted(result.children.items()):
                filled += principal_fill(self, ctx, route_id, self.links[index], levels, ts, out)
            out.append(RouteEnded(ts, ctx.account, ctx.symbol, ctx.cid, route_id, filled, 0, "FILLED"))
            self._count_outcome("FILLED")
            return None
        route = Route(route_id, ctx, list(excluded))
        self._routes[route_id] = route
        for index, levels in sorted(result.children.items()):
            open_agency_child(self, route, self.links[index], levels, ts, out)
        return route

    def _place_home(self, cmd: Any, ctx: OrderCtx, lots: int, ts: int, out: list,
                    protected: int | None, later: bool = False) -> int:
        """Give the engine the home part of an order (``cmd``: a SubmitOrder or AmendOrder); return the
        home order's id (0 if none). A part too small for the instrument is refused instead."""
        inst = self.engine.instruments[ctx.symbol]
        small = lots < inst.min_qty_lots or (ctx.order_type == _LIMIT
                                             and inst.notional(ctx.limit, lots) < inst.min_notional)
        if small and cmd.__class__ is SubmitOrder:
            self._refused["HOME_REMAINDER_TOO_SMALL"] = self._refused.get("HOME_REMAINDER_TOO_SMALL", 0) + 1
            out.append(OrderRefused(
                ts, ctx.account, ctx.symbol, ctx.cid, "HOME_REMAINDER_TOO_SMALL",
                f"{lots} lot(s) left for the home book after routing are below {ctx.symbol}'s minimum "
                f"({inst.min_qty_lots} lot(s), notional {inst.min_notional}); they were not placed: "
                "send a larger order or place the rest again"))
            return 0
        events = self._call(cmd, out)
        order_id = self._judge(events, protected, ctx.buys, ctx.account, later)
        if cmd.__class__ is AmendOrder:
            order_id = cmd.order_id if events and events[0].__class__ is OrderAmended else 0
        return order_id

    def _end_route(self, route: Route, ts: int, out: list) -> None:
        """The route's last child has reported: settle its failed lots by ``stale_policy``."""
        del self._routes[route.route_id]
        self._stats["routes_ended"] += 1
        ctx = route.ctx
        failed = route.failed
        policy = self.config.stale_policy
        gtc = ctx.order_type == _LIMIT and ctx.tif == _GTC
        tail: list = []
        outcome = "EXPIRED"
        if failed == 0:
            outcome = "FILLED"
        elif policy == "reroute" or (policy == "rest" and gtc):
            outcome = self._continue(route, failed, policy == "reroute", ts, tail)
        out.append(RouteEnded(ts, ctx.account, ctx.symbol, ctx.cid, route.route_id, route.filled, failed, outcome))
        self._count_outcome(outcome)
        out.extend(tail)

    def _continue(self, route: Route, lots: int, reroute: bool, ts: int, out: list) -> str:
        """Place a route's failed lots again (re-route) or at home (rest); return the RouteEnded outcome."""
        ctx = route.ctx
        inst = self.engine.instruments[ctx.symbol]
        routed = 0
        new: Route | None = None
        self._refresh_all()   # the reporting child released capacity
        protected = protected_key(self, ctx.symbol, ctx.buys, ctx.limit, route.excluded)
        if reroute and can_fund(self, ctx, lots, inst):
            result = plan_order(self, ctx, lots, route.excluded, own_opposite(self, ctx), market_budget(self, ctx))
            if result is not None and result.routed_lots > 0:
                new = self._execute(ctx, result, route.excluded, ts, out)
                routed = result.routed_lots
                protected = result.protected_key
                if new is not None:
                    new.home_order_id = route.home_order_id
                self._refresh_all()
        rest = lots - routed
        placed = False
        if rest > 0:
            if ctx.order_type == _LIMIT and ctx.tif == _GTC:
                view = self.engine.order(route.home_order_id, ctx.account) if route.home_order_id else None
                if view is not None:
                    cmd: Any = AmendOrder(ts, ctx.account, ctx.symbol, view.order_id, view.qty_lots + rest)
                else:
                    cmd = SubmitOrder(ts, ctx.account, ctx.symbol, ctx.side, _LIMIT, _GTC, ctx.limit, rest, 0,
                                      ctx.cid, ctx.stp)
            elif ctx.order_type == _LIMIT:
                cmd = SubmitOrder(ts, ctx.account, ctx.symbol, ctx.side, _LIMIT, _IOC, ctx.limit, rest, 0,
                                  ctx.cid, ctx.stp)
            else:
                cmd = SubmitOrder(ts, ctx.account, ctx.symbol, ctx.side, _MARKET, _IOC, 0, rest, 0, ctx.cid, ctx.stp)
            home_id = self._place_home(cmd, ctx, rest, ts, out, protected, True)
            placed = home_id != 0
            if new is not None and placed:
                new.home_order_id = home_id
        if routed:
            return "REROUTED"
        if placed:
            return "REROUTED" if reroute and not (ctx.order_type == _LIMIT and ctx.tif == _GTC) else "RESTED"
        return "EXPIRED"

    def _count_outcome(self, outcome: str) -> None:
        self._route_outcomes[outcome] = self._route_outcomes.get(outcome, 0) + 1

    def _operator_trade(self, symbol: str, base_units: int, quote_units: int) -> None:
        pos = self._position[symbol]
        pos[0] += base_units
        pos[1] += quote_units

    # ================================================================== the mirror
    def _refresh(self, symbol: str) -> None:
        """Recompute what the consolidated book shows of the partners for ``symbol``. Only the venues whose
        shown levels changed move the consolidated totals (a quote usually changes one venue's);
        O(venues) when routing capacity does not bind, else O(L log L) for the display walk."""
        sb = self._books[symbol]
        inst = self.engine.instruments[symbol]
        k, lot = inst.quote_units_per_tick_lot, inst.lot_units
        links = self._symbol_links[symbol]
        new_asks = new_bids = _NOTHING_SHOWN
        for buys in (True, False):
            venues = venue_sides(self, symbol, buys, 0, [], False)
            if venues:
                shown = display_walk(venues, shared_limits(self, symbol, buys)(), buys, k, lot)
                new = [shown.get(link.index, _EMPTY) for link in links]
            else:
                new = [_EMPTY] * len(links)
            if buys:
                new_asks = new
            else:
                new_bids = new
        if not sb.active:
            if not any(new_asks) and not any(new_bids):
                for link in links:   # a passive book shows nothing: nothing to move but empty dicts
                    snap = link.snaps[symbol]
                    snap.shown_asks = {}
                    snap.shown_bids = {}
                return
            bid, ask = self.engine.best_bid_ask(symbol)
            sb.activate(self.engine.depth(symbol, ALL_LEVELS), bid, ask)
        bid, ask = self.engine.best_bid_ask(symbol)
        sb.set_home_best(bid, ask)   # kept only while a mirror is shown; catch up before showing one
        for link, asks, bids in zip(links, new_asks, new_bids):
            snap = link.snaps[symbol]
            old = snap.shown_asks
            if asks is not old and asks != old:
                sb.shift_mirror(False, old, asks)
                snap.shown_asks = asks if asks is not _EMPTY else {}
            old = snap.shown_bids
            if bids is not old and bids != old:
                sb.shift_mirror(True, old, bids)
                snap.shown_bids = bids if bids is not _EMPTY else {}
        self._dirty.add(symbol)

    def _refresh_all(self) -> None:
        for symbol, links in self._symbol_links.items():
            if links and (self._books[symbol].active or any(link.shows(link.snaps[symbol]) for link in links)):
                self._refresh(symbol)

    # ================================================================== liquidity commands

    def _link(self, venue: str) -> PartnerLink:
        link = self._link_by_name.get(venue)
        if link is None:
            raise ValueError(f"unknown partner venue {venue!r}; partners: {sorted(self._link_by_name)}")
        return link

    # ================================================================== health

    # ================================================================== reads
    @property
    def instruments(self) -> dict[str, Instrument]:
        return self.engine.instruments

    @property
    def assets(self) -> dict[str, int]:
        return self.engine.assets

    @property
    def fee_tiers(self) -> dict[int, FeeTier]:
        return self.engine.fee_tiers

    @property
    def default_stp(self) -> STP:
        return self.engine.default_stp

    @property
    def fee_account(self) -> int:
        return self.engine.fee_account

    def depth(self, symbol: str, limit: int = 100) -> Depth:
        """The consolidated book's top ``limit`` levels per side."""
        sb = self._books.get(symbol)
        if sb is None or not sb.active:
            return self.engine.depth(symbol, limit)
        return sb.depth(limit)

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        """The consolidated best bid and ask (what home users see)."""
        sb = self._books.get(symbol)
        if sb is None or not sb.has_mirror():
            return self.engine.best_bid_ask(symbol)
        return sb.best()

    def depth_by_venue(self, symbol: str) -> dict[str, Depth]:
        """The consolidated book broken down by venue: ``{home: engine levels, partner: shown levels}``
        (partners showing nothing are absent); update ids are the consolidated book's."""
        sb = self._books.get(symbol)
        if sb is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        home = self.engine.depth(symbol, ALL_LEVELS)
        uid = sb.update_id if sb.active else home.update_id
        out = {self.config.home: Depth(uid, home.bids, home.asks)}
        for link in self._symbol_links[symbol]:
            snap = link.snaps[symbol]
            bids = sorted(((p, q) for p, q in snap.shown_bids.items() if sb.visible_bid(p)), reverse=True)
            asks = sorted((p, q) for p, q in snap.shown_asks.items() if sb.visible_ask(p))
            if bids or asks:
                out[link.name] = Depth(uid, bids, asks)
        return out

    def external_net_deposits(self) -> dict[str, int]:
        """What the shells deposited less what they withdrew, per asset (the hub's own moves excluded)."""
        net = self.engine.net_deposits()
        return {a: net[a] + self._hub_withdrawn[a] - self._hub_deposited[a] for a in net}

    def escrow(self) -> dict[str, int]:
        """Assets the hub holds outside engine balances (agency children in flight), per asset."""
        return dict(self._escrow)

    def health(self, venue: str) -> tuple[Health, bool]:
        """A partner's (health, routable) as last reported."""
        link = self._link(venue)
        return link.health, link.routable

    def stats(self) -> dict:
        from .mirrored_report import stats
        return stats(self)

    def state(self) -> dict:
        from .mirrored_report import state
        return state(self)

    def state_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.state(), sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def _check(self) -> None:
        from .mirrored_report import check
        check(self)


def _reaches(sb: SymbolBook, cmd: SubmitOrder) -> bool:
    """Whether a LIMIT or MARKET order reaches a visible mirrored level of ``sb`` (LIMIT_MAKER never
    takes, so it never routes nor trades through). Cheap: two bisections."""
    otype = cmd.order_type
    if otype == _LIMIT:
        limit = cmd.price_ticks
    elif otype == _MARKET:
        limit = 0
    else:
        return False
    side = cmd.side
    if side == _BUY:
        best = sb.best_mirror_ask()
        return best != 0 and (limit == 0 or best <= limit)
    if side == _SELL:
        best = sb.best_mirror_bid()
        return best != 0 and (limit == 0 or best >= limit)
    return False
