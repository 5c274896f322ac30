"""``exchange.decimals``: the one bridge between decimal strings and integer units (DESIGN.md §2)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.decimals import DecimalError, _from_units_decimal, _to_units_decimal, from_units, to_units

UNITS = ["1", "0.1", "0.01", "0.0001", "0.00000001", "0.000000000000000001", "5", "1000", "0.25", "0.5"]


@pytest.mark.parametrize("text,unit,expected", [
    ("0.0015", "0.0001", 15),
    ("1", "0.01", 100),
    ("50000.00", "0.01", 5_000_000),
    ("-0.5", "0.1", -5),
    ("0", "0.0001", 0),
    ("1e-4", "0.0001", 1),
    ("1.50", "0.5", 3),
    ("3000", "1000", 3),
    (Decimal("0.03"), Decimal("0.01"), 3),
    (7, "1", 7),
    ("100", "1E+2", 1),
])
def test_to_units(text, unit, expected):
    assert to_units(text, unit) == expected
    assert type(to_units(text, unit)) is int


@pytest.mark.parametrize("text,unit,message", [
    (0.1, "0.1", "not a float"),
    ("abc", "1", "not a decimal number"),
    ("", "1", "not a decimal number"),
    ("NaN", "1", "not a finite number"),
    ("Infinity", "1", "not a finite number"),
    ("0.00015", "0.0001", "not a multiple of 0.0001"),
    ("1.001", "0.01", "not a multiple of 0.01"),
    ("1", "0", "must be positive"),
    ("1", "-0.1", "must be positive"),
])
def test_to_units_refuses_with_a_message(text, unit, message):
    with pytest.raises(DecimalError, match=message):
        to_units(text, unit)


def test_error_names_the_field():
    with pytest.raises(DecimalError, match=r"^BTC-USDT price: 1.005 is not a multiple of 0.01$"):
        to_units("1.005", "0.01", what="BTC-USDT price")


def test_decimal_error_is_a_value_error():
    assert issubclass(DecimalError, ValueError)


def test_huge_values_raise_decimal_error_or_convert_exactly():
    """Beyond the default 28-digit decimal context the quotient cannot be represented; the documented
    contract is DecimalError (or the exact integer), never a bare decimal.InvalidOperation."""
    try:
        assert to_units("1" + "0" * 30, "0.00000001") == 10**38
    except DecimalError:
        pass


@pytest.mark.parametrize("count,unit,text", [
    (15, "0.0001", "0.0015"),
    (-5, "0.1", "-0.5"),
    (0, "0.01", "0.00"),
    (100, "1", "100"),
    (5, "1000", "5000"),
    (7, "0.010", "0.07"),
    (1, "0.00000001", "0.00000001"),
    (2**62, "1", str(2**62)),
])
def test_from_units(count, unit, text):
    assert from_units(count, unit) == text


@given(count=st.integers(-(2**62), 2**62), unit=st.sampled_from(UNITS))
def test_round_trip(count, unit):
    text = from_units(count, unit)
    assert "e" not in text.lower()            # plain notation, never scientific
    assert to_units(text, unit) == count
    assert Decimal(text) == Decimal(unit) * count


@given(count=st.integers(-(10**6), 10**6), unit=st.sampled_from(UNITS))
def test_off_unit_values_are_refused(count, unit):
    half = Decimal(unit) * count + Decimal(unit) / 3
    with pytest.raises(DecimalError):
        to_units(half, unit)


# The integer paths of to_units / from_units must say exactly what the Decimal reference says.
_UNITS = st.sampled_from(["1", "10", "1E+1", "5", "0.5", "2.5", "0.01", "0.0001", "0.00001", "1e-8", "100"])


@settings(max_examples=300, deadline=None)
@given(unit=_UNITS, count=st.integers(-(2**62), 2**62))
def test_unit_format_equals_from_units(unit, count):
    assert from_units(count, Decimal(unit)) == _from_units_decimal(count, Decimal(unit))


@settings(max_examples=300, deadline=None)
@given(unit=_UNITS, sign=st.sampled_from(["", "-"]), whole=st.from_regex(r"\A[0-9]{1,20}\Z"),
       frac=st.from_regex(r"\A(\.[0-9]{1,20})?\Z"))
def test_units_parse_equals_to_units(unit, sign, whole, frac):
    text = sign + whole + frac
    try:
        want = _to_units_decimal(text, Decimal(unit))
    except DecimalError as exc:
        want = ("refused", str(exc))
    try:
        got = to_units(text, Decimal(unit))
    except DecimalError as exc:
        got = ("refused", str(exc))
    assert got == want
