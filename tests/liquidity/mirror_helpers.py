"""A small shell for the mirrored hub's tests: the home :class:`MirroredVenue` plus real partner
:class:`exchange.Engine` venues, played the way ``sim/liquidity`` plays them (LIQ.md "Architecture").

- every command given to the hub is recorded (``World.log``) and the hub's ``_check()`` runs after it;
- a ChildRouted is delivered to its partner after ``order_delay_ns`` as an IOC SubmitOrder for the
  operator's account there; the partner's answer comes back at once as ChildFilled / ChildRejected (so
  partner commands in between, e.g. a maker's cancel, make a stale quote fail);
- ``quote(venue)`` sends a PartnerQuote of the partner's current depth, ``heartbeat(venue)`` a heartbeat;
- ``conservation()`` sums every asset over the home engine, the hub's escrow and the partner engines
  against every deposit made anywhere.

Units chosen to read easily: home BTC-USDT has tick 1 USDT and lot 0.01 BTC (1 tick x 1 lot = 100 USDT
ledger units); ``alpha`` lists it the same way, ``beta`` with tick 0.5 and lot 0.001 (2 partner ticks per
home tick, 10 partner lots per home lot).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exchange import (Asset, Deposit, Engine, FeeTier, Instrument, OrderAccepted, OrderRejected, OrderType,
                      Side, STP, SubmitOrder, TimeInForce, TradeExecuted)
from exchange.liquidity import (ChildFilled, ChildRejected, ChildRouted, PartnerHeartbeat, PartnerQuote,
                                PartnerSpec, PartnerStatus, SharingConfig)
from exchange.liquidity.mirrored import MirroredVenue

SYMBOL = "BTC-USDT"
BTC, USDT = Asset("BTC", 6), Asset("USDT", 4)
OPERATOR = 900
FEE_ACCOUNT = 0
MS = 1_000_000
HOME_FEES = {0: FeeTier(maker_bps=10, taker_bps=20), 1: FeeTier(maker_bps=0, taker_bps=0)}
PARTNER_FEES = {"alpha": (5, 10), "beta": (10, 30)}   # (maker, taker) bps


def home_instrument(**kw: Any) -> Instrument:
    return Instrument.define(SYMBOL, BTC, USDT, tick_size="1", lot_size="0.01", **kw)


def partner_instrument(venue: str) -> Instrument:
    if venue == "beta":
        return Instrument.define(SYMBOL, BTC, USDT, tick_size="0.5", lot_size="0.001")
    return Instrument.define(SYMBOL, BTC, USDT, tick_size="1", lot_size="0.01")


def btc(lots_home: int) -> int:
    """Base ledger units of ``lots_home`` home lots."""
    return lots_home * 10_000


@dataclass
class World:
    """The hub and its partners (see the module docstring)."""

    venues: tuple[str, ...] = ("alpha", "beta")
    settlement: str = "agency"
    stale_policy: str = "reroute"
    no_trade_through: bool = True
    haircut_bps: int = 10_000
    prefund_btc: int = btc(1000)
    prefund_usdt: int = 10**12
    operator_btc: int = btc(1000)
    operator_usdt: int = 10**12
    max_child_notional: int = 0
    inventory_cap_lots: int = 0
    quote_max_age_ns: int = 2_000 * MS
    heartbeat_timeout_ns: int = 3_000 * MS
    order_delay_ns: int = 50 * MS
    home_kw: dict = field(default_factory=dict)
    check: bool = True

    def __post_init__(self) -> None:
        self.home_inst = home_instrument(**self.home_kw)
        specs = []
        self.partners: dict[str, Engine] = {}
        for name in self.venues:
            maker, taker = PARTNER_FEES[name]
            inst = partner_instrument(name)
            specs.append(PartnerSpec(name, {SYMBOL: inst}, taker_bps=taker, maker_bps=maker,
                                     operator_account=OPERATOR,
                                     prefund={"BTC": self.prefund_btc, "USDT": self.prefund_usdt}))
            self.partners[name] = Engine([inst], fee_tiers={0: FeeTier(maker, taker)}, default_stp=STP.NONE)
        self.config = SharingConfig(
            model="mirrored", home="home", partners=tuple(specs), haircut_bps=self.haircut_bps,
            no_trade_through=self.no_trade_through, stale_policy=self.stale_policy, settlement=self.settlement,
            operator_account=OPERATOR, max_child_notional=self.max_child_notional,
            inventory_cap_lots=self.inventory_cap_lots, quote_max_age_ns=self.quote_max_age_ns,
            heartbeat_timeout_ns=self.heartbeat_timeout_ns)
        self.hub = MirroredVenue([self.home_inst], self.config, fee_tiers=HOME_FEES, fee_account=FEE_ACCOUNT)
        self.now = 0
        self.log: list[Any] = []            # every command the hub was given, in order
        self.events: list[Any] = []         # every event the hub returned, in order
        self.pending: list[tuple[int, ChildRouted]] = []   # children in flight: (arrival time, intent)
        self.down: set[str] = set()         # partners that reject every child (VENUE_DOWN)
        self.deposits: dict[str, int] = {"BTC": 0, "USDT": 0}
        self.partner_cid = 0
        self.on_send: Any = None           # called with (command, events) after every hub command
        if self.operator_btc:
            self.home_deposit(OPERATOR, "BTC", self.operator_btc)
        if self.operator_usdt:
            self.home_deposit(OPERATOR, "USDT", self.operator_usdt)
        for name in self.venues:
            self.partner_deposit(name, OPERATOR, "BTC", self.prefund_btc)
            self.partner_deposit(name, OPERATOR, "USDT", self.prefund_usdt)

    # ---------------------------------------------------------------- time and commands
    def tick(self, ns: int = MS) -> int:
        self.now += ns
        return self.now

    def send(self, command: Any) -> list:
        """Give the hub a command (recorded), check its invariants, queue the children it routes."""
        self.log.append(command)
        events = self.hub.handle(command)
        self.events.extend(events)
        if self.check:
            self.hub._check()
        for ev in events:
            if isinstance(ev, ChildRouted):
                self.pending.append((ev.ts_ns + self.order_delay_ns, ev))
        if self.on_send is not None:
            self.on_send(command, events)
        return events

    def home_deposit(self, account: int, asset: str, amount: int) -> list:
        self.deposits[asset] += amount
        return self.send(Deposit(self.now, account, asset, amount))

    def partner_deposit(self, venue: str, account: int, asset: str, amount: int) -> list:
        self.deposits[asset] += amount
        return self.partner(venue, Deposit(self.now, account, asset, amount))

    def partner(self, venue: str, command: Any) -> list:
        events = self.partners[venue].handle(command)
        if self.check:
            self.partners[venue]._check()
        return events

    def order(self, account: int, side: Side, price: int, lots: int, tif: TimeInForce = TimeInForce.GTC,
              cid: str = "", order_type: OrderType = OrderType.LIMIT, **kw: Any) -> list:
        """A home order at the current time (``price`` 0 for MARKET)."""
        return self.send(SubmitOrder(self.now, account, SYMBOL, side, order_type, tif, price, lots,
                                     client_order_id=cid, **kw))

    def market(self, account: int, side: Side, lots: int, cid: str = "") -> list:
        return self.order(account, side, 0, lots, TimeInForce.IOC, cid, OrderType.MARKET)

    def maker(self, venue: str, account: int, side: Side, partner_price: int, partner_lots: int) -> list:
        """A resting order at a partner (funded on the spot)."""
        if account not in self.partners[venue].accounts():
            self.partner_deposit(venue, account, "BTC", 10**12)
            self.partner_deposit(venue, account, "USDT", 10**14)
        return self.partner(venue, SubmitOrder(self.now, account, SYMBOL, side, OrderType.LIMIT, TimeInForce.GTC,
                                               partner_price, partner_lots))

    def quote(self, venue: str, venue_ts: int | None = None, levels: int = 20) -> list:
        depth = self.partners[venue].depth(SYMBOL, levels)
        ts = self.now if venue_ts is None else venue_ts
        return self.send(PartnerQuote(self.now, venue, SYMBOL, ts, tuple(map(tuple, depth.bids)),
                                      tuple(map(tuple, depth.asks))))

    def heartbeat(self, venue: str) -> list:
        return self.send(PartnerHeartbeat(self.now, venue, self.now))

    def status(self, venue: str, health: Any, reason: str = "") -> list:
        return self.send(PartnerStatus(self.now, venue, health, reason))

    def connect(self) -> None:
        """Heartbeats and quotes from every partner now."""
        for v in self.venues:
            self.heartbeat(v)
            self.quote(v)

    # ---------------------------------------------------------------- children
    def deliver(self, until: int | None = None) -> list:
        """Carry out every child due by ``until`` (default: all of them), in arrival order; the clock moves
        to each arrival. Returns the hub's events."""
        out: list = []
        while self.pending:
            self.pending.sort(key=lambda item: (item[0], item[1].child_id))
            due, child = self.pending[0]
            if until is not None and due > until:
                break
            self.pending.pop(0)
            self.now = max(self.now, due)
            out += self.send(self.execute_child(child))
        return out

    def execute_child(self, child: ChildRouted) -> Any:
        """The partner's answer to a child, as the shell would report it."""
        if child.venue in self.down:
            return ChildRejected(self.now, child.venue, child.child_id, "VENUE_DOWN")
        self.partner_cid += 1
        events = self.partner(child.venue, SubmitOrder(
            self.now, child.partner_account, child.symbol, child.side, OrderType.LIMIT, TimeInForce.IOC,
            child.partner_price_ticks, child.partner_qty_lots, client_order_id=f"child{child.child_id}",
            stp=STP.NONE))
        first = events[0]
        if isinstance(first, OrderRejected):
            return ChildRejected(self.now, child.venue, child.child_id, first.reason.name)
        assert isinstance(first, OrderAccepted)
        fills = [e for e in events if isinstance(e, TradeExecuted) and e.taker_order_id == first.order_id]
        filled = sum(e.qty_lots for e in fills)
        if not filled:
            return ChildRejected(self.now, child.venue, child.child_id, "IOC_REMAINDER")
        return ChildFilled(self.now, child.venue, child.child_id, filled, sum(e.quote_amount for e in fills),
                           sum(e.taker_fee for e in fills), child.partner_qty_lots - filled)

    # ---------------------------------------------------------------- checks
    def conservation(self) -> dict[str, tuple[int, int]]:
        """asset -> (held everywhere: home engine + escrow + partner engines, deposited anywhere)."""
        escrow = self.hub.escrow()
        out = {}
        for asset, deposited in self.deposits.items():
            held = self.hub.totals()[asset] + escrow[asset]
            held += sum(e.totals()[asset] for e in self.partners.values())
            out[asset] = (held, deposited)
        return out

    def children(self, events: list) -> list[ChildRouted]:
        return [e for e in events if isinstance(e, ChildRouted)]

    def of(self, events: list, cls: type) -> list:
        return [e for e in events if isinstance(e, cls)]


class BookFeed:
    """A consumer of the hub's BookUpdated events: folds them into an L2 book, asserting gap-free update
    ids and that a level reported gone existed. ``book()`` is (bids best first, asks best first)."""

    def __init__(self) -> None:
        self.update_id = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def feed(self, events: list) -> None:
        from exchange import BookUpdated
        for ev in events:
            if not isinstance(ev, BookUpdated):
                continue
            assert ev.update_id == self.update_id + 1, f"update id jumped from {self.update_id} to {ev.update_id}"
            self.update_id = ev.update_id
            for levels, side in ((ev.bids, self.bids), (ev.asks, self.asks)):
                for p, q in levels:
                    if q:
                        assert side.get(p) != q, f"level {p} reported unchanged at {q}"
                        side[p] = q
                    else:
                        assert p in side, f"level {p} reported gone but was never shown"
                        del side[p]

    def book(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())
