"""Hand-written engine scenarios with exact expected events and balances (CONTRACT.md by example).

Every test runs twice, against ``exchange.Engine`` and against ``tests/reference_model.py`` (the
``impl_kind`` fixture), so a failure names which of the two implementations is off. Units are chosen to
be read at a glance: on BASE-QUOTE one tick x one lot is one QUOTE unit, so a trade's notional is
``price x qty``. Fee tier 0 is maker 10 bps / taker 20 bps (holds use 20), tier 1 is free, tier 2 is
300 / 700 bps.
"""
from __future__ import annotations

import pytest

from engine_helpers import balances_dict, event_key, make_impl, view_tuple
from exchange import (MAX_AMOUNT, STP, AmendOrder, BalanceChanged, BookUpdated, CancelAll, CancelOrder,
                      CommandRejected, Deposit, EndReason, FeeTierChanged, HaltInstrument, InstrumentHalted,
                      InstrumentResumed, OrderAccepted, OrderAmended, OrderCanceled, OrderExpired,
                      OrderRejected, OrderType, RejectReason, ResumeInstrument, SetFeeTier, Side, SubmitOrder,
                      TimeInForce, TradeExecuted, Withdraw)

S = "BASE-QUOTE"
K = "KOR-KRW"
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET, MAKER = OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
R = RejectReason


class Harness:
    """Stamps ts_ns = the step number, keeps the events, and reads balances compactly."""

    def __init__(self, kind: str, **kwargs) -> None:
        self.impl = make_impl(kind, **kwargs)
        self.ts = 0

    def __call__(self, cmd) -> list:
        self.ts += 1
        events = self.impl.handle(cmd._replace(ts_ns=self.ts))
        self.impl._check()
        return events

    def limit(self, account, side, price, qty, tif=GTC, symbol=S, **kw) -> list:
        return self(SubmitOrder(0, account, symbol, side, LIMIT, tif, price, qty, **kw))

    def bal(self, account, asset) -> tuple[int, int]:
        """(available, held)."""
        b = self.impl.balances(account)[asset]
        return (b.available, b.held)

    def l3_ids(self, symbol=S) -> tuple[list[int], list[int]]:
        bids, asks = self.impl.l3(symbol)
        return [v.order_id for v in bids], [v.order_id for v in asks]

    def state(self) -> tuple:
        """Everything a rejected command must leave alone."""
        return ({s: (self.impl.depth(s), [list(map(view_tuple, side)) for side in self.impl.l3(s)])
                 for s in (S, K)},
                {a: balances_dict(self.impl.balances(a)) for a in range(0, 6)},
                self.impl.totals(), self.impl.net_deposits())

    def conserved(self) -> bool:
        return self.impl.totals() == self.impl.net_deposits()


def keys(events) -> list:
    return [event_key(e) for e in events]


@pytest.fixture
def h(impl_kind) -> Harness:
    """Account 1 has 100,000 QUOTE; account 2 has 100 BASE; account 3 has both. Seq is 4 after this."""
    h = Harness(impl_kind)
    h(Deposit(0, 1, "QUOTE", 100_000))
    h(Deposit(0, 2, "BASE", 100))
    h(Deposit(0, 3, "QUOTE", 100_000))
    h(Deposit(0, 3, "BASE", 100))
    return h


# --------------------------------------------------------------------------- deposits, fees, fills

def test_deposit_withdraw_and_fee_tier_events(impl_kind):
    h = Harness(impl_kind)
    assert keys(h(Deposit(0, 5, "QUOTE", 700))) == keys([BalanceChanged(1, 1, 5, "QUOTE", 700, 700)])
    assert keys(h(Withdraw(0, 5, "QUOTE", 200))) == keys([BalanceChanged(2, 2, 5, "QUOTE", -200, 500)])
    assert keys(h(SetFeeTier(0, 5, 2))) == keys([FeeTierChanged(3, 3, 5, 2)])
    assert keys(h(SetFeeTier(0, 0, 1))) == keys([FeeTierChanged(4, 4, 0, 1)])  # the fee account is known
    assert h.bal(5, "QUOTE") == (500, 0)
    assert h.impl.balances(6) == {}
    assert h.impl.net_deposits()["QUOTE"] == 500 and h.conserved()


def test_limit_cross_with_fees(h):
    assert keys(h.limit(2, SELL, 1000, 10)) == keys([
        OrderAccepted(5, 5, 5, 2, S, SELL, LIMIT, GTC, 1000, 10, 0, "", STP.EXPIRE_MAKER),
        BookUpdated(6, 5, S, 1, (), ((1000, 10),)),
    ])
    assert h.bal(2, "BASE") == (90, 10)
    assert keys(h.limit(1, BUY, 1010, 4)) == keys([
        OrderAccepted(7, 6, 7, 1, S, BUY, LIMIT, GTC, 1010, 4, 0, "", STP.EXPIRE_MAKER),
        # At the maker's price; notional 4000; maker fee 4000 x 10 bps = 4, taker fee 4000 x 20 bps = 8.
        TradeExecuted(8, 6, S, 1000, 4, 4000, BUY, 5, 2, 7, 1, 4, 8),
        BookUpdated(9, 6, S, 2, (), ((1000, 6),)),
    ])
    assert h.bal(1, "QUOTE") == (100_000 - 4008, 0)
    assert h.bal(1, "BASE") == (4, 0)
    assert h.bal(2, "BASE") == (90, 6)
    assert h.bal(2, "QUOTE") == (4000 - 4, 0)
    assert h.bal(0, "QUOTE") == (12, 0)
    assert h.conserved()


def test_fees_round_down(impl_kind):
    h = Harness(impl_kind)
    h(Deposit(0, 1, "QUOTE", 10_000))
    h(Deposit(0, 2, "BASE", 10))
    h.limit(2, SELL, 499, 1)                      # notional 499: maker fee 0.499 -> 0
    ev = h.limit(1, BUY, 499, 1)
    trade = [e for e in ev if isinstance(e, TradeExecuted)][0]
    assert (trade.quote_amount, trade.maker_fee, trade.taker_fee) == (499, 0, 0)   # 0.998 -> 0
    h.limit(2, SELL, 999, 1)
    ev = h.limit(1, BUY, 999, 1)
    trade = [e for e in ev if isinstance(e, TradeExecuted)][0]
    assert (trade.maker_fee, trade.taker_fee) == (0, 1)                           # 0.999 -> 0, 1.998 -> 1
    assert h.bal(0, "QUOTE") == (1, 0)
    assert h.bal(1, "QUOTE") == (10_000 - 499 - 999 - 1, 0)
    assert h.conserved()


def test_partial_fill_rests_the_remainder_with_its_hold(h):
    h.limit(2, SELL, 1000, 4)                                     # order 5
    ev = h.limit(1, BUY, 1005, 10)                                # order 7
    assert keys(ev) == keys([
        OrderAccepted(7, 6, 7, 1, S, BUY, LIMIT, GTC, 1005, 10, 0, "", STP.EXPIRE_MAKER),
        TradeExecuted(8, 6, S, 1000, 4, 4000, BUY, 5, 2, 7, 1, 4, 8),
        BookUpdated(9, 6, S, 2, ((1005, 6),), ((1000, 0),)),
    ])
    # Hold H(1005, 6) = 6030 + 6030 x 20 bps = 6042; spent 4000 + 8; the price improvement came back.
    assert h.bal(1, "QUOTE") == (100_000 - 4008 - 6042, 6042)
    [view] = h.impl.open_orders(1)
    assert (view.order_id, view.price_ticks, view.qty_lots, view.remaining_lots, view.filled_lots) == (
        7, 1005, 10, 6, 4)
    assert h.impl.depth(S).bids == [(1005, 6)] and h.conserved()


def test_market_buy_by_quote(h):
    h.limit(2, SELL, 1000, 3)   # order 5
    h.limit(2, SELL, 1001, 5)   # order 7
    ev = h(SubmitOrder(0, 1, S, BUY, MARKET, IOC, 0, 0, quote_qty=5000))
    assert keys(ev) == keys([
        OrderAccepted(9, 7, 9, 1, S, BUY, MARKET, IOC, 0, 0, 5000, "", STP.EXPIRE_MAKER),
        TradeExecuted(10, 7, S, 1000, 3, 3000, BUY, 5, 2, 9, 1, 3, 6),
        TradeExecuted(11, 7, S, 1001, 1, 1001, BUY, 7, 2, 9, 1, 1, 2),   # 2000 // 1001 = 1 lot
        OrderExpired(12, 7, 9, 1, S, 0, EndReason.IOC_REMAINDER),        # 999 quote left; 0 lots (by quote)
        BookUpdated(13, 7, S, 3, (), ((1000, 0), (1001, 4))),
    ])
    assert h.bal(1, "QUOTE") == (100_000 - 3006 - 1003, 0)
    assert h.bal(1, "BASE") == (4, 0)
    assert h.conserved()


def test_market_buy_by_quote_filled_exactly_ends_without_expiry(h):
    h.limit(2, SELL, 1000, 3)
    ev = h(SubmitOrder(0, 1, S, BUY, MARKET, IOC, 0, 0, quote_qty=2000))
    assert [type(e).__name__ for e in ev] == ["OrderAccepted", "TradeExecuted", "BookUpdated"]
    assert h.bal(1, "QUOTE") == (100_000 - 2004, 0)


def test_market_buy_by_qty_runs_out_of_funds(impl_kind):
    h = Harness(impl_kind)
    h(Deposit(0, 2, "BASE", 10))
    h(Deposit(0, 3, "QUOTE", 2500))
    h.limit(2, SELL, 1000, 5)                                             # order 3
    ev = h(SubmitOrder(0, 3, S, BUY, MARKET, IOC, 0, 5))
    # Budget 2500: 2 lots cost 2000 + 4 fee; 3 would cost 3006.
    assert keys(ev) == keys([
        OrderAccepted(5, 4, 5, 3, S, BUY, MARKET, IOC, 0, 5, 0, "", STP.EXPIRE_MAKER),
        TradeExecuted(6, 4, S, 1000, 2, 2000, BUY, 3, 2, 5, 3, 2, 4),
        OrderExpired(7, 4, 5, 3, S, 3, EndReason.INSUFFICIENT_FUNDS),
        BookUpdated(8, 4, S, 2, (), ((1000, 3),)),
    ])
    assert h.bal(3, "QUOTE") == (2500 - 2004, 0)
    assert h.bal(3, "BASE") == (2, 0)
    assert h.conserved()


def test_market_buy_by_qty_expires_the_rest_when_the_book_runs_out(h):
    h.limit(2, SELL, 1000, 2)
    ev = h(SubmitOrder(0, 1, S, BUY, MARKET, IOC, 0, 5))
    assert keys(ev)[-2:] == keys([OrderExpired(9, 6, 7, 1, S, 3, EndReason.IOC_REMAINDER),
                                  BookUpdated(10, 6, S, 2, (), ((1000, 0),))])
    assert h.bal(1, "QUOTE") == (100_000 - 2004, 0)   # the budget's unspent rest came back


def test_market_sell_by_qty_and_by_quote(h):
    h.limit(1, BUY, 1000, 5)    # order 5, hold 5000 + 10
    h.limit(1, BUY, 990, 5)     # order 7, hold 4950 + 9
    ev = h(SubmitOrder(0, 2, S, SELL, MARKET, IOC, 0, 2))
    assert keys(ev) == keys([
        OrderAccepted(9, 7, 9, 2, S, SELL, MARKET, IOC, 0, 2, 0, "", STP.EXPIRE_MAKER),
        TradeExecuted(10, 7, S, 1000, 2, 2000, SELL, 5, 1, 9, 2, 2, 4),
        BookUpdated(11, 7, S, 3, ((1000, 3),), ()),
    ])
    # By quote: 4000 quote to receive; 3 lots at 1000, then 1000 // 990 = 1 lot; 10 quote left expire.
    ev = h(SubmitOrder(0, 2, S, SELL, MARKET, IOC, 0, 0, quote_qty=4000))
    assert keys(ev) == keys([
        OrderAccepted(12, 8, 12, 2, S, SELL, MARKET, IOC, 0, 0, 4000, "", STP.EXPIRE_MAKER),
        TradeExecuted(13, 8, S, 1000, 3, 3000, SELL, 5, 1, 12, 2, 3, 6),
        TradeExecuted(14, 8, S, 990, 1, 990, SELL, 7, 1, 12, 2, 0, 1),
        OrderExpired(15, 8, 12, 2, S, 0, EndReason.IOC_REMAINDER),
        BookUpdated(16, 8, S, 4, ((1000, 0), (990, 4)), ()),
    ])
    assert h.bal(2, "BASE") == (100 - 6, 0)
    assert h.bal(2, "QUOTE") == (2000 - 4 + 3000 - 6 + 990 - 1, 0)
    assert h.bal(1, "BASE") == (6, 0)
    assert h.bal(1, "QUOTE")[1] == 3960 + 7   # H(990, 4) left on order 7
    assert h.conserved()


def test_market_sell_by_quote_runs_out_of_base(impl_kind):
    h = Harness(impl_kind)
    h(Deposit(0, 1, "QUOTE", 100_000))
    h(Deposit(0, 2, "BASE", 2))
    h.limit(1, BUY, 1000, 5)                                         # order 3
    ev = h(SubmitOrder(0, 2, S, SELL, MARKET, IOC, 0, 0, quote_qty=4000))
    assert keys(ev) == keys([
        OrderAccepted(5, 4, 5, 2, S, SELL, MARKET, IOC, 0, 0, 4000, "", STP.EXPIRE_MAKER),
        TradeExecuted(6, 4, S, 1000, 2, 2000, SELL, 3, 1, 5, 2, 2, 4),
        OrderExpired(7, 4, 5, 2, S, 0, EndReason.INSUFFICIENT_FUNDS),
        BookUpdated(8, 4, S, 2, ((1000, 3),), ()),
    ])
    assert h.bal(2, "BASE") == (0, 0) and h.conserved()


def test_ioc_remainder_expires_and_does_not_rest(h):
    ev = h.limit(1, BUY, 1000, 3, tif=IOC)
    assert keys(ev) == keys([
        OrderAccepted(5, 5, 5, 1, S, BUY, LIMIT, IOC, 1000, 3, 0, "", STP.EXPIRE_MAKER),
        OrderExpired(6, 5, 5, 1, S, 3, EndReason.IOC_REMAINDER),
    ])
    assert h.impl.open_orders(1) == [] and h.bal(1, "QUOTE") == (100_000, 0)
    h.limit(2, SELL, 1000, 1)                                        # order 7
    ev = h.limit(1, BUY, 1000, 3, tif=IOC)                           # order 9
    assert keys(ev)[1:] == keys([
        TradeExecuted(10, 7, S, 1000, 1, 1000, BUY, 7, 2, 9, 1, 1, 2),
        OrderExpired(11, 7, 9, 1, S, 2, EndReason.IOC_REMAINDER),
        BookUpdated(12, 7, S, 2, (), ((1000, 0),)),
    ])
    assert h.impl.open_orders(1) == [] and h.bal(1, "QUOTE") == (100_000 - 1002, 0)


def test_fok_fails_without_changing_anything_then_succeeds(h):
    h.limit(2, SELL, 1000, 3)   # order 5
    h.limit(2, SELL, 1001, 2)   # order 7
    before = h.state()
    ev = h.limit(1, BUY, 1001, 6, tif=FOK)
    assert keys(ev) == keys([
        OrderAccepted(9, 7, 9, 1, S, BUY, LIMIT, FOK, 1001, 6, 0, "", STP.EXPIRE_MAKER),
        OrderExpired(10, 7, 9, 1, S, 6, EndReason.FOK_UNFILLED),
    ])
    assert h.state() == before
    ev = h.limit(1, BUY, 1001, 5, tif=FOK)
    assert keys(ev) == keys([
        OrderAccepted(11, 8, 11, 1, S, BUY, LIMIT, FOK, 1001, 5, 0, "", STP.EXPIRE_MAKER),
        TradeExecuted(12, 8, S, 1000, 3, 3000, BUY, 5, 2, 11, 1, 3, 6),
        TradeExecuted(13, 8, S, 1001, 2, 2002, BUY, 7, 2, 11, 1, 2, 4),
        BookUpdated(14, 8, S, 3, (), ((1000, 0), (1001, 0))),
    ])
    assert h.bal(1, "QUOTE") == (100_000 - 5012, 0)


@pytest.mark.parametrize("stp,fills", [(STP.NONE, True), (STP.EXPIRE_MAKER, True),
                                       (STP.EXPIRE_TAKER, False), (STP.EXPIRE_BOTH, False)])
def test_fok_counts_own_orders_by_stp_mode(h, stp, fills):
    h.limit(3, SELL, 1000, 2)   # account 3's own order first in line
    h.limit(2, SELL, 1000, 3)
    ev = h.limit(3, BUY, 1000, 3, tif=FOK, stp=stp)
    # NONE: 2 own + 3 = 5 >= 3. EXPIRE_MAKER: own skipped, 3 >= 3 (the walk then expires the own order).
    # EXPIRE_TAKER / EXPIRE_BOTH: the count stops at the own order, at 0.
    if fills:
        trades = [e.qty_lots for e in ev if isinstance(e, TradeExecuted)]
        assert trades == ([2, 1] if stp == STP.NONE else [3])
    else:
        assert keys(ev) == keys([OrderAccepted(9, 7, 9, 3, S, BUY, LIMIT, FOK, 1000, 3, 0, "", stp),
                                 OrderExpired(10, 7, 9, 3, S, 3, EndReason.FOK_UNFILLED)])


def test_limit_maker_would_take_is_rejected_whoever_owns_the_maker(h):
    h.limit(2, SELL, 1000, 5)
    h.limit(1, BUY, 995, 1)
    before = h.state()
    attempts = ((1, BUY, 1000), (3, BUY, 1001), (3, BUY, 1000), (2, SELL, 995), (3, SELL, 990))
    for account, side, price in attempts:
        ev = h(SubmitOrder(0, account, S, side, MAKER, GTC, price, 1, client_order_id="pm"))
        assert keys(ev) == keys([OrderRejected(h.impl.last_seq, h.ts, account, S, "pm", R.WOULD_TAKE)])
    assert h.state() == before
    ev = h(SubmitOrder(0, 1, S, BUY, MAKER, GTC, 999, 1))
    assert [type(e).__name__ for e in ev] == ["OrderAccepted", "BookUpdated"]
    assert ev[0].order_type == MAKER and h.impl.depth(S).bids == [(999, 1), (995, 1)]


# --------------------------------------------------------------------------- self-trade prevention

def _stp_book(h):
    h.limit(3, SELL, 1000, 2)   # order 5: account 3's own ask, first in line
    h.limit(2, SELL, 1000, 3)   # order 7


@pytest.mark.parametrize("stp", list(STP))
def test_self_trade_prevention(h, stp):
    _stp_book(h)
    ev = h.limit(3, BUY, 1000, 4, stp=stp)   # order 9, ts 7
    accepted = OrderAccepted(9, 7, 9, 3, S, BUY, LIMIT, GTC, 1000, 4, 0, "", stp)
    expected = {
        STP.NONE: [accepted,
                   TradeExecuted(10, 7, S, 1000, 2, 2000, BUY, 5, 3, 9, 3, 2, 4),   # with itself; both fees
                   TradeExecuted(11, 7, S, 1000, 2, 2000, BUY, 7, 2, 9, 3, 2, 4),
                   BookUpdated(12, 7, S, 3, (), ((1000, 1),))],
        STP.EXPIRE_TAKER: [accepted, OrderExpired(10, 7, 9, 3, S, 4, EndReason.SELF_TRADE)],
        STP.EXPIRE_MAKER: [accepted,
                           OrderExpired(10, 7, 5, 3, S, 2, EndReason.SELF_TRADE),
                           TradeExecuted(11, 7, S, 1000, 3, 3000, BUY, 7, 2, 9, 3, 3, 6),
                           BookUpdated(12, 7, S, 3, ((1000, 1),), ((1000, 0),))],
        STP.EXPIRE_BOTH: [accepted,
                          OrderExpired(10, 7, 5, 3, S, 2, EndReason.SELF_TRADE),
                          OrderExpired(11, 7, 9, 3, S, 4, EndReason.SELF_TRADE),
                          BookUpdated(12, 7, S, 3, (), ((1000, 3),))],
    }[stp]
    assert keys(ev) == keys(expected)
    assert h.conserved()
    if stp == STP.EXPIRE_TAKER:
        assert h.bal(3, "QUOTE") == (100_000, 0) and h.bal(3, "BASE") == (98, 2)


def test_default_stp_is_the_engines(impl_kind):
    h = Harness(impl_kind, default_stp=STP.EXPIRE_TAKER)
    h(Deposit(0, 1, "QUOTE", 10_000))
    h(Deposit(0, 1, "BASE", 10))
    h.limit(1, SELL, 1000, 1)
    ev = h.limit(1, BUY, 1000, 1)
    assert ev[0].stp == STP.EXPIRE_TAKER and ev[1].reason == EndReason.SELF_TRADE


# --------------------------------------------------------------------------- amend

def test_amend_keeps_or_loses_priority(h):
    h.limit(1, BUY, 1000, 5, client_order_id="x")   # order 5
    h.limit(3, BUY, 1000, 5)                        # order 7
    assert h.l3_ids() == ([5, 7], [])
    ev = h(AmendOrder(0, 1, S, 5, new_qty_lots=3))
    assert keys(ev) == keys([OrderAmended(9, 7, 5, 1, S, 1000, 3, 3, True),
                             BookUpdated(10, 7, S, 3, ((1000, 8),), ())])
    assert h.l3_ids() == ([5, 7], [])
    assert h.bal(1, "QUOTE") == (100_000 - 3006, 3006)
    ev = h(AmendOrder(0, 1, S, 0, new_qty_lots=6, client_order_id="x"))   # found by client id
    assert keys(ev) == keys([OrderAmended(11, 8, 5, 1, S, 1000, 6, 6, False),
                             BookUpdated(12, 8, S, 4, ((1000, 11),), ())])
    assert h.l3_ids() == ([7, 5], [])
    assert h.bal(1, "QUOTE") == (100_000 - 6012, 6012)
    ev = h(AmendOrder(0, 1, S, 5, new_price_ticks=1000, new_qty_lots=6))  # no change at all
    assert keys(ev) == keys([OrderAmended(13, 9, 5, 1, S, 1000, 6, 6, True)])
    ev = h(AmendOrder(0, 3, S, 7, new_price_ticks=999))
    assert keys(ev) == keys([OrderAmended(14, 10, 7, 3, S, 999, 5, 5, False),
                             BookUpdated(15, 10, S, 5, ((1000, 6), (999, 5)), ())])
    assert h.l3_ids() == ([5, 7], [])


def test_amend_to_a_crossing_price_trades_as_a_taker(h):
    h.limit(1, BUY, 1000, 5)   # order 5, hold 5010
    h.limit(2, SELL, 1002, 2)  # order 7
    ev = h(AmendOrder(0, 1, S, 5, new_price_ticks=1003))
    assert keys(ev) == keys([
        OrderAmended(9, 7, 5, 1, S, 1003, 5, 5, False),
        TradeExecuted(10, 7, S, 1002, 2, 2004, BUY, 7, 2, 5, 1, 2, 4),   # its tier-0 taker rate
        BookUpdated(11, 7, S, 3, ((1003, 3), (1000, 0)), ((1002, 0),)),
    ])
    # Hold now H(1003, 3) = 3009 + 6.
    assert h.bal(1, "QUOTE") == (100_000 - 2008 - 3015, 3015)
    [view] = h.impl.open_orders(1)
    assert (view.price_ticks, view.qty_lots, view.remaining_lots, view.filled_lots) == (1003, 5, 3, 2)
    # Now qty down to 3 total, which is not above filled (2)? It is: 3 > 2, remaining 1, priority kept.
    ev = h(AmendOrder(0, 1, S, 5, new_qty_lots=3))
    assert keys(ev) == keys([OrderAmended(12, 8, 5, 1, S, 1003, 3, 1, True),
                             BookUpdated(13, 8, S, 4, ((1003, 1),), ())])
    assert keys(h(AmendOrder(0, 1, S, 5, new_qty_lots=2))) == keys([
        CommandRejected(14, 9, "AmendOrder", 1, R.INVALID_QUANTITY)])
    assert h.conserved()


def test_amend_self_trade_uses_the_orders_own_stp(h):
    h.limit(3, SELL, 1002, 2)                              # order 5
    h.limit(3, BUY, 1000, 2, stp=STP.EXPIRE_TAKER)         # order 7
    ev = h(AmendOrder(0, 3, S, 7, new_price_ticks=1002))
    assert keys(ev) == keys([
        OrderAmended(9, 7, 7, 3, S, 1002, 2, 2, False),
        OrderExpired(10, 7, 7, 3, S, 2, EndReason.SELF_TRADE),
        BookUpdated(11, 7, S, 3, ((1000, 0),), ()),
    ])
    assert h.bal(3, "QUOTE") == (100_000, 0)


def test_amend_limit_maker_to_a_crossing_price_is_rejected(h):
    h.limit(2, SELL, 1002, 2)
    h(SubmitOrder(0, 1, S, BUY, MAKER, GTC, 1000, 2))   # order 7
    ev = h(AmendOrder(0, 1, S, 7, new_price_ticks=1002))
    assert ev[0].reason == R.WOULD_TAKE


def test_amend_that_grows_the_hold_beyond_available_is_rejected(impl_kind):
    h = Harness(impl_kind)
    h(Deposit(0, 1, "QUOTE", 3000))
    h.limit(1, BUY, 1000, 2)      # hold 2004; 996 left
    before = h.state()
    ev = h(AmendOrder(0, 1, S, 2, new_qty_lots=3))   # needs 1002 more
    assert keys(ev) == keys([CommandRejected(4, 3, "AmendOrder", 1, R.INSUFFICIENT_FUNDS)])
    assert h.state() == before


# --------------------------------------------------------------------------- cancel, halt

def test_cancel_by_id_and_client_id_and_cancel_all(h):
    h.limit(1, BUY, 990, 1, client_order_id="a")        # order 5
    h.limit(1, BUY, 991, 1)                             # order 7
    assert h.limit(1, BUY, 60, 1, symbol=K)[0].reason == R.INSUFFICIENT_FUNDS   # seq 9: no KRW yet
    h(Deposit(0, 1, "KRW", 1000))                       # seq 10
    h.limit(1, BUY, 60, 1, symbol=K)                    # order 11
    ev = h(CancelOrder(0, 1, S, client_order_id="a"))
    assert keys(ev) == keys([OrderCanceled(13, 10, 5, 1, S, 1, EndReason.USER),
                             BookUpdated(14, 10, S, 3, ((990, 0),), ())])
    assert keys(h(CancelOrder(0, 1, S, order_id=5))) == keys([CommandRejected(15, 11, "CancelOrder", 1,
                                                                              R.UNKNOWN_ORDER)])
    assert h(CancelOrder(0, 2, S, order_id=7))[0].reason == R.UNKNOWN_ORDER     # not account 2's order
    assert h(CancelOrder(0, 1, K, order_id=7))[0].reason == R.UNKNOWN_ORDER     # not on KOR-KRW
    ev = h(CancelAll(0, 1))
    assert keys(ev) == keys([OrderCanceled(18, 14, 7, 1, S, 1, EndReason.USER),
                             OrderCanceled(19, 14, 11, 1, K, 1, EndReason.USER),
                             BookUpdated(20, 14, S, 4, ((991, 0),), ()),        # symbols in name order
                             BookUpdated(21, 14, K, 2, ((60, 0),), ())])
    assert h.bal(1, "QUOTE") == (100_000, 0) and h.bal(1, "KRW") == (1000, 0)
    assert h(CancelAll(0, 1))[0].reason == R.UNKNOWN_ORDER


def test_halt_with_expire_then_resume(h):
    h.limit(1, BUY, 990, 2)    # order 5
    h.limit(2, SELL, 1010, 3)  # order 7
    h.limit(1, BUY, 995, 1)    # order 9
    ev = h(HaltInstrument(0, S, expire_orders=True))
    assert keys(ev) == keys([
        InstrumentHalted(11, 8, S),
        OrderExpired(12, 8, 5, 1, S, 2, EndReason.HALT),
        OrderExpired(13, 8, 7, 2, S, 3, EndReason.HALT),
        OrderExpired(14, 8, 9, 1, S, 1, EndReason.HALT),
        BookUpdated(15, 8, S, 4, ((995, 0), (990, 0)), ((1010, 0),)),
    ])
    assert h.bal(1, "QUOTE") == (100_000, 0) and h.bal(2, "BASE") == (100, 0)
    assert h.limit(1, BUY, 990, 2)[0].reason == R.INSTRUMENT_HALTED
    assert h(HaltInstrument(0, S))[0].reason == R.NOTHING_TO_CHANGE
    assert keys(h(ResumeInstrument(0, S))) == keys([InstrumentResumed(18, 11, S)])
    assert h(ResumeInstrument(0, S))[0].reason == R.NOTHING_TO_CHANGE
    assert [type(e).__name__ for e in h.limit(1, BUY, 990, 2)] == ["OrderAccepted", "BookUpdated"]


def test_halt_without_expire_keeps_orders_and_cancel_still_works(h):
    h.limit(1, BUY, 990, 2)    # order 5
    assert keys(h(HaltInstrument(0, S))) == keys([InstrumentHalted(7, 6, S)])
    assert h.l3_ids() == ([5], [])
    assert h(AmendOrder(0, 1, S, 5, new_qty_lots=1))[0].reason == R.INSTRUMENT_HALTED
    assert [type(e).__name__ for e in h(CancelOrder(0, 1, S, order_id=5))] == ["OrderCanceled", "BookUpdated"]


# --------------------------------------------------------------------------- tick tables, conservation

@pytest.mark.parametrize("price,ok", [(1, True), (99, True), (100, True), (101, False), (104, False),
                                      (105, True), (995, True), (996, False), (1000, True), (1005, False),
                                      (1010, True), (5000, True), (5010, False), (0, False), (-5, False)])
def test_tick_table_prices(impl_kind, price, ok):
    h = Harness(impl_kind)
    h(Deposit(0, 1, "KRW", 10**9))
    ev = h.limit(1, BUY, price, 50, symbol=K)
    assert isinstance(ev[0], OrderAccepted) == ok
    if not ok:
        assert ev[0].reason == R.INVALID_PRICE


def test_conservation_over_a_busy_session(h):
    h(SetFeeTier(0, 2, 2))
    for i in range(10):
        h.limit(2, SELL, 1000 + i, 3)
        h.limit(3, SELL, 1000 + i, 2)
        h.limit(1, BUY, 1000 + i, 4)
        h(SubmitOrder(0, 3, S, BUY, MARKET, IOC, 0, 0, quote_qty=1500 + i))
        h(Withdraw(0, 2, "QUOTE", 1 + i))
        assert h.conserved()
    assert h.impl.net_deposits()["QUOTE"] == 200_000 - sum(1 + i for i in range(10))
    assert h.bal(0, "QUOTE")[0] > 0


# --------------------------------------------------------------------------- every reject reason

def _reject_cases():
    """(name, setup commands, command, reason). Setup runs on the ``h`` fixture's accounts."""
    def lim(acct, side, price, qty, **kw):
        return SubmitOrder(0, acct, S, side, LIMIT, GTC, price, qty, **kw)

    def mkt(acct, side, qty, quote=0, **kw):
        return SubmitOrder(0, acct, S, side, MARKET, IOC, 0, qty, quote, **kw)

    return [
        ("submit unknown symbol", [], SubmitOrder(0, 1, "NOPE", BUY, LIMIT, GTC, 1000, 1), R.UNKNOWN_SYMBOL),
        ("submit unknown account", [], lim(9, BUY, 1000, 1), R.UNKNOWN_ACCOUNT),
        ("submit bad side", [], lim(1, 7, 1000, 1), R.INVALID_ORDER_SPEC),
        ("limit with quote_qty", [], lim(1, BUY, 1000, 1, quote_qty=5), R.INVALID_ORDER_SPEC),
        ("limit maker IOC", [], SubmitOrder(0, 1, S, BUY, MAKER, IOC, 1000, 1), R.INVALID_ORDER_SPEC),
        ("market GTC", [], SubmitOrder(0, 1, S, BUY, MARKET, GTC, 0, 1), R.INVALID_ORDER_SPEC),
        ("market FOK", [], SubmitOrder(0, 1, S, BUY, MARKET, FOK, 0, 1), R.INVALID_ORDER_SPEC),
        ("market with price", [], SubmitOrder(0, 1, S, BUY, MARKET, IOC, 1000, 1), R.INVALID_ORDER_SPEC),
        ("market qty and quote", [], mkt(1, BUY, 1, 1000), R.INVALID_ORDER_SPEC),
        ("market neither", [], mkt(1, BUY, 0, 0), R.INVALID_ORDER_SPEC),
        ("client id too long", [], lim(1, BUY, 1000, 1, client_order_id="x" * 37), R.INVALID_ORDER_SPEC),
        ("bad stp", [], lim(1, BUY, 1000, 1, stp=8), R.INVALID_ORDER_SPEC),
        ("price 0", [], lim(1, BUY, 0, 1), R.INVALID_PRICE),
        ("price above max", [], lim(1, BUY, 100_001, 1), R.INVALID_PRICE),
        ("off tick", [], SubmitOrder(0, 1, K, BUY, LIMIT, GTC, 101, 1), R.INVALID_PRICE),
        ("qty 0", [], lim(1, BUY, 1000, 0), R.INVALID_QUANTITY),
        ("qty above max", [], lim(1, BUY, 1000, 1001), R.INVALID_QUANTITY),
        ("market qty above max", [], mkt(1, BUY, 1001), R.INVALID_QUANTITY),
        ("market quote above MAX_AMOUNT", [], mkt(1, BUY, 0, MAX_AMOUNT + 1), R.INVALID_QUANTITY),
        ("min notional", [], lim(1, BUY, 99, 1), R.MIN_NOTIONAL),
        ("market quote min notional", [], mkt(1, BUY, 0, 99), R.MIN_NOTIONAL),
        ("halted", [HaltInstrument(0, S)], lim(1, BUY, 1000, 1), R.INSTRUMENT_HALTED),
        ("duplicate client id", [lim(1, BUY, 900, 1, client_order_id="c")],
         lim(1, BUY, 901, 1, client_order_id="c"), R.DUPLICATE_CLIENT_ORDER_ID),
        ("buy limit funds", [], lim(1, BUY, 1000, 100), R.INSUFFICIENT_FUNDS),   # 100,000 + 200 fee
        ("sell limit funds", [], lim(2, SELL, 1000, 101), R.INSUFFICIENT_FUNDS),
        ("market buy quote funds", [], mkt(1, BUY, 0, 99_900), R.INSUFFICIENT_FUNDS),  # + 199 fee
        ("market buy qty no quote", [], mkt(2, BUY, 1), R.INSUFFICIENT_FUNDS),
        ("market sell quote no base", [], mkt(1, SELL, 0, 1000), R.INSUFFICIENT_FUNDS),
        ("would take", [lim(2, SELL, 1000, 1)], SubmitOrder(0, 1, S, BUY, MAKER, GTC, 1000, 1), R.WOULD_TAKE),
        ("cancel unknown symbol", [], CancelOrder(0, 1, "NOPE", 5), R.UNKNOWN_SYMBOL),
        ("cancel unknown account", [], CancelOrder(0, 9, S, 5), R.UNKNOWN_ACCOUNT),
        ("cancel unknown order", [], CancelOrder(0, 1, S, 5), R.UNKNOWN_ORDER),
        ("cancel all unknown symbol", [], CancelAll(0, 1, "NOPE"), R.UNKNOWN_SYMBOL),
        ("cancel all unknown account", [], CancelAll(0, 9), R.UNKNOWN_ACCOUNT),
        ("cancel all nothing open", [], CancelAll(0, 1, S), R.UNKNOWN_ORDER),
        ("amend unknown order", [], AmendOrder(0, 1, S, 77, 2), R.UNKNOWN_ORDER),
        ("amend halted", [lim(1, BUY, 900, 2), HaltInstrument(0, S)], AmendOrder(0, 1, S, 5, 1),
         R.INSTRUMENT_HALTED),
        ("amend off tick", [Deposit(0, 3, "KRW", 1000), SubmitOrder(0, 3, K, BUY, LIMIT, GTC, 50, 2)],
         AmendOrder(0, 3, K, 6, 0, 101),
         R.INVALID_PRICE),
        ("amend negative price", [lim(1, BUY, 900, 2)], AmendOrder(0, 1, S, 5, 0, -900), R.INVALID_PRICE),
        ("amend negative qty", [lim(1, BUY, 900, 2)], AmendOrder(0, 1, S, 5, -1), R.INVALID_QUANTITY),
        ("amend above max", [lim(1, BUY, 900, 2)], AmendOrder(0, 1, S, 5, 1001), R.INVALID_QUANTITY),
        ("amend min notional", [lim(1, BUY, 900, 2)], AmendOrder(0, 1, S, 5, 0, 40), R.MIN_NOTIONAL),
        ("deposit unknown asset", [], Deposit(0, 1, "DOGE", 5), R.UNKNOWN_ASSET),
        ("deposit zero", [], Deposit(0, 1, "QUOTE", 0), R.INVALID_AMOUNT),
        ("deposit above MAX_AMOUNT", [], Deposit(0, 1, "QUOTE", MAX_AMOUNT + 1), R.INVALID_AMOUNT),
        ("deposit negative account", [], Deposit(0, -1, "QUOTE", 5), R.INVALID_AMOUNT),
        ("deposit balance limit", [], Deposit(0, 1, "QUOTE", MAX_AMOUNT - 99_999), R.BALANCE_LIMIT),
        ("withdraw unknown asset", [], Withdraw(0, 1, "DOGE", 5), R.UNKNOWN_ASSET),
        ("withdraw negative", [], Withdraw(0, 1, "QUOTE", -5), R.INVALID_AMOUNT),
        ("withdraw unknown account", [], Withdraw(0, 9, "QUOTE", 5), R.UNKNOWN_ACCOUNT),
        ("withdraw held funds", [lim(1, BUY, 1000, 10)], Withdraw(0, 1, "QUOTE", 90_000),
         R.INSUFFICIENT_FUNDS),
        ("fee tier unknown account", [], SetFeeTier(0, 9, 1), R.UNKNOWN_ACCOUNT),
        ("fee tier unknown", [], SetFeeTier(0, 1, 5), R.UNKNOWN_FEE_TIER),
        ("halt unknown symbol", [], HaltInstrument(0, "NOPE"), R.UNKNOWN_SYMBOL),
        ("halt halted", [HaltInstrument(0, S)], HaltInstrument(0, S, True), R.NOTHING_TO_CHANGE),
        ("resume unknown symbol", [], ResumeInstrument(0, "NOPE"), R.UNKNOWN_SYMBOL),
        ("resume trading", [], ResumeInstrument(0, S), R.NOTHING_TO_CHANGE),
    ]


REJECT_CASES = _reject_cases()


@pytest.mark.parametrize("name,setup,cmd,reason", REJECT_CASES, ids=[c[0] for c in REJECT_CASES])
def test_reject_changes_nothing(h, name, setup, cmd, reason):
    for c in setup:
        assert not isinstance(h(c)[0], (OrderRejected, CommandRejected)), c
    before, seq = h.state(), h.impl.last_seq
    ev = h(cmd)
    if isinstance(cmd, SubmitOrder):
        expected = OrderRejected(seq + 1, h.ts, cmd.account, cmd.symbol, cmd.client_order_id, reason)
    else:
        expected = CommandRejected(seq + 1, h.ts, type(cmd).__name__, getattr(cmd, "account", -1), reason)
    assert keys(ev) == keys([expected])
    assert h.state() == before and h.impl.last_seq == seq + 1


def test_every_reject_reason_is_exercised():
    assert {c[3] for c in REJECT_CASES} == set(RejectReason)
