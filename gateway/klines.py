"""Kline (candlestick) intervals and per-interval candle series, in integer units.

Binance spot intervals (``1s`` .. ``1M``) with their bucket arithmetic in epoch milliseconds:
fixed-length intervals start at multiples of their length since the epoch, except ``1w`` which starts on
Mondays 00:00 (the epoch was a Thursday) and ``1M`` which starts on the first of each calendar month. A
``timeZone`` offset shifts those boundaries to local time (Binance's ``timeZone`` kline parameter);
``startTime``/``endTime`` stay UTC.

A :class:`KlineSeries` keeps only candles that had trades (sparse), the newest ``cap`` of them; readers
fill the gaps with flat candles at the previous close and zero volume, as Binance does for quiet
intervals. Candles are lists indexed by the ``K_*`` constants; prices are ticks, volumes lots, quote
volumes quote ledger units.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from datetime import date, timedelta
from typing import Iterable

__all__ = ["INTERVALS", "FIXED_MS", "open_time", "next_open", "prev_open", "KlineSeries", "kline_slots",
           "aggregate", "base_interval_for", "K_OPEN", "K_O", "K_H", "K_L", "K_C", "K_V", "K_Q", "K_N",
           "K_TBV", "K_TBQ", "K_FIRST", "K_LAST"]

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
FIXED_MS: dict[str, int] = {
    "1s": SECOND, "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE,
    "30m": 30 * MINUTE, "1h": HOUR, "2h": 2 * HOUR, "4h": 4 * HOUR, "6h": 6 * HOUR, "8h": 8 * HOUR,
    "12h": 12 * HOUR, "1d": DAY, "3d": 3 * DAY, "1w": 7 * DAY,
}
INTERVALS: tuple[str, ...] = (*FIXED_MS, "1M")
_WEEK_ANCHOR = 4 * DAY          # 1970-01-05, the first Monday after the epoch
_EPOCH = date(1970, 1, 1)

# Candle layout: [open_ms, o, h, l, c, volume_lots, quote_units, trades, taker_buy_lots,
#                 taker_buy_quote_units, first_trade_id, last_trade_id]
K_OPEN, K_O, K_H, K_L, K_C, K_V, K_Q, K_N, K_TBV, K_TBQ, K_FIRST, K_LAST = range(12)


def _month_start(local_ms: int, months_ahead: int = 0) -> int:
    d = _EPOCH + timedelta(days=local_ms // DAY)
    m = d.year * 12 + d.month - 1 + months_ahead
    return (date(m // 12, m % 12 + 1, 1) - _EPOCH).days * DAY


def open_time(t_ms: int, interval: str, offset_ms: int = 0) -> int:
    """Open time (UTC ms) of the ``interval`` bucket containing ``t_ms``, with buckets aligned in the
    local time ``UTC + offset_ms``."""
    local = t_ms + offset_ms
    if interval == "1M":
        start = _month_start(local)
    elif interval == "1w":
        start = (local - _WEEK_ANCHOR) // FIXED_MS["1w"] * FIXED_MS["1w"] + _WEEK_ANCHOR
    else:
        step = FIXED_MS[interval]
        start = local // step * step
    return start - offset_ms


def next_open(open_ms: int, interval: str, offset_ms: int = 0) -> int:
    """Open time of the bucket after the one opening at ``open_ms`` (its close time is this - 1)."""
    if interval == "1M":
        return _month_start(open_ms + offset_ms, 1) - offset_ms
    return open_ms + FIXED_MS[interval]


def prev_open(open_ms: int, interval: str, offset_ms: int = 0) -> int:
    return open_time(open_ms - 1, interval, offset_ms)


def base_interval_for(interval: str, offset_ms: int) -> str:
    """The interval whose UTC candles can be summed into ``interval`` candles of local time
    ``UTC + offset_ms``: ``interval`` itself when the offset does not move its boundaries, else the
    largest fixed interval that divides both the offset and the interval (a day for 3d/1w/1M)."""
    span = FIXED_MS.get(interval, DAY)
    if interval in ("3d", "1w", "1M"):
        span = DAY
    if offset_ms % span == 0 and interval not in ("1w", "1M"):
        return interval
    if offset_ms == 0:
        return interval
    best = "1s"
    for name, step in FIXED_MS.items():
        if step <= span and span % step == 0 and offset_ms % step == 0:
            best = name
    return best


def new_candle(open_ms: int, price: int, qty: int, quote: int, taker_buy: bool, trade_id: int) -> list:
    return [open_ms, price, price, price, price, qty, quote, 1,
            qty if taker_buy else 0, quote if taker_buy else 0, trade_id, trade_id]


def add_to_candle(c: list, price: int, qty: int, quote: int, taker_buy: bool, trade_id: int) -> None:
    if price > c[K_H]:
        c[K_H] = price
    if price < c[K_L]:
        c[K_L] = price
    c[K_C] = price
    c[K_V] += qty
    c[K_Q] += quote
    c[K_N] += 1
    if taker_buy:
        c[K_TBV] += qty
        c[K_TBQ] += quote
    c[K_LAST] = trade_id


def merge_candle(into: list, c: list) -> None:
    """Fold the later candle ``c`` into ``into`` (both non-empty, ``c`` after ``into`` in time)."""
    if c[K_H] > into[K_H]:
        into[K_H] = c[K_H]
    if c[K_L] < into[K_L]:
        into[K_L] = c[K_L]
    into[K_C] = c[K_C]
    for k in (K_V, K_Q, K_N, K_TBV, K_TBQ):
        into[k] += c[k]
    into[K_LAST] = c[K_LAST]


class KlineSeries:
    """The newest ``cap`` non-empty candles of one symbol and interval, oldest first.

    Trades arrive in time order (the pump stamps non-decreasing ``ts_ns``), so adding is O(1); a late
    trade (clock step backwards) is put into its own bucket in O(log cap + cap)."""

    __slots__ = ("interval", "cap", "candles")

    def __init__(self, interval: str, cap: int) -> None:
        self.interval = interval
        self.cap = cap
        self.candles: deque[list] = deque(maxlen=cap)

    def add(self, t_ms: int, price: int, qty: int, quote: int, taker_buy: bool, trade_id: int) -> list:
        """Account one trade; returns the candle it went into."""
        opened = open_time(t_ms, self.interval)
        candles = self.candles
        if candles:
            last = candles[-1]
            if last[K_OPEN] == opened:
                add_to_candle(last, price, qty, quote, taker_buy, trade_id)
                return last
            if last[K_OPEN] > opened:
                i = bisect_left(candles, opened, key=_open_of)
                if i < len(candles) and candles[i][K_OPEN] == opened:
                    add_to_candle(candles[i], price, qty, quote, taker_buy, trade_id)
                    return candles[i]
                if i == 0 and len(candles) == self.cap:
                    return new_candle(opened, price, qty, quote, taker_buy, trade_id)  # older than kept
                c = new_candle(opened, price, qty, quote, taker_buy, trade_id)
                candles.insert(i, c) if len(candles) < self.cap else self._insert_full(i, c)
                return c
        c = new_candle(opened, price, qty, quote, taker_buy, trade_id)
        candles.append(c)
        return c

    def _insert_full(self, i: int, c: list) -> None:
        self.candles.popleft()
        self.candles.insert(i - 1, c)

    def last(self) -> list | None:
        return self.candles[-1] if self.candles else None

    def range(self, start_open: int, end_open: int) -> list[list]:
        """Stored candles with ``start_open <= open <= end_open``, oldest first."""
        c = self.candles
        lo = bisect_left(c, start_open, key=_open_of)
        hi = bisect_right(c, end_open, key=_open_of)
        return [c[i] for i in range(lo, hi)]

    def before(self, t_open: int) -> list | None:
        """The newest stored candle opening before ``t_open``."""
        i = bisect_left(self.candles, t_open, key=_open_of)
        return self.candles[i - 1] if i else None


def _open_of(c: list) -> int:
    return c[K_OPEN]


def aggregate(candles: Iterable[list], interval: str, offset_ms: int) -> list[list]:
    """Sum finer sparse candles (oldest first) into ``interval`` candles of local time ``UTC+offset``."""
    out: list[list] = []
    for c in candles:
        opened = open_time(c[K_OPEN], interval, offset_ms)
        if out and out[-1][K_OPEN] == opened:
            merge_candle(out[-1], c)
        else:
            nc = list(c)
            nc[K_OPEN] = opened
            out.append(nc)
    return out


def kline_slots(sparse: list[list], interval: str, offset_ms: int, *, now_ms: int, start: int | None,
                end: int | None, limit: int, prev_close: int | None = None) -> list[list]:
    """Binance kline selection over sparse candles, gaps filled.

    Candles exist from the oldest stored one through the bucket containing ``now_ms``; a bucket with no
    trades is a flat candle at the previous close with zero volume (first/last trade id -1). Returned
    candles have ``start <= open <= end`` (when given); with ``start`` the oldest ``limit`` of them,
    otherwise the newest ``limit``; oldest first. ``prev_close`` seeds the close before the oldest
    sparse candle (only used when ``sparse`` starts after ``start``)."""
    if not sparse or limit <= 0:
        return []
    first = sparse[0][K_OPEN]
    last_slot = open_time(now_ms, interval, offset_ms)
    if end is not None:
        last_slot = min(last_slot, open_time(end, interval, offset_ms))
    if last_slot < first:
        return []
    by_open = {c[K_OPEN]: c for c in sparse}
    opens_sorted = [c[K_OPEN] for c in sparse]
    slots: list[int] = []
    if start is not None:
        s = open_time(start, interval, offset_ms)
        if s < start:
            s = next_open(s, interval, offset_ms)
        s = max(s, first)
        while s <= last_slot and len(slots) < limit:
            slots.append(s)
            s = next_open(s, interval, offset_ms)
    else:
        s = last_slot
        while s >= first and len(slots) < limit:
            slots.append(s)
            s = prev_open(s, interval, offset_ms)
        slots.reverse()
    if not slots:
        return []
    i = bisect_left(opens_sorted, slots[0])
    close = sparse[i - 1][K_C] if i else prev_close
    out: list[list] = []
    for s in slots:
        c = by_open.get(s)
        if c is None:
            if close is None:
                continue
            out.append([s, close, close, close, close, 0, 0, 0, 0, 0, -1, -1])
        else:
            out.append(c)
            close = c[K_C]
    return out
