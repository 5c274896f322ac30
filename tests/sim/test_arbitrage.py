"""Cross-venue arbitrage (model C1): it closes a planted dislocation between two separate books, and its
rebalancing transfers leave one venue, are counted in flight, and land at the other after the delay."""
from __future__ import annotations

import tomllib

from exchange import Deposit, OrderType, Side, SubmitOrder, TimeInForce, Withdraw
from sim.build import Simulation
from sim.scenario import NS, parse_scenario

SCENARIO = '''
[run]
name = "arb"
duration = "70s"
seed = 9
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
taker_bps = 5
[venues.binance]
symbols = ["BTC-USDT"]
taker_bps = 4
instruments = { "BTC-USDT" = { tick_size = "0.01", lot_size = "0.00001" } }
[sharing]
model = "isolated"
transfer_delay = "30s"
[fundamental]
sigma_per_min_bps = 1.0
[latency.default]
order_base_us = 1000
feed_base_us = 1000
[agents.mm]
kind = "market_maker"
venue = "binance"
funds = { BTC = "20", USDT = "2000000" }
size_lots = 20000
max_position_lots = 10000000
[agents.arb]
kind = "arbitrage"
funds = { BTC = "1", USDT = "100000" }
threshold_bps = 2.0
max_lots = 10000
rebalance_every = "10s"
'''
PLANTER = 7_777


def _sim() -> Simulation:
    sim = Simulation(parse_scenario(tomllib.loads(SCENARIO)))
    sim.start()
    home = sim.home

    def plant(_: object) -> None:   # someone dumps 0.8 BTC at 94,000, ~1% under binance's market
        now = sim.kernel.now
        home.apply_now(Deposit(now, PLANTER, "BTC", 80_000_000))
        home.apply_now(SubmitOrder(now, PLANTER, "BTC-USDT", Side.SELL, OrderType.LIMIT, TimeInForce.GTC,
                                   940_000, 8_000, 0, "dump", None))

    sim.kernel.schedule(3 * NS, plant)
    return sim


def test_arbitrage_closes_a_planted_dislocation_and_rebalances_after_the_delay():
    sim = _sim()
    arb = sim.groups["arb"][0]
    binance = sim.venues["binance"]
    sim.kernel.run(6 * NS)
    # closed: the planted offer is gone, bought by the arbitrageur, and sold on at binance
    assert sim.home.engine.open_orders(PLANTER) == []
    assert sim.home.engine.best_bid_ask("BTC-USDT")[1] is None
    assert arb.arbs > 0 and arb.base_traded >= 80_000_000
    acct = arb.legs[0].client.account
    assert sim.home.engine.balances(acct)["BTC"].available == 100_000_000 + 80_000_000
    # the sell legs hit binance's bid as the feed showed it; a leg that met a moved bid left inventory
    assert binance.engine.balances(acct)["BTC"].available <= 100_000_000 - 50_000_000
    # rebalancing at 10 s: BTC home -> binance and USDT binance -> home, in flight for 30 s
    sim.kernel.run(25 * NS)
    log = sim.world.transfers.log
    assert {(src, dst, asset) for _, _, src, dst, asset, _ in log} == {("busan", "binance", "BTC"),
                                                                       ("binance", "busan", "USDT")}
    assert all(sent == 10 * NS and lands == 40 * NS for sent, lands, *_ in log)
    assert sim.world.transfers.in_flight["BTC"] > 0
    assert all(v["ok"] for v in sim.world.conservation().values())   # in-flight amounts counted
    sim.kernel.run(70 * NS)
    sim.finish()
    assert sim.world.transfers.in_flight == {"BTC": 0, "USDT": 0}
    assert arb.transfers == arb.transfers_landed == 2
    for src, dst, asset, venue in (("busan", "binance", "BTC", binance), ("binance", "busan", "USDT", sim.home)):
        amount = next(a for _, _, s, d, x, a in log if (s, d, x) == (src, dst, asset))
        deposits = [c for _, c in venue.journal.records()
                    if isinstance(c, Deposit) and c.account == acct and c.asset == asset and c.ts_ns > 0]
        assert [(c.ts_ns, c.amount) for c in deposits] == [(40 * NS, amount)]
        other = sim.home if venue is binance else binance
        assert [c.ts_ns for _, c in other.journal.records() if isinstance(c, Withdraw)
                and c.account == acct and c.asset == asset] == [10 * NS]
    assert all(v["ok"] for v in sim.world.conservation().values())


def test_arbitrage_is_idle_without_a_dislocation():
    sim = Simulation(parse_scenario(tomllib.loads(SCENARIO)), duration_ns=20 * NS)
    sim.start()
    sim.kernel.run(sim.duration_ns)
    arb = sim.groups["arb"][0]
    assert arb.dislocations == arb.arbs == 0 and arb.transfers == 0
    assert len(arb.legs) == 2 and arb.legs[0].client.feed is not None
