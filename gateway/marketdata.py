"""Market data: a projection of the engine's events (DESIGN.md §3 "projections of events").

:class:`MarketData` is registered as a pump listener and is called right after each command with that
command's events. It keeps, per instrument (engine symbol, e.g. ``BTC-KRW``):

- recent trades: the newest :data:`TRADE_CAP` (10,000) fills, for ``/trades`` and ``/historicalTrades``;
- aggregate trades: consecutive fills of one taker order at one price, merged (Binance's aggTrades), the
  newest :data:`AGG_CAP` (10,000). An aggregate's id ``a`` is its first trade id: unique, increasing per
  symbol and stable across restarts (Binance numbers them 1, 2, 3...; clients only compare them);
- klines for every Binance interval (:mod:`gateway.klines`), the newest :data:`KLINE_CAPS` non-empty
  candles per interval (the 1m series keeps 7 days because rolling tickers are summed from it);
- an L2 mirror of level totals, kept from BookUpdated (gap-free ``update_id``; re-seeded from the engine
  if a gap is ever seen), so the book ticker costs O(1) instead of sorting the book.

Reads are synchronous and see the state after the last applied command, like the engine's own reads.
Times are wall-clock epoch milliseconds taken from the command's ``ts_ns``. Every number stays an integer
(ticks, lots, ledger units); :mod:`gateway.market_wire` turns them into Binance's decimal strings.

Rolling statistics follow Binance's ``/api/v3/ticker`` rule: the window opens on a minute boundary
(``openTime = floor_minute(now - window)``) and closes now, so it is up to 59,999 ms wider than asked.
The average price (``/avgPrice``) is over 1-second buckets of the last 5 minutes.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import Any, Callable, NamedTuple, Sequence

from exchange import BookUpdated, Side, TradeExecuted

from .klines import (FIXED_MS, INTERVALS, K_C, K_FIRST, K_H, K_L, K_LAST, K_N, K_O, K_OPEN, K_Q, K_V,
                     KlineSeries, aggregate, base_interval_for, kline_slots, open_time)

__all__ = ["MarketData", "Trade", "AggTrade", "Rolling", "BookTop", "MarketBatch", "TRADE_CAP", "AGG_CAP",
           "KLINE_CAPS", "AVG_PRICE_MINS"]

TRADE_CAP = 10_000
AGG_CAP = 10_000
KLINE_CAPS: dict[str, int] = {i: 1_500 for i in INTERVALS} | {"1m": 7 * 24 * 60 + 60, "1s": 1_800}
AVG_PRICE_MINS = 5
MAX_WINDOW_MS = 7 * 24 * 3_600_000
_SELL = Side.SELL


class Trade(NamedTuple):
    id: int                 # the engine's trade id (TradeExecuted.seq)
    price_ticks: int
    qty_lots: int
    quote_units: int
    time_ms: int
    buyer_is_maker: bool


class AggTrade(NamedTuple):
    id: int                 # = first_id
    price_ticks: int
    qty_lots: int
    first_id: int
    last_id: int
    time_ms: int
    buyer_is_maker: bool


class Rolling(NamedTuple):
    """Statistics of a rolling window; prices in ticks (0 if never traded), volumes in lots and quote
    ledger units, trade ids -1 when the window had no trade."""

    open_time: int
    close_time: int
    open: int
    high: int
    low: int
    last: int
    last_qty: int
    prev_close: int
    volume: int
    quote_volume: int
    count: int
    first_id: int
    last_id: int


class BookTop(NamedTuple):
    update_id: int
    bid: int                # 0 when the side is empty
    bid_qty: int
    ask: int
    ask_qty: int


class MarketBatch(NamedTuple):
    """What one command changed, handed to market-data listeners (the stream hub)."""

    time_ms: int
    trades: list[tuple[str, Trade]]
    aggs: list[tuple[str, AggTrade]]
    books: list[Any]        # BookUpdated events


class _Symbol:
    __slots__ = ("symbol", "trades", "aggs", "series", "last_price", "last_qty", "last_time", "last_id",
                 "bids", "asks", "update_id", "rolling_cache")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.trades: deque[Trade] = deque(maxlen=TRADE_CAP)
        self.aggs: deque[AggTrade] = deque(maxlen=AGG_CAP)
        self.series = {i: KlineSeries(i, KLINE_CAPS[i]) for i in INTERVALS}
        self.last_price = 0
        self.last_qty = 0
        self.last_time = 0
        self.last_id = -1
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.update_id = -1          # -1: the mirror is not seeded yet
        self.rolling_cache: dict[int, tuple[int, int, Rolling]] = {}


class MarketData:
    """The market-data projection (see the module docstring).

    Args:
        symbols: the gateway's :class:`~gateway.symbols.SymbolTable`.
        now_ms: the wall clock in epoch ms (the window end of rolling statistics and klines).
        engine: the engine whose book tops are read; :meth:`attach` sets it from the pump.
    """

    def __init__(self, symbols, now_ms: Callable[[], int], engine=None) -> None:
        self.symbols = symbols
        self.now_ms = now_ms
        self._engine = engine
        self._pump = None
        self.last_seq = 0
        self._state: dict[str, _Symbol] = {}
        self._listeners: list[Callable[[MarketBatch], None]] = []
        self._attached: set[int] = set()
        for _wire, inst in symbols.items():
            self._state[inst.symbol] = _Symbol(inst.symbol)

    # ------------------------------------------------------------------ wiring
    @property
    def engine(self):
        """The engine book tops are read from: the attached pump's (set when the pump starts)."""
        return self._pump.engine if self._pump is not None else self._engine

    def attach(self, pump) -> None:
        """Read book tops from ``pump.engine`` and register :meth:`on_events` with the pump, for live and
        replayed events, once (idempotent; registering twice elsewhere is also harmless: events already
        seen are skipped)."""
        self._pump = pump
        if id(pump) not in self._attached:
            self._attached.add(id(pump))
            pump.add_listener(self.on_events, replay=True)

    def add_listener(self, fn: Callable[[MarketBatch], None]) -> None:
        """``fn(batch)`` runs after each command's events are projected; it must not block."""
        self._listeners.append(fn)

    # ------------------------------------------------------------------ projection
    def on_events(self, events: Sequence[Any]) -> None:
        """Project one command's events. Events with a seq already seen are ignored, so double
        registration or a replay overlapping live events changes nothing."""
        if not events or events[-1].seq <= self.last_seq:
            return
        trades: list[tuple[str, Trade]] = []
        aggs: list[tuple[str, AggTrade]] = []
        books: list[Any] = []
        pending: list | None = None      # [symbol, taker_order_id, AggTrade fields...]
        time_ms = events[-1].ts_ns // 1_000_000
        state = self._state
        for ev in events:
            if ev.seq <= self.last_seq:
                continue
            cls = type(ev)
            if cls is TradeExecuted:
                st = state.get(ev.symbol) or self._new_symbol(ev.symbol)
                t_ms = ev.ts_ns // 1_000_000
                bm = ev.aggressor == _SELL
                tr = Trade(ev.seq, ev.price_ticks, ev.qty_lots, ev.quote_amount, t_ms, bm)
                st.trades.append(tr)
                st.last_price, st.last_qty, st.last_time, st.last_id = tr.price_ticks, tr.qty_lots, t_ms, tr.id
                for series in st.series.values():
                    series.add(t_ms, tr.price_ticks, tr.qty_lots, tr.quote_units, not bm, tr.id)
                trades.append((ev.symbol, tr))
                if (pending is not None and pending[0] == ev.symbol and pending[1] == ev.taker_order_id
                        and pending[3] == ev.price_ticks):
                    pending[4] += ev.qty_lots
                    pending[6] = ev.seq
                else:
                    if pending is not None:
                        aggs.append(self._close_agg(pending))
                    pending = [ev.symbol, ev.taker_order_id, ev.seq, ev.price_ticks, ev.qty_lots, ev.seq,
                               ev.seq, t_ms, bm]
            elif cls is BookUpdated:
                self._apply_book(ev)
                books.append(ev)
        if pending is not None:
            aggs.append(self._close_agg(pending))
        self.last_seq = events[-1].seq
        if self._listeners and (trades or books):
            batch = MarketBatch(time_ms, trades, aggs, books)
            for fn in self._listeners:
                fn(batch)

    def _new_symbol(self, symbol: str) -> _Symbol:
        st = self._state[symbol] = _Symbol(symbol)
        return st

    def _close_agg(self, p: list) -> tuple[str, AggTrade]:
        agg = AggTrade(p[2], p[3], p[4], p[5], p[6], p[7], p[8])
        self._state[p[0]].aggs.append(agg)
        return p[0], agg

    def _apply_book(self, ev) -> None:
        st = self._state.get(ev.symbol) or self._new_symbol(ev.symbol)
        if st.update_id < 0 or ev.update_id != st.update_id + 1:
            self._seed_book(st)       # the engine already holds this update: seeding includes it
            return
        for levels, prices in ((ev.bids, st.bids), (ev.asks, st.asks)):
            for price, qty in levels:
                if qty:
                    prices[price] = qty
                else:
                    prices.pop(price, None)
        st.update_id = ev.update_id

    def _seed_book(self, st: _Symbol) -> None:
        if self.engine is None:
            st.update_id = -1
            return
        depth = self.engine.depth(st.symbol, 1 << 62)
        st.bids, st.asks, st.update_id = dict(depth.bids), dict(depth.asks), depth.update_id

    # ------------------------------------------------------------------ reads
    def _sym(self, symbol: str) -> _Symbol:
        st = self._state.get(symbol)
        if st is None:
            if symbol not in {inst.symbol for _w, inst in self.symbols.items()}:
                raise KeyError(f"unknown instrument {symbol!r}")
            st = self._new_symbol(symbol)
        return st

    def recent_trades(self, symbol: str, limit: int = 500) -> list[Trade]:
        """The newest ``limit`` trades, oldest first."""
        trades = self._sym(symbol).trades
        n = len(trades)
        return [trades[i] for i in range(max(0, n - limit), n)]

    def historical_trades(self, symbol: str, from_id: int | None, limit: int = 500) -> list[Trade]:
        """Trades with ``id >= from_id`` (the oldest ``limit``), or the newest without ``from_id``.
        Only the retained :data:`TRADE_CAP` trades can be returned."""
        if from_id is None:
            return self.recent_trades(symbol, limit)
        trades = self._sym(symbol).trades
        i = bisect_left(trades, from_id, key=_first)
        return [trades[j] for j in range(i, min(len(trades), i + limit))]

    def agg_trades(self, symbol: str, *, from_id: int | None = None, start: int | None = None,
                   end: int | None = None, limit: int = 500) -> list[AggTrade]:
        """Aggregate trades, oldest first: ``a >= from_id`` (oldest ``limit``), or with ``start``/``end``
        the ``T`` range (inclusive; the oldest ``limit`` when ``start`` is given, else the newest),
        or the newest ``limit``."""
        aggs = self._sym(symbol).aggs
        n = len(aggs)
        if from_id is not None:
            i = bisect_left(aggs, from_id, key=_first)
            return [aggs[j] for j in range(i, min(n, i + limit))]
        if start is None and end is None:
            return [aggs[i] for i in range(max(0, n - limit), n)]
        lo = bisect_left(aggs, start, key=_agg_time) if start is not None else 0
        hi = bisect_left(aggs, end + 1, key=_agg_time) if end is not None else n
        if start is not None:
            return [aggs[j] for j in range(lo, min(hi, lo + limit))]
        return [aggs[j] for j in range(max(lo, hi - limit), hi)]

    def klines(self, symbol: str, interval: str, *, start: int | None = None, end: int | None = None,
               limit: int = 500, offset_ms: int = 0) -> list[list]:
        """Candles (gaps filled), oldest first; see :func:`gateway.klines.kline_slots`. ``offset_ms`` is
        the ``timeZone`` offset: when it moves the interval's boundaries the candles are summed from a
        finer UTC series, so their history is that series' retention."""
        st = self._sym(symbol)
        base = base_interval_for(interval, offset_ms)
        if base == interval:
            sparse = list(st.series[interval].candles)
        else:
            sparse = aggregate(st.series[base].candles, interval, offset_ms)
        return kline_slots(sparse, interval, offset_ms, now_ms=self.now_ms(), start=start, end=end,
                           limit=limit)

    def current_kline(self, symbol: str, interval: str) -> list | None:
        """The newest stored candle of ``interval`` (the one trades last went into), or None."""
        return self._sym(symbol).series[interval].last()

    def rolling(self, symbol: str, window_ms: int = 86_400_000, now_ms: int | None = None) -> Rolling:
        """Rolling-window statistics from the 1m candles (window opening on a minute boundary).
        O(minutes in the window) when a trade happened since the last call, else O(1)."""
        if not 0 < window_ms <= MAX_WINDOW_MS:
            raise ValueError(f"window must be 1 ms .. 7 days, got {window_ms} ms")
        st = self._sym(symbol)
        now = self.now_ms() if now_ms is None else now_ms
        opened = open_time(max(0, now - window_ms), "1m")
        cached = st.rolling_cache.get(window_ms)
        if cached is not None and cached[0] == opened and cached[1] == st.last_id:
            return cached[2]._replace(close_time=now)
        series = st.series["1m"]
        candles = series.range(opened, 1 << 62)
        before = series.before(opened)
        prev_close = before[K_C] if before is not None else (0 if not candles else candles[0][K_O])
        if candles:
            r = Rolling(opened, now, candles[0][K_O], max(c[K_H] for c in candles),
                        min(c[K_L] for c in candles), candles[-1][K_C], st.last_qty, prev_close,
                        sum(c[K_V] for c in candles), sum(c[K_Q] for c in candles),
                        sum(c[K_N] for c in candles), candles[0][K_FIRST], candles[-1][K_LAST])
        else:
            last = st.last_price
            r = Rolling(opened, now, last, last, last, last, st.last_qty if last else 0, last, 0, 0, 0, -1, -1)
        st.rolling_cache[window_ms] = (opened, st.last_id, r)
        return r

    def ticker_24h(self, symbol: str) -> tuple[Rolling, BookTop]:
        """The 24-hour rolling statistics and the book top (Binance ``/ticker/24hr``)."""
        return self.rolling(symbol, 86_400_000), self.book_ticker(symbol)

    def last_price(self, symbol: str) -> int:
        """The last trade price in ticks, 0 if the symbol never traded (since start)."""
        return self._sym(symbol).last_price

    def book_ticker(self, symbol: str) -> BookTop:
        """Best bid and ask with their level totals, from the engine and the L2 mirror. O(1).
        The mirror follows BookUpdated events, so :meth:`on_events` must be a pump listener."""
        st = self._sym(symbol)
        if self.engine is None:
            return BookTop(0, 0, 0, 0, 0)
        if st.update_id < 0:
            self._seed_book(st)
        bid, ask = self.engine.best_bid_ask(symbol)
        return BookTop(st.update_id, bid or 0, st.bids.get(bid, 0) if bid else 0, ask or 0,
                       st.asks.get(ask, 0) if ask else 0)

    def avg_price(self, symbol: str) -> tuple[int, int, int]:
        """``(quote_units, lots, close_time)`` over the last :data:`AVG_PRICE_MINS` minutes of 1s
        buckets; ``(last_price_notional, 1 lot, last trade time)``-like fallbacks are the caller's:
        ``lots`` 0 means no trade in the window."""
        st = self._sym(symbol)
        now = self.now_ms()
        start = open_time(now, "1s") - (AVG_PRICE_MINS * 60 - 1) * 1000
        candles = st.series["1s"].range(start, 1 << 62)
        return sum(c[K_Q] for c in candles), sum(c[K_V] for c in candles), st.last_time

    def traded_symbols(self) -> list[str]:
        return [s for s, st in self._state.items() if st.last_id >= 0]


def _first(x) -> int:
    return x[0]


def _agg_time(a: AggTrade) -> int:
    return a.time_ms


assert all(i in FIXED_MS or i == "1M" for i in KLINE_CAPS)
assert K_OPEN == 0
