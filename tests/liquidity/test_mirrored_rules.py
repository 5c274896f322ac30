"""MirroredVenue, one rule at a time, on small hand-made books (numbers worked out in the comments).

Units (mirror_helpers): home BTC-USDT tick 1, lot 0.01 BTC; notional N(p, q) = p * q * 100 USDT units; one
lot = 10_000 BTC units. Fees: home taker 20 bps (tier 0); alpha taker 10 / maker 5; beta taker 30 / maker
10, beta's tick is half a home tick and its lot a tenth of a home lot.
"""
from __future__ import annotations

import pytest

from exchange import (BookUpdated, CancelOrder, Deposit, FeeTier, OrderAccepted, OrderExpired, OrderRejected,
                      OrderType, Side, STP, SubmitOrder, TimeInForce, TradeExecuted, AmendOrder)
from exchange.engine import Engine
from exchange.liquidity import (ChildFilled, ChildRejected, ConfigError, ExposureBooked, Health, OrderRefused,
                                PartnerQuote, PartnerStateChanged, RoutedFill, RouteEnded, SettlementDone)
from exchange.liquidity.config import SharingConfig
from exchange.liquidity.mirrored import MirroredVenue
from mirror_helpers import (FEE_ACCOUNT, HOME_FEES, MS, OPERATOR, SYMBOL, BookFeed, World, btc,
                            home_instrument)

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
USER, SELLER = 1, 2


def funded(world: World, *accounts: int) -> World:
    for a in accounts:
        world.home_deposit(a, "USDT", 10**10)
        world.home_deposit(a, "BTC", btc(10_000))
    return world


def alpha_world(**kw) -> World:
    w = funded(World(venues=("alpha",), **kw), USER, SELLER)
    w.heartbeat("alpha")
    return w


# ------------------------------------------------------------------------------------------ the book

def test_consolidated_book_sums_home_and_partners_with_rounding_and_venue_tags():
    w = funded(World(), USER, SELLER)
    w.connect()
    w.order(SELLER, SELL, 1002, 5)
    w.maker("alpha", 11, SELL, 1001, 4)
    w.maker("alpha", 11, SELL, 1003, 2)
    w.maker("alpha", 11, BUY, 999, 3)
    w.maker("beta", 12, SELL, 2001, 25)    # 1000.5 shown at 1001 (rounded up), 2.5 lots shown as 2
    w.maker("beta", 12, BUY, 1999, 30)     # 999.5 shown at 999 (rounded down), 3 lots
    w.tick()
    w.quote("alpha")
    w.quote("beta")
    depth = w.hub.depth(SYMBOL)
    assert depth.bids == [(999, 6)] and depth.asks == [(1001, 6), (1002, 5), (1003, 2)]
    assert w.hub.best_bid_ask(SYMBOL) == (999, 1001)
    by_venue = w.hub.depth_by_venue(SYMBOL)
    assert by_venue["home"].asks == [(1002, 5)] and by_venue["home"].bids == []
    assert by_venue["alpha"].asks == [(1001, 4), (1003, 2)] and by_venue["beta"].asks == [(1001, 2)]
    assert by_venue["beta"].bids == [(999, 3)]
    feed = BookFeed()
    feed.feed(w.events)
    assert feed.book() == (depth.bids, depth.asks) and feed.update_id == depth.update_id


def test_haircut_floors_after_scaling():
    w = funded(World(haircut_bps=5_000), USER)
    w.connect()
    w.maker("alpha", 11, SELL, 1001, 5)     # 2.5 lots -> 2
    w.maker("beta", 12, SELL, 2002, 25)     # 1.25 home lots -> 1
    w.quote("alpha")
    w.quote("beta")
    assert w.hub.depth(SYMBOL).asks == [(1001, 3)]


def test_mirrored_levels_that_lock_or_cross_home_are_hidden_until_home_moves():
    w = alpha_world()
    w.maker("alpha", 11, SELL, 1001, 4)
    w.maker("alpha", 11, SELL, 1003, 2)
    w.quote("alpha")
    # A LIMIT_MAKER home bid at 1001 would lock alpha's 1001 ask: it rests (post-only is home only) and
    # the mirrored ask at 1001 disappears; 1003 stays.
    ev = w.order(USER, BUY, 1001, 1, order_type=OrderType.LIMIT_MAKER, cid="pm")
    assert w.of(ev, OrderAccepted) and not w.children(ev)
    assert w.hub.depth(SYMBOL).asks == [(1003, 2)] and w.hub.best_bid_ask(SYMBOL) == (1001, 1003)
    w.send(CancelOrder(w.tick(), USER, SYMBOL, client_order_id="pm"))
    assert w.hub.depth(SYMBOL).asks == [(1001, 4), (1003, 2)]
    feed = BookFeed()
    feed.feed(w.events)
    assert feed.book() == tuple(getattr(w.hub.depth(SYMBOL), s) for s in ("bids", "asks"))


def test_a_symbol_without_partner_depth_passes_engine_events_through():
    w = funded(World(), USER, SELLER)
    plain = Engine([home_instrument()], fee_tiers={0: FeeTier(10, 20), 1: FeeTier(0, 0)})
    for cmd in w.log:
        plain.handle(cmd)
    for cmd in [SubmitOrder(5, SELLER, SYMBOL, SELL, OrderType.LIMIT, GTC, 1002, 5),
                SubmitOrder(6, USER, SYMBOL, BUY, OrderType.LIMIT, IOC, 1002, 2),
                CancelOrder(7, SELLER, SYMBOL, order_id=0, client_order_id="nope")]:
        assert w.send(cmd) == plain.handle(cmd)
    assert w.hub.depth(SYMBOL) == plain.depth(SYMBOL)


# ------------------------------------------------------------------------------------------ routing

def test_agency_route_splits_by_price_after_fees_and_settles_a_filled_child():
    w = alpha_world()
    w.order(SELLER, SELL, 1003, 5)
    w.maker("alpha", 11, SELL, 1001, 3)
    w.maker("alpha", 11, SELL, 1002, 4)
    w.quote("alpha")
    before = w.hub.balances(USER)
    # Effective: alpha 1001*10010 < alpha 1002*10010 = 10_030_020 < home 1003*10020 = 10_050_060.
    ev = w.order(USER, BUY, 1003, 10, IOC, cid="o1")
    [child] = w.children(ev)
    assert (child.venue, child.partner_price_ticks, child.partner_qty_lots, child.parent) == ("alpha", 1002, 7, 1)
    [acc] = w.of(ev, OrderAccepted)
    assert acc.qty_lots == 3 and acc.tif == IOC and acc.client_order_id == "o1"
    assert [(t.price_ticks, t.qty_lots) for t in w.of(ev, TradeExecuted)] == [(1003, 3)]
    escrow = 1002 * 7 * 100 + 1002 * 7 * 100 * 20 // 10_000       # 701_400 + 1_402
    assert w.hub.escrow() == {"BTC": btc(7), "USDT": escrow}
    assert w.hub.balances(USER)["USDT"].available == before["USDT"].available - escrow - (300_900 + 601)
    ev = w.deliver()
    quote = (3 * 1001 + 4 * 1002) * 100                            # 701_100 at alpha
    [fill] = w.of(ev, RoutedFill)
    assert (fill.qty_lots, fill.quote_amount, fill.fee, fill.price_ticks, fill.venue, fill.route_id) == (
        7, quote, quote * 20 // 10_000, 1002, "alpha", 1)
    [end] = w.of(ev, RouteEnded)
    assert (end.filled_lots, end.remaining_lots, end.outcome, end.client_order_id) == (7, 0, "FILLED", "o1")
    assert w.hub.escrow() == {"BTC": 0, "USDT": 0}
    after = w.hub.balances(USER)
    assert after["BTC"].available - before["BTC"].available == btc(10)
    assert before["USDT"].available - after["USDT"].available == quote + 1402 + 300_900 + 601
    stats = w.hub.stats()
    assert stats["operator"][SYMBOL]["inventory_units"] == 0
    assert stats["operator_pnl_quote"] == -(300 + 400)            # the partner's fee on each fill
    assert stats["children_filled"] == 1 and stats["fill_ratio"] == 1.0 and stats["trade_throughs"] == 0
    assert stats["prefund_left"]["alpha"] == {"BTC": btc(1000) + btc(7), "USDT": 10**12 - quote - 700}
    assert all(held == dep for held, dep in w.conservation().values())


def test_fee_tie_goes_home_and_a_better_net_partner_price_is_routed():
    # home 1001 * (1 + 20 bps) == alpha 1002 * (1 + 10 bps): a tie, home wins.
    w = alpha_world()
    w.order(SELLER, SELL, 1001, 5)
    w.maker("alpha", 11, SELL, 1002, 5)
    w.quote("alpha")
    ev = w.order(USER, BUY, 1002, 5, IOC)
    assert not w.children(ev) and sum(t.qty_lots for t in w.of(ev, TradeExecuted)) == 5
    # At tier 1 (no home fee) home 1001 beats alpha 1002 by price; alpha 1001 beats home 1001 at tier 0.
    w.order(SELLER, SELL, 1001, 5)
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=w.partners["alpha"].open_orders(11)[0].order_id))
    w.maker("alpha", 11, SELL, 1001, 5)
    w.tick()
    w.quote("alpha")
    ev = w.order(USER, BUY, 1001, 5, IOC)
    assert [(c.venue, c.partner_qty_lots) for c in w.children(ev)] == [("alpha", 5)]


def test_no_trade_through_off_fills_home_first_and_counts_the_trade_through():
    for rule, routed, throughs in ((True, 5, 0), (False, 0, 1)):
        w = alpha_world(no_trade_through=rule)
        w.order(SELLER, SELL, 1002, 5)
        w.maker("alpha", 11, SELL, 1001, 5)
        w.quote("alpha")
        ev = w.order(USER, BUY, 1002, 5, IOC)
        assert sum(c.partner_qty_lots for c in w.children(ev)) == routed
        assert w.hub.stats()["trade_throughs"] == throughs
        # With the rule off, what home cannot fill still goes out.
        ev = w.order(USER, BUY, 1002, 3, IOC)
        assert sum(c.partner_qty_lots for c in w.children(ev)) == (0 if rule else 3)


def test_fok_routes_only_when_the_consolidated_book_fills_it_whole():
    w = alpha_world()
    w.order(SELLER, SELL, 1003, 2)
    w.maker("alpha", 11, SELL, 1001, 3)
    w.quote("alpha")
    ev = w.order(USER, BUY, 1003, 6, FOK)
    assert not w.children(ev) and w.of(ev, OrderExpired)[0].reason.name == "FOK_UNFILLED"
    ev = w.order(USER, BUY, 1003, 5, FOK)
    assert [c.partner_qty_lots for c in w.children(ev)] == [3]
    assert w.of(ev, OrderAccepted)[0].qty_lots == 2 and sum(t.qty_lots for t in w.of(ev, TradeExecuted)) == 2


def test_orders_the_engine_would_reject_go_there_unchanged_and_route_nothing():
    w = alpha_world()
    w.maker("alpha", 11, SELL, 1001, 3)
    w.quote("alpha")
    poor = 77
    w.home_deposit(poor, "USDT", 100)
    for ev in (w.order(poor, BUY, 1001, 3), w.order(USER, BUY, 1001, 3, cid="x" * 37),
               w.order(USER, BUY, 1001, 0)):
        assert isinstance(ev[0], OrderRejected) and not w.children(ev)
    w.order(USER, SELL, 5000, 1, cid="dup")
    ev = w.order(USER, BUY, 1001, 1, cid="dup")
    assert ev[0].reason.name == "DUPLICATE_CLIENT_ORDER_ID" and not w.children(ev)
    assert w.hub.escrow()["USDT"] == 0


def test_market_by_quote_and_the_operator_stay_home_and_own_orders_under_expire_taker_block_routing():
    w = alpha_world()
    w.home_deposit(OPERATOR, "USDT", 10**9)
    w.maker("alpha", 11, SELL, 1001, 3)
    w.quote("alpha")
    assert not w.children(w.send(SubmitOrder(w.now, USER, SYMBOL, BUY, OrderType.MARKET, IOC, 0, 0, 200_000)))
    assert not w.children(w.order(OPERATOR, BUY, 1001, 1, IOC))
    w.order(USER, SELL, 1005, 1)
    ev = w.order(USER, BUY, 1005, 2, IOC, stp=STP.EXPIRE_TAKER)
    assert not w.children(ev)
    ev = w.order(USER, BUY, 1005, 2, IOC, stp=STP.EXPIRE_MAKER)
    assert [c.partner_qty_lots for c in w.children(ev)] == [2]


def test_home_remainder_below_the_minimum_is_refused_not_placed():
    w = alpha_world(home_kw={"min_notional": "50"})     # 500_000 units: 5 lots at 1000
    w.maker("alpha", 11, SELL, 1000, 5)
    w.quote("alpha")
    ev = w.order(USER, BUY, 1001, 6, GTC, cid="big")
    assert [c.partner_qty_lots for c in w.children(ev)] == [5]
    [refused] = w.of(ev, OrderRefused)
    assert refused.reason == "HOME_REMAINDER_TOO_SMALL" and refused.client_order_id == "big"
    assert not w.of(ev, OrderAccepted) and w.hub.open_orders(USER) == []


def test_capacity_caps_what_is_shown_and_routed():
    # alpha's USDT prefund covers a buy child of 2 lots at 1001 (200_200 + 10 bps hold = 200_400), not 3.
    w = alpha_world(prefund_usdt=250_000)
    w.maker("alpha", 11, SELL, 1001, 3)
    w.maker("alpha", 11, BUY, 999, 3)
    w.quote("alpha")
    assert w.hub.depth(SYMBOL).asks == [(1001, 2)] and w.hub.depth(SYMBOL).bids == [(999, 3)]
    # max_child_notional caps a child's notional: 150_000 is one lot at 1001.
    w2 = alpha_world(max_child_notional=150_000)
    w2.maker("alpha", 11, SELL, 1001, 3)
    w2.quote("alpha")
    assert w2.hub.depth(SYMBOL).asks == [(1001, 1)]
    ev = w2.order(USER, BUY, 1001, 3, IOC)
    assert [c.partner_qty_lots for c in w2.children(ev)] == [1]
    # The operator's home BTC is what agency delivers to buyers.
    w3 = alpha_world(operator_btc=btc(1))
    w3.maker("alpha", 11, SELL, 1001, 3)
    w3.quote("alpha")
    assert w3.hub.depth(SYMBOL).asks == [(1001, 1)]


# ------------------------------------------------------------------------------------------ failures

def stale_world(policy: str, venues=("alpha",)) -> tuple[World, int]:
    """alpha shows 1001 x 5, then its maker cancels before the child arrives; home has 1005 x 10."""
    w = funded(World(venues=venues, stale_policy=policy), USER, SELLER)
    for v in venues:
        w.heartbeat(v)
    w.order(SELLER, SELL, 1005, 10)
    maker = w.maker("alpha", 11, SELL, 1001, 5)[0].order_id
    w.quote("alpha")
    return w, maker


@pytest.mark.parametrize("tif", [GTC, IOC])
def test_stale_quote_expire_policy_returns_escrow(tif):
    w, maker = stale_world("expire")
    before = w.hub.balances(USER)
    ev = w.order(USER, BUY, 1005, 5, tif, cid="s")
    assert [c.partner_qty_lots for c in w.children(ev)] == [5] and not w.of(ev, OrderAccepted)
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=maker))
    ev = w.deliver()
    [end] = w.of(ev, RouteEnded)
    assert (end.filled_lots, end.remaining_lots, end.outcome) == (0, 5, "EXPIRED")
    assert w.hub.balances(USER) == before and w.hub.escrow() == {"BTC": 0, "USDT": 0}
    assert w.hub.stats()["failed_by_reason"] == {"IOC_REMAINDER": 1} and w.hub.stats()["stale_fill_failures"] == 1


def test_stale_quote_rest_policy_places_a_gtc_rest_at_home_and_expires_an_ioc():
    w, maker = stale_world("rest")
    w.order(USER, BUY, 1005, 5, GTC, cid="g")
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=maker))
    ev = w.deliver()
    assert [e.outcome for e in w.of(ev, RouteEnded)] == ["RESTED"]
    acc = w.of(ev, OrderAccepted)[0]
    assert (acc.qty_lots, acc.price_ticks, acc.tif, acc.client_order_id) == (5, 1005, GTC, "g")
    assert sum(t.qty_lots for t in w.of(ev, TradeExecuted)) == 5      # home had 1005 x 10
    w2, maker2 = stale_world("rest")
    w2.order(USER, BUY, 1005, 5, IOC)
    w2.partner("alpha", CancelOrder(w2.now, 11, SYMBOL, order_id=maker2))
    ev = w2.deliver()
    assert [e.outcome for e in w2.of(ev, RouteEnded)] == ["EXPIRED"] and not w2.of(ev, OrderAccepted)


def test_rest_grows_the_open_home_part_by_an_amend():
    w = funded(World(venues=("alpha",), stale_policy="rest"), USER, SELLER)
    w.heartbeat("alpha")
    maker = w.maker("alpha", 11, SELL, 1001, 3)[0].order_id
    w.quote("alpha")
    ev = w.order(USER, BUY, 1001, 5, GTC, cid="part")       # 3 routed, 2 rest at home at 1001
    [home] = w.of(ev, OrderAccepted)
    assert home.qty_lots == 2 and w.hub.depth(SYMBOL).bids == [(1001, 2)]
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=maker))
    ev = w.deliver()
    assert [e.outcome for e in w.of(ev, RouteEnded)] == ["RESTED"]
    [view] = w.hub.open_orders(USER)
    assert (view.order_id, view.qty_lots, view.client_order_id) == (home.order_id, 5, "part")


def test_stale_quote_reroute_goes_to_the_next_venue_then_home():
    w, maker = stale_world("reroute", venues=("alpha", "beta"))
    w.maker("beta", 12, SELL, 2004, 30)            # beta at 1002, 3 lots
    w.quote("beta")
    ev = w.order(USER, BUY, 1005, 5, GTC, cid="r")
    assert [(c.venue, c.partner_qty_lots) for c in w.children(ev)] == [("alpha", 5)]
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=maker))
    ev = w.deliver(until=w.now + w.order_delay_ns)
    [end] = w.of(ev, RouteEnded)
    assert (end.outcome, end.remaining_lots) == ("REROUTED", 5)
    assert [(c.venue, c.partner_qty_lots) for c in w.children(ev)] == [("beta", 30)]
    # the 2 lots beta could not take went home (GTC: they rest/fill at 1005)
    assert sum(t.qty_lots for t in w.of(ev, TradeExecuted)) == 2
    ev = w.deliver()
    assert [e.outcome for e in w.of(ev, RouteEnded)] == ["FILLED"]
    assert sum(e.qty_lots for e in w.of(w.events, RoutedFill)) == 3
    assert w.hub.escrow() == {"BTC": 0, "USDT": 0}
    assert all(held == dep for held, dep in w.conservation().values())


def test_partial_fill_finer_than_a_home_lot_leaves_odd_lots_with_the_operator():
    w = funded(World(venues=("beta",), stale_policy="expire"), USER)
    w.heartbeat("beta")
    maker = w.maker("beta", 12, SELL, 2002, 25)[0].order_id    # 1001, 2 home lots
    w.quote("beta")
    ev = w.order(USER, BUY, 1001, 2, IOC)
    assert [c.partner_qty_lots for c in w.children(ev)] == [20]
    w.partner("beta", AmendOrder(w.now, 12, SYMBOL, maker, new_qty_lots=15))
    ev = w.deliver()
    # 15 partner lots filled at 2002: 150_150 USDT units; the user takes 1 home lot = 10 partner lots.
    [fill] = w.of(ev, RoutedFill)
    assert (fill.qty_lots, fill.quote_amount) == (1, 100_100)
    assert [(e.filled_lots, e.remaining_lots, e.outcome) for e in w.of(ev, RouteEnded)] == [(1, 1, "EXPIRED")]
    op = w.hub.stats()["operator"][SYMBOL]
    assert op["inventory_units"] == 5 * 1000              # five beta lots of 0.001 BTC
    assert op["cash_quote"] == 100_100 - 150_150 - 150_150 * 30 // 10_000
    assert all(held == dep for held, dep in w.conservation().values())


# ------------------------------------------------------------------------------------------ health

def test_kill_switch_trips_exactly_after_the_timeout_and_a_heartbeat_restores():
    w = funded(World(venues=("alpha",), quote_max_age_ns=10**15), USER)
    ev = w.heartbeat("alpha")
    assert [(e.health, e.routable, e.reason) for e in w.of(ev, PartnerStateChanged)] == [(Health.UP, True, "CONNECTED")]
    w.maker("alpha", 11, SELL, 1001, 5)
    w.quote("alpha")
    start = w.now
    w.now = start + 3_000 * MS                               # exactly the timeout: still alive
    assert not w.of(w.home_deposit(USER, "USDT", 1), PartnerStateChanged)
    w.now += 1
    ev = w.home_deposit(USER, "USDT", 1)
    [change] = w.of(ev, PartnerStateChanged)
    assert (change.routable, change.reason, change.ts_ns) == (False, "HEARTBEAT_TIMEOUT", w.now)
    assert ev.index(change) == 0 and w.of(ev, BookUpdated)[0].asks == ((1001, 0),)
    assert w.hub.depth(SYMBOL).asks == [] and not w.children(w.order(USER, BUY, 1001, 1, IOC))
    ev = w.heartbeat("alpha")
    assert [(e.routable, e.reason) for e in w.of(ev, PartnerStateChanged)] == [(True, "HEARTBEAT_RESUMED")]
    assert w.hub.depth(SYMBOL).asks == [(1001, 5)]


def test_a_frozen_feed_makes_the_partner_stale_and_a_fresh_quote_brings_it_back():
    w = funded(World(venues=("alpha",), heartbeat_timeout_ns=10**15), USER)
    w.heartbeat("alpha")
    w.maker("alpha", 11, SELL, 1001, 5)
    w.quote("alpha")
    w.now += 2_000 * MS + 1
    ev = w.heartbeat("alpha")
    assert [(e.health, e.routable, e.reason) for e in w.of(ev, PartnerStateChanged)] == [
        (Health.STALE, False, "QUOTE_STALE")]
    assert w.hub.depth(SYMBOL).asks == []
    ev = w.quote("alpha")
    assert [(e.health, e.routable) for e in w.of(ev, PartnerStateChanged)] == [(Health.UP, True)]
    # A quote already too old when it arrives is kept but not shown; an older one than kept is dropped.
    w.tick()
    w.send(PartnerQuote(w.now, "alpha", SYMBOL, w.now - 5_000 * MS, (), ((1001, 9),)))
    assert w.hub.depth(SYMBOL).asks == [(1001, 5)]


def test_the_kill_switch_is_reported_even_for_a_partner_already_stale_or_down():
    w = funded(World(venues=("alpha",)), USER)   # quotes stale after 2 s, heartbeat dead after 3 s
    w.heartbeat("alpha")
    w.maker("alpha", 11, SELL, 1001, 5)
    w.quote("alpha")
    start = w.now
    w.now = start + 2_000 * MS + 1                          # the feed froze: STALE, unroutable
    ev = w.home_deposit(USER, "USDT", 1)
    assert [(e.health, e.routable, e.reason) for e in w.of(ev, PartnerStateChanged)] == [
        (Health.STALE, False, "QUOTE_STALE")]
    w.now = start + 3_000 * MS + 1                          # then the heartbeat stops too
    ev = w.home_deposit(USER, "USDT", 1)
    assert [(e.ts_ns, e.health, e.routable, e.reason) for e in w.of(ev, PartnerStateChanged)] == [
        (w.now, Health.STALE, False, "HEARTBEAT_TIMEOUT")]
    assert w.hub.health("alpha") == (Health.STALE, False) and w.hub.depth(SYMBOL).asks == []
    w.now += 10_000 * MS                                    # tripped once: nothing more to report
    assert not w.of(w.home_deposit(USER, "USDT", 1), PartnerStateChanged)
    # Announced DOWN first, heartbeat lost later: the trip is reported under the announced health.
    w.heartbeat("alpha")
    w.quote("alpha")
    assert w.hub.health("alpha") == (Health.UP, True)
    w.status("alpha", Health.DOWN)
    w.now += 3_000 * MS + 1
    ev = w.home_deposit(USER, "USDT", 1)
    assert [(e.health, e.routable, e.reason) for e in w.of(ev, PartnerStateChanged)] == [
        (Health.DOWN, False, "HEARTBEAT_TIMEOUT")]


def test_default_pulls_the_partner_books_exposure_and_honours_late_reports():
    w = alpha_world(quote_max_age_ns=10**15, heartbeat_timeout_ns=10**15)
    w.order(SELLER, SELL, 1000, 1)
    w.order(SELLER, BUY, 998, 1)
    w.maker("alpha", 11, SELL, 1001, 4)
    w.quote("alpha")
    ev = w.order(USER, BUY, 1001, 5, IOC)          # 1 lot at home 1000, 4 routed
    [child] = w.children(ev)
    ev = w.status("alpha", Health.DEFAULTED, "FTX_CHAPTER_11")
    [change] = w.of(ev, PartnerStateChanged)
    assert (change.health, change.routable, change.reason) == (Health.DEFAULTED, False, "FTX_CHAPTER_11")
    hold = 1001 * 4 * 100 + 1001 * 4 * 100 * 10 // 10_000
    exposure = {(e.asset, e.kind): (e.amount, e.quote_value) for e in w.of(ev, ExposureBooked)}
    mid_x2 = 2 * 998          # the consolidated book before the pull: no ask left (alpha's is reserved)
    assert exposure[("USDT", "IN_FLIGHT")] == (hold, hold)
    assert exposure[("USDT", "PREFUND")] == (10**12 - hold, 10**12 - hold)
    assert exposure[("BTC", "PREFUND")][0] == btc(1000)
    assert exposure[("BTC", "PREFUND")][1] == btc(1000) * mid_x2 * 100 // (2 * 10_000)
    assert all(e.creditor == "home" for e in w.of(ev, ExposureBooked))
    assert w.hub.depth(SYMBOL).asks == [] and not w.of(w.status("alpha", Health.UP), PartnerStateChanged)
    ev = w.deliver()                                      # the partner still answers: honoured
    assert w.of(ev, RoutedFill)[0].qty_lots == 4 and w.hub.escrow() == {"BTC": 0, "USDT": 0}
    assert w.hub.health("alpha") == (Health.DEFAULTED, False)


def test_a_down_partner_rejects_children_and_the_route_expires():
    w = alpha_world(stale_policy="expire")
    w.maker("alpha", 11, SELL, 1001, 4)
    w.quote("alpha")
    w.order(USER, BUY, 1001, 4, IOC)
    w.down.add("alpha")
    ev = w.status("alpha", Health.DOWN)
    assert w.of(ev, PartnerStateChanged)[0].health == Health.DOWN and w.hub.depth(SYMBOL).asks == []
    ev = w.deliver()
    assert [e.outcome for e in w.of(ev, RouteEnded)] == ["EXPIRED"]
    assert w.hub.stats()["failed_by_reason"] == {"VENUE_DOWN": 1}


# ------------------------------------------------------------------------------------------ principal

def test_principal_fills_the_user_at_once_and_hedges():
    w = alpha_world(settlement="principal")
    w.maker("alpha", 11, SELL, 1001, 3)
    w.maker("alpha", 11, SELL, 1002, 4)
    w.quote("alpha")
    ev = w.order(USER, BUY, 1003, 7, IOC, cid="p")
    quote = (3 * 1001 + 4 * 1002) * 100
    [fill] = w.of(ev, RoutedFill)
    assert (fill.qty_lots, fill.quote_amount, fill.fee, fill.price_ticks) == (7, quote, quote * 20 // 10_000, 1002)
    assert [(e.outcome, e.filled_lots) for e in w.of(ev, RouteEnded)] == [("FILLED", 7)]
    [hedge] = w.children(ev)
    assert (hedge.parent, hedge.partner_qty_lots, hedge.partner_price_ticks) == (0, 7, 1002)
    assert w.hub.escrow() == {"BTC": 0, "USDT": 0}
    assert w.hub.stats()["operator"][SYMBOL]["inventory_units"] == -btc(7)
    w.deliver()
    op = w.hub.stats()["operator"][SYMBOL]
    assert op["inventory_units"] == 0 and op["cash_quote"] == -700
    assert all(held == dep for held, dep in w.conservation().values())


def test_principal_inventory_cap_limits_what_is_shown_and_a_failed_hedge_keeps_inventory():
    w = alpha_world(settlement="principal", inventory_cap_lots=5)
    maker = w.maker("alpha", 11, SELL, 1001, 8)[0].order_id
    w.quote("alpha")
    assert w.hub.depth(SYMBOL).asks == [(1001, 5)]
    ev = w.order(USER, BUY, 1001, 8, IOC)
    assert sum(f.qty_lots for f in w.of(ev, RoutedFill)) == 5
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=maker))
    w.deliver()
    stats = w.hub.stats()
    assert stats["hedge_failures"] == 1 and stats["operator"][SYMBOL]["inventory_units"] == -btc(5)
    assert w.hub.depth(SYMBOL).asks == []       # nothing left to show in that direction


# ------------------------------------------------------------------------------------------ edges

def test_bad_input_raises_and_changes_nothing():
    w = alpha_world()
    w.maker("alpha", 11, SELL, 1001, 4)
    w.quote("alpha")
    h = w.hub.state_hash()
    bad = [("not a command", TypeError),
           (SubmitOrder(w.now, USER, SYMBOL, BUY, OrderType.LIMIT, GTC, 1001, 1.0), TypeError),
           (PartnerQuote(w.now, "gamma", SYMBOL, w.now, (), ()), ValueError),
           (PartnerQuote(w.now, "alpha", "ETH-USDT", w.now, (), ()), ValueError),
           (PartnerQuote(w.now, "alpha", SYMBOL, w.now, ((0, 1),), ()), ValueError),
           (PartnerQuote(w.now, "alpha", SYMBOL, w.now, [(1, 1)], ()), TypeError),
           (ChildFilled(w.now, "alpha", 99, 1, 1, 0, 0), ValueError),
           (ChildRejected(w.now, "alpha", True, "x"), TypeError),
           (SettlementDone(w.now, 1), ValueError), (Deposit(True, USER, "BTC", 1), TypeError)]
    for cmd, exc in bad:
        with pytest.raises(exc):
            w.hub.handle(cmd)
        assert w.hub.state_hash() == h, cmd
    ev = w.order(USER, BUY, 1001, 4, IOC)
    [child] = w.children(ev)
    with pytest.raises(ValueError, match="partner lots"):
        w.hub.handle(ChildFilled(w.now, "alpha", child.child_id, 3, 1, 0, 0))
    with pytest.raises(ConfigError):
        MirroredVenue([home_instrument()], SharingConfig(model="pooled", home="home"))


def test_journal_round_trip_and_determinism():
    from exchange.journal.codec import decode, encode
    w, maker = stale_world("reroute", venues=("alpha", "beta"))
    w.maker("beta", 12, SELL, 2004, 30)
    w.quote("beta")
    w.order(USER, BUY, 1005, 5, GTC, cid="r")
    w.partner("alpha", CancelOrder(w.now, 11, SYMBOL, order_id=maker))
    w.deliver()
    w.status("beta", Health.DEFAULTED)
    replay = MirroredVenue([home_instrument()], w.config, fee_tiers=HOME_FEES, fee_account=FEE_ACCOUNT)
    events = []
    for cmd in w.log:
        back = decode(encode(cmd))
        assert back == cmd
        events += replay.handle(back)
    assert events == w.events and replay.state_hash() == w.hub.state_hash()


def test_partner_levels_rounding_to_one_home_price_are_summed_before_flooring():
    w = funded(World(venues=("beta",)), USER)
    w.heartbeat("beta")
    w.maker("beta", 12, SELL, 2001, 6)     # 1000.5 -> 1001
    w.maker("beta", 12, SELL, 2002, 7)     # 1001   -> 1001: 13 partner lots = 1 home lot (not 0 + 0)
    w.quote("beta")
    assert w.hub.depth(SYMBOL).asks == [(1001, 1)]


def test_market_buy_routes_only_what_the_users_budget_pays_for():
    w = alpha_world()
    w.maker("alpha", 11, SELL, 1001, 5)
    w.quote("alpha")
    buyer = 5
    w.home_deposit(buyer, "USDT", 310_000)   # one lot at 1001 with the fee escrowed: 100_100 + 200 = 100_300
    ev = w.market(buyer, BUY, 5)
    assert [c.partner_qty_lots for c in w.children(ev)] == [3]
    [home] = w.of(ev, OrderAccepted)
    assert home.qty_lots == 2 and w.of(ev, OrderExpired)[0].reason.name == "IOC_REMAINDER"
    w.deliver()
    assert w.hub.balances(buyer)["BTC"].available == btc(3)
    assert w.hub.balances(buyer)["USDT"].available == 310_000 - 3 * 100_100 - 3 * 100_100 * 20 // 10_000


def test_agency_sell_gets_the_partners_better_price_topped_up_by_the_operator():
    w = alpha_world()
    w.maker("alpha", 11, BUY, 999, 4)
    w.quote("alpha")
    before = w.hub.balances(USER)["USDT"].available
    ev = w.order(USER, SELL, 999, 4, IOC)
    [child] = w.children(ev)
    assert (child.side, child.partner_price_ticks, child.partner_qty_lots) == (SELL, 999, 4)
    assert w.hub.escrow() == {"BTC": btc(4), "USDT": 999 * 4 * 100}
    w.maker("alpha", 13, BUY, 1000, 4)          # a better bid arrives before the child does
    ev = w.deliver()
    [fill] = w.of(ev, RoutedFill)
    assert (fill.quote_amount, fill.price_ticks) == (400_000, 1000)
    assert w.hub.balances(USER)["USDT"].available - before == 400_000 - 400_000 * 20 // 10_000
    assert w.hub.stats()["agency_shortfall_quote"] == 0 and w.hub.escrow() == {"BTC": 0, "USDT": 0}
    assert all(held == dep for held, dep in w.conservation().values())


def test_two_symbols_one_mirrored_one_passive_in_one_command():
    from exchange import Asset, CancelAll, Instrument
    from exchange.liquidity import PartnerHeartbeat, PartnerSpec
    from mirror_helpers import USDT
    eth = Instrument.define("ETH-USDT", Asset("ETH", 6), USDT, tick_size="1", lot_size="0.01")
    home = home_instrument()
    cfg = SharingConfig(model="mirrored", home="home", operator_account=OPERATOR, partners=(
        PartnerSpec("alpha", {SYMBOL: home}, operator_account=OPERATOR, prefund={"USDT": 10**12, "BTC": 10**9}),))
    hub = MirroredVenue([eth, home], cfg, fee_tiers=HOME_FEES)
    events = []
    for cmd in [Deposit(0, OPERATOR, "BTC", 10**9), Deposit(0, OPERATOR, "USDT", 10**12),
                Deposit(0, USER, "USDT", 10**12),
                SubmitOrder(1, USER, "ETH-USDT", BUY, OrderType.LIMIT, GTC, 100, 2),
                SubmitOrder(1, USER, SYMBOL, BUY, OrderType.LIMIT, GTC, 990, 2),
                PartnerHeartbeat(2, "alpha", 2),
                PartnerQuote(3, "alpha", SYMBOL, 3, ((995, 4),), ((1001, 3),)),
                CancelAll(4, USER)]:
        events += hub.handle(cmd)
        hub._check()
    last = [e for e in events if isinstance(e, BookUpdated)][-2:]
    assert [(e.symbol, e.update_id, e.bids) for e in last] == [("BTC-USDT", 3, ((990, 0),)), ("ETH-USDT", 2, ((100, 0),))]
    for symbol in ("BTC-USDT", "ETH-USDT"):
        feed = BookFeed()
        feed.feed([e for e in events if isinstance(e, BookUpdated) and e.symbol == symbol])
        depth = hub.depth(symbol)
        assert feed.book() == (depth.bids, depth.asks) and feed.update_id == depth.update_id
    assert hub.depth(SYMBOL).bids == [(995, 4)] and hub.depth("ETH-USDT").bids == []
