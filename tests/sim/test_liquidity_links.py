"""The shell between a home hub and its partners, against a stand-in hub (the real hubs have their own
tests): quotes and heartbeats flow with the link's latency, children are carried to the partner's current
book and reported back, settlements land after the transfer delay, and the schedule's stale / down /
default / latency entries do what they say."""
from __future__ import annotations

import tomllib

import pytest

from exchange import Engine, OrderType, Side, SubmitOrder
from exchange.liquidity.commands import (ChildFilled, ChildRejected, PartnerHeartbeat, PartnerQuote, PartnerStatus,
                                         SettleDue, SettlementDone, SettlementFailed)
from exchange.liquidity.events import ChildRouted, SettlementStarted
from exchange.liquidity.health import Health
from sim.build import Simulation
from sim.liquidity.spec import VENUE_SPAN
from sim.scenario import NS, parse_scenario

SCENARIO = '''
[run]
name = "links"
duration = "40s"
seed = 4
[assets]
BTC = 8
USDT = 8
[instruments."BTC-USDT"]
base = "BTC"
quote = "USDT"
tick_size = "0.1"
lot_size = "0.0001"
start_price = "95000"
[venues.busan]
symbols = ["BTC-USDT"]
home = true
[venues.binance]
symbols = ["BTC-USDT"]
instruments = { "BTC-USDT" = { tick_size = "0.01", lot_size = "0.00001" } }
link = "far"
feed_every = "100ms"
heartbeat_every = "500ms"
prefund = { BTC = "5", USDT = "500000" }
flow_scale = 2
[sharing]
model = "mirrored"
transfer_delay = "5s"
operator_funds = { BTC = "5", USDT = "500000" }
[fundamental]
sigma_per_min_bps = 3.0
[latency.default]
order_base_us = 1000
feed_base_us = 1000
[latency.far]
order_base_us = 20000
feed_base_us = 20000
jitter = "none"
[agents.mm]
kind = "market_maker"
funds = { BTC = "10", USDT = "1000000" }
size_lots = 100
max_position_lots = 10000
[agents.zi]
kind = "zero_intelligence"
count = 20
funds = { BTC = "1", USDT = "100000" }
limit_rate = 1.0
market_rate = 0.1
cancel_rate = 0.05
size_lots = 10
'''


class FakeHub:
    """A stand-in for MirroredVenue: an Engine that logs every liquidity command, routes each home market
    order in full to binance as one child at the last quoted partner price, and starts one settlement per
    ChildFilled at the next SettleDue."""

    def __init__(self, instruments, config, fee_tiers=None, **_):
        self.engine = Engine(instruments, fee_tiers=fee_tiers)
        self.config = config
        self.log: list = []
        self.quotes: dict = {}
        self.next_child = 0
        self.pending: list = []
        self.batches = 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def escrow(self):
        return {}

    def stats(self):
        return {"commands": len(self.log)}

    def handle(self, command):
        if isinstance(command, (PartnerQuote, PartnerHeartbeat, PartnerStatus, ChildFilled, ChildRejected,
                                SettleDue, SettlementDone, SettlementFailed)):
            self.log.append(command)
            if isinstance(command, PartnerQuote):
                self.quotes[command.venue] = command
            elif isinstance(command, ChildFilled):
                self.pending.append(command)
            elif isinstance(command, SettleDue) and self.pending:
                self.pending.clear()
                self.batches += 1
                return [SettlementStarted(command.ts_ns, self.batches, "busan", "binance", "USDT", 1)]
            return []
        if (isinstance(command, SubmitOrder) and command.order_type == OrderType.MARKET and command.qty_lots
                and "binance" in self.quotes):
            q = self.quotes["binance"]
            levels = q.asks if command.side == Side.BUY else q.bids
            if levels:
                self.next_child += 1
                return [ChildRouted(command.ts_ns, self.next_child, "binance", 1000, command.symbol, command.side,
                                    levels[0][0], command.qty_lots * 10, 0)]
        return self.engine.handle(command)


@pytest.fixture
def fake_hub(monkeypatch):
    hubs = []

    def make(self, venue):
        liq = self.scenario.liquidity
        if liq is None or venue != self.scenario.home_venue or liq.model == "isolated":
            return None
        hub = FakeHub(list(self.scenario.instruments_at(venue).values()), liq.config,
                      fee_tiers=self.scenario.fee_tiers(venue))
        hubs.append(hub)
        return hub

    monkeypatch.setattr(Simulation, "_hub", make)
    return hubs


def _run(schedule: str = "", seconds: int = 40):
    sc = parse_scenario(tomllib.loads(SCENARIO + schedule))
    sim = Simulation(sc, duration_ns=seconds * NS)
    sim.start()
    sim.kernel.run(sim.duration_ns)
    sim.finish()
    return sim


def test_quotes_heartbeats_children_and_settlements_flow(fake_hub):
    sim = _run()
    hub = fake_hub[0]
    quotes = [c for c in hub.log if isinstance(c, PartnerQuote)]
    beats = [c for c in hub.log if isinstance(c, PartnerHeartbeat)]
    assert len(beats) == 40 * 2 + 1 or len(beats) == 40 * 2   # every 500 ms over 40 s
    assert all(c.ts_ns - c.venue_ts_ns == 20_000_000 for c in beats)      # the link's feed latency
    assert quotes and all(c.ts_ns - c.venue_ts_ns == 20_000_000 for c in quotes)
    assert all(q.bids and q.asks for q in quotes[20:])
    assert quotes[-1].venue_ts_ns >= (40 - 1) * NS                         # unchanged books are refreshed
    reports = [c for c in hub.log if isinstance(c, (ChildFilled, ChildRejected))]
    link = sim.world.links["binance"]
    assert link.children == hub.next_child > 0 and len(reports) <= link.children
    assert all(d == 20_000_000 for _, d in link.child_latency_ns)
    filled = [c for c in reports if isinstance(c, ChildFilled)]
    assert filled and all(c.filled_lots > 0 and c.quote_amount > 0 for c in filled)
    # each child was journaled at binance for the operator's account there, as an IOC limit
    partner = sim.venues["binance"].flush_journal()
    children = [c for _, c in partner.records() if isinstance(c, SubmitOrder) and c.client_order_id.startswith("child-")]
    assert len(children) == link.children and all(c.account == 1000 for c in children)
    # settlements land transfer_delay (5 s) after they start
    done = [c for c in hub.log if isinstance(c, SettlementDone)]
    assert hub.batches > 0 and len(done) >= hub.batches - 5
    # every liquidity command reached the hub through the home journal
    home = sim.home.flush_journal()
    assert sum(1 for _, c in home.records() if isinstance(c, (PartnerQuote, PartnerHeartbeat))) == len(quotes) + len(beats)


STALE_DOWN_DEFAULT = '''
[[schedule]]
at = "10s"
venue = "binance"
action = "stale"
[[schedule]]
at = "20s"
venue = "binance"
action = "down"
[[schedule]]
at = "30s"
venue = "binance"
action = "default"
'''


def test_stale_then_down_then_default(fake_hub):
    sim = _run(STALE_DOWN_DEFAULT)
    hub = fake_hub[0]
    quotes = [c for c in hub.log if isinstance(c, PartnerQuote)]
    beats = [c for c in hub.log if isinstance(c, PartnerHeartbeat)]
    stale = [q for q in quotes if 10 * NS + 20_000_000 <= q.ts_ns < 20 * NS]
    assert stale and all(q.venue_ts_ns == 10 * NS for q in stale)      # frozen: the old venue time
    assert len(stale) <= 12                                            # resent only to look alive
    assert any(10 * NS < b.venue_ts_ns < 20 * NS for b in beats)        # heartbeats go on while stale
    assert not [c for c in quotes + beats if c.ts_ns > 20 * NS + 20_000_000]   # down: silence
    status = [c for c in hub.log if isinstance(c, PartnerStatus)]
    assert [(s.ts_ns, s.health) for s in status] == [(30 * NS, Health.DEFAULTED)]
    late = [c for c in hub.log if isinstance(c, ChildRejected) and c.ts_ns > 20 * NS + 40_000_000]
    assert all(c.reason == "VENUE_DOWN" for c in late)
    assert sim.world.links["binance"].health == "defaulted"
    # settlements that land while the payer is down fail (here the payer is home, so they still land)
    assert sim.world.settlements["started"] >= sim.world.settlements["done"]


def test_latency_spike_multiplies_the_link_in_its_window(fake_hub):
    sim = _run('''
[[schedule]]
at = "10s"
venue = "binance"
action = "latency"
until = "25s"
factor = 30
what = "both"
''')
    link = sim.world.links["binance"]
    inside = [d for t, d in link.child_latency_ns if 10 * NS <= t < 25 * NS]
    outside = [d for t, d in link.child_latency_ns if t < 10 * NS or t >= 25 * NS]
    assert inside and outside
    assert min(inside) == 30 * 20_000_000 and max(outside) == 20_000_000
    hub = fake_hub[0]
    beats = [c for c in hub.log if isinstance(c, PartnerHeartbeat) and 11 * NS <= c.venue_ts_ns < 24 * NS]
    assert beats and all(c.ts_ns - c.venue_ts_ns >= 600_000_000 for c in beats)


def test_settlement_from_a_defaulted_payer_fails(fake_hub, monkeypatch):
    sim = Simulation(parse_scenario(tomllib.loads(SCENARIO + STALE_DOWN_DEFAULT)), duration_ns=40 * NS)
    sim.start()
    world = sim.world
    sim.kernel.run(31 * NS)
    world._on_home_events(None, [SettlementStarted(sim.kernel.now, 99, "binance", "busan", "USDT", 5)])
    sim.kernel.run(40 * NS)
    failed = [c for c in fake_hub[0].log if isinstance(c, SettlementFailed) and c.batch_id == 99]
    assert [(c.ts_ns, c.reason) for c in failed] == [(31 * NS + 5 * NS, "PAYER_DEFAULTED")]


def test_pooled_partner_flow_trades_on_the_home_book_through_the_partner_link(fake_hub):
    text = SCENARIO.replace('model = "mirrored"', 'model = "pooled"') + '''
[[schedule]]
at = "10s"
venue = "binance"
action = "latency"
until = "20s"
factor = 10
what = "order"
'''
    sim = Simulation(parse_scenario(tomllib.loads(text)), duration_ns=30 * NS)
    assert list(sim.venues) == ["busan"]                      # one book
    zi = sim.groups["zi-binance"][0]
    assert zi.ctx.venue is sim.home and zi.ctx.instrument is sim.home.instruments["BTC-USDT"]
    assert zi.ctx.first_account == VENUE_SPAN + 2 * 10_000_000
    sample = zi.ctx.link.order.sample
    assert min(sample() for _ in range(50)) >= 21_000_000      # own 1 ms + the 20 ms partner hop
    sim.start()
    sim.kernel.run(15 * NS)
    assert min(sample() for _ in range(50)) >= 1_000_000 + 200_000_000   # the hop x 10 in the spike
    sim.kernel.run(30 * NS)
    accounts = {c.account for _, c in sim.home.flush_journal().records() if isinstance(c, SubmitOrder)}
    assert any(VENUE_SPAN <= a < 2 * VENUE_SPAN for a in accounts) and any(a < VENUE_SPAN for a in accounts)
    hub = fake_hub[0]
    assert not [c for c in hub.log if isinstance(c, PartnerQuote)]          # no partner book, no feed
    assert [c for c in hub.log if isinstance(c, PartnerHeartbeat)]          # heartbeats still flow
    assert [c for c in hub.log if isinstance(c, SettleDue)]


def test_client_follows_routed_fills_route_ends_and_refusals():
    from exchange import Instrument
    from exchange.liquidity.events import OrderRefused, RoutedFill, RouteEnded
    from exchange.instruments import Asset
    from sim.agents.base import Agent, AgentContext
    from sim.rng import Draws, derive
    from sim.client import SimClient
    from sim.kernel import Kernel
    from sim.latency import JitterSpec, LatencyModel
    from sim.venue import SimVenue

    inst = Instrument.define("BTC-USDT", Asset("BTC", 8), Asset("USDT", 8), tick_size="0.1", lot_size="0.0001")
    kernel = Kernel()
    venue = SimVenue("busan", kernel, [inst])
    link = LatencyModel(1).add("g", "busan", JitterSpec(1000), JitterSpec(1000))
    agent = Agent("r", AgentContext("g", kernel, Draws(derive(1, "g")), venue, link, "BTC-USDT", 42, {}))
    c = SimClient(venue, 42, agent, link)
    a = c.place_market("BTC-USDT", Side.BUY, qty_lots=10)
    b = c.place_limit("BTC-USDT", Side.BUY, 950_000, 10)
    d = c.place_limit("BTC-USDT", Side.SELL, 950_000, 10)
    c.balances["USDT"] = 10**12
    c._receive([RoutedFill(1, 42, "BTC-USDT", Side.BUY, 950_000, 4, 380_000_000_000, 0, "binance", a, 7)])
    assert c.orders[a].remaining_lots == 6 and c.balances["USDT"] == 10**12   # balances move by BalanceChanged
    c._receive([RouteEnded(2, 42, "BTC-USDT", a, 7, 4, 6, "EXPIRED"), RouteEnded(2, 42, "BTC-USDT", b, 8, 0, 10, "RESTED")])
    assert a not in c.orders and b in c.orders
    c._receive([OrderRefused(3, 42, "BTC-USDT", d, "CREDIT_LIMIT", "over the limit")])
    assert d not in c.orders
    assert venue.n_events_delivered == 4


def test_partner_halt_resume_and_a_crash(fake_hub):
    text = SCENARIO.replace('operator_funds = { BTC = "5", USDT = "500000" }',
                            'operator_funds = { BTC = "5", USDT = "500000" }\nhalt_on_partner_halt = true') + '''
[[schedule]]
at = "10s"
venue = "binance"
action = "halt"
symbol = "BTC-USDT"
[[schedule]]
at = "20s"
venue = "binance"
action = "resume"
symbol = "BTC-USDT"
[[schedule]]
at = "5s"
venue = "binance"
action = "crash"
symbol = "BTC-USDT"
drop = 0.5
over = "10s"
'''
    sim = Simulation(parse_scenario(tomllib.loads(text)), duration_ns=30 * NS)
    sim.start()
    sim.kernel.run(5 * NS)
    v0 = sim.fundamental.value
    binance_view = sim.groups["mm-binance"][0].ctx.fundamental
    assert binance_view is not sim.fundamental and binance_view.value == pytest.approx(v0 * 10)   # finer tick
    sim.kernel.run(10 * NS + 10_000_000)
    assert sim.venues["binance"].engine.is_halted("BTC-USDT") and not sim.home.engine.is_halted("BTC-USDT")
    sim.kernel.run(10 * NS + 30_000_000)                       # home follows one feed latency (20 ms) later
    assert sim.home.engine.is_halted("BTC-USDT")
    sim.kernel.run(16 * NS)
    assert 0.4 < sim.fundamental.value / v0 < 0.6               # halved over 10 s, give or take its own moves
    assert binance_view.value == pytest.approx(sim.fundamental.value * 10)
    sim.kernel.run(21 * NS)
    assert not sim.venues["binance"].engine.is_halted("BTC-USDT") and not sim.home.engine.is_halted("BTC-USDT")
