"""exchange/book.py: the heaps, fee arithmetic, best-price lookups and the book's own invariant check."""
from __future__ import annotations

import heapq
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.book import OrderBook, buy_hold, fee, pop_max, pop_min, push_max, push_min
from exchange.instruments import Asset, Instrument
from exchange.accounts import Cell


@given(st.lists(st.tuples(st.booleans(), st.integers(-10**20, 10**20)), max_size=200))
def test_min_heap_matches_heapq_layout_exactly(ops):
    ours: list = []
    ref: list = []
    for pop, x in ops:
        if pop and ref:
            assert pop_min(ours) == heapq.heappop(ref)
        else:
            push_min(ours, x)
            heapq.heappush(ref, x)
        assert ours == ref


@given(st.lists(st.tuples(st.booleans(), st.integers(-10**20, 10**20)), max_size=200))
def test_max_heap_is_the_mirror_of_heapq(ops):
    ours: list = []
    ref: list = []   # negated, so heapq's min is our max
    for pop, x in ops:
        if pop and ref:
            assert pop_max(ours) == -heapq.heappop(ref)
        else:
            push_max(ours, x)
            heapq.heappush(ref, -x)
        assert sorted(ours, reverse=True) == sorted((-v for v in ref), reverse=True)
        assert not ours or ours[0] == max(ours)


@given(st.integers(0, 2**80), st.integers(0, 10000))
def test_fee_is_exactly_floor_of_notional_times_bps(notional, bps):
    assert fee(notional, bps) == notional * bps // 10000


@given(st.integers(1, 10**12), st.integers(1, 10**12), st.integers(1, 10**6), st.integers(0, 10000))
def test_buy_hold_is_notional_plus_worst_fee(price, lots, k, bps):
    n = price * lots * k
    assert buy_hold(price, lots, k, bps) == n + n * bps // 10000


def make_book() -> OrderBook:
    inst = Instrument.define("BTC-USDT", Asset("BTC", 8), Asset("USDT", 8), tick_size="0.01", lot_size="0.001")
    return OrderBook(inst, Cell())


def test_best_prices_skip_stale_heap_entries_and_compaction_keeps_them_right():
    book = make_book()
    rng = random.Random(5)
    live_bids: set[int] = set()
    for _ in range(3000):
        price = rng.randint(1, 400)
        if price in live_bids and rng.random() < 0.6:
            del book.bids[price]            # a level emptied: the heap entry goes stale
            live_bids.discard(price)
        elif price not in live_bids:
            book.new_level(True, price).total = 1
            live_bids.add(price)
            # compaction on push bounds the stale entries
            assert len(book.bid_heap) <= 2 * len(book.bids) + 65
        assert book.best_bid() == (max(live_bids) if live_bids else None)


def test_check_refuses_a_crossed_book():
    book = make_book()
    from exchange.book import Order
    from exchange.accounts import Account, FeeTier
    from exchange.enums import STP, OrderType, Side, TimeInForce
    owner = Account(1, 0, FeeTier(0, 0), ["BTC", "USDT"])
    for oid, side, price in ((1, Side.BUY, 101), (2, Side.SELL, 100)):
        o = Order(oid, 1, "BTC-USDT", side, OrderType.LIMIT, TimeInForce.GTC, price, 1, "", STP.NONE, 0, 0, 0,
                  owner.cells["BTC"], owner.cells["USDT"], owner)
        level = book.new_level(side is Side.BUY, price)
        level.orders[o.key] = o
        level.total = 1
        o.level = level
    with pytest.raises(AssertionError, match="crossed"):
        book._check()
