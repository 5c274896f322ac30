"""Unit tests of the load bots: the local book's Binance sync rules, the executionReport translation,
the bot allotment."""
from __future__ import annotations

from collections import Counter

import pytest

from exchange import (OrderAccepted, OrderAmended, OrderCanceled, OrderExpired, OrderRejected, Side,
                      TradeExecuted)
from sim.bots.book import LocalBook
from sim.bots.context import allot
from sim.bots.translate import Translator
from sim.client import OpenOrder
from sim.scenario import load_scenario


def _book():
    return LocalBook(lambda p, q: (int(p), int(q)))


def _diff(U, u, b=(), a=()):
    return {"e": "depthUpdate", "U": U, "u": u, "b": [list(x) for x in b], "a": [list(x) for x in a]}


def test_book_buffers_then_straddles_and_applies():
    bk = _book()
    assert bk.on_diff(_diff(1, 5, b=[("100", "1")])) is None          # buffered
    assert bk.on_diff(_diff(6, 9, b=[("101", "2")])) is None
    ch = bk.on_snapshot({"lastUpdateId": 7, "bids": [["100", "1"]], "asks": [["105", "3"]]})
    assert bk.bids == {100: 1, 101: 2} and bk.asks == {105: 3} and bk.last_u == 9 and bk.gaps == 0
    assert (101, 2) in ch[0]
    assert bk.on_diff(_diff(10, 10, a=[("105", "0")])) == ([], [(105, 0)])
    assert bk.asks == {}


def test_book_gap_detected_and_resync():
    bk = _book()
    bk.on_snapshot({"lastUpdateId": 5, "bids": [], "asks": []})
    assert bk.on_diff(_diff(4, 6, b=[("1", "1")])) is not None        # straddles 5+1
    assert bk.on_diff(_diff(8, 9)) is None                             # 7 missing
    assert bk.gaps == 1 and bk.needs_snapshot()
    bk.on_snapshot({"lastUpdateId": 9, "bids": [["2", "2"]], "asks": []})
    assert bk.bids == {2: 2} and not bk.needs_snapshot()


def test_book_first_event_must_straddle():
    bk = _book()
    bk.on_snapshot({"lastUpdateId": 10, "bids": [], "asks": []})
    # 11 never seen: the snapshot is older than the stream's start, a race (refetch), not a stream gap
    assert bk.on_diff(_diff(12, 14)) is None and bk.needs_snapshot()
    assert bk.gaps == 0 and bk.resyncs == 1
    bk2 = _book()
    bk2.on_diff(_diff(12, 14))
    bk2.on_snapshot({"lastUpdateId": 10, "bids": [], "asks": []})      # buffer does not connect
    assert bk2.gaps == 0 and bk2.resyncs == 1 and bk2.needs_snapshot()


def test_book_drops_old_events_and_ignores_unknown_deletes():
    bk = _book()
    bk.on_snapshot({"lastUpdateId": 10, "bids": [["5", "1"]], "asks": []})
    assert bk.on_diff(_diff(3, 10, b=[("5", "0")])) is None and bk.bids == {5: 1}
    assert bk.on_diff(_diff(11, 11, b=[("7", "0")])) == ([], [])       # deleting an absent level


class _Client:
    def __init__(self):
        self.orders, self.by_id = {}, {}


@pytest.fixture
def tr():
    inst = load_scenario("busan").instruments["BTC-KRW"]
    return Translator(7, {"BTCKRW": inst}, _Client()), inst


def _er(x, **kw):
    base = {"e": "executionReport", "E": 1000, "s": "BTCKRW", "c": "c1", "S": "BUY", "o": "LIMIT", "f": "GTC",
            "q": "0.0100", "p": "95000000", "x": x, "X": "NEW", "i": 42, "l": "0", "z": "0", "L": "0",
            "n": "0", "t": -1, "m": False, "Y": "0", "Q": "0", "V": "EXPIRE_MAKER"}
    base.update(kw)
    return base


def test_translate_new_fill_partial_cancel_expire(tr):
    t, inst = tr
    [ev] = t.execution_report(_er("NEW"))
    assert type(ev) is OrderAccepted and ev.order_id == 42 and ev.account == 7 and ev.qty_lots == 100
    assert ev.price_ticks == inst.price_to_ticks("95000000") and ev.side == Side.BUY
    [ev] = t.execution_report(_er("TRADE", l="0.0040", z="0.0040", L="95000000", n="19", Y="380000", t=9, m=True))
    assert type(ev) is TradeExecuted and ev.maker_account == 7 and ev.maker_order_id == 42
    assert ev.qty_lots == 40 and ev.aggressor == Side.SELL and ev.maker_fee == inst.quote.to_units("19")
    [ev] = t.execution_report(_er("TRADE", l="0.0010", z="0.0050", L="95000000", n="1", Y="95000", t=10, m=False))
    assert ev.taker_account == 7 and ev.taker_order_id == 42 and ev.aggressor == Side.BUY
    [ev] = t.execution_report(_er("CANCELED", z="0.0050"))
    assert type(ev) is OrderCanceled and ev.remaining_lots == 50
    [ev] = t.execution_report(_er("EXPIRED", f="IOC", z="0.0030"))
    assert type(ev) is OrderExpired and ev.remaining_lots == 70
    [ev] = t.execution_report(_er("REPLACED", q="0.0080"))
    assert type(ev) is OrderAmended and ev.qty_lots == 80 and ev.kept_priority
    [ev] = t.rejected("BTC-KRW", "c9")
    assert type(ev) is OrderRejected and ev.client_order_id == "c9"


def test_translate_cancel_replace_becomes_one_amend(tr):
    t, inst = tr
    o = OpenOrder("c1", "BTC-KRW", Side.BUY, inst.price_to_ticks("95000000"), 100, False)
    o.order_id = 42
    t.client.orders["c1"] = o
    t.client.by_id[42] = o
    t.replacing["c1"] = 1
    assert t.execution_report(_er("CANCELED")) == []                  # held
    [ev] = t.execution_report(_er("NEW", i=43, p="95001000"))
    assert type(ev) is OrderAmended and ev.order_id == 43 and 43 in t.client.by_id and 42 not in t.client.by_id
    # a failed replace after a successful cancel: the held cancel is delivered
    t.replacing["c1"] = 1
    assert t.execution_report(_er("CANCELED", i=43)) == []
    evs = t.replace_failed("c1", "BTC-KRW")
    assert type(evs[0]) is OrderCanceled and evs[0].order_id == 43


def test_allotment_deterministic_and_proportional():
    sc = load_scenario("busan")
    assert [b.group for b in allot(sc, 1)] == ["zi"]
    a8 = allot(sc, 8)
    assert a8 == allot(sc, 8) and len(a8) == 8 and a8[0].group == "mm"
    c = Counter(b.group for b in allot(sc, 64))
    assert sum(c.values()) == 64 and c["mm"] == 1 and c["zi"] > c["noise"] > 0
    assert all(b.funds for b in a8)
    with pytest.raises(ValueError):
        allot(sc, 0)
