"""Request-weight and order-count limits with Binance's headers.

Binance counts (developers.binance.com, "LIMITS"):

- **request weight** per client IP in fixed one-minute windows (aligned to the minute); every REST
  answer carries ``X-MBX-USED-WEIGHT-1M``; over the limit: HTTP 429, code -1003, ``Retry-After``;
- **orders** placed per key in fixed 10-second and one-day windows; order answers carry
  ``X-MBX-ORDER-COUNT-10S`` and ``X-MBX-ORDER-COUNT-1D``; over a limit: HTTP 429, code -1015.

A refused request is not counted against the order limits and changes nothing else. The limiter keeps
only the current window per IP/key, so its memory is bounded by the number of active clients.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from .config import RateLimits
from .errors import BinanceError

__all__ = ["RateLimiter", "request_weight"]

_MINUTE_MS, _TEN_S_MS, _DAY_MS = 60_000, 10_000, 86_400_000

# Binance's weights for the spot endpoints we serve (the rest weigh 1).
_WEIGHTS = {
    ("GET", "/api/v3/exchangeInfo"): 20, ("GET", "/api/v3/trades"): 25, ("GET", "/api/v3/historicalTrades"): 25,
    ("GET", "/api/v3/aggTrades"): 4, ("GET", "/api/v3/klines"): 2, ("GET", "/api/v3/uiKlines"): 2,
    ("GET", "/api/v3/avgPrice"): 2, ("GET", "/api/v3/ticker"): 4,
    ("GET", "/api/v3/order"): 4, ("POST", "/api/v3/order/cancelReplace"): 1,
    ("GET", "/api/v3/allOrders"): 20, ("GET", "/api/v3/myTrades"): 20, ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/order/test"): 1, ("PUT", "/api/v3/order/amend/keepPriority"): 4,
    ("GET", "/sapi/v1/capital/config/getall"): 10, ("GET", "/sapi/v1/margin/allPairs"): 1,
}


def request_weight(method: str, path: str, query: dict[str, str] | None = None) -> int:
    """Binance's weight of one REST request (depth and tickers depend on their parameters)."""
    q = query or {}
    if path == "/api/v3/depth":
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            limit = 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path in ("/api/v3/ticker/24hr", "/api/v3/ticker/price", "/api/v3/ticker/bookTicker"):
        single = "symbol" in q
        if path == "/api/v3/ticker/24hr":
            return 2 if single else 80
        return 2 if single else 4
    if path == "/api/v3/openOrders" and method == "GET":
        return 6 if "symbol" in q else 80
    return _WEIGHTS.get((method, path), 1)


class RateLimiter:
    """Fixed-window counters. ``now_ms`` is the wall clock (tests inject one)."""

    def __init__(self, limits: RateLimits, now_ms: Callable[[], int] | None = None) -> None:
        self.limits = limits
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._weight: dict[str, list[int]] = {}      # ip -> [window start, used]
        self._orders: dict[str, list[int]] = {}      # key -> [10s start, count, day start, count]

    def add_weight(self, ip: str, weight: int) -> int:
        """Count ``weight`` for ``ip``; return the minute's total.

        Raises:
            BinanceError: 429 / -1003 if the total would pass the limit (the request is not counted).
        """
        now = self.now_ms()
        start = now - now % _MINUTE_MS
        w = self._weight.get(ip)
        if w is None or w[0] != start:
            if len(self._weight) > 100_000:   # drop stale windows of clients gone quiet
                self._weight = {k: v for k, v in self._weight.items() if v[0] == start}
            w = self._weight[ip] = [start, 0]
        limit = self.limits.request_weight_per_minute
        if w[1] + weight > limit:
            retry = max(1, (start + _MINUTE_MS - now + 999) // 1000)
            raise BinanceError(-1003, f"Too much request weight used; current limit is {limit} request "
                                      f"weight per 1 MINUTE. Please use WebSocket Streams for live updates "
                                      f"to avoid polling the API.", 429,
                               {"Retry-After": str(retry), "X-MBX-USED-WEIGHT-1M": str(w[1])})
        w[1] += weight
        return w[1]

    def used_weight(self, ip: str) -> int:
        now = self.now_ms()
        w = self._weight.get(ip)
        return w[1] if w is not None and w[0] == now - now % _MINUTE_MS else 0

    def add_order(self, key: str) -> tuple[int, int]:
        """Count one new order for API key ``key``; return the (10 s, 1 day) counts.

        Raises:
            BinanceError: 429 / -1015 if either window is full (not counted).
        """
        now = self.now_ms()
        s10, sday = now - now % _TEN_S_MS, now - now % _DAY_MS
        c = self._orders.get(key)
        if c is None:
            c = self._orders[key] = [s10, 0, sday, 0]
        if c[0] != s10:
            c[0], c[1] = s10, 0
        if c[2] != sday:
            c[2], c[3] = sday, 0
        lim = self.limits
        for count, limit, span, start, width in ((c[1], lim.orders_per_10s, "10 SECOND", s10, _TEN_S_MS),
                                                 (c[3], lim.orders_per_day, "1 DAY", sday, _DAY_MS)):
            if count + 1 > limit:
                retry = max(1, (start + width - now + 999) // 1000)
                raise BinanceError(-1015, f"Too many new orders; current limit is {limit} orders per {span}.",
                                   429, {"Retry-After": str(retry), "X-MBX-ORDER-COUNT-10S": str(c[1]),
                                         "X-MBX-ORDER-COUNT-1D": str(c[3])})
        c[1] += 1
        c[3] += 1
        return c[1], c[3]

    @staticmethod
    def order_headers(counts: tuple[int, int]) -> dict[str, str]:
        return {"X-MBX-ORDER-COUNT-10S": str(counts[0]), "X-MBX-ORDER-COUNT-1D": str(counts[1])}
