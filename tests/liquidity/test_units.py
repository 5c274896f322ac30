"""exchange.liquidity.units: partner <-> home conversions (property tests against brute force)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange import Asset, Instrument
from exchange.liquidity.units import BPS, Scale, ceil_valid_price, floor_valid_price

BASE, QUOTE = Asset("BASE", 6), Asset("QUOTE", 6)
KRW = Instrument.define("B-Q", BASE, QUOTE, tick_table=[("0", "1"), ("100", "5"), ("1000", "10"), ("1003", "1")],
                        lot_size="1", max_price="5000")
ODD = Instrument.define("B-Q", BASE, QUOTE, tick_table=[("0", "4"), ("10", "5")], lot_size="1", max_price="203")
PLAIN = Instrument.define("B-Q", BASE, QUOTE, tick_size="1", lot_size="1", max_price="1000")


def valid_prices(inst: Instrument) -> list[int]:
    return [p for p in range(1, inst.max_price_ticks + 1) if inst.valid_price(p)]


@pytest.mark.parametrize("inst", [KRW, ODD, PLAIN], ids=["krw-bands", "odd-bands", "single-tick"])
def test_floor_and_ceil_match_brute_force(inst):
    valid = valid_prices(inst)
    for t in range(-3, inst.max_price_ticks + 20):
        below = [p for p in valid if p <= t]
        above = [p for p in valid if p >= t]
        assert floor_valid_price(inst, t) == (below[-1] if below else 0), t
        assert ceil_valid_price(inst, t) == (above[0] if above else 0), t


def test_ceil_crosses_into_the_next_band_when_rounding_overshoots():
    # step 4 below 10: 9 rounds up to 12, which the step-5 band refuses; 10 is the next valid price.
    assert ceil_valid_price(ODD, 9) == 10
    assert floor_valid_price(ODD, 9) == 8
    assert ceil_valid_price(ODD, 204) == 0 and floor_valid_price(ODD, 10**6) == 200


def _pair(tick_ratio: int, lot_ratio: int) -> tuple[Instrument, Instrument]:
    home = Instrument.define("B-Q", BASE, QUOTE, tick_size=str(Decimal("0.01") * tick_ratio),
                             lot_size=str(Decimal("0.001") * lot_ratio),
                             max_price=str(Decimal("0.01") * tick_ratio * 10**6))
    partner = Instrument.define("B-Q", BASE, QUOTE, tick_size="0.01", lot_size="0.001")
    return home, partner


@settings(max_examples=200)
@given(st.integers(1, 50), st.integers(1, 50), st.integers(1, 10**8), st.integers(0, 10**9),
       st.integers(1, BPS))
def test_partner_to_home_never_shows_a_better_price_or_more_quantity(tick_ratio, lot_ratio, partner_ticks,
                                                                     partner_lots, haircut):
    home, partner = _pair(tick_ratio, lot_ratio)
    scale = Scale(home, partner)
    assert (scale.tick_ratio, scale.lot_ratio) == (tick_ratio, lot_ratio)
    bid = scale.bid_to_home(partner_ticks)
    ask = scale.ask_to_home(partner_ticks)
    # Compare in the partner's units (exact): a bid shown no higher, an ask no lower, both valid at home.
    if bid:
        assert home.valid_price(bid) and scale.price_to_partner(bid) <= partner_ticks
        assert scale.price_to_partner(bid + 1) > partner_ticks or bid == home.max_price_ticks
    if ask:
        assert home.valid_price(ask) and scale.price_to_partner(ask) >= partner_ticks
        assert ask == 1 or scale.price_to_partner(ask - 1) < partner_ticks
    else:
        assert scale.price_to_partner(home.max_price_ticks) < partner_ticks
    lots = scale.lots_to_home(partner_lots, haircut)
    assert scale.lots_to_partner(lots) * BPS <= partner_lots * haircut
    assert scale.lots_to_partner(lots + 1) * BPS > partner_lots * haircut


@settings(max_examples=200)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 10**6), st.integers(1, 10**6))
def test_home_to_partner_is_exact_and_keeps_the_notional(tick_ratio, lot_ratio, price, lots):
    home, partner = _pair(tick_ratio, lot_ratio)
    scale = Scale(home, partner)
    pp, pq = scale.price_to_partner(price), scale.lots_to_partner(lots)
    assert partner.notional(pp, pq) == home.notional(price, lots)
    assert pq * partner.lot_units == lots * home.lot_units
    assert scale.bid_to_home(pp) == price and scale.ask_to_home(pp) == price


def test_scale_refuses_a_partner_coarser_than_home():
    home, partner = _pair(1, 1)
    with pytest.raises(ValueError, match="whole multiple"):
        Scale(partner, Instrument.define("B-Q", BASE, QUOTE, tick_size="0.03", lot_size="0.001"))
    with pytest.raises(ValueError, match="assets"):
        Scale(home, Instrument.define("B-Q", QUOTE, BASE, tick_size="0.01", lot_size="0.001"))


def test_lots_to_home_of_nothing_is_nothing():
    scale = Scale(*_pair(1, 10))
    assert scale.lots_to_home(0) == 0 and scale.lots_to_home(-5) == 0 and scale.lots_to_home(9) == 0
    assert scale.lots_to_home(10) == 1 and scale.lots_to_home(19, 5_000) == 0 and scale.lots_to_home(20, 5_000) == 1
