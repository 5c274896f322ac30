"""The naive baseline: the order book a competent person writes in an afternoon.

One symbol, no accounts, no funds, no fees, no events: ``sortedcontainers.SortedDict`` of price ->
``collections.deque`` of resting orders per side, and a dict from order id to order. Price-time priority,
fills at the maker's price. Cancel removes the order from its level's deque; move is cancel + new (the
order keeps its id and loses its place); an IOC order matches and drops what is left. Trades come back
as a list of ``(maker_id, taker_id, price, qty)`` tuples.

It is the yardstick for ``bdax bench matching`` (bdax must be at least as fast while doing the whole job)
and the model the workload generator runs to know which orders are still resting.
"""
from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

__all__ = ["NaiveBook", "Order"]


class Order:
    __slots__ = ("order_id", "is_buy", "price", "qty")

    def __init__(self, order_id: int, is_buy: bool, price: int, qty: int) -> None:
        self.order_id = order_id
        self.is_buy = is_buy
        self.price = price
        self.qty = qty  # remaining


class NaiveBook:
    """A price-time priority limit order book. Prices and quantities are positive ints."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()  # price -> deque[Order]; best bid is the last key
        self.asks: SortedDict = SortedDict()  # price -> deque[Order]; best ask is the first key
        self.orders: dict[int, Order] = {}

    def submit(self, order_id: int, is_buy: bool, price: int, qty: int, ioc: bool = False) -> list:
        """Match a limit order, then rest what is left (GTC) or drop it (IOC). O(fills + log levels)."""
        fills: list = []
        if is_buy:
            book, index = self.asks, 0
        else:
            book, index = self.bids, -1
        while qty and book:
            level_price, level = book.peekitem(index)
            if (level_price > price) if is_buy else (level_price < price):
                break
            while qty and level:
                maker = level[0]
                traded = qty if qty < maker.qty else maker.qty
                fills.append((maker.order_id, order_id, level_price, traded))
                maker.qty -= traded
                qty -= traded
                if not maker.qty:
                    level.popleft()
                    del self.orders[maker.order_id]
            if not level:
                del book[level_price]
        if qty and not ioc:
            order = Order(order_id, is_buy, price, qty)
            self.orders[order_id] = order
            side = self.bids if is_buy else self.asks
            level = side.get(price)
            if level is None:
                side[price] = level = deque()
            level.append(order)
        return fills

    def cancel(self, order_id: int) -> bool:
        """Remove a resting order; False if it is not resting. O(log levels + orders in its level)."""
        order = self.orders.pop(order_id, None)
        if order is None:
            return False
        side = self.bids if order.is_buy else self.asks
        level = side[order.price]
        level.remove(order)
        if not level:
            del side[order.price]
        return True

    def move(self, order_id: int, new_price: int) -> list:
        """Cancel + new at ``new_price`` with the remaining quantity, same id; may trade."""
        order = self.orders.get(order_id)
        if order is None:
            return []
        self.cancel(order_id)
        return self.submit(order_id, order.is_buy, new_price, order.qty)

    # Reads (not on the benchmark path).
    def depth(self, limit: int = 100) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """L2 levels best first: ([(price, total qty)] bids, [...] asks)."""
        bids = [(p, sum(o.qty for o in self.bids[p])) for p in reversed(self.bids.keys()[-limit:])]
        asks = [(p, sum(o.qty for o in self.asks[p])) for p in self.asks.keys()[:limit]]
        return bids, asks

    def _check(self) -> None:
        seen = 0
        for is_buy, side in ((True, self.bids), (False, self.asks)):
            for price, level in side.items():
                assert level, f"empty level {price}"
                for order in level:
                    assert order.is_buy == is_buy and order.price == price and order.qty > 0
                    assert self.orders[order.order_id] is order
                    seen += 1
        assert seen == len(self.orders)
        if self.bids and self.asks:
            assert self.bids.keys()[-1] < self.asks.keys()[0], "crossed book"
