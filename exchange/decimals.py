"""The one place where decimal strings become integers and back.

Inside bdax every price, quantity and balance is an integer count of some unit (DESIGN.md §2). The edges
(REST/WS payloads, config files, reports) speak decimal strings. These two functions are the only bridge;
they never touch a float, and they refuse a value that does not land exactly on the unit instead of
rounding it silently.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["to_units", "from_units", "DecimalError"]

_MAX_SHIFT = 60    # no unit or amount bdax handles is 10**60 apart; this bounds the integers built
_MAX_DIGITS = 60


class DecimalError(ValueError):
    """A decimal string that is malformed or not an exact multiple of its unit."""


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


def from_units(count: int, unit: str | Decimal) -> str:
    """Format ``count * unit`` as a plain decimal string with as many places as ``unit`` has."""
    step = Decimal(unit) if not isinstance(unit, Decimal) else unit
    places = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{(step * count):.{places}f}"
