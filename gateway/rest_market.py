"""Public market-data REST under ``/api/v3`` in Binance spot's shapes (binance-compat §4).

Endpoints: ping, time, exchangeInfo, depth, trades, historicalTrades, aggTrades, klines, uiKlines,
ticker/24hr, ticker (rolling window), ticker/price, ticker/bookTicker, avgPrice.

Parameters are validated strictly, each failure a Binance error (:class:`gateway.errors.BinanceError`):
an unknown parameter is -1104, a repeated one -1101, a missing mandatory one -1102, an empty optional
one -1105, a malformed or out-of-range value -1100, an unknown symbol -1121, a bad interval -1120,
incompatible parameters -1128, a too-long time range -1127, start after end -1023. Handlers read the
engine and the market-data projection synchronously (no await), so ``/depth``'s ``lastUpdateId`` is the
engine's per-symbol update id of exactly the book returned (binance-compat §7); like Binance spot, the
depth answer has no timestamp (a ``T`` there breaks ccxt's first-diff rule).

Price-banded (KRW) instruments publish in exchangeInfo the tick valid at the current price: the last
trade, else the best bid, else the best ask, else the lowest band (binance-compat §8.2).
"""
from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Query, Request

from . import market_wire as W
from .errors import BinanceError
from .klines import INTERVALS
from .marketdata import AVG_PRICE_MINS, MarketData
from .symbols import symbol_info

__all__ = ["router", "parse_time_zone", "parse_window"]

_SYMBOL_RE = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
_UINT_RE = re.compile(r"^[0-9]{1,20}$")
_TZ_RE = re.compile(r"^([+-]?)([0-9]{1,2})(?::([0-9]{2}))?$")
_WINDOW_RE = re.compile(r"^([0-9]{1,2})([mhd])$")
MAX_SYMBOLS = 100     # symbols per /ticker (rolling) request, as Binance


# ----------------------------------------------------------------------------- parameter helpers
class _Params:
    """The query of one request, checked against the endpoint's parameter list."""

    def __init__(self, request: Request, allowed: tuple[str, ...]) -> None:
        self.values: dict[str, str] = {}
        items = request.query_params.multi_items()
        for key, value in items:
            if key not in allowed:
                known = sum(1 for k, _v in items if k in allowed)
                raise BinanceError(-1104, f"Not all sent parameters were read; read '{known}' "
                                          f"parameter(s) but was sent '{len(items)}'. Unknown parameter "
                                          f"'{key[:40]}'; this endpoint takes: {', '.join(allowed) or 'none'}.")
            if key in self.values:
                raise BinanceError(-1101, f"Duplicate values for parameter '{key}'.")
            self.values[key] = value

    def text(self, name: str, required: bool = False) -> str | None:
        v = self.values.get(name)
        if v is None or v == "":
            if required:
                raise BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or "
                                          f"malformed.")
            if v == "":
                raise BinanceError(-1105, f"Parameter '{name}' was empty.")
            return None
        return v

    def uint(self, name: str, *, lo: int = 0, hi: int = 2**63 - 1, default: int | None = None,
             required: bool = False) -> int | None:
        v = self.text(name, required)
        if v is None:
            return default
        if not _UINT_RE.match(v):
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                      f"'^[0-9]{{1,20}}$'.")
        n = int(v)
        if not lo <= n <= hi:
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                      f"'{lo} .. {hi}'.")
        return n

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        v = self.text(name)
        if v is None:
            return default
        if v not in options:
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal values are "
                                      f"{', '.join(options)}.")
        return v


def _instrument(symbols, name: str):
    if not _SYMBOL_RE.match(name):
        raise BinanceError(-1100, "Illegal characters found in parameter 'symbol'; legal range is "
                                  "'^[A-Z0-9-_.]{1,20}$'.")
    return symbols.instrument(name)


def _symbol_list(symbols, p: _Params, *, required: bool = False, max_count: int | None = None):
    """``[(wire, Instrument)]`` from ``symbol`` or the JSON array ``symbols``; None for "all"."""
    one, many = p.text("symbol"), p.text("symbols")
    if one is not None and many is not None:
        raise BinanceError(-1128, "Combination of optional parameters invalid. Recommendation: 'symbol' and "
                                  "'symbols' should not be sent together.")
    if one is not None:
        return [(one, _instrument(symbols, one))]
    if many is None:
        if required:
            raise BinanceError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or "
                                      "malformed. Send 'symbol' or 'symbols'.")
        return None
    legal = ("Illegal characters found in parameter 'symbols'; legal range is "
             "'^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")
    try:
        names = json.loads(many)
    except ValueError:
        raise BinanceError(-1100, legal) from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BinanceError(-1100, legal)
    if len(set(names)) != len(names):
        raise BinanceError(-1101, "Duplicate values for parameter 'symbols'.")
    if max_count is not None and len(names) > max_count:
        raise BinanceError(-1101, f"Too many values for parameter 'symbols'; at most {max_count}.")
    return [(n, _instrument(symbols, n)) for n in names]


def parse_time_zone(text: str | None) -> int:
    """Binance's kline ``timeZone`` (``"0"``, ``"8"``, ``"-1:00"``, ``"05:45"``; -12:00 .. +14:00) to an
    offset in ms. Raises BinanceError -1100."""
    if text is None:
        return 0
    m = _TZ_RE.match(text)
    bad = BinanceError(-1100, "Illegal characters found in parameter 'timeZone'; legal range is "
                              "'-12:00' .. '+14:00' as hours ('8', '-1') or hours:minutes ('05:45').")
    if not m:
        raise bad
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if minutes >= 60:
        raise bad
    total = hours * 60 + minutes
    total = -total if m.group(1) == "-" else total
    if not -12 * 60 <= total <= 14 * 60:
        raise bad
    return total * 60_000


def parse_window(text: str | None) -> int:
    """``windowSize`` ``1m``..``59m``, ``1h``..``23h``, ``1d``..``7d`` to ms (default ``1d``)."""
    if text is None:
        return 86_400_000
    m = _WINDOW_RE.match(text)
    n = int(m.group(1)) if m else 0
    ok = m is not None and ((m.group(2) == "m" and 1 <= n <= 59) or (m.group(2) == "h" and 1 <= n <= 23)
                            or (m.group(2) == "d" and 1 <= n <= 7))
    if not ok:
        raise BinanceError(-1100, "Illegal characters found in parameter 'windowSize'; legal values are "
                                  "1m..59m, 1h..23h, 1d..7d.")
    return n * {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[m.group(2)]


def _time_range(p: _Params) -> tuple[int | None, int | None]:
    start, end = p.uint("startTime"), p.uint("endTime")
    if start is not None and end is not None and start > end:
        raise BinanceError(-1023, "Start time is greater than end time.")
    return start, end


# ----------------------------------------------------------------------------- the router
def router(pump, marketdata: MarketData, *, rate_limits=None) -> APIRouter:
    """Public market-data routes. ``rate_limits`` (a :class:`gateway.config.RateLimits`) is what
    exchangeInfo advertises; Binance's defaults without it."""
    md = marketdata
    md.attach(pump)
    symbols = md.symbols
    r = APIRouter(prefix="/api/v3", tags=["market data"])

    def engine():
        eng = pump.engine
        if eng is None:
            raise BinanceError(-1001, "Internal error; the exchange is not running.", 503)
        return eng

    def ref_price(inst) -> int | None:
        last = md.last_price(inst.symbol)
        if last:
            return last
        bid, ask = engine().best_bid_ask(inst.symbol)
        return bid or ask

    def limits_json() -> list[dict]:
        w = getattr(rate_limits, "request_weight_per_minute", 6000)
        o10 = getattr(rate_limits, "orders_per_10s", 100)
        oday = getattr(rate_limits, "orders_per_day", 200_000)
        return [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": w},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": o10},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": oday}]

    @r.get("/ping", summary="Test connectivity")
    def ping(request: Request) -> dict:
        _Params(request, ())
        return {}

    @r.get("/time", summary="Server time (wall clock, epoch ms)")
    def server_time(request: Request) -> dict:
        _Params(request, ())
        return {"serverTime": md.now_ms()}

    @r.get("/exchangeInfo", summary="Symbols, filters and rate limits")
    def exchange_info(request: Request, symbol: str | None = Query(None), symbols_: str | None = Query(
            None, alias="symbols", description='JSON array, e.g. ["BTCKRW","ETHKRW"]'),
            permissions: str | None = Query(None, description='"SPOT" or a JSON array of permissions'),
            showPermissionSets: str | None = Query(None), symbolStatus: str | None = Query(None)) -> dict:
        p = _Params(request, ("symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"))
        chosen = _symbol_list(symbols, p)
        if chosen is not None and p.text("symbolStatus") is not None:
            raise BinanceError(-1128, "Combination of optional parameters invalid. Recommendation: "
                                      "'symbolStatus' cannot be sent with 'symbol' or 'symbols'.")
        status = p.choice("symbolStatus", ("TRADING", "HALT", "BREAK"), "")
        show_sets = p.choice("showPermissionSets", ("true", "false"), "true") == "true"
        perms = p.text("permissions")
        spot = True
        if perms is not None:
            try:
                wanted = json.loads(perms) if perms.startswith("[") else [perms]
            except ValueError:
                wanted = None
            if not isinstance(wanted, list) or not all(isinstance(x, str) and x.isupper() for x in wanted):
                raise BinanceError(-1100, "Illegal characters found in parameter 'permissions'; send a "
                                          "permission such as SPOT or a JSON array of them.")
            spot = "SPOT" in wanted
        eng = engine()
        out = []
        for wire, inst in (chosen if chosen is not None else list(symbols.items())):
            info = symbol_info(inst, ref_price(inst), halted=eng.is_halted(inst.symbol))
            if (status and info["status"] != status) or not spot:
                continue
            if not show_sets:
                info["permissionSets"] = []
            out.append(info)
        return {"timezone": "UTC", "serverTime": md.now_ms(), "rateLimits": limits_json(),
                "exchangeFilters": [], "symbols": out}

    @r.get("/depth", summary="Order book (lastUpdateId from the per-symbol update counter)")
    def depth(request: Request, symbol: str | None = Query(None, description="required"), limit: str | None = Query(
            None, description="1..5000, default 100")) -> dict:
        p = _Params(request, ("symbol", "limit"))
        inst = _instrument(symbols, p.text("symbol", True))
        n = p.uint("limit", lo=1, hi=5000, default=100)
        d = engine().depth(inst.symbol, n)
        return {"lastUpdateId": d.update_id, "bids": W.depth_levels(inst, d.bids),
                "asks": W.depth_levels(inst, d.asks)}

    @r.get("/trades", summary="Recent trades")
    def trades(request: Request, symbol: str | None = Query(None, description="required"), limit: str | None = Query(
            None, description="1..1000, default 500")) -> list:
        p = _Params(request, ("symbol", "limit"))
        inst = _instrument(symbols, p.text("symbol", True))
        n = p.uint("limit", lo=1, hi=1000, default=500)
        return [W.trade_rest(inst, t) for t in md.recent_trades(inst.symbol, n)]

    @r.get("/historicalTrades", summary="Older trades from an id (the newest 10,000 are kept)")
    def historical_trades(request: Request, symbol: str | None = Query(None, description="required"), limit: str | None = Query(None),
                          fromId: str | None = Query(None)) -> list:
        p = _Params(request, ("symbol", "limit", "fromId"))
        inst = _instrument(symbols, p.text("symbol", True))
        n = p.uint("limit", lo=1, hi=1000, default=500)
        return [W.trade_rest(inst, t) for t in md.historical_trades(inst.symbol, p.uint("fromId"), n)]

    @r.get("/aggTrades", summary="Aggregate trades (a = first trade id)")
    def agg_trades(request: Request, symbol: str | None = Query(None, description="required"), fromId: str | None = Query(None),
                   startTime: str | None = Query(None), endTime: str | None = Query(None),
                   limit: str | None = Query(None)) -> list:
        p = _Params(request, ("symbol", "fromId", "startTime", "endTime", "limit"))
        inst = _instrument(symbols, p.text("symbol", True))
        n = p.uint("limit", lo=1, hi=1000, default=500)
        from_id = p.uint("fromId")
        start, end = _time_range(p)
        if from_id is not None and (start is not None or end is not None):
            raise BinanceError(-1128, "Combination of optional parameters invalid. Recommendation: 'fromId' "
                                      "cannot be sent with 'startTime' or 'endTime'.")
        if start is not None and end is not None and end - start > 3_600_000:
            raise BinanceError(-1127, "Lookup interval is too big. More than 1 hour between startTime and "
                                      "endTime.")
        rows = md.agg_trades(inst.symbol, from_id=from_id, start=start, end=end, limit=n)
        return [W.agg_rest(inst, a) for a in rows]

    def _klines(request: Request) -> list:
        p = _Params(request, ("symbol", "interval", "startTime", "endTime", "timeZone", "limit"))
        inst = _instrument(symbols, p.text("symbol", True))
        interval = p.text("interval", True)
        if interval not in INTERVALS:
            raise BinanceError(-1120, f"Invalid interval. Valid intervals: {', '.join(INTERVALS)}.")
        n = p.uint("limit", lo=1, hi=1000, default=500)
        start, end = _time_range(p)
        offset = parse_time_zone(p.text("timeZone"))
        rows = md.klines(inst.symbol, interval, start=start, end=end, limit=n, offset_ms=offset)
        return [W.kline_row(inst, c, interval, offset) for c in rows]

    kline_doc = f"interval: one of {', '.join(INTERVALS)}; limit 1..1000 (default 500)"

    @r.get("/klines", summary="Klines (candlesticks)", description=kline_doc)
    def klines(request: Request, symbol: str | None = Query(None, description="required"), interval: str | None = Query(None, description="required"),
               startTime: str | None = Query(None), endTime: str | None = Query(None),
               timeZone: str | None = Query(None), limit: str | None = Query(None)) -> list:
        return _klines(request)

    @r.get("/uiKlines", summary="Klines for display (same as klines here)", description=kline_doc)
    def ui_klines(request: Request, symbol: str | None = Query(None, description="required"), interval: str | None = Query(None, description="required"),
                  startTime: str | None = Query(None), endTime: str | None = Query(None),
                  timeZone: str | None = Query(None), limit: str | None = Query(None)) -> list:
        return _klines(request)

    def _select(p: _Params, required: bool = False, max_count: int | None = None):
        chosen = _symbol_list(symbols, p, required=required, max_count=max_count)
        single = p.text("symbol") is not None
        return chosen, single

    def _render(chosen, single: bool, fn) -> Any:
        pairs = chosen if chosen is not None else list(symbols.items())
        rows = [fn(w, i) for w, i in pairs]
        return rows[0] if single else rows

    @r.get("/ticker/24hr", summary="24-hour rolling statistics")
    def ticker_24hr(request: Request, symbol: str | None = Query(None), symbols_: str | None = Query(
            None, alias="symbols"), type: str | None = Query(None, description="FULL or MINI")) -> Any:
        p = _Params(request, ("symbol", "symbols", "type"))
        chosen, single = _select(p)
        mini = p.choice("type", ("FULL", "MINI"), "FULL") == "MINI"
        now = md.now_ms()

        def one(wire, inst):
            r24 = md.rolling(inst.symbol, 86_400_000, now)
            return W.ticker_rest(inst, wire, r24, None if mini else md.book_ticker(inst.symbol), mini=mini)
        return _render(chosen, single, one)

    @r.get("/ticker", summary="Rolling-window statistics (windowSize 1m..7d)")
    def ticker_rolling(request: Request, symbol: str | None = Query(None), symbols_: str | None = Query(
            None, alias="symbols"), windowSize: str | None = Query(None), type: str | None = Query(None)) -> Any:
        p = _Params(request, ("symbol", "symbols", "windowSize", "type"))
        chosen, single = _select(p, required=True, max_count=MAX_SYMBOLS)
        window = parse_window(p.text("windowSize"))
        mini = p.choice("type", ("FULL", "MINI"), "FULL") == "MINI"
        now = md.now_ms()
        return _render(chosen, single, lambda w, i: W.ticker_rest(
            i, w, md.rolling(i.symbol, window, now), None, mini=mini, rolling=True))

    @r.get("/ticker/price", summary="Last price")
    def ticker_price(request: Request, symbol: str | None = Query(None),
                     symbols_: str | None = Query(None, alias="symbols")) -> Any:
        p = _Params(request, ("symbol", "symbols"))
        chosen, single = _select(p)
        return _render(chosen, single, lambda w, i: {"symbol": w,
                                                     "price": i.format_price(md.last_price(i.symbol))})

    @r.get("/ticker/bookTicker", summary="Best bid and ask")
    def book_ticker(request: Request, symbol: str | None = Query(None),
                    symbols_: str | None = Query(None, alias="symbols")) -> Any:
        p = _Params(request, ("symbol", "symbols"))
        chosen, single = _select(p)
        engine()
        return _render(chosen, single, lambda w, i: W.book_ticker_rest(i, w, md.book_ticker(i.symbol)))

    @r.get("/avgPrice", summary="Average price of the last 5 minutes")
    def avg_price(request: Request, symbol: str | None = Query(None, description="required")) -> dict:
        p = _Params(request, ("symbol",))
        inst = _instrument(symbols, p.text("symbol", True))
        quote, lots, close = md.avg_price(inst.symbol)
        return W.avg_price_rest(inst, quote, lots, md.last_price(inst.symbol), close, AVG_PRICE_MINS)

    return r
