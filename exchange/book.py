"""Order, price level and order book: the structures the matching loop walks.

Layout, chosen for CPython speed (measured with `bdax bench matching`, ec workload):
- a side is a plain ``dict`` price -> :class:`Level` (O(1) lookup by price, the common case for adds,
  cancels and moves), plus a binary heap of its prices for best-price access. The heap is *lazy*: a level
  that empties is deleted from the dict only, and its heap entry is dropped when it surfaces at the top
  (O(log n) amortized). heappush/heappop are C; a SortedList insert/remove measured ~8x slower here.
- a level keeps its orders in a ``dict`` order_id -> Order: insertion order is time priority, deletion of
  any order is O(1), and the oldest is ``next(iter(orders))``.
- bids are stored in the heap negated, so both heaps are min-heaps.
Orders, levels and books are slotted classes with no methods on the hot path; the engine manipulates them
directly and these classes only document the fields and check invariants.
"""
from __future__ import annotations

from heapq import heapify, heappop

from .enums import Side
from .instruments import Instrument

__all__ = ["Order", "Level", "OrderBook"]


class Order:
    """An open (or just-finished) order. Amounts are ints: lots, ticks, ledger units.

    ``hold`` is what the order still holds out of its account (quote for a limit buy, base for a sell).
    ``base_cell`` / ``quote_cell`` are its account's ``[available, held]`` lists for the two assets,
    shared with the account so settlement needs no dictionary lookups.
    """

    __slots__ = (
        "order_id", "account", "symbol", "side", "order_type", "tif", "price", "qty", "remaining",
        "filled", "hold", "client_order_id", "stp", "maker_bps", "taker_bps", "hold_bps", "ts_ns",
        "base_cell", "quote_cell", "owner",
    )

    def __init__(self, order_id, account, symbol, side, order_type, tif, price, qty, client_order_id,
                 stp, maker_bps, taker_bps, ts_ns, base_cell, quote_cell, owner):
        self.order_id = order_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price = price
        self.qty = qty
        self.remaining = qty
        self.filled = 0
        self.hold = 0
        self.client_order_id = client_order_id
        self.stp = stp
        self.maker_bps = maker_bps
        self.taker_bps = taker_bps
        self.hold_bps = maker_bps if maker_bps > taker_bps else taker_bps
        self.ts_ns = ts_ns
        self.base_cell = base_cell
        self.quote_cell = quote_cell
        self.owner = owner


class Level:
    """One price level: FIFO of orders and their total open quantity."""

    __slots__ = ("price", "total", "orders", "front_pops")

    def __init__(self, price: int) -> None:
        self.price = price
        self.total = 0
        self.orders: dict[int, Order] = {}
        # A dict leaves a dead slot for each entry deleted at its front and next(iter()) skips them,
        # so a long-lived busy level is re-packed after many front deletions (see OrderBook.compact_level).
        self.front_pops = 0


class OrderBook:
    """Both sides of one instrument's book, its per-symbol update id and trading state."""

    __slots__ = ("instrument", "symbol", "bids", "asks", "bid_heap", "ask_heap", "update_id", "halted",
                 "dirty_bids", "dirty_asks", "fee_cell")

    def __init__(self, instrument: Instrument, fee_cell: list[int]) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_heap: list[int] = []   # negated prices
        self.ask_heap: list[int] = []
        self.update_id = 0
        self.halted = False
        # price -> level total before the current command; flushed into one BookUpdated per command
        self.dirty_bids: dict[int, int] = {}
        self.dirty_asks: dict[int, int] = {}
        self.fee_cell = fee_cell

    def best_bid(self) -> int | None:
        """Highest bid price, dropping stale heap entries. Amortized O(log n)."""
        heap, bids = self.bid_heap, self.bids
        while heap:
            price = -heap[0]
            if price in bids:
                return price
            heappop(heap)
        return None

    def best_ask(self) -> int | None:
        """Lowest ask price, dropping stale heap entries. Amortized O(log n)."""
        heap, asks = self.ask_heap, self.asks
        while heap:
            price = heap[0]
            if price in asks:
                return price
            heappop(heap)
        return None

    def compact_heaps(self) -> None:
        """Rebuild both heaps from live levels: called when stale entries outnumber live ones. O(n)."""
        self.bid_heap = [-p for p in self.bids]
        heapify(self.bid_heap)
        self.ask_heap = list(self.asks)
        heapify(self.ask_heap)

    @staticmethod
    def compact_level(level: Level) -> None:
        level.orders = dict(level.orders)
        level.front_pops = 0

    def levels(self, side: Side) -> list[Level]:
        """Levels of one side, best first. O(n log n); for reads, not the hot path."""
        if side == Side.BUY:
            return [self.bids[p] for p in sorted(self.bids, reverse=True)]
        return [self.asks[p] for p in sorted(self.asks)]

    def _check(self) -> None:
        """Assert the book's invariants (tests call this after every step)."""
        for side, levels, heap in ((Side.BUY, self.bids, self.bid_heap), (Side.SELL, self.asks, self.ask_heap)):
            live = set(-p for p in heap) if side == Side.BUY else set(heap)
            for price, level in levels.items():
                assert level.price == price, (self.symbol, price, level.price)
                assert level.orders, f"{self.symbol}: empty level {price} left in the book"
                assert price in live, f"{self.symbol}: level {price} missing from its heap"
                total = 0
                for oid, order in level.orders.items():
                    assert order.order_id == oid and order.side == side and order.price == price
                    assert order.symbol == self.symbol
                    assert 0 < order.remaining and order.remaining + order.filled == order.qty, oid
                    total += order.remaining
                assert total == level.total, (self.symbol, price, total, level.total)
        assert not self.dirty_bids and not self.dirty_asks, "dirty levels left after a command"
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None:
            assert bid == max(self.bids)
        if ask is not None:
            assert ask == min(self.asks)
        if bid is not None and ask is not None:
            assert bid < ask, f"{self.symbol}: crossed book at rest: bid {bid} >= ask {ask}"
