"""Binance spot wire shapes of market data: integers in, JSON-ready dicts with decimal strings out.

Prices use the instrument's price precision (``Instrument.format_price``), quantities its lot precision,
quote volumes the quote asset's decimals. Derived ratios (weighted average price, average price) are
exact integer divisions rounded half away from zero to ``max(price decimals, quote decimals)`` places;
``priceChangePercent`` has 3 decimals like Binance's. Times are epoch ms; ids are ints. Shapes follow
binance-compat §4 and §6 (spot tickers carry ``bidQty`` and never ``time``).
"""
from __future__ import annotations

from decimal import Decimal

from exchange import Instrument

from .klines import (K_C, K_FIRST, K_H, K_L, K_LAST, K_N, K_O, K_OPEN, K_Q, K_TBQ, K_TBV, K_V,
                     next_open)
from .marketdata import AggTrade, BookTop, Rolling, Trade

__all__ = ["trade_rest", "agg_rest", "kline_row", "ticker_rest", "book_ticker_rest", "avg_price_rest",
           "trade_event", "agg_event", "kline_event", "ticker_event", "mini_ticker_event",
           "book_ticker_event", "depth_levels", "ratio_str", "percent_str"]


def _places(d: Decimal) -> int:
    return max(0, -int(d.normalize().as_tuple().exponent))


def _div_round(num: int, den: int) -> int:
    """num/den rounded half away from zero (den > 0)."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def _scaled(n: int, places: int) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    if not places:
        return f"{sign}{n}"
    whole, frac = divmod(n, 10 ** places)
    return f"{sign}{whole}.{frac:0{places}d}"


def _ratio_places(inst: Instrument) -> int:
    return max(_places(inst.price_unit), inst.quote.decimals)


def ratio_str(inst: Instrument, quote_units: int, lots: int) -> str:
    """The price ``quote_units / lots`` (quote ledger units per lot) as a decimal string; "0" padded
    when ``lots`` is 0."""
    places = _ratio_places(inst)
    if lots <= 0:
        return _scaled(0, places)
    _sign, digits, exp = inst.lot_size.normalize().as_tuple()
    mant = int("".join(map(str, digits)))
    shift = places - inst.quote.decimals - int(exp)
    num, den = quote_units, lots * mant
    if shift >= 0:
        num *= 10 ** shift
    else:
        den *= 10 ** -shift
    return _scaled(_div_round(num, den), places)


def percent_str(open_ticks: int, last_ticks: int) -> str:
    """``(last - open) / open * 100`` with 3 decimals, "0.000" when there is no open price."""
    if open_ticks <= 0:
        return "0.000"
    return _scaled(_div_round((last_ticks - open_ticks) * 100_000, open_ticks), 3)


# ----------------------------------------------------------------------------- REST shapes
def trade_rest(inst: Instrument, t: Trade) -> dict:
    return {"id": t.id, "price": inst.format_price(t.price_ticks), "qty": inst.format_qty(t.qty_lots),
            "quoteQty": inst.quote.format(t.quote_units), "time": t.time_ms,
            "isBuyerMaker": t.buyer_is_maker, "isBestMatch": True}


def agg_rest(inst: Instrument, a: AggTrade) -> dict:
    return {"a": a.id, "p": inst.format_price(a.price_ticks), "q": inst.format_qty(a.qty_lots),
            "f": a.first_id, "l": a.last_id, "T": a.time_ms, "m": a.buyer_is_maker, "M": True}


def kline_row(inst: Instrument, c: list, interval: str, offset_ms: int = 0) -> list:
    """``[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote,
    "0"]``."""
    fp, fq, fu = inst.format_price, inst.format_qty, inst.quote.format
    return [c[K_OPEN], fp(c[K_O]), fp(c[K_H]), fp(c[K_L]), fp(c[K_C]), fq(c[K_V]),
            next_open(c[K_OPEN], interval, offset_ms) - 1, fu(c[K_Q]), c[K_N], fq(c[K_TBV]), fu(c[K_TBQ]), "0"]


def ticker_rest(inst: Instrument, wire: str, r: Rolling, top: BookTop | None, *, mini: bool = False,
                rolling: bool = False) -> dict:
    """``/ticker/24hr`` (``top`` given, ``rolling`` False) or ``/ticker`` (``rolling`` True) in the
    FULL or MINI shape."""
    fp, fq, fu = inst.format_price, inst.format_qty, inst.quote.format
    out: dict = {"symbol": wire}
    if not mini:
        out["priceChange"] = fp(r.last - r.open)
        out["priceChangePercent"] = percent_str(r.open, r.last)
        out["weightedAvgPrice"] = ratio_str(inst, r.quote_volume, r.volume) if r.volume else fp(r.last)
        if not rolling:
            assert top is not None
            out["prevClosePrice"] = fp(r.prev_close)
            out["lastPrice"] = fp(r.last)
            out["lastQty"] = fq(r.last_qty)
            out["bidPrice"], out["bidQty"] = fp(top.bid), fq(top.bid_qty)
            out["askPrice"], out["askQty"] = fp(top.ask), fq(top.ask_qty)
    out["openPrice"] = fp(r.open)
    out["highPrice"] = fp(r.high)
    out["lowPrice"] = fp(r.low)
    out["lastPrice"] = fp(r.last)
    out["volume"] = fq(r.volume)
    out["quoteVolume"] = fu(r.quote_volume)
    out["openTime"] = r.open_time
    out["closeTime"] = r.close_time
    out["firstId"] = r.first_id
    out["lastId"] = r.last_id
    out["count"] = r.count
    return out


def book_ticker_rest(inst: Instrument, wire: str, top: BookTop) -> dict:
    return {"symbol": wire, "bidPrice": inst.format_price(top.bid), "bidQty": inst.format_qty(top.bid_qty),
            "askPrice": inst.format_price(top.ask), "askQty": inst.format_qty(top.ask_qty)}


def avg_price_rest(inst: Instrument, quote_units: int, lots: int, last_price: int, close_time: int,
                   mins: int) -> dict:
    price = ratio_str(inst, quote_units, lots) if lots else ratio_str(
        inst, inst.notional(last_price, 1), 1)
    return {"mins": mins, "price": price, "closeTime": close_time}


def depth_levels(inst: Instrument, levels) -> list[list[str]]:
    fp, fq = inst.format_price, inst.format_qty
    return [[fp(p), fq(q)] for p, q in levels]


# ----------------------------------------------------------------------------- stream payloads
def trade_event(inst: Instrument, wire: str, t: Trade, event_ms: int) -> dict:
    return {"e": "trade", "E": event_ms, "s": wire, "t": t.id, "p": inst.format_price(t.price_ticks),
            "q": inst.format_qty(t.qty_lots), "T": t.time_ms, "m": t.buyer_is_maker, "M": True}


def agg_event(inst: Instrument, wire: str, a: AggTrade, event_ms: int) -> dict:
    return {"e": "aggTrade", "E": event_ms, "s": wire, "a": a.id, "p": inst.format_price(a.price_ticks),
            "q": inst.format_qty(a.qty_lots), "f": a.first_id, "l": a.last_id, "T": a.time_ms,
            "m": a.buyer_is_maker, "M": True}


def kline_event(inst: Instrument, wire: str, c: list, interval: str, event_ms: int, closed: bool) -> dict:
    fp, fq, fu = inst.format_price, inst.format_qty, inst.quote.format
    return {"e": "kline", "E": event_ms, "s": wire, "k": {
        "t": c[K_OPEN], "T": next_open(c[K_OPEN], interval) - 1, "s": wire, "i": interval,
        "f": c[K_FIRST], "L": c[K_LAST], "o": fp(c[K_O]), "c": fp(c[K_C]), "h": fp(c[K_H]),
        "l": fp(c[K_L]), "v": fq(c[K_V]), "n": c[K_N], "x": closed, "q": fu(c[K_Q]), "V": fq(c[K_TBV]),
        "Q": fu(c[K_TBQ]), "B": "0"}}


def ticker_event(inst: Instrument, wire: str, r: Rolling, top: BookTop, event_ms: int) -> dict:
    fp, fq = inst.format_price, inst.format_qty
    return {"e": "24hrTicker", "E": event_ms, "s": wire, "p": fp(r.last - r.open),
            "P": percent_str(r.open, r.last),
            "w": ratio_str(inst, r.quote_volume, r.volume) if r.volume else fp(r.last),
            "x": fp(r.prev_close), "c": fp(r.last), "Q": fq(r.last_qty), "b": fp(top.bid),
            "B": fq(top.bid_qty), "a": fp(top.ask), "A": fq(top.ask_qty), "o": fp(r.open), "h": fp(r.high),
            "l": fp(r.low), "v": fq(r.volume), "q": inst.quote.format(r.quote_volume), "O": r.open_time,
            "C": r.close_time, "F": r.first_id, "L": r.last_id, "n": r.count}


def mini_ticker_event(inst: Instrument, wire: str, r: Rolling, event_ms: int) -> dict:
    fp = inst.format_price
    return {"e": "24hrMiniTicker", "E": event_ms, "s": wire, "c": fp(r.last), "o": fp(r.open),
            "h": fp(r.high), "l": fp(r.low), "v": inst.format_qty(r.volume),
            "q": inst.quote.format(r.quote_volume)}


def book_ticker_event(inst: Instrument, wire: str, top: BookTop) -> dict:
    return {"u": top.update_id, "s": wire, "b": inst.format_price(top.bid),
            "B": inst.format_qty(top.bid_qty), "a": inst.format_price(top.ask),
            "A": inst.format_qty(top.ask_qty)}
