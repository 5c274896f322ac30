"""The one place where decimal strings become integers and back.

Inside bdax every price, quantity and balance is an integer count of some unit (DESIGN.md §2). The edges
(REST/WS payloads, config files, reports) speak decimal strings. These two functions are the only bridge;
they never touch a float, and they refuse a value that does not land exactly on the unit instead of
rounding it silently.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = ["to_units", "from_units", "unit_of", "Unit", "DecimalError"]

_MAX_SHIFT = 60    # no unit or amount bdax handles is 10**60 apart; this bounds the integers built
_MAX_DIGITS = 60


class DecimalError(ValueError):
    """A decimal string that is malformed or not an exact multiple of its unit."""


class Unit:
    """Conversions for one positive unit in integer arithmetic: ``parse`` (a plain decimal string ->
    count) and ``format`` (count -> string with as many places as the unit has).

    Why: Decimal-based conversion builds and formats several Decimals per value (~4 us); the gateway
    parses two and formats 6 to 12 amounts for every order, and market data formats every level and
    trade. Get one with :func:`unit_of` (cached); :func:`to_units` and :func:`from_units` use it.
    """

    __slots__ = ("step", "exponent", "places", "mult", "shown")

    def __init__(self, step: Decimal) -> None:
        self.step = step
        self.exponent = int(step.as_tuple().exponent)     # as written: to_units' range check uses it
        self.places = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
        self.mult = int(step * 10 ** self.places)    # step = mult / 10**places, exactly
        self.shown = f"{step.normalize():f}"

    def parse(self, text: str, what: str = "value") -> int:
        """``text / step`` for a plain decimal string (``-?digits[.digits]``, at most 40 characters);
        O(len(text)).

        Raises:
            DecimalError: not an exact multiple of the step.
        """
        whole, _, frac = text.partition(".")
        num, shift = int(whole + frac), self.places - len(frac)
        den = self.mult
        if shift >= 0:
            num *= 10 ** shift
        else:
            den *= 10 ** -shift
        count, rest = divmod(num, den)
        if rest:
            raise DecimalError(f"{what}: {text} is not a multiple of {self.shown}")
        return count

    def format(self, count: int) -> str:
        """``count * step`` with exactly ``places`` decimals; O(digits)."""
        v = count * self.mult
        k = self.places
        if not k:
            return str(v)
        digits = str(-v if v < 0 else v)
        if len(digits) <= k:
            digits = "0" * (k + 1 - len(digits)) + digits
        return f"{'-' if v < 0 else ''}{digits[:-k]}.{digits[-k:]}"


@lru_cache(maxsize=1024)
def unit_of(step: str | Decimal) -> Unit | None:
    """The cached :class:`Unit` of ``step``, or None if ``step`` is not a positive finite decimal."""
    try:
        value = Decimal(step) if not isinstance(step, Decimal) else step
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not value.is_finite() or value <= 0:
        return None
    return Unit(value)


# A string the integer path reads exactly as Decimal would: no exponent, plus sign, spaces or underscores,
# and short enough that its digit count stays under to_units' limit.
_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_PLAIN_MAX_LEN = 40


def to_units(text: str | int | Decimal, unit: str | Decimal, *, what: str = "value") -> int:
    """Convert a decimal string to an integer count of `unit`.

    Args:
        text: the decimal value, e.g. ``"0.0015"``; an int or Decimal is accepted for convenience.
        unit: the size of one integer step, e.g. ``"0.0001"``.
        what: the field name, used in the error message.

    Returns:
        ``text / unit`` as an int.

    Raises:
        DecimalError: malformed, not finite, or not an exact multiple of ``unit``.
    """
    if type(text) is str and len(text) <= _PLAIN_MAX_LEN and _PLAIN.fullmatch(text):
        u = unit_of(unit)
        if u is not None and abs(len(text.partition(".")[2]) + u.exponent) <= _MAX_SHIFT:
            return u.parse(text, what)
    return _to_units_decimal(text, unit, what=what)


def from_units(count: int, unit: str | Decimal) -> str:
    """Format ``count * unit`` as a plain decimal string with as many places as ``unit`` has."""
    u = unit_of(unit)
    if u is not None:
        return u.format(count)
    return _from_units_decimal(count, unit)


def _to_units_decimal(text: str | int | Decimal, unit: str | Decimal, *, what: str = "value") -> int:
    """:func:`to_units` in Decimal arithmetic: the reference the integer path is tested against, and the
    path for every input it does not take (ints, Decimals, exponents, malformed text, bad units)."""
    if isinstance(text, float):
        raise DecimalError(f"{what}: pass a decimal string, not a float ({text!r})")
    try:
        value = Decimal(text) if not isinstance(text, Decimal) else text
        step = Decimal(unit) if not isinstance(unit, Decimal) else unit
    except (InvalidOperation, ValueError, TypeError):
        raise DecimalError(f"{what}: {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise DecimalError(f"{what}: {text!r} is not a finite number")
    if not step.is_finite() or step <= 0:
        raise DecimalError(f"{what}: unit {unit!r} must be positive")
    # Exact integer arithmetic: Decimal division is rounded to the context's 28 digits.
    v_sign, v_digits, v_exp = value.as_tuple()
    _, s_digits, s_exp = step.as_tuple()
    shift = int(v_exp) - int(s_exp)
    if abs(shift) > _MAX_SHIFT or len(v_digits) > _MAX_DIGITS:
        raise DecimalError(f"{what}: {text} is out of range")
    num = int("".join(map(str, v_digits)) or "0")
    den = int("".join(map(str, s_digits)))
    if shift >= 0:
        num *= 10 ** shift
    else:
        den *= 10 ** -shift
    count, rest = divmod(num, den)
    if rest:
        raise DecimalError(f"{what}: {text} is not a multiple of {step.normalize():f}")
    return -count if v_sign else count


def _from_units_decimal(count: int, unit: str | Decimal) -> str:
    """:func:`from_units` in Decimal arithmetic (rounded to the context's 28 digits): the reference."""
    step = Decimal(unit) if not isinstance(unit, Decimal) else unit
    places = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{(step * count):.{places}f}"
