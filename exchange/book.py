"""Order, price level and order book: the structures the matching loop walks.

Layout, chosen for CPython speed (measured with `bdax bench matching`, ec workload):
- a side is a plain ``dict`` price -> :class:`Level` (O(1) lookup by price, the common case for adds,
  cancels and moves), plus a binary heap of its prices for best-price access (a max-heap for bids, a
  min-heap for asks). The heap is *lazy*: a level that empties is deleted from the dict only, and its heap
  entry is dropped when it surfaces at the top (O(log n) amortized). A SortedList insert/remove measured
  ~8x slower than heap operations here. The heap holds each level's own key object (``Level.key``), so
  finding the best level is a dict lookup by identity with nothing allocated; that needs a max-heap,
  which heapq lacks, hence the four small heap functions below.
- a level keeps its orders in a ``dict`` order_id -> Order: insertion order is time priority, deletion of
  any order is O(1), and the oldest is ``next(iter(orders))``.
- bids are stored in the heap negated, so both heaps are min-heaps.
Orders, levels and books are slotted classes with no methods on the hot path; the engine manipulates them
directly and these classes only document the fields and check invariants.
"""
from __future__ import annotations


from typing import TYPE_CHECKING, Any

from .enums import STP, OrderType, Side, TimeInForce
from .instruments import Instrument

if TYPE_CHECKING:
    from .accounts import Account

__all__ = ["Cell", "Order", "Level", "OrderBook", "fee", "buy_hold"]


# Arithmetic in these two is arranged so that, compiled, both operands of each multiplication usually stay
# below 2**30: mypyc multiplies tagged ints in C only then and otherwise falls back to boxed Python ints
# (~500 instructions), which callgrind showed at ~10% of the deep workload. Results are exact either way.
def push_min(heap: list[Any], item: Any) -> None:
    """heapq.heappush."""
    heap.append(item)
    pos = len(heap) - 1
    while pos:
        parent = (pos - 1) >> 1
        above = heap[parent]
        if not item < above:
            break
        heap[pos] = above
        pos = parent
    heap[pos] = item


def push_max(heap: list[Any], item: Any) -> None:
    """heapq.heappush for a max-heap."""
    heap.append(item)
    pos = len(heap) - 1
    while pos:
        parent = (pos - 1) >> 1
        above = heap[parent]
        if not above < item:
            break
        heap[pos] = above
        pos = parent
    heap[pos] = item


def pop_min(heap: list[Any]) -> Any:
    """heapq.heappop for a non-empty heap (its algorithm: sift the hole to a leaf, then the last item up)."""
    last = heap.pop()
    if not heap:
        return last
    top = heap[0]
    end = len(heap)
    pos = 0
    child = 1
    while child < end:
        right = child + 1
        if right < end and not heap[child] < heap[right]:
            child = right
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    while pos:
        parent = (pos - 1) >> 1
        above = heap[parent]
        if not last < above:
            break
        heap[pos] = above
        pos = parent
    heap[pos] = last
    return top


def pop_max(heap: list[Any]) -> Any:
    """pop_min for a max-heap."""
    last = heap.pop()
    if not heap:
        return last
    top = heap[0]
    end = len(heap)
    pos = 0
    child = 1
    while child < end:
        right = child + 1
        if right < end and not heap[right] < heap[child]:
            child = right
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    while pos:
        parent = (pos - 1) >> 1
        above = heap[parent]
        if not above < last:
            break
        heap[pos] = above
        pos = parent
    heap[pos] = last
    return top


def fee(notional: int, bps: int) -> int:
    """``notional * bps // 10000`` (rounded down: the fraction stays with the payer)."""
    return (notional // 10000) * bps + (notional % 10000) * bps // 10000


def buy_hold(price: int, lots: int, k: int, bps: int) -> int:
    """What a limit buy of ``lots`` at ``price`` holds: notional plus its worst-case fee."""
    n = price * (lots * k)
    return n + fee(n, bps)


class Cell:
    """One account's balance of one asset, in ledger units: ``available`` to spend, ``held`` by orders."""

    __slots__ = ("available", "held")

    def __init__(self) -> None:
        self.available: int = 0
        self.held: int = 0


class Order:
    """An open (or just-finished) order. Amounts are ints: lots, ticks, ledger units.

    ``hold`` is what the order still holds out of its account (quote for a limit buy, base for a sell).
    ``base_cell`` / ``quote_cell`` are its account's balances of the two assets, shared with the account
    so settlement needs no dictionary lookups.
    """

    __slots__ = (
        "order_id", "account", "symbol", "side", "order_type", "tif", "price", "qty", "remaining",
        "filled", "hold", "client_order_id", "stp", "maker_bps", "taker_bps", "hold_bps", "ts_ns",
        "base_cell", "quote_cell", "owner", "key", "level",
    )

    def __init__(self, order_id: int, account: int, symbol: str, side: Side, order_type: OrderType,
                 tif: TimeInForce, price: int, qty: int, client_order_id: str, stp: STP, maker_bps: int,
                 taker_bps: int, ts_ns: int, base_cell: Cell, quote_cell: Cell,
                 owner: "Account") -> None:
        # Fields the matching loop touches on a resting maker come first: compiled, the attributes are laid
        # out in this order, and a maker then costs one or two cache lines instead of three (deep workload).
        self.key: Any = order_id   # the int object used as this order's key in every dict (see below)
        self.remaining = qty
        self.filled = 0
        self.hold = 0
        self.price = price
        self.account = account
        self.maker_bps = maker_bps
        self.hold_bps = maker_bps if maker_bps > taker_bps else taker_bps
        self.level: Level | None = None   # the level it rests on, so removal needs no price lookup
        self.owner = owner
        self.base_cell = base_cell
        self.quote_cell = quote_cell
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.side = side
        self.qty = qty
        self.symbol = symbol
        self.order_type = order_type
        self.tif = tif
        self.stp = stp
        self.taker_bps = taker_bps
        self.ts_ns = ts_ns
        # Order.key: compiled, an int field is unboxed, and re-boxing it for each dict lookup cost an
        # allocation and a slow compare (callgrind, ec); key is boxed once, here.


class Level:
    """One price level: FIFO of orders and their total open quantity."""

    __slots__ = ("price", "key", "total", "orders", "front_pops")

    def __init__(self, price: int) -> None:
        self.price = price
        self.key: Any = price  # the dict key object (see Order.key)
        self.total: int = 0
        self.orders: dict[int, Order] = {}
        # A dict leaves a dead slot for each entry deleted at its front and next(iter()) skips them,
        # so a long-lived busy level is re-packed after many front deletions (see OrderBook.compact_level).
        self.front_pops = 0


class OrderBook:
    """Both sides of one instrument's book, its per-symbol update id and trading state."""

    __slots__ = ("instrument", "symbol", "bids", "asks", "bid_heap", "ask_heap", "update_id", "halted",
                 "dirty_bids", "dirty_asks", "fee_cell", "k", "lot", "min_qty", "max_qty", "max_price",
                 "min_notional", "single_tick", "base_asset", "quote_asset")

    def __init__(self, instrument: Instrument, fee_cell: Cell) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        # The instrument's numbers, copied here because the hot path reads them on every command and an
        # attribute of this (compiled, native) class is a C field, not a dataclass lookup.
        self.k: int = instrument.quote_units_per_tick_lot
        self.lot: int = instrument.lot_units
        self.min_qty: int = instrument.min_qty_lots
        self.max_qty: int = instrument.max_qty_lots
        self.max_price: int = instrument.max_price_ticks
        self.min_notional: int = instrument.min_notional
        self.single_tick: bool = instrument.single_tick
        self.base_asset: str = instrument.base.name
        self.quote_asset: str = instrument.quote.name
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_heap: list[Any] = []   # max-heap of bid levels' key objects
        self.ask_heap: list[Any] = []   # min-heap of ask levels' key objects
        self.update_id: int = 0
        self.halted: bool = False
        # price -> level total before the current command; flushed into one BookUpdated per command
        self.dirty_bids: dict[int, int] = {}
        self.dirty_asks: dict[int, int] = {}
        self.fee_cell = fee_cell

    def valid_price(self, price: int) -> bool:
        """Instrument.valid_price, with the common single-tick case answered here."""
        if price <= 0 or price > self.max_price:
            return False
        return self.single_tick or self.instrument.valid_price(price)

    def best_bid_level(self) -> Level | None:
        """The best bid level, dropping stale heap entries. Amortized O(log n)."""
        heap, bids = self.bid_heap, self.bids
        while heap:
            level = bids.get(heap[0])
            if level is not None:
                return level
            pop_max(heap)
        return None

    def best_ask_level(self) -> Level | None:
        """The best ask level, dropping stale heap entries. Amortized O(log n)."""
        heap, asks = self.ask_heap, self.asks
        while heap:
            level = asks.get(heap[0])
            if level is not None:
                return level
            pop_min(heap)
        return None

    def best_bid(self) -> int | None:
        level = self.best_bid_level()
        return None if level is None else level.price

    def best_ask(self) -> int | None:
        level = self.best_ask_level()
        return None if level is None else level.price

    def new_level(self, buy: bool, price: int) -> Level:
        """Create the empty level at ``price`` on one side and index it. O(log n)."""
        level = Level(price)
        if buy:
            self.bids[level.key] = level
            push_max(self.bid_heap, level.key)
            if len(self.bid_heap) > 2 * len(self.bids) + 64:
                self.compact_heaps()
        else:
            self.asks[level.key] = level
            push_min(self.ask_heap, level.key)
            if len(self.ask_heap) > 2 * len(self.asks) + 64:
                self.compact_heaps()
        return level

    def compact_heaps(self) -> None:
        """Rebuild both heaps from live levels: called when stale entries outnumber live ones.
        O(n log n); a sorted list is a valid heap."""
        self.bid_heap = sorted([level.key for level in self.bids.values()], reverse=True)
        self.ask_heap = sorted([level.key for level in self.asks.values()])

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
            live = set(heap)
            for price, level in levels.items():
                assert level.price == price, (self.symbol, price, level.price)
                assert level.orders, f"{self.symbol}: empty level {price} left in the book"
                assert price in live, f"{self.symbol}: level {price} missing from its heap"
                total = 0
                for oid, order in level.orders.items():
                    assert order.order_id == oid and order.side == side and order.price == price
                    assert order.level is level and order.key == oid
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
