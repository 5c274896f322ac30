"""Each agent's behaviour on a tiny market (seconds of virtual time, a handful of accounts)."""
import copy

from exchange import (OrderRejected, OrderType, RejectReason, Side, SubmitOrder, TimeInForce,
                      TradeExecuted)
from sim.build import ACCOUNT_BLOCK, Simulation
from sim.scenario import parse_scenario

NS = 10**9
BASE = {
    "run": {"name": "tiny", "duration": "5m", "seed": 11},
    "assets": {"BTC": 8, "KRW": 4},
    "instruments": {"BTC-KRW": {"base": "BTC", "quote": "KRW", "lot_size": "0.0001", "start_price": "95000000",
                                "tick_table": [["0", "1"], ["1000000", "500"], ["2000000", "1000"]]}},
    "venues": {"busan": {"symbols": ["BTC-KRW"], "maker_bps": 0, "taker_bps": 0}},
    "latency": {"default": {"order_base_us": 100, "feed_base_us": 100}},
}
FUNDS = {"BTC": "100", "KRW": "10000000000"}


def make(agents: dict, fundamental: dict | None = None, **run) -> Simulation:
    raw = copy.deepcopy(BASE)
    raw["agents"] = {k: {"funds": FUNDS, **v} for k, v in agents.items()}
    if fundamental is not None:
        raw["fundamental"] = fundamental
    raw["run"].update(run)
    return Simulation(parse_scenario(raw))


def commands(sim: Simulation, cls=SubmitOrder) -> list:
    return [c for _, c in sim.home.flush_journal().records() if type(c) is cls]


def events(sim: Simulation, cmds=None):
    """Replay the journal into a fresh engine: every event the run produced."""
    from exchange import Engine
    eng = Engine([sim.instrument], fee_tiers=sim.scenario.fee_tiers("busan"))
    out = []
    for _, c in sim.home.flush_journal().records():
        out.extend(eng.handle(c))
    return out


def run(sim: Simulation, seconds: float) -> Simulation:
    sim.start()
    sim.kernel.run(int(seconds * NS))
    sim.home.engine._check()
    return sim


def test_zero_intelligence_posts_valid_prices_near_the_book_and_cancels():
    sim = run(make({"zi": {"kind": "zero_intelligence", "count": 5, "limit_rate": 5.0, "market_rate": 0.5,
                           "cancel_rate": 0.05, "size_lots": 10, "width_steps": 4}}), 120)
    zi = sim.groups["zi"][0]
    subs = commands(sim)
    limits = [c for c in subs if c.order_type == OrderType.LIMIT]
    assert 450 < len(limits) < 750 and 30 < zi.market_orders < 100 and zi.cancels > 50
    step = 1000
    assert all(c.price_ticks % step == 0 and abs(c.price_ticks - 95_000_000) < 40 * step for c in limits)
    assert {c.side for c in limits} == {Side.BUY, Side.SELL}
    assert not [e for e in events(sim) if type(e) is OrderRejected and e.reason == RejectReason.INVALID_PRICE]
    # the group's resting index matches what the engine holds for its accounts
    open_ids = {o.client_order_id for a in sim.home.engine.accounts() for o in sim.home.engine.open_orders(a)}
    assert {cid for _, cid in zi.resting} <= open_ids | {c.client_order_id for c in subs[-5:]}


def test_noise_takers_send_heavy_tailed_market_orders_of_both_sides():
    sim = run(make({"mm": {"kind": "market_maker", "size_lots": 100000, "max_position_lots": 10**6, "levels": 1},
                    "noise": {"kind": "noise", "count": 50, "rate_per_s": 5.0, "min_lots": 2, "max_lots": 400,
                              "size_alpha": 1.2}}), 100)
    mkt = [c for c in commands(sim) if c.order_type == OrderType.MARKET]
    sizes = sorted(c.qty_lots for c in mkt)
    assert 380 < len(mkt) < 620
    assert sizes[0] >= 2 and sizes[-1] <= 400 and sizes[len(sizes) // 2] < 6 and sizes[-1] > 50
    assert {c.side for c in mkt} == {Side.BUY, Side.SELL}
    assert sim.groups["noise"][0].summary()["active_members"] <= 50


def test_market_maker_quotes_both_sides_skews_with_inventory_and_respects_its_limit():
    sim = make({"mm": {"kind": "market_maker", "size_lots": 50, "levels": 2, "spacing_steps": 2,
                       "skew_steps": 4.0, "max_position_lots": 200, "refresh_ms": 200},
                "seller": {"kind": "noise", "count": 1, "rate_per_s": 0.5, "min_lots": 50, "max_lots": 50,
                           "buy_prob": 0.0}})
    mm = sim.groups["mm"][0]
    sim.start()
    sim.kernel.run(NS // 2)
    bids = sorted((o.price_ticks for o in mm.client.orders.values() if o.side == Side.BUY), reverse=True)
    asks = sorted(o.price_ticks for o in mm.client.orders.values() if o.side == Side.SELL)
    assert len(bids) == 2 and len(asks) == 2 and bids[0] < asks[0]
    assert all(c.order_type == OrderType.LIMIT_MAKER for c in commands(sim))
    mid0 = (bids[0] + asks[0]) / 2
    while mm.position_lots() == 0:              # the seller pushes inventory onto the maker
        sim.kernel.run(sim.kernel.now + NS // 10)
    sim.kernel.run(sim.kernel.now + NS // 2)
    assert 0 < mm.position_lots() < 200
    bids = [o.price_ticks for o in mm.client.orders.values() if o.side == Side.BUY]
    asks = [o.price_ticks for o in mm.client.orders.values() if o.side == Side.SELL]
    assert (max(bids) + min(asks)) / 2 < mid0  # long: quotes shifted down
    sim.kernel.run(60 * NS)
    assert mm.position_lots() == 200           # at the limit it stops buying ...
    assert not [o for o in mm.client.orders.values() if o.side == Side.BUY]   # ... and pulls its bids
    sim.home.engine._check()


FUND = {"sigma_per_min_bps": 0.01, "half_life": "30d"}


def test_value_traders_take_offers_below_value():
    sim = make({"value": {"kind": "value", "count": 3, "wake_rate_per_agent": 2.0, "threshold_bps": 5,
                          "size_lots": 10, "max_lots": 100, "passive_prob": 0.0}}, FUND)
    venue = sim.home
    from exchange import Deposit
    venue.apply_now(Deposit(0, 1, "BTC", 10**8))
    cheap = 95_000_000 - 100 * 1000   # ~105 bps under value
    venue.apply_now(SubmitOrder(0, 1, "BTC-KRW", Side.SELL, OrderType.LIMIT, TimeInForce.GTC, cheap, 30))
    run(sim, 5)
    trades = [e for e in events(sim) if type(e) is TradeExecuted]
    assert trades and all(t.price_ticks == cheap and t.aggressor == Side.BUY for t in trades)
    assert all(t.taker_account >= ACCOUNT_BLOCK for t in trades) and sum(t.qty_lots for t in trades) == 30
    iocs = [c for c in commands(sim) if c.tif == TimeInForce.IOC]
    assert iocs and all(c.price_ticks <= 95_000_000 for c in iocs)   # limited at its estimate of value


def test_momentum_follows_the_trend_of_the_mid():
    sim = make({"mom": {"kind": "momentum", "count": 2, "wake_rate_per_agent": 1.0, "fast_s": 2, "slow_s": 20,
                        "threshold_bps": 1.0, "size_lots": 5, "sample_ms": 100},
                "mm": {"kind": "market_maker", "size_lots": 1000, "max_position_lots": 10**6, "levels": 1}})
    mom = sim.groups["mom"][0]
    sim.groups["mm"][0].start()                       # only the maker runs by itself
    sim.kernel.run(NS // 10)
    mom.fast, mom.slow = 95_100_000.0, 95_000_000.0   # an up-trend
    mom.act(mom.member(0))
    sim.kernel.run(NS // 5)
    mkt = [c for c in commands(sim) if c.order_type == OrderType.MARKET]
    assert [(c.side, c.qty_lots) for c in mkt] == [(Side.BUY, 5)]
    mom.fast, mom.slow = 94_900_000.0, 95_000_000.0   # a down-trend
    mom.act(mom.member(1))
    mom.fast = mom.slow                                # no trend: nothing
    mom.act(mom.member(1))
    sim.kernel.run(NS // 2)
    assert [c.side for c in commands(sim) if c.order_type == OrderType.MARKET] == [Side.BUY, Side.SELL]


def test_scheduled_execution_buys_q_over_t_in_equal_slices():
    sim = run(make({"mm": {"kind": "market_maker", "size_lots": 5000, "max_position_lots": 10**6, "levels": 3},
                    "exe": {"kind": "execution", "side": "buy", "qty_lots": 1003, "start": "10s", "length": "50s",
                            "slices": 5}}), 80)
    mkt = [(c.ts_ns, c.qty_lots, c.side) for c in commands(sim) if c.order_type == OrderType.MARKET]
    assert [q for _, q, _ in mkt] == [200, 200, 200, 200, 203] and {s for *_, s in mkt} == {Side.BUY}
    gaps = [b[0] - a[0] for a, b in zip(mkt, mkt[1:])]
    assert all(abs(g - 10 * NS) < NS // 100 for g in gaps) and abs(mkt[0][0] - 10 * NS) < NS // 100
    s = sim.groups["exe"][0].summary()
    assert s["filled_lots"] == 1003 and s["shortfall_bps"] > 0   # buying costs at least half the spread


def test_meta_orders_split_into_same_side_children():
    sim = run(make({"mm": {"kind": "market_maker", "size_lots": 5000, "max_position_lots": 10**7, "levels": 2},
                    "inst": {"kind": "metaorders", "count": 1, "arrival_rate_per_hour": 360, "size_alpha": 1.5,
                             "min_children": 3, "max_children": 40, "child_lots": 7, "child_interval_s": 1.0}}),
              240)
    meta = sim.groups["inst"][0]
    mkt = [c for c in commands(sim) if c.order_type == OrderType.MARKET]
    assert meta.started >= 10 and all(c.qty_lots == 7 for c in mkt)
    assert len(mkt) == meta.children >= 3 * (meta.started - meta.active)
    # one member, so consecutive children form same-side runs far longer than a coin's
    runs = 1 + sum(1 for a, b in zip(mkt, mkt[1:]) if a.side != b.side)
    assert runs < len(mkt) / 3
