"""A small moving market on a bdax gateway, so that a bot watching 1m candles has something to trade.

Two funded accounts, through unmodified ccxt (binance-compat §2 Recipe A):

* the **maker** keeps a ladder of resting limit orders on both sides of a mid price (``levels`` per side,
  ``spread`` apart) and re-quotes it every cycle around a mid that random-walks by at most one
  ``spread`` (new ladder first, then the old orders are canceled one by one, so the book is never
  empty and the maker's new orders never cross its old ones);
* the **taker** market-buys or market-sells a small amount every cycle, so that every minute has
  trades and closed 1m candles keep coming.

A third party (the bot under test) that buys at the ask or sells at the bid fills against the ladder at
once. The walk is seeded, so two runs quote the same prices in the same order (the times differ).

Used by ``tests/gateway/test_e2e_freqtrade.py`` (in a thread, :func:`run` with a stop event) and by
hand::

    python tests/gateway/freqtrade/ft_market.py --port 18995 --maker-key K --maker-secret S \\
        --taker-key K2 --taker-secret S2 --duration 600
"""
from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal

__all__ = ["MarketConfig", "MarketStats", "recipe_a", "run"]


def recipe_a(http_base: str, ws_base: str, api_key: str, secret: str) -> dict:
    """binance-compat §2 Recipe A, the ccxt config that points ccxt's ``binance`` at a bdax gateway."""
    return {
        "apiKey": api_key, "secret": secret, "enableRateLimit": False,
        "urls": {"api": {
            "public": http_base + "/api/v3", "private": http_base + "/api/v3",
            "v1": http_base + "/api/v1", "sapi": http_base + "/sapi/v1",
            "ws": {"spot": ws_base + "/ws", "ws-api": {"spot": ws_base + "/ws-api/v3"}},
        }},
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
    }


@dataclass(frozen=True)
class MarketConfig:
    """What to quote. ``mids`` maps a ccxt symbol to its starting mid price; ``spread`` is the distance
    between ladder levels and the walk's step, as a fraction of the mid; ``notional`` is the quote value of
    each resting level and ``taker_notional`` of each taker order."""

    mids: dict[str, Decimal]
    levels: int = 3
    spread: Decimal = Decimal("0.0005")
    notional: Decimal = Decimal("2000")
    taker_notional: Decimal = Decimal("20")
    cycle_s: float = 2.0
    seed: int = 7


@dataclass
class MarketStats:
    """Counters a caller can read while :func:`run` works (from another thread: plain ints)."""

    cycles: int = 0
    maker_orders: int = 0
    taker_orders: int = 0
    errors: list[str] = field(default_factory=list)


def _on_grid(value: Decimal, step: Decimal, rounding=None) -> Decimal:
    q = value / step
    q = q.to_integral_value(rounding) if rounding else q.to_integral_value()
    return q * step


class _Book:
    """One symbol's ladder state."""

    def __init__(self, market: dict, mid: Decimal, cfg: MarketConfig) -> None:
        self.symbol = market["symbol"]
        self.tick = Decimal(str(market["precision"]["price"]))
        self.step = Decimal(str(market["precision"]["amount"]))
        self.min_cost = Decimal(str(market["limits"]["cost"]["min"] or 0))
        self.gap = max(self.tick, _on_grid(mid * cfg.spread, self.tick))
        self.mid = _on_grid(mid, self.tick)
        self.cfg = cfg
        self.resting: list[str] = []

    def amount(self, notional: Decimal, price: Decimal) -> Decimal:
        need = max(notional, 2 * self.min_cost) / price
        return max(self.step, _on_grid(need, self.step, ROUND_UP))


def run(http_base: str, ws_base: str, maker_key: tuple[str, str], taker_key: tuple[str, str],
        cfg: MarketConfig, *, duration_s: float | None = None, stop: threading.Event | None = None,
        stats: MarketStats | None = None, log=print) -> MarketStats:
    """Quote and trade until ``stop`` is set or ``duration_s`` has passed; cancel the maker's orders on
    the way out. Errors of single requests are logged and counted in ``stats.errors`` (the market keeps
    going); an error in ``load_markets`` or an unknown symbol raises.

    Returns:
        The counters (the same object as ``stats`` if one was given).
    """
    import ccxt  # the test extra pins it; imported here so --help works without it

    stop = stop or threading.Event()
    stats = stats or MarketStats()
    maker = ccxt.binance(recipe_a(http_base, ws_base, *maker_key))
    taker = ccxt.binance(recipe_a(http_base, ws_base, *taker_key))
    maker.load_markets()
    taker.load_markets()
    unknown = [s for s in cfg.mids if s not in maker.markets]
    if unknown:
        raise ValueError(f"symbols {unknown} are not listed by the gateway; it has {sorted(maker.markets)}")
    books = [_Book(maker.market(s), Decimal(str(m)), cfg) for s, m in cfg.mids.items()]
    rnd = random.Random(cfg.seed)
    deadline = None if duration_s is None else time.monotonic() + duration_s

    def guarded(what: str, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # a market that stops on one hiccup would starve the bot of candles
            stats.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            log(f"market: {what} failed: {type(exc).__name__}: {exc}")
            return None

    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            for book in books:
                book.mid += book.gap * rnd.choice((-1, 0, 1))
                fresh = []
                for level in range(1, cfg.levels + 1):
                    for side, sign in (("buy", -1), ("sell", 1)):
                        price = book.mid + sign * level * book.gap
                        amount = book.amount(cfg.notional, price)
                        order = guarded(f"maker {side} {book.symbol}", maker.create_order, book.symbol,
                                        "limit", side, float(amount), float(price))
                        if order is not None:
                            stats.maker_orders += 1
                            if order.get("status") == "open":
                                fresh.append(order["id"])
                for order_id in book.resting:
                    guarded(f"maker cancel {book.symbol}", _cancel_quietly, maker, order_id, book.symbol)
                book.resting = fresh
                side = rnd.choice(("buy", "sell"))
                amount = book.amount(cfg.taker_notional, book.mid)
                if guarded(f"taker {side} {book.symbol}", taker.create_order, book.symbol, "market", side,
                           float(amount)) is not None:
                    stats.taker_orders += 1
            stats.cycles += 1
            stop.wait(cfg.cycle_s)
    finally:
        for book in books:
            for order_id in book.resting:
                guarded(f"maker cancel {book.symbol}", _cancel_quietly, maker, order_id, book.symbol)
    return stats


def _cancel_quietly(ex, order_id: str, symbol: str) -> None:
    """Cancel; an order that already filled or was taken by the bot is not an error."""
    import ccxt

    try:
        ex.cancel_order(order_id, symbol)
    except ccxt.OrderNotFound:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Quote a ladder and trade a little on a bdax gateway, so that "
                                            "1m candles keep coming (maker + taker accounts, via ccxt).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--maker-key", required=True)
    p.add_argument("--maker-secret", required=True)
    p.add_argument("--taker-key", required=True)
    p.add_argument("--taker-secret", required=True)
    p.add_argument("--symbol", action="append", metavar="SYM=MID",
                   help="symbol and starting mid, e.g. BTC/USDT=30000 (repeatable; default BTC/USDT=30000 "
                        "and ETH/USDT=2000)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    p.add_argument("--cycle", type=float, default=2.0, help="seconds between re-quotes (default 2)")
    args = p.parse_args(argv)
    mids = {}
    for item in args.symbol or ["BTC/USDT=30000", "ETH/USDT=2000"]:
        sym, sep, mid = item.partition("=")
        try:
            mids[sym] = Decimal(mid)
        except ArithmeticError:
            sep = ""
        if not sep or mids[sym] <= 0:
            p.error(f"--symbol {item!r}: expected SYMBOL=MID with a positive mid, e.g. BTC/USDT=30000")
    http, ws = f"http://{args.host}:{args.port}", f"ws://{args.host}:{args.port}"
    stats = MarketStats()
    try:
        run(http, ws, (args.maker_key, args.maker_secret), (args.taker_key, args.taker_secret),
            MarketConfig(mids=mids, cycle_s=args.cycle), duration_s=args.duration, stats=stats)
    except KeyboardInterrupt:
        pass
    print(f"market: {stats.cycles} cycles, {stats.maker_orders} maker and {stats.taker_orders} taker orders, "
          f"{len(stats.errors)} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
