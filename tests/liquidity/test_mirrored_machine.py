"""MirroredVenue under random flow: a hypothesis state machine with real partner engines (mirror_helpers).

Random home orders (limit GTC/IOC/FOK, market), partner makers, cancels and takers, quote refreshes with a
feed lag, heartbeats, time jumps (including exactly to a kill-switch deadline), announced health changes
and children delivered after their order latency. After every step:

- the hub's ``_check()`` (World.send) and conservation across venues: home engine + escrow + partner
  engines hold every deposit made anywhere;
- the partners' health and routability equal a model of the rules (announcement, heartbeat age, feed age);
  every child went to a partner routable when it was sent;
- no trade-through (rule on): every home fill of a user's order is no worse after fees than every
  displayed partner level, within the order's limit, that the same order did not take in full (with the
  rule off the hub's ``trade_throughs`` counter equals the count made here);
- principal: the operator's inventory stays within the cap.

At the end every child is delivered: no escrow and no route is left; and the recorded commands, encoded
and decoded by the journal codec, replay into a fresh hub with the same events and state hash.
"""
from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange import (CancelOrder, OrderAccepted, OrderType, SetFeeTier, Side, SubmitOrder, TimeInForce,
                      TradeExecuted)
from exchange.journal.codec import decode, encode
from exchange.liquidity import ChildRouted, Health, RouteEnded, SettleDue
from exchange.liquidity.mirrored import MirroredVenue
from exchange.liquidity.router import effective_key
from mirror_helpers import FEE_ACCOUNT, HOME_FEES, MS, PARTNER_FEES, SYMBOL, World, btc, home_instrument

USERS = (1, 2, 3, 4)
MAKERS = (11, 12)
TAKER = 21
LOT_RATIO = {"alpha": 1, "beta": 10}
TICK_RATIO = {"alpha": 1, "beta": 2}
prices = st.integers(990, 1010)
lots = st.integers(1, 6)
sides = st.sampled_from([Side.BUY, Side.SELL])
venue_names = st.sampled_from(["alpha", "beta"])


class MirrorMachine(RuleBasedStateMachine):
    settlement = "agency"
    stale_policy = "reroute"
    no_trade_through = True
    inventory_cap_lots = 0
    prefund_btc = btc(40)
    prefund_usdt = 400_000_00     # about 40 lots' worth at 1000: capacity binds now and then

    def __init__(self) -> None:
        super().__init__()
        self.w = World(settlement=self.settlement, stale_policy=self.stale_policy,
                       no_trade_through=self.no_trade_through, inventory_cap_lots=self.inventory_cap_lots,
                       prefund_btc=self.prefund_btc, prefund_usdt=self.prefund_usdt, operator_btc=btc(60),
                       operator_usdt=600_000_00, order_delay_ns=40 * MS)
        for a in USERS:
            self.w.home_deposit(a, "USDT", 10**12)
            self.w.home_deposit(a, "BTC", btc(100_000))
        self.w.send(SetFeeTier(self.w.now, 4, 1))   # one user trades without a home fee
        self.announced = {v: Health.UP for v in self.w.venues}
        self.last_hb: dict[str, int | None] = {v: None for v in self.w.venues}
        self.snap_ts: dict[str, int | None] = {v: None for v in self.w.venues}
        self.checked = 0
        self.throughs = 0
        self.route_kind: dict[int, str] = {}
        self.failures_handled = 0
        self.kind = ""
        self.w.on_send = self.follow

    # ---------------------------------------------------------------- the model of partner health
    def model(self, venue: str, t: int) -> tuple[Health, bool]:
        a = self.announced[venue]
        if a != Health.UP:
            return a, False
        snap = self.snap_ts[venue]
        if snap is not None and t > snap + self.w.quote_max_age_ns:
            return Health.STALE, False
        hb = self.last_hb[venue]
        return Health.UP, hb is not None and t <= hb + self.w.heartbeat_timeout_ns

    def send(self, command, kind: str = "") -> list:
        self.kind = kind
        try:
            return self.w.send(command)
        finally:
            self.kind = ""

    def follow(self, command, events) -> None:
        """World.on_send: check what a command's events say about routing: children only to routable
        partners, and each route's end as the stale policy says (``self.kind``: the user's order type)."""
        kind = self.kind
        t = max(self.w.now, command.ts_ns)
        rerouted_kind = ""
        for ev in events:
            if isinstance(ev, ChildRouted):
                assert self.model(ev.venue, t)[1], f"child {ev.child_id} sent to {ev.venue}, not routable at {t}"
                if ev.parent:
                    self.route_kind.setdefault(ev.parent, kind or rerouted_kind)
            elif isinstance(ev, RouteEnded):
                self.check_route_end(ev)
                if ev.outcome == "REROUTED":
                    rerouted_kind = self.route_kind[ev.route_id]

    def check_route_end(self, ev) -> None:
        assert (ev.outcome == "FILLED") == (ev.remaining_lots == 0), ev
        if ev.outcome == "FILLED":
            return
        assert self.settlement == "agency", f"a principal route ends filled at once: {ev}"
        gtc = self.route_kind[ev.route_id] == "gtc"
        expected = {"expire": {"EXPIRED"}, "rest": {"RESTED"} if gtc else {"EXPIRED"},
                    "reroute": {"REROUTED", "RESTED"} if gtc else {"REROUTED"}}[self.stale_policy]
        assert ev.outcome in expected, f"{self.stale_policy}: {ev} ({self.route_kind[ev.route_id]})"
        self.failures_handled += 1

    # ---------------------------------------------------------------- home flow
    @initialize()
    def connect(self):
        """Partners quote a few levels each side and send heartbeats: the usual state of a run."""
        for venue in self.w.venues:
            for i, maker in enumerate(MAKERS):
                for side, price in ((Side.SELL, 1001 + 2 * i), (Side.BUY, 999 - 2 * i)):
                    self.partner_maker(venue, maker, side, price, 3)
            self.refresh(venue, 0)

    @rule(account=st.sampled_from(USERS), side=sides, price=prices, qty=lots,
          kind=st.sampled_from(["gtc", "gtc", "ioc", "fok", "market"]))
    def home_order(self, account, side, price, qty, kind):
        self.place(account, side, price, qty, kind)

    @rule(account=st.sampled_from(USERS), side=sides, reach=st.integers(0, 3), qty=st.integers(1, 12),
          kind=st.sampled_from(["gtc", "ioc", "ioc", "fok", "market"]))
    def home_taker(self, account, side, reach, qty, kind):
        """An order priced through the consolidated book's best opposite price: the router's work."""
        bid, ask = self.w.hub.best_bid_ask(SYMBOL)
        best = ask if side == Side.BUY else bid
        if best is None:
            best = 1000
        self.place(account, side, best + reach if side == Side.BUY else best - reach, qty, kind)

    @rule(account=st.sampled_from(USERS), side=sides, away=st.integers(0, 4), inside=st.booleans(), qty=lots)
    def home_maker(self, account, side, away, inside, qty):
        """A passive home order inside the consolidated spread or behind the touch (it crosses nothing)."""
        bid, ask = self.w.hub.best_bid_ask(SYMBOL)
        if side == Side.BUY:
            if inside:
                price = (ask - 1 - away) if ask is not None else 995 - away
            else:
                price = (bid if bid is not None else 995) - away
        else:
            if inside:
                price = (bid + 1 + away) if bid is not None else 1005 + away
            else:
                price = (ask if ask is not None else 1005) + away
        self.place(account, side, price, qty, "gtc")

    def place(self, account, side, price, qty, kind):
        w = self.w
        w.tick(MS)
        self.send(SettleDue(w.now))        # time-driven changes first, so the view below is the router's
        shown = {v: d for v, d in w.hub.depth_by_venue(SYMBOL).items() if v != "home"}
        if kind == "market":
            cmd = SubmitOrder(w.now, account, SYMBOL, side, OrderType.MARKET, TimeInForce.IOC, 0, qty)
        else:
            tif = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}[kind]
            cmd = SubmitOrder(w.now, account, SYMBOL, side, OrderType.LIMIT, tif, price, qty)
        events = self.send(cmd, kind)
        self.judge(cmd, events, shown)

    def judge(self, cmd, events, shown) -> None:
        """No home fill of ``cmd`` worse after fees than a displayed partner level it left (partly) untaken."""
        buys = cmd.side == Side.BUY
        limit = cmd.price_ticks
        taken = {}
        for ev in events:
            if isinstance(ev, ChildRouted):
                taken[ev.venue] = taken.get(ev.venue, 0) + ev.partner_qty_lots // LOT_RATIO[ev.venue]
        protected = None
        for venue, depth in shown.items():
            left = taken.get(venue, 0)
            for p, q in (depth.asks if buys else depth.bids):
                if limit and (p > limit if buys else p < limit):
                    break
                if left >= q:
                    left -= q
                    continue
                key = effective_key(p, PARTNER_FEES[venue][1], buys)
                protected = key if protected is None else min(protected, key)
                break
        accepted = [e for e in events if isinstance(e, OrderAccepted) and e.account == cmd.account]
        if protected is None or not accepted:
            return
        taker_bps = HOME_FEES[self.w.hub.fee_tier(cmd.account)].taker_bps
        for ev in events:
            if isinstance(ev, TradeExecuted) and ev.taker_order_id == accepted[0].order_id:
                self.checked += 1
                if effective_key(ev.price_ticks, taker_bps, buys) > protected:
                    assert not self.no_trade_through, f"trade-through: {ev} worse than {protected}"
                    self.throughs += 1

    @rule(account=st.sampled_from(USERS))
    def home_cancel(self, account):
        orders = self.w.hub.open_orders(account)
        if orders:
            self.send(CancelOrder(self.w.tick(), account, SYMBOL, orders[0].order_id))

    # ---------------------------------------------------------------- partners
    @rule(venue=venue_names, maker=st.sampled_from(MAKERS), side=sides, price=prices, qty=lots)
    def partner_maker(self, venue, maker, side, price, qty):
        self.w.maker(venue, maker, side, price * TICK_RATIO[venue], qty * LOT_RATIO[venue] + (venue == "beta") * 3)

    @rule(venue=venue_names, which=st.integers(0, 50))
    def partner_cancel(self, venue, which):
        orders = [o for m in MAKERS for o in self.w.partners[venue].open_orders(m)]
        if orders:
            o = orders[which % len(orders)]
            self.w.partner(venue, CancelOrder(self.w.now, o.account, SYMBOL, o.order_id))

    @rule(venue=venue_names, side=sides, qty=lots)
    def partner_taker(self, venue, side, qty):
        if TAKER not in self.w.partners[venue].accounts():
            self.w.partner_deposit(venue, TAKER, "BTC", 10**12)
            self.w.partner_deposit(venue, TAKER, "USDT", 10**14)
        self.w.partner(venue, SubmitOrder(self.w.now, TAKER, SYMBOL, side, OrderType.MARKET, TimeInForce.IOC, 0,
                                          qty * LOT_RATIO[venue]))

    @rule(venue=venue_names, lag=st.integers(0, 60))
    def refresh(self, venue, lag):
        """What a link does all the time: a heartbeat and a depth snapshot taken ``lag`` ms ago."""
        self.heartbeat(venue)
        self.quote(venue, lag)

    @rule(venue=venue_names, lag=st.integers(0, 300))
    def quote(self, venue, lag):
        w = self.w
        w.tick(MS)
        venue_ts = w.now - lag * MS
        w.quote(venue, venue_ts=venue_ts)
        if self.snap_ts[venue] is None or venue_ts >= self.snap_ts[venue]:
            self.snap_ts[venue] = venue_ts

    @rule(venue=venue_names)
    def heartbeat(self, venue):
        self.w.tick(MS)
        self.w.heartbeat(venue)
        self.last_hb[venue] = self.w.now

    @rule(venue=venue_names, health=st.sampled_from([Health.UP] * 4 + [Health.DOWN, Health.STALE,
                                                                          Health.DEFAULTED]),
          dice=st.integers(0, 3))
    def status(self, venue, health, dice):
        if health == Health.DEFAULTED and (dice or any(a == Health.DEFAULTED for a in self.announced.values())):
            return   # defaults are rare, one per run at most: the other partner stays in play
        self.w.tick(MS)
        self.w.status(venue, health)
        if self.announced[venue] != Health.DEFAULTED:
            self.announced[venue] = health
        if health == Health.DOWN:
            self.w.down.add(venue)
        elif health == Health.UP and self.announced[venue] == Health.UP:
            self.w.down.discard(venue)

    # ---------------------------------------------------------------- time
    @rule(ms=st.sampled_from([1, 30, 200, 900, 2_500]))
    def wait(self, ms):
        self.w.tick(ms * MS)
        self.send(SettleDue(self.w.now))

    @precondition(lambda self: any(t is not None for t in self.last_hb.values()))
    @rule(venue=venue_names)
    def to_the_kill_switch_deadline(self, venue):
        hb = self.last_hb[venue]
        if hb is None:
            return
        deadline = hb + self.w.heartbeat_timeout_ns
        for t in (deadline, deadline + 1):
            if t > self.w.now:
                self.w.now = t
                self.send(SettleDue(t))

    @rule(ms=st.sampled_from([0, 40, 40, 100]))
    def deliver(self, ms):
        self.w.tick(ms * MS)
        self.w.deliver(until=self.w.now)

    # ---------------------------------------------------------------- invariants
    @invariant()
    def venues_conserve_every_asset(self):
        for asset, (held, deposited) in self.w.conservation().items():
            assert held == deposited, f"{asset}: {held} held across venues, {deposited} deposited"

    @invariant()
    def health_follows_the_rules(self):
        t = self.w.hub._clock
        for v in self.w.venues:
            assert self.w.hub.health(v) == self.model(v, t), (v, t, self.w.hub.health(v), self.model(v, t))

    @invariant()
    def inventory_within_cap(self):
        if self.settlement == "principal" and self.inventory_cap_lots:
            inv = self.w.hub.stats()["operator"][SYMBOL]["inventory_units"]
            assert abs(inv) <= btc(self.inventory_cap_lots), inv

    @invariant()
    def trade_through_counter_agrees(self):
        stats = self.w.hub.stats()
        assert stats["trade_throughs"] - stats["trade_throughs_later"] == self.throughs

    def teardown(self):
        w = self.w
        w.deliver()
        self.venues_conserve_every_asset()
        assert w.hub.escrow() == {"BTC": 0, "USDT": 0} and w.hub.stats()["routes_open"] == 0
        assert w.hub.stats()["children_in_flight"] == 0
        replay = MirroredVenue([home_instrument()], w.config, fee_tiers=HOME_FEES, fee_account=FEE_ACCOUNT)
        events = []
        for cmd in w.log:
            events += replay.handle(decode(encode(cmd)))
        assert events == w.events and replay.state_hash() == w.hub.state_hash()


# A sixth of the active profile's examples per machine (default 300 -> 50; ci-heavy and soak scale up).
SETTINGS = settings(max_examples=max(10, settings.default.max_examples // 6), stateful_step_count=50)


class RerouteMachine(MirrorMachine):
    pass


class RestMachine(MirrorMachine):
    stale_policy = "rest"


class ExpireMachine(MirrorMachine):
    stale_policy = "expire"


class PrincipalMachine(MirrorMachine):
    settlement = "principal"
    inventory_cap_lots = 12


class NoRuleMachine(MirrorMachine):
    no_trade_through = False


TestReroute = RerouteMachine.TestCase
TestRest = RestMachine.TestCase
TestExpire = ExpireMachine.TestCase
TestPrincipal = PrincipalMachine.TestCase
TestNoTradeThroughRule = NoRuleMachine.TestCase
TestReroute.settings = TestRest.settings = TestExpire.settings = SETTINGS
TestPrincipal.settings = TestNoTradeThroughRule.settings = SETTINGS
