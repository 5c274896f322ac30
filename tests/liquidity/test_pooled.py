"""PooledVenue on hand-made books: venues, eligibility, obligations and settlement, credit (both policies),
frozen venues, the heartbeat kill switch, default and exposure. Readable units (pool_helpers): a notional
is price x quantity; fees 10 bps maker, 20 bps taker.
"""
from __future__ import annotations

import json

import pytest
from pool_helpers import (ALT, B1, B2, BINANCE, F1, F2, FTX, H1, H2, HOME, SYMBOL, limit, make_pool, market, of,
                          pool_config, pool_instruments)

from exchange import (STP, AmendOrder, CancelAll, Deposit, EndReason, OrderAccepted, OrderCanceled,
                      OrderExpired, OrderRejected, OrderType, RejectReason, Side, SubmitOrder, TimeInForce,
                      TradeExecuted)
from exchange.liquidity import (ChildFilled, ConfigError, ExposureBooked, Health, ObligationBooked, OrderRefused,
                                PartnerHeartbeat, PartnerQuote, PartnerStateChanged, PartnerStatus, SettleDue,
                                SettlementCompleted, SettlementDone, SettlementFailed, SettlementMissed,
                                SettlementStarted)
from exchange.liquidity.pooled import PooledVenue

BUY, SELL = Side.BUY, Side.SELL


def checked(pool: PooledVenue, command) -> list:
    events = pool.handle(command)
    pool._check()
    return events


# ---------------------------------------------------------------------------- configuration and input
def test_config_must_be_pooled_and_keep_the_fee_account_out_of_partner_ranges():
    from dataclasses import replace
    cfg = pool_config()
    with pytest.raises(ConfigError, match="model = 'pooled'"):
        PooledVenue(pool_instruments(), replace(cfg, model="mirrored"))
    with pytest.raises(ConfigError, match="fee account 150 lies in partner binance"):
        PooledVenue(pool_instruments(), cfg, fee_account=150)
    with pytest.raises(ConfigError, match="overlap"):
        PooledVenue(pool_instruments(), replace(cfg, home_accounts=(1, 150)))


def test_mistyped_or_foreign_commands_raise_and_change_nothing():
    pool = make_pool()
    before = pool.state_hash()
    for bad in ("SubmitOrder", limit(1, B1, BUY, 1000, 1.0), limit(1, B1, BUY, True, 1),
                PartnerHeartbeat(1, BINANCE, 1.5), PartnerStatus(1, BINANCE, 9), SettlementDone(1, "7")):
        with pytest.raises(TypeError):
            pool.handle(bad)
    for bad in (PartnerStatus(1, "mtgox", Health.DOWN), PartnerStatus(1, HOME, Health.DOWN),
                PartnerHeartbeat(1, "mtgox", 1), ChildFilled(1, BINANCE, 1, 1, 1, 0, 0)):
        with pytest.raises(ValueError):
            pool.handle(bad)
    assert pool.state_hash() == before


def test_refusals_change_nothing():
    pool = make_pool()
    checked(pool, Deposit(1, 5000, "QUOTE", 10))   # outside every range: counted on the home side
    before = pool.state_hash()
    cases = [
        (limit(2, 5000, BUY, 1000, 1), "NO_VENUE"),
        (limit(2, F1, BUY, 1000, 1, symbol=ALT), "NOT_ELIGIBLE"),
        (limit(2, B1, BUY, 1000, 51), "CREDIT_LIMIT"),
    ]
    for command, reason in cases:
        [event] = checked(pool, command)
        assert type(event) is OrderRefused and event.reason == reason, event
        assert event.account == command.account and event.symbol == command.symbol
        assert pool.state_hash() == before
    # The home venue trades everything, a partner every eligible symbol.
    assert of(checked(pool, limit(3, H1, BUY, 10, 1, symbol=ALT)), OrderAccepted)
    assert of(checked(pool, limit(3, B1, BUY, 10, 1, symbol=ALT)), OrderAccepted)
    assert pool.stats()["refusals"] == {"(none)": {"NO_VENUE": 1}, BINANCE: {"CREDIT_LIMIT": 1},
                                        FTX: {"NOT_ELIGIBLE": 1}}


def test_unknown_symbol_and_malformed_orders_get_the_engines_reject():
    pool = make_pool()
    [event] = checked(pool, limit(1, B1, BUY, 1000, 1, symbol="NOPE-QUOTE"))
    assert type(event) is OrderRejected and event.reason is RejectReason.UNKNOWN_SYMBOL
    [event] = checked(pool, limit(1, B1, BUY, 1000, 0))
    assert type(event) is OrderRejected and event.reason is RejectReason.INVALID_QUANTITY
    [event] = checked(pool, SubmitOrder(1, B1, SYMBOL, 7, OrderType.LIMIT, TimeInForce.GTC, 1000, 1))
    assert type(event) is OrderRejected and event.reason is RejectReason.INVALID_ORDER_SPEC


# ---------------------------------------------------------------------------- obligations and settlement
def test_cross_venue_fill_books_both_obligations_and_the_partners_fees():
    pool = make_pool()
    checked(pool, limit(1, B1, SELL, 1000, 10))
    events = checked(pool, limit(2, H1, BUY, 1000, 4))
    [trade] = of(events, TradeExecuted)
    assert of(events, ObligationBooked) == [
        ObligationBooked(2, HOME, BINANCE, "QUOTE", 4000, trade.seq),
        ObligationBooked(2, BINANCE, HOME, "BASE", 4, trade.seq)]
    assert pool.ledger.fees_held(BINANCE) == {"QUOTE": 4}        # the binance maker's 10 bps
    # A fill within one venue books no obligation.
    events = checked(pool, limit(3, B2, BUY, 1000, 2))
    assert of(events, TradeExecuted) and not of(events, ObligationBooked)
    assert pool.ledger.fees_held(BINANCE) == {"QUOTE": 4 + 2 + 4}
    stats = pool.stats()
    assert stats["cross_venue"] == {f"{HOME}|{BINANCE}": {"fills": 1, "lots": 4, "notional": {"QUOTE": 4000}}}
    assert stats["volume_lots"] == {HOME: 4, BINANCE: 6, FTX: 0}
    assert stats["taker_lots"] == {HOME: 4, BINANCE: 2, FTX: 0}
    json.dumps(stats)


def test_settlement_nets_on_schedule_and_answers_move_custody():
    pool = make_pool()                                   # settle_every = 100 ns from ts 0
    checked(pool, limit(1, B1, SELL, 1000, 10))
    checked(pool, limit(2, H1, BUY, 1000, 4))            # busan owes 4000 QUOTE, binance owes 4 BASE
    checked(pool, limit(3, H2, SELL, 999, 3))
    checked(pool, limit(4, B2, BUY, 1000, 3))            # binance owes 2997 QUOTE, busan owes 3 BASE
    assert checked(pool, SettleDue(99)) == []
    started = checked(pool, SettleDue(100))
    assert started == [SettlementStarted(100, 1, HOME, BINANCE, "QUOTE", 4000 - 2997),
                       SettlementStarted(100, 2, BINANCE, HOME, "BASE", 4 - 3),
                       SettlementStarted(100, 3, BINANCE, HOME, "QUOTE", 4 + 5)]   # maker 10 + taker 20 bps
    assert checked(pool, SettleDue(150)) == []           # next one due at 200
    custody = {v: dict(c) for v, c in pool.ledger.custody.items()}
    assert checked(pool, SettlementDone(160, 1)) == [SettlementCompleted(160, 1)]
    assert pool.ledger.custody[HOME]["QUOTE"] == custody[HOME]["QUOTE"] - 1003
    assert pool.ledger.custody[BINANCE]["QUOTE"] == custody[BINANCE]["QUOTE"] + 1003
    assert checked(pool, SettlementFailed(170, 2, "TRANSFER_FAILED")) == [
        SettlementMissed(170, 2, "TRANSFER_FAILED")]
    assert checked(pool, SettlementDone(171, 2)) == [SettlementMissed(171, 2, "UNKNOWN_BATCH")]
    assert checked(pool, SettlementDone(172, 3)) == [SettlementCompleted(172, 3)]
    assert pool.ledger.open_nets() == {(BINANCE, HOME): {"BASE": 1}}
    assert checked(pool, SettleDue(200)) == [SettlementStarted(200, 4, BINANCE, HOME, "BASE", 1)]
    checked(pool, SettlementDone(201, 4))
    assert pool.ledger.open_nets() == {} and pool.ledger.in_settlement() == {}
    assert pool.stats()["settlements"] == {"started": 4, "fee_batches": 1, "completed": 3, "failed": 1,
                                           "missed": 1}


def test_deposits_and_withdrawals_move_the_venues_custody():
    pool = make_pool()
    assert pool.ledger.custody[BINANCE]["QUOTE"] == 2_000_000
    checked(pool, Deposit(1, 150, "QUOTE", 7))
    from exchange import Withdraw
    checked(pool, Withdraw(2, F1, "QUOTE", 5))
    checked(pool, Deposit(3, 0, "BASE", 9))              # the fee account: home side
    assert pool.ledger.custody[BINANCE]["QUOTE"] == 2_000_007
    assert pool.ledger.custody[FTX]["QUOTE"] == 1_999_995
    assert pool.ledger.custody[HOME]["BASE"] == 2_000_009


# ---------------------------------------------------------------------------- credit: reject
def test_credit_counts_what_is_owed_plus_what_open_orders_reserve():
    pool = make_pool()                                   # binance may owe 50_000 QUOTE units
    assert of(checked(pool, limit(1, B1, SELL, 1000, 10)), OrderAccepted)   # reserves 10 BASE = 10_000
    before = pool.state_hash()
    [refused] = checked(pool, limit(2, B2, SELL, 1000, 41))
    assert refused.reason == "CREDIT_LIMIT"
    assert "51000" in refused.message and "10000 reserved" in refused.message
    assert "41000 for this order" in refused.message and "limit of 50000" in refused.message
    assert "at most 40000 fits" in refused.message
    assert pool.state_hash() == before
    assert of(checked(pool, limit(3, B2, SELL, 1000, 40)), OrderAccepted)   # exactly at the limit
    assert checked(pool, limit(4, B2, BUY, 10, 1))[0].reason == "CREDIT_LIMIT"
    checked(pool, CancelAll(5, B1))
    assert of(checked(pool, limit(6, B2, BUY, 900, 10)), OrderAccepted)     # 9_000 fits again


def test_a_sell_counts_at_its_limit_price_when_that_is_above_the_mark():
    pool = make_pool()
    checked(pool, limit(1, H1, SELL, 100, 1))
    checked(pool, limit(2, H2, BUY, 100, 1))             # mark 100
    [refused] = checked(pool, limit(3, B1, SELL, 5_001, 10))
    assert refused.reason == "CREDIT_LIMIT" and "50010 for this order" in refused.message
    assert of(checked(pool, limit(4, B1, SELL, 5_000, 10)), OrderAccepted)
    # Valued at the mark, the resting sell counts 1000: a buy of 49_000 fits beside it.
    assert of(checked(pool, limit(5, B2, BUY, 49, 1000)), OrderAccepted)


def test_market_orders_reserve_what_they_could_spend():
    pool = make_pool()
    checked(pool, limit(1, H1, SELL, 1000, 30))
    checked(pool, limit(1, H1, SELL, 2000, 30))
    # 40 lots by quantity walk 30 @ 1000 + 10 @ 2000 = 50_000: fits exactly.
    assert of(checked(pool, market(2, B1, BUY, qty=40)), TradeExecuted)
    assert pool.ledger.usage(BINANCE) == {"QUOTE": 50_000}
    [refused] = checked(pool, market(3, B2, BUY, quote=1))
    assert refused.reason == "CREDIT_LIMIT"
    checked(pool, SettleDue(100))
    for batch in pool.ledger.batches():
        checked(pool, SettlementDone(101, batch.batch_id))
    assert pool.ledger.usage(BINANCE) == {}
    assert of(checked(pool, market(102, B2, BUY, quote=40_000)), TradeExecuted)   # 20 lots @ 2000


def test_amends_that_reserve_more_are_checked():
    pool = make_pool()
    [accepted, _] = checked(pool, limit(1, B1, BUY, 1000, 40))
    [refused] = checked(pool, AmendOrder(2, B1, SYMBOL, accepted.order_id, new_qty_lots=51))
    assert refused.reason == "CREDIT_LIMIT"
    [refused] = checked(pool, AmendOrder(3, B1, SYMBOL, accepted.order_id, new_price_ticks=1251))
    assert refused.reason == "CREDIT_LIMIT"               # 40 x 1251 > 50_000
    [rejected] = checked(pool, AmendOrder(3, B1, SYMBOL, 0, client_order_id="nope", new_qty_lots=99))
    assert rejected.reason is RejectReason.UNKNOWN_ORDER  # no such order: the engine answers
    events = checked(pool, AmendOrder(4, B1, SYMBOL, accepted.order_id, new_qty_lots=50))
    assert events[0].__class__.__name__ == "OrderAmended"
    assert pool.credit.reserved(BINANCE) == {"QUOTE": 50_000}
    events = checked(pool, AmendOrder(5, B1, SYMBOL, accepted.order_id, new_qty_lots=30, new_price_ticks=900))
    assert pool.credit.reserved(BINANCE) == {"QUOTE": 27_000}


# ---------------------------------------------------------------------------- credit: own venue
def own_venue_book() -> PooledVenue:
    """asks: binance 5 @ 1000, binance 3 @ 1001, busan 4 @ 1001, ftx 10 @ 1002; binance may owe 10_000."""
    pool = make_pool("own_venue", binance_limit=10_000)
    checked(pool, limit(1, B2, SELL, 1000, 5))
    checked(pool, limit(2, B2, SELL, 1001, 3))
    checked(pool, limit(3, H1, SELL, 1001, 4))
    checked(pool, limit(4, F1, SELL, 1002, 10))
    return pool


def test_own_venue_trades_the_own_run_then_refuses_a_crossing_rest():
    pool = own_venue_book()
    events = checked(pool, limit(5, B1, BUY, 1002, 20, cid="big"))
    [ioc] = of(events, OrderAccepted)
    assert (ioc.tif, ioc.price_ticks, ioc.qty_lots, ioc.client_order_id) == (TimeInForce.IOC, 1001, 8, "big")
    assert [(t.price_ticks, t.qty_lots, t.maker_account) for t in of(events, TradeExecuted)] == [
        (1000, 5, B2), (1001, 3, B2)]
    assert not of(events, ObligationBooked)
    [refused] = of(events, OrderRefused)
    assert refused.reason == "CREDIT_LIMIT" and "8 lots traded" in refused.message
    assert "the other 12 would trade with another venue's order at 1001" in refused.message
    assert pool.stats()["credit"][BINANCE]["own_venue_caps"] == 1


def test_own_venue_rests_the_rest_when_it_does_not_cross_and_fits():
    pool = own_venue_book()
    events = checked(pool, limit(5, B1, BUY, 1000, 10))
    first, second = of(events, OrderAccepted)
    assert (first.tif, first.qty_lots, second.tif, second.qty_lots) == (TimeInForce.IOC, 5, TimeInForce.GTC, 5)
    assert [v.remaining_lots for v in pool.open_orders(B1)] == [5]
    # Too big to rest: refused after the own-venue part.
    events = checked(pool, limit(6, B1, BUY, 1000, 20))
    assert not of(events, OrderAccepted) and of(events, OrderRefused)[0].message.endswith("cannot rest")


def test_own_venue_skips_or_stops_at_the_takers_own_orders_as_its_stp_says():
    pool = make_pool("own_venue", binance_limit=10_000)
    checked(pool, limit(1, B1, SELL, 999, 2))
    checked(pool, limit(2, B2, SELL, 1000, 5))
    checked(pool, limit(3, H1, SELL, 1000, 5))
    events = checked(pool, limit(4, B1, BUY, 1000, 20, tif=TimeInForce.IOC))     # stp EXPIRE_MAKER
    assert [e.reason for e in of(events, OrderExpired)] == [EndReason.SELF_TRADE]
    assert [(t.maker_account, t.qty_lots) for t in of(events, TradeExecuted)] == [(B2, 5)]
    assert "the other 15 were not sent" in of(events, OrderRefused)[0].message
    checked(pool, limit(5, B1, SELL, 999, 2))
    checked(pool, limit(6, B2, SELL, 1000, 5))
    cmd = limit(7, B1, BUY, 1000, 20, tif=TimeInForce.IOC)._replace(stp=STP.EXPIRE_TAKER)
    [refused] = checked(pool, cmd)
    assert refused.reason == "CREDIT_LIMIT" and "no order of binance's own" in refused.message


def test_own_venue_caps_market_and_fok_orders_and_refuses_post_only():
    pool = own_venue_book()
    events = checked(pool, market(5, B1, BUY, qty=20))
    [accepted] = of(events, OrderAccepted)
    assert accepted.qty_lots == 8 and sum(t.qty_lots for t in of(events, TradeExecuted)) == 8
    assert "the other 12 lots were not sent" in of(events, OrderRefused)[0].message
    pool = own_venue_book()
    events = checked(pool, market(5, B1, BUY, quote=100_000))
    [accepted] = of(events, OrderAccepted)
    assert accepted.quote_qty == 5 * 1000 + 3 * 1001
    pool = own_venue_book()
    assert of(checked(pool, limit(5, B1, BUY, 1002, 20, tif=TimeInForce.FOK)), OrderRefused)
    events = checked(pool, limit(6, B1, BUY, 1002, 12, tif=TimeInForce.FOK))
    assert of(events, OrderRefused)                      # 12 > the 8 own lots
    events = checked(pool, SubmitOrder(7, B1, SYMBOL, BUY, OrderType.LIMIT_MAKER, TimeInForce.GTC, 900, 20))
    assert of(events, OrderRefused)[0].message.endswith("which needs credit")


def test_own_venue_fok_that_the_own_run_fills_goes_unchanged():
    pool = make_pool("own_venue", binance_limit=6_000)
    checked(pool, limit(1, B2, SELL, 1000, 5))
    checked(pool, limit(2, H1, SELL, 1000, 5))
    events = checked(pool, limit(3, B1, BUY, 1000, 5, tif=TimeInForce.FOK))
    [accepted] = of(events, OrderAccepted)
    assert accepted.tif == TimeInForce.FOK and [t.maker_account for t in of(events, TradeExecuted)] == [B2]


# ---------------------------------------------------------------------------- frozen venues, kill switch
def test_down_pulls_every_order_and_refuses_new_ones_until_up():
    pool = make_pool()
    checked(pool, limit(1, B1, SELL, 1000, 5))
    checked(pool, limit(1, B1, BUY, 900, 5, symbol=ALT))
    checked(pool, limit(1, B2, BUY, 900, 5))
    checked(pool, limit(1, F1, BUY, 900, 5))
    events = checked(pool, PartnerStatus(2, BINANCE, Health.DOWN, "maintenance"))
    assert events[0] == PartnerStateChanged(2, BINANCE, Health.DOWN, False, "ANNOUNCED")
    assert sorted((e.account, e.reason) for e in of(events, OrderCanceled)) == [
        (B1, EndReason.USER), (B1, EndReason.USER), (B2, EndReason.USER)]
    assert pool.open_orders(B1) == pool.open_orders(B2) == [] and pool.open_orders(F1)
    [refused] = checked(pool, limit(3, B1, BUY, 900, 1))
    assert refused.reason == "VENUE_FROZEN" and "DOWN" in refused.message
    [rejected] = checked(pool, CancelAll(3, B1))          # cancels go through (nothing left to cancel)
    assert rejected.reason is RejectReason.UNKNOWN_ORDER
    assert checked(pool, PartnerStatus(4, BINANCE, Health.DOWN)) == []
    assert checked(pool, PartnerStatus(5, BINANCE, Health.UP)) == [
        PartnerStateChanged(5, BINANCE, Health.UP, True, "ANNOUNCED")]
    assert of(checked(pool, limit(6, B1, BUY, 900, 1)), OrderAccepted)
    assert pool.stats()["orders_pulled"][BINANCE] == {"down": 3, "timeout": 0, "default": 0}


def test_stale_is_recorded_and_changes_nothing_else():
    pool = make_pool()
    checked(pool, limit(1, F1, BUY, 900, 5))
    assert checked(pool, PartnerStatus(2, FTX, Health.STALE)) == [
        PartnerStateChanged(2, FTX, Health.STALE, True, "ANNOUNCED")]
    assert pool.open_orders(F1) and of(checked(pool, limit(3, F1, BUY, 900, 1)), OrderAccepted)
    assert checked(pool, PartnerQuote(4, FTX, SYMBOL, 4, ((900, 1),), ())) == []


def test_heartbeat_timeout_pulls_the_partner_until_a_heartbeat_returns():
    pool = make_pool()                                    # timeout 1000 ns; clocks start at ts 0
    checked(pool, limit(1, F1, BUY, 900, 5))
    checked(pool, limit(1, B1, BUY, 900, 5))
    checked(pool, PartnerHeartbeat(900, BINANCE, 900))
    assert of(checked(pool, limit(1000, H1, BUY, 800, 1)), PartnerStateChanged) == []
    events = checked(pool, limit(1001, H1, BUY, 800, 1))
    assert events[0] == PartnerStateChanged(1001, FTX, Health.DOWN, False, "HEARTBEAT_TIMEOUT")
    assert [e.account for e in of(events, OrderCanceled)] == [F1]
    assert of(events, OrderAccepted)[0].account == H1      # the command itself comes after
    assert pool.open_orders(B1)
    assert "heartbeat stopped" in checked(pool, limit(1002, F1, BUY, 900, 1))[0].message
    events = checked(pool, SettleDue(1901))              # binance's last heartbeat was at 900
    assert events[0] == PartnerStateChanged(1901, BINANCE, Health.DOWN, False, "HEARTBEAT_TIMEOUT")
    assert [e.account for e in of(events, OrderCanceled)] == [B1]
    events = checked(pool, PartnerHeartbeat(2000, FTX, 2000))
    assert events == [PartnerStateChanged(2000, FTX, Health.UP, True, "HEARTBEAT_RESUMED")]
    assert of(checked(pool, limit(2001, F1, BUY, 900, 1)), OrderAccepted)
    assert pool.health(FTX) == Health.UP and pool.health(BINANCE) == Health.DOWN
    assert pool.stats()["orders_pulled"][FTX]["timeout"] == 1


# ---------------------------------------------------------------------------- default and exposure
def test_default_pulls_orders_writes_off_what_it_owes_and_bounds_the_exposure():
    pool = make_pool(loss_given_default_bps=6_000)       # binance may owe 50_000
    checked(pool, limit(1, B1, SELL, 1000, 10))
    checked(pool, limit(2, H1, BUY, 1000, 10))           # binance owes 10 BASE, busan owes 10_000 QUOTE
    checked(pool, limit(3, F1, SELL, 1000, 20))
    checked(pool, limit(4, B2, BUY, 1000, 20))           # binance owes ftx 20_000 QUOTE, ftx owes 20 BASE
    started = checked(pool, SettleDue(100))
    checked(pool, limit(101, B1, SELL, 1100, 5))         # open again: binance owes 5 BASE more
    checked(pool, limit(102, H2, BUY, 1100, 5))
    checked(pool, limit(103, B2, BUY, 900, 3))           # a resting order, to be pulled
    owed = pool.ledger.owed_by(BINANCE)
    assert owed == {(HOME, "BASE"): 15, (FTX, "QUOTE"): 20_000}
    fees = pool.ledger.fees_held(BINANCE)
    events = checked(pool, PartnerStatus(104, BINANCE, Health.DEFAULTED, "bankrupt"))
    assert events[0] == PartnerStateChanged(104, BINANCE, Health.DEFAULTED, False, "ANNOUNCED")
    assert [e.account for e in of(events, OrderCanceled)] == [B2]
    exposures = of(events, ExposureBooked)
    assert exposures == [
        ExposureBooked(104, BINANCE, HOME, "BASE", 9, 9 * 1100, "OBLIGATION"),     # ceil(15 x 0.6)
        ExposureBooked(104, BINANCE, FTX, "QUOTE", 12_000, 12_000, "OBLIGATION"),
        ExposureBooked(104, BINANCE, HOME, "QUOTE", -(-fees["QUOTE"] * 6000 // 10_000),
                       -(-fees["QUOTE"] * 6000 // 10_000), "FEES"),
    ]
    # Bounded by the limit at the marks of binance's last admitted check.
    marks = pool.credit.check_marks(BINANCE, "QUOTE")
    ead = pool.credit.value("BASE", 15, "QUOTE", marks) + 20_000
    assert ead <= 50_000
    # Its batches as payer are dead; the ones it is paid by still settle.
    for batch in started:
        events = checked(pool, SettlementDone(105, batch.batch_id))
        if batch.payer == BINANCE:
            assert events == [SettlementMissed(105, batch.batch_id, "PAYER_DEFAULTED")]
        else:
            assert events == [SettlementCompleted(105, batch.batch_id)]
    assert checked(pool, PartnerStatus(106, BINANCE, Health.UP)) == []
    assert pool.stats()["ignored_status"] == 1
    assert checked(pool, limit(107, B1, BUY, 900, 1))[0].reason == "VENUE_FROZEN"
    assert pool.stats()["exposure"][BINANCE]["ead"] == {"QUOTE": 15 * 1100 + 20_000 + fees["QUOTE"]}


def test_default_of_an_already_down_venue_books_exposure_without_pulling_again():
    pool = make_pool()
    checked(pool, limit(1, F1, SELL, 1000, 5))
    checked(pool, limit(2, H1, BUY, 1000, 5))
    checked(pool, limit(3, F2, BUY, 900, 5))
    checked(pool, PartnerStatus(4, FTX, Health.DOWN))
    events = checked(pool, PartnerStatus(5, FTX, Health.DEFAULTED))
    assert events[0] == PartnerStateChanged(5, FTX, Health.DEFAULTED, False, "ANNOUNCED")
    assert not of(events, OrderCanceled)
    assert [(e.creditor, e.asset, e.kind) for e in of(events, ExposureBooked)] == [
        (HOME, "BASE", "OBLIGATION"), (HOME, "QUOTE", "FEES")]


# ---------------------------------------------------------------------------- determinism
def test_same_commands_same_events_and_state():
    def run() -> tuple[list, str]:
        pool = make_pool("own_venue", binance_limit=10_000)
        out = []
        for cmd in [limit(1, B2, SELL, 1000, 5), limit(2, H1, SELL, 1001, 4), limit(3, B1, BUY, 1002, 9),
                    market(4, F1, SELL, qty=2), SettleDue(100), SettlementDone(101, 1),
                    PartnerStatus(102, FTX, Health.DEFAULTED), PartnerHeartbeat(103, BINANCE, 1)]:
            out.extend(pool.handle(cmd))
        return out, pool.state_hash()

    assert run() == run()
