"""The C++ liquibook engine through its SWIG binding (PyPI ``liquibook``, the optional ``bench`` extra).

``liquibook.DepthOrderBook`` is ``DepthOrderBook<shared_ptr<SimpleOrder>, 5>``, the base of liquibook's
``SimpleOrderBook`` and the class the binding's own examples drive (the Python ``SimpleOrderBook`` wrapper
does not expose ``add``/``cancel``). It keeps five levels of aggregated depth up to date on every change,
as an exchange's book must. Orders are ``liquibook.SimpleOrder(is_buy, price, qty)``; an IOC order is
added with ``oc_immediate_or_cancel``. A move is cancel + new, as for the naive book (liquibook's
``replace`` keeps the order object but is not what the workload asks for).

No listener is attached: fills, accepts and cancels are computed in C++ and handed to no one, because a
Python listener costs a SWIG director call per callback. The driver therefore cannot learn that a maker
was filled and keeps the SimpleOrder in its id map until the workload cancels or moves it (the workload
only ever targets resting orders, so a filled order is never touched again).
"""
from __future__ import annotations

try:
    import liquibook
except ImportError:  # the optional `bench` extra is not installed
    liquibook = None

__all__ = ["AVAILABLE", "NOT_INSTALLED", "LiquibookBook"]

AVAILABLE = liquibook is not None
NOT_INSTALLED = "liquibook: not installed (pip install bdax[bench])"


class LiquibookBook:
    """The same submit / cancel / move interface as :class:`benchmarks.naive_book.NaiveBook`."""

    def __init__(self) -> None:
        if liquibook is None:
            raise RuntimeError(NOT_INSTALLED)
        self.book = liquibook.DepthOrderBook()
        self.orders: dict = {}  # our order id -> SimpleOrder (the book holds a shared_ptr to it too)
        self._new = liquibook.SimpleOrder
        self._ioc = liquibook.oc_immediate_or_cancel

    def submit(self, order_id: int, is_buy: bool, price: int, qty: int, ioc: bool = False) -> None:
        order = self._new(is_buy, price, qty)
        if ioc:
            self.book.add(order, self._ioc)
        else:
            self.orders[order_id] = order
            self.book.add(order)

    def cancel(self, order_id: int) -> None:
        self.book.cancel(self.orders.pop(order_id))

    def move(self, order_id: int, new_price: int, is_buy: bool, qty: int) -> None:
        """Cancel + new at ``new_price`` for ``qty``, same id. Without a listener the SimpleOrder is not told
        about its fills, so the caller passes the side and the quantity still open (as a client that
        cancels and replaces knows them from its fill reports)."""
        orders = self.orders
        self.book.cancel(orders[order_id])
        orders[order_id] = order = self._new(is_buy, new_price, qty)
        self.book.add(order)

    def depth(self, limit: int = 100) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """L2 levels best first, aggregated from the book's order trackers (not on the benchmark path)."""
        out = []
        for side in (self.book.bids(), self.book.asks()):
            levels: dict[int, int] = {}
            for price, tracker in side.items():
                p = price.price()
                levels[p] = levels.get(p, 0) + tracker.open_qty()
            out.append(list(levels.items())[:limit])
        return out[0], out[1]
