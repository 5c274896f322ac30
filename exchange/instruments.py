"""Assets and instruments: the integer units every price, quantity and balance is counted in.

Units (DESIGN.md §2):
- an asset's balance is an int count of its *ledger unit*, ``10**-decimals`` of the asset;
- a price is an int count of the instrument's *price unit* (its finest tick, in quote per base);
  a KRW market's tick table says which multiples of it are valid in each price band;
- a quantity is an int count of *lots* (``lot_size`` base per lot);
- ``notional(price_ticks, qty_lots) = price_ticks * qty_lots * quote_units_per_tick_lot`` quote ledger
  units, exact by construction: defining an instrument whose tick x lot is not a whole number of quote
  ledger units is refused.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from math import gcd

from .decimals import DecimalError, from_units, to_units

__all__ = ["Asset", "Instrument", "InstrumentError", "MAX_AMOUNT"]

# Every balance, hold and notional stays below this, so journals can store them as signed 64-bit ints.
MAX_AMOUNT = 2**62


class InstrumentError(ValueError):
    """An asset or instrument definition that cannot be represented exactly."""


@dataclass(frozen=True, slots=True)
class Asset:
    """A currency or token, e.g. ``Asset("BTC", 8)``: balances count units of 1e-8 BTC."""

    name: str
    decimals: int

    def __post_init__(self) -> None:
        if not self.name or not self.name.isalnum() or self.name.upper() != self.name:
            raise InstrumentError(f"asset name {self.name!r} must be upper-case letters and digits")
        if not 0 <= self.decimals <= 18:
            raise InstrumentError(f"asset {self.name}: decimals must be 0..18, got {self.decimals}")

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)

    def to_units(self, text: str) -> int:
        return to_units(text, self.unit, what=f"{self.name} amount")

    def format(self, units: int) -> str:
        return from_units(units, self.unit)


def _decimal_gcd(values: list[Decimal]) -> Decimal:
    places = max(max(0, -v.normalize().as_tuple().exponent) for v in values)  # type: ignore[operator]
    scale = Decimal(10) ** places
    g = 0
    for v in values:
        g = gcd(g, int(v * scale))
    return Decimal(g) / scale


@dataclass(frozen=True, eq=False)
class Instrument:
    """A spot market ``base``/``quote`` with integer prices (ticks) and quantities (lots).

    Build one with :meth:`define`, which takes decimal strings and validates exactness. The integer fields
    are what the engine uses on its hot path.
    """

    symbol: str
    base: Asset
    quote: Asset
    price_unit: Decimal            # quote per base for one price tick (the finest tick)
    lot_size: Decimal              # base per lot
    band_floors: tuple[int, ...]   # ascending price floors (in price units); the first is 0
    band_steps: tuple[int, ...]    # valid price step (in price units) from each floor upward
    min_qty_lots: int
    min_notional: int              # quote ledger units
    max_price_ticks: int
    max_qty_lots: int
    lot_units: int = field(init=False)                 # base ledger units per lot
    quote_units_per_tick_lot: int = field(init=False)  # quote ledger units per (1 tick x 1 lot)
    single_tick: bool = field(init=False)

    def __post_init__(self) -> None:
        lot_units = self.lot_size * (Decimal(10) ** self.base.decimals)
        if lot_units != lot_units.to_integral_value() or lot_units < 1:
            raise InstrumentError(
                f"{self.symbol}: lot size {self.lot_size} is not a whole number of {self.base.name} ledger "
                f"units ({self.base.unit}); raise the lot size or the asset's decimals")
        k = self.price_unit * self.lot_size * (Decimal(10) ** self.quote.decimals)
        if k != k.to_integral_value() or k < 1:
            raise InstrumentError(
                f"{self.symbol}: one tick ({self.price_unit}) x one lot ({self.lot_size}) = "
                f"{(self.price_unit * self.lot_size).normalize():f} {self.quote.name}, not a whole number of "
                f"{self.quote.name} ledger units ({self.quote.unit}); raise the lot size, the tick or "
                f"{self.quote.name}'s decimals")
        object.__setattr__(self, "lot_units", int(lot_units))
        object.__setattr__(self, "quote_units_per_tick_lot", int(k))
        object.__setattr__(self, "single_tick", self.band_steps == (1,))
        if self.band_floors[0] != 0 or list(self.band_floors) != sorted(set(self.band_floors)):
            raise InstrumentError(f"{self.symbol}: tick bands must start at 0 and ascend")
        for floor, step in zip(self.band_floors, self.band_steps):
            if step < 1 or floor % step:
                raise InstrumentError(f"{self.symbol}: band from {floor} ticks has invalid step {step}")
        if self.min_qty_lots < 1 or self.min_notional < 0:
            raise InstrumentError(f"{self.symbol}: min quantity must be >= 1 lot and min notional >= 0")
        if self.max_price_ticks * self.max_qty_lots * self.quote_units_per_tick_lot >= 2**126:
            raise InstrumentError(f"{self.symbol}: max price x max quantity is too large")

    @classmethod
    def define(
        cls,
        symbol: str,
        base: Asset,
        quote: Asset,
        *,
        tick_size: str | None = None,
        tick_table: list[tuple[str, str]] | None = None,
        lot_size: str,
        min_qty: str | None = None,
        min_notional: str = "0",
        max_price: str | None = None,
        max_qty: str | None = None,
    ) -> "Instrument":
        """Define an instrument from decimal strings.

        Args:
            symbol: e.g. ``"BTC-KRW"``; upper-case letters, digits and ``-``.
            tick_size: one tick for all prices, or
            tick_table: ``[(price_floor, tick), ...]`` Korean-style bands, e.g. ``[("0", "1"),
                ("1000", "5"), ("10000", "10")]``: from each floor upward prices move in that tick.
            lot_size: the quantity step; min_qty defaults to one lot.
            min_notional: the smallest price x quantity of a limit order, in quote.
            max_price, max_qty: upper bounds (default: 10**12 ticks and 10**12 lots).

        Raises:
            InstrumentError: any field that cannot be represented exactly, with what to change.
        """
        if not symbol or not all(c.isalnum() or c == "-" for c in symbol) or symbol.upper() != symbol:
            raise InstrumentError(f"symbol {symbol!r} must be upper-case letters, digits and '-'")
        if (tick_size is None) == (tick_table is None):
            raise InstrumentError(f"{symbol}: give exactly one of tick_size or tick_table")
        try:
            table = [("0", tick_size)] if tick_size is not None else list(tick_table or [])
            if not table:
                raise InstrumentError(f"{symbol}: tick_table is empty")
            floors = [Decimal(f) for f, _ in table]
            ticks = [Decimal(t) for _, t in table]
            if any(t <= 0 for t in ticks) or any(not d.is_finite() for d in floors + ticks):
                raise InstrumentError(f"{symbol}: ticks must be positive decimals")
            unit = _decimal_gcd(ticks + [f for f in floors if f > 0])
            lot = Decimal(lot_size)
            if not lot.is_finite() or lot <= 0:
                raise InstrumentError(f"{symbol}: lot_size must be a positive decimal")
            min_q = to_units(min_qty, lot, what=f"{symbol} min_qty") if min_qty is not None else 1
            min_n = to_units(min_notional, quote.unit, what=f"{symbol} min_notional")
            max_p = to_units(max_price, unit, what=f"{symbol} max_price") if max_price else 10**12
            max_q = to_units(max_qty, lot, what=f"{symbol} max_qty") if max_qty else 10**12
            band_floors = tuple(to_units(f, unit) for f in floors)
            band_steps = tuple(to_units(t, unit) for t in ticks)
        except (DecimalError, ArithmeticError, ValueError) as exc:
            if isinstance(exc, InstrumentError):
                raise
            raise InstrumentError(f"{symbol}: {exc}") from None
        return cls(symbol, base, quote, unit, lot, band_floors, band_steps, min_q, min_n, max_p, max_q)

    def valid_price(self, price_ticks: int) -> bool:
        """True if ``price_ticks`` is positive, within bounds and on its band's tick. O(log bands)."""
        if price_ticks <= 0 or price_ticks > self.max_price_ticks:
            return False
        if self.single_tick:
            return True
        step = self.band_steps[bisect_right(self.band_floors, price_ticks) - 1]
        return price_ticks % step == 0

    def notional(self, price_ticks: int, qty_lots: int) -> int:
        """Quote ledger units for ``qty_lots`` at ``price_ticks`` (exact)."""
        return price_ticks * qty_lots * self.quote_units_per_tick_lot

    # Edge conversions (config, gateway, reports): decimal strings <-> integer units.
    def price_to_ticks(self, text: str) -> int:
        return to_units(text, self.price_unit, what=f"{self.symbol} price")

    def qty_to_lots(self, text: str) -> int:
        return to_units(text, self.lot_size, what=f"{self.symbol} quantity")

    def format_price(self, ticks: int) -> str:
        return from_units(ticks, self.price_unit)

    def format_qty(self, lots: int) -> str:
        return from_units(lots, self.lot_size)
