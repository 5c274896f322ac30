"""``exchange.instruments``: assets, instruments, exactness checks and Korean-style tick tables."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.instruments import MAX_AMOUNT, Asset, Instrument, InstrumentError

BTC, USDT, KRW, ETH = Asset("BTC", 8), Asset("USDT", 6), Asset("KRW", 0), Asset("ETH", 18)

# Upbit's KRW-market table (prices in KRW): the tick grows with the price band.
UPBIT_TABLE = [("0", "0.01"), ("10", "0.1"), ("100", "1"), ("1000", "5"), ("10000", "10"),
               ("100000", "50"), ("500000", "100"), ("1000000", "500"), ("2000000", "1000")]


def btc_usdt(**kw) -> Instrument:
    args = dict(tick_size="0.01", lot_size="0.0001")
    args.update(kw)
    return Instrument.define("BTC-USDT", BTC, USDT, **args)


def upbit(max_price="100000000") -> Instrument:
    # Lots of 100 coins so that 0.01 KRW x 1 lot is exactly 1 KRW.
    return Instrument.define("XRP-KRW", Asset("XRP", 6), KRW, tick_table=UPBIT_TABLE, lot_size="100",
                             max_price=max_price)


# --------------------------------------------------------------------------- assets

def test_asset_units():
    assert BTC.unit == Decimal("0.00000001")
    assert BTC.to_units("1.5") == 150_000_000
    assert BTC.format(150_000_000) == "1.50000000"
    assert KRW.to_units("1000") == 1000 and KRW.format(1000) == "1000"


@pytest.mark.parametrize("name,decimals,message", [
    ("btc", 8, "upper-case"), ("", 8, "upper-case"), ("BT-C", 8, "upper-case"),
    ("BTC", -1, "decimals must be 0..18"), ("BTC", 19, "decimals must be 0..18"),
])
def test_bad_asset(name, decimals, message):
    with pytest.raises(InstrumentError, match=message):
        Asset(name, decimals)


def test_asset_amount_off_unit_is_refused():
    with pytest.raises(ValueError, match="BTC amount"):
        BTC.to_units("0.000000001")


# --------------------------------------------------------------------------- define: plain tick

def test_define_plain():
    inst = btc_usdt(min_qty="0.001", min_notional="5", max_price="1000000", max_qty="100")
    assert (inst.price_unit, inst.lot_size) == (Decimal("0.01"), Decimal("0.0001"))
    assert inst.lot_units == 10_000                      # 0.0001 BTC in satoshi
    assert inst.quote_units_per_tick_lot == 1            # 0.01 x 0.0001 = 0.000001 USDT
    assert inst.single_tick and inst.band_floors == (0,) and inst.band_steps == (1,)
    assert inst.min_qty_lots == 10 and inst.min_notional == 5_000_000
    assert inst.max_price_ticks == 100_000_000 and inst.max_qty_lots == 1_000_000


def test_define_defaults():
    inst = btc_usdt()
    assert inst.min_qty_lots == 1 and inst.min_notional == 0
    assert inst.max_price_ticks == 10**12 and inst.max_qty_lots == 10**12


def test_notional_is_exact():
    inst = btc_usdt()
    p, q = inst.price_to_ticks("64123.45"), inst.qty_to_lots("0.0123")
    assert inst.notional(p, q) == USDT.to_units(str(Decimal("64123.45") * Decimal("0.0123")))
    eth_btc = Instrument.define("ETH-BTC", ETH, BTC, tick_size="0.00001", lot_size="0.001")
    assert eth_btc.lot_units == 10**15 and eth_btc.quote_units_per_tick_lot == 1


def test_edge_conversions_round_trip():
    inst = btc_usdt()
    assert inst.price_to_ticks("50000") == 5_000_000
    assert inst.format_price(5_000_000) == "50000.00"
    assert inst.qty_to_lots("0.0015") == 15
    assert inst.format_qty(15) == "0.0015"
    with pytest.raises(ValueError, match="BTC-USDT price"):
        inst.price_to_ticks("50000.001")
    with pytest.raises(ValueError, match="BTC-USDT quantity"):
        inst.qty_to_lots("0.00015")


@given(ticks=st.integers(0, 10**12), lots=st.integers(0, 10**12))
def test_decimal_round_trip_property(ticks, lots):
    inst = upbit()
    assert inst.price_to_ticks(inst.format_price(ticks)) == ticks
    assert inst.qty_to_lots(inst.format_qty(lots)) == lots


# --------------------------------------------------------------------------- exactness errors

def test_tick_times_lot_below_one_quote_unit_is_refused_with_what_to_change():
    with pytest.raises(InstrumentError) as err:
        Instrument.define("BTC-USDT", BTC, USDT, tick_size="0.001", lot_size="0.0001")
    msg = str(err.value)
    assert "BTC-USDT" in msg and "0.0000001 USDT" in msg and "not a whole number of USDT ledger units" in msg
    assert "raise the lot size, the tick or USDT's decimals" in msg


def test_lot_below_one_base_unit_is_refused():
    with pytest.raises(InstrumentError, match=r"lot size 1E-9 is not a whole number of BTC ledger units"):
        Instrument.define("BTC-USDT", BTC, USDT, tick_size="100", lot_size="0.000000001")


@pytest.mark.parametrize("kwargs,message", [
    (dict(tick_size="0.01", tick_table=[("0", "0.01")], lot_size="1"),
     "exactly one of tick_size or tick_table"),
    (dict(lot_size="1"), "exactly one of tick_size or tick_table"),
    (dict(tick_table=[], lot_size="1"), "tick_table is empty"),
    (dict(tick_size="0", lot_size="1"), "ticks must be positive"),
    (dict(tick_size="-1", lot_size="1"), "ticks must be positive"),
    (dict(tick_size="abc", lot_size="1"), "BTC-USDT"),
    (dict(tick_size="1", lot_size="0"), "lot_size must be a positive decimal"),
    (dict(tick_size="1", lot_size="1", min_qty="1.5"), "min_qty"),
    (dict(tick_size="1", lot_size="1", min_qty="0"), "min quantity must be >= 1 lot"),
    (dict(tick_size="1", lot_size="1", min_notional="0.0000001"), "min_notional"),
    (dict(tick_size="1", lot_size="1", max_price="10.5"), "max_price"),
    (dict(tick_size="1", lot_size="1", max_qty="0.5"), "max_qty"),
    (dict(tick_table=[("0", "1"), ("100", "5"), ("50", "10")], lot_size="1"), "start at 0 and ascend"),
    (dict(tick_table=[("10", "1")], lot_size="1"), "start at 0 and ascend"),
    (dict(tick_table=[("0", "1"), ("102", "5")], lot_size="1"), "band from 102 ticks has invalid step 5"),
    (dict(tick_size="1", lot_size="1", max_price="1" + "0" * 20, max_qty="1" + "0" * 20), "too large"),
])
def test_bad_definitions(kwargs, message):
    with pytest.raises(InstrumentError, match=message):
        Instrument.define("BTC-USDT", BTC, USDT, **kwargs)


@pytest.mark.parametrize("symbol", ["btc-usdt", "", "BTC/USDT", "BTC USDT"])
def test_bad_symbol(symbol):
    with pytest.raises(InstrumentError, match="must be upper-case letters, digits and '-'"):
        Instrument.define(symbol, BTC, USDT, tick_size="0.01", lot_size="0.0001")


def test_max_amount_fits_a_signed_64_bit_int():
    assert MAX_AMOUNT == 2**62 < 2**63 - 1


# --------------------------------------------------------------------------- tick tables

def test_tick_table_units():
    inst = upbit()
    assert inst.price_unit == Decimal("0.01") and not inst.single_tick
    assert inst.band_floors[:3] == (0, 1000, 10_000)          # 0, 10 and 100 KRW in 0.01 KRW ticks
    assert inst.band_steps[:3] == (1, 10, 100)
    assert inst.quote_units_per_tick_lot == 1


@pytest.mark.parametrize("price,ok", [
    ("0.01", True), ("9.99", True), ("10", True), ("10.01", False), ("10.1", True), ("99.9", True),
    ("100", True), ("100.5", False), ("101", True), ("999", True), ("1000", True), ("1001", False),
    ("1004", False), ("1005", True), ("9995", True), ("10000", True), ("10005", False), ("10010", True),
    ("99950", True), ("100000", True), ("100010", False), ("100050", True), ("499950", True),
    ("500000", True), ("500050", False), ("500100", True), ("1999500", True), ("2000000", True),
    ("2000500", False), ("2001000", True), ("100000000", True),
])
def test_valid_price_at_band_edges(price, ok):
    inst = upbit()
    assert inst.valid_price(inst.price_to_ticks(price)) is ok


def test_valid_price_bounds():
    inst = upbit(max_price="1000")
    top = inst.price_to_ticks("1000")
    assert inst.valid_price(top) and not inst.valid_price(top + 500) and not inst.valid_price(top + 1)
    assert not inst.valid_price(0) and not inst.valid_price(-100)
    plain = btc_usdt(max_price="100")
    assert plain.valid_price(1) and plain.valid_price(10_000) and not plain.valid_price(10_001)
    assert not plain.valid_price(0) and not plain.valid_price(-1)


@given(st.integers(-10, 2 * 10**8 + 10))
def test_valid_price_matches_a_linear_scan_of_the_table(price_ticks):
    inst = upbit(max_price="2000000")
    unit = Decimal("0.01")
    step = None
    for floor, tick in UPBIT_TABLE:                     # the last band whose floor <= price wins
        if Decimal(floor) / unit <= price_ticks:
            step = int(Decimal(tick) / unit)
    expected = 0 < price_ticks <= 200_000_000 and price_ticks % step == 0
    assert inst.valid_price(price_ticks) == expected
