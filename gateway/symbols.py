"""Wire symbols (Binance style, ``BTCKRW``) <-> engine instruments (``BTC-KRW``), and Binance filters.

Binance spot names a market by base and quote glued together; the engine's instruments may carry a dash.
:class:`SymbolTable` is the one mapping between the two; every gateway module goes through it, so a wire
name that is not in the table is always the same error (-1121 "Invalid symbol.").

:func:`binance_filters` derives ``PRICE_FILTER``, ``LOT_SIZE``, ``MARKET_LOT_SIZE`` and ``NOTIONAL`` from an
:class:`~exchange.Instrument`; they are the grid the gateway enforces, so clients that round to them
(ccxt's ``amount_to_precision`` / ``price_to_precision``) send valid values. Binance has one tick per
symbol: a price-banded KRW market publishes the tick valid at a reference price (binance-compat §8.2).
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

from exchange import MAX_AMOUNT, Instrument

from .errors import BinanceError

__all__ = ["SymbolTable", "wire_name", "tick_at", "binance_filters", "symbol_info", "ORDER_TYPES"]

# What ccxt may send (binance-compat §8.4); stop orders are not supported by the engine.
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET"]


def wire_name(symbol: str) -> str:
    """``"BTC-KRW"`` -> ``"BTCKRW"``."""
    return symbol.replace("-", "")


def tick_at(inst: Instrument, price_ticks: int | None) -> int:
    """The valid price step (in price units) of the band holding ``price_ticks``; the first band's
    step when there is no reference price. O(log bands)."""
    if price_ticks is None or price_ticks <= 0:
        return inst.band_steps[0]
    return inst.band_steps[bisect_right(inst.band_floors, price_ticks) - 1]


def binance_filters(inst: Instrument, ref_price_ticks: int | None = None) -> list[dict]:
    """Binance's filter objects for ``inst``, decimals as strings.

    ``tickSize`` is the step of the band holding ``ref_price_ticks`` (e.g. the last trade price), the
    first band's step without one. ``minPrice`` is the smallest valid price.
    """
    step = inst.format_qty(1)
    min_qty, max_qty = inst.format_qty(inst.min_qty_lots), inst.format_qty(inst.max_qty_lots)
    max_notional = min(MAX_AMOUNT, inst.notional(inst.max_price_ticks, inst.max_qty_lots))
    return [
        {"filterType": "PRICE_FILTER", "minPrice": inst.format_price(inst.band_steps[0]),
         "maxPrice": inst.format_price(inst.max_price_ticks),
         "tickSize": inst.format_price(tick_at(inst, ref_price_ticks))},
        {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": step},
        {"filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": step},
        {"filterType": "NOTIONAL", "minNotional": inst.quote.format(inst.min_notional),
         "applyMinToMarket": True, "maxNotional": inst.quote.format(max_notional),
         "applyMaxToMarket": False, "avgPriceMins": 5},
    ]


def symbol_info(inst: Instrument, ref_price_ticks: int | None = None, *, halted: bool = False) -> dict:
    """One ``exchangeInfo.symbols[]`` entry (binance-compat §4.1). Never carries the contract-only keys
    (``contractType``, ``deliveryDate``...) that would make ccxt treat the market as a derivative."""
    return {
        "symbol": wire_name(inst.symbol), "status": "HALT" if halted else "TRADING",
        "baseAsset": inst.base.name, "baseAssetPrecision": inst.base.decimals,
        "quoteAsset": inst.quote.name, "quotePrecision": inst.quote.decimals,
        "quoteAssetPrecision": inst.quote.decimals, "baseCommissionPrecision": inst.base.decimals,
        "quoteCommissionPrecision": inst.quote.decimals, "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False, "cancelReplaceAllowed": True,
        "amendAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": binance_filters(inst, ref_price_ticks), "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


class SymbolTable:
    """Wire name <-> instrument for one engine's instruments.

    Raises:
        ValueError: two instruments with the same wire name (``BTC-KRW`` and ``BTCK-RW``).
    """

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_wire: dict[str, Instrument] = {}
        self._wire: dict[str, str] = {}
        for inst in instruments:
            name = wire_name(inst.symbol)
            if name in self._by_wire:
                raise ValueError(f"instruments {self._by_wire[name].symbol} and {inst.symbol} both have the "
                                 f"wire name {name}")
            self._by_wire[name] = inst
            self._wire[inst.symbol] = name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_wire)

    def __len__(self) -> int:
        return len(self._by_wire)

    def __contains__(self, wire: object) -> bool:
        return wire in self._by_wire

    def items(self) -> Iterable[tuple[str, Instrument]]:
        return self._by_wire.items()

    def get(self, wire: str) -> Instrument | None:
        return self._by_wire.get(wire)

    def instrument(self, wire: str) -> Instrument:
        """The instrument named ``wire`` (``BTCKRW``). Raises BinanceError -1121 if there is none."""
        inst = self._by_wire.get(wire)
        if inst is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return inst

    def wire(self, engine_symbol: str) -> str:
        """``"BTC-KRW"`` -> ``"BTCKRW"`` (KeyError for an unknown instrument)."""
        return self._wire[engine_symbol]
