"""Partner units <-> home units for one shared symbol: the one place the mirrored hub converts.

A shared symbol means the same assets everywhere, and ledger units are global (same decimals at every
venue), so amounts need no conversion. Prices and quantities do: each venue has its own tick and lot, and
:meth:`SharingConfig.validate` guarantees that the home price unit and lot are whole multiples of the
partner's (``tick_ratio``, ``lot_ratio`` below). Hence:

- **home -> partner is exact**: a home price is ``tick_ratio`` partner ticks per home tick, a home
  quantity ``lot_ratio`` partner lots per home lot, and the notional in quote ledger units is the same
  number at both venues (``notional_h(p, q) == notional_p(p * tick_ratio, q * lot_ratio)``);
- **partner -> home rounds against the viewer**: a partner *bid* is shown at the highest valid home price
  at or below it, a partner *ask* at the lowest valid home price at or above it (never a better price than
  the partner's, and always one the home instrument accepts, tick bands included); a quantity is floored
  to whole home lots after the haircut.

Pure functions of integers; nothing here reads a clock or state.
"""
from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal
from typing import Final

from exchange.instruments import Instrument

__all__ = ["Scale", "floor_valid_price", "ceil_valid_price", "BPS"]

BPS: Final = 10_000


def floor_valid_price(inst: Instrument, ticks: int) -> int:
    """The highest price valid on ``inst`` that is ``<= ticks`` (tick bands and max price respected), or
    0 if there is none (``ticks`` below the first tick). O(log bands)."""
    if ticks > inst.max_price_ticks:
        ticks = inst.max_price_ticks
    if ticks <= 0:
        return 0
    if inst.single_tick:
        return ticks
    step = inst.band_steps[bisect_right(inst.band_floors, ticks) - 1]
    # A band's floor is a multiple of its own step (Instrument checks it), so this stays in the band.
    return ticks - ticks % step


def ceil_valid_price(inst: Instrument, ticks: int) -> int:
    """The lowest price valid on ``inst`` that is ``>= ticks``, or 0 if there is none (above the max
    price). O(log bands)."""
    if ticks < 1:
        ticks = 1
    if ticks > inst.max_price_ticks:
        return 0
    if not inst.single_tick:
        floors = inst.band_floors
        i = bisect_right(floors, ticks) - 1
        step = inst.band_steps[i]
        up = -(-ticks // step) * step
        # Rounding up inside a band can overshoot the next band's floor, which is itself valid (it is a
        # multiple of its own step) and is then the lowest valid price above ``ticks``.
        if i + 1 < len(floors) and up > floors[i + 1]:
            up = floors[i + 1]
        ticks = up
    return ticks if ticks <= inst.max_price_ticks else 0


def _whole_ratio(ours: Decimal, theirs: Decimal, what: str) -> int:
    ratio = ours / theirs
    if ratio != ratio.to_integral_value() or ratio < 1:
        raise ValueError(f"{what}: home {ours} is not a whole multiple of the partner's {theirs}; "
                         "SharingConfig.validate refuses such a configuration")
    return int(ratio)


class Scale:
    """The conversions of one symbol between the home instrument and one partner's listing of it.

    Args:
        home: the home venue's instrument.
        partner: the partner's instrument for the same symbol (same assets).

    Raises:
        ValueError: the home tick or lot is not a whole multiple of the partner's.
    """

    __slots__ = ("home", "partner", "tick_ratio", "lot_ratio")

    def __init__(self, home: Instrument, partner: Instrument) -> None:
        if home.base != partner.base or home.quote != partner.quote:
            raise ValueError(f"{home.symbol}: the partner's listing has assets {partner.base.name}/"
                             f"{partner.quote.name}, home has {home.base.name}/{home.quote.name}")
        self.home: Instrument = home
        self.partner: Instrument = partner
        self.tick_ratio: int = _whole_ratio(home.price_unit, partner.price_unit, f"{home.symbol} price unit")
        self.lot_ratio: int = _whole_ratio(home.lot_size, partner.lot_size, f"{home.symbol} lot")

    # ---------------------------------------------------------------- partner -> home (rounds)
    def bid_to_home(self, partner_ticks: int) -> int:
        """A partner bid as a home price: the highest valid home price at or below it; 0 if none."""
        return floor_valid_price(self.home, partner_ticks // self.tick_ratio)

    def ask_to_home(self, partner_ticks: int) -> int:
        """A partner ask as a home price: the lowest valid home price at or above it; 0 if none."""
        return ceil_valid_price(self.home, -(-partner_ticks // self.tick_ratio))

    def lots_to_home(self, partner_lots: int, haircut_bps: int = BPS) -> int:
        """``partner_lots`` times the haircut, floored to whole home lots (one rounding, not two)."""
        if partner_lots <= 0:
            return 0
        return partner_lots * haircut_bps // (BPS * self.lot_ratio)

    # ---------------------------------------------------------------- home -> partner (exact)
    def price_to_partner(self, home_ticks: int) -> int:
        return home_ticks * self.tick_ratio

    def lots_to_partner(self, home_lots: int) -> int:
        return home_lots * self.lot_ratio

    def partner_lot_units(self) -> int:
        """Base ledger units in one partner lot."""
        return self.partner.lot_units

    def __repr__(self) -> str:
        return (f"Scale({self.home.symbol}: {self.tick_ratio} partner ticks per home tick, "
                f"{self.lot_ratio} partner lots per home lot)")
