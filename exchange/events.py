"""Events: what the engine says happened. Past-tense names, read-only records.

Every event starts with ``seq`` (global, gap-free, starting at 1) and ``ts_ns`` (the command's).
Order ids and trade ids *are* the ``seq`` of their OrderAccepted / TradeExecuted event.
Market data (depth, trades, tickers, candles) and user streams are projections of these events.

Events behave like NamedTuples for readers: fields by name, ``_fields``, ``_asdict()``, iteration in field
order, ``==`` and ``hash`` by type and fields, and a ``repr`` that names every field. They are classes,
not tuples, because the engine is compiled with mypyc (setup.py): a compiled class is built in ~45 ns with
its ints unboxed, against ~230 ns for a NamedTuple (measured on this machine), and a command makes two to
six events. Fields are ``Final``: compiled, assigning one raises AttributeError.
"""
from __future__ import annotations

from typing import Any, ClassVar, Final, Iterator

from .enums import STP, EndReason, OrderType, RejectReason, Side, TimeInForce

__all__ = [
    "EventBase", "OrderAccepted", "OrderRejected", "CommandRejected", "TradeExecuted", "OrderCanceled",
    "OrderExpired", "OrderAmended", "BalanceChanged", "FeeTierChanged", "BookUpdated",
    "InstrumentHalted", "InstrumentResumed", "Event", "EVENT_TYPES",
]


class EventBase:
    """The NamedTuple-like reading surface shared by every event."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def astuple(self) -> tuple:
        return tuple([getattr(self, name) for name in self._fields])

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __iter__(self) -> Iterator[Any]:
        return iter(self.astuple())

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.astuple() == other.astuple()  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.astuple()))

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({body})"


class OrderAccepted(EventBase):
    """A SubmitOrder passed validation and funds checks; ``order_id == seq``. Its ``stp`` is resolved
    (never None). Trades, expiries and the book update of the same command follow it."""

    __slots__ = ("seq", "ts_ns", "order_id", "account", "symbol", "side", "order_type", "tif", "price_ticks",
                 "qty_lots", "quote_qty", "client_order_id", "stp")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "order_id", "account", "symbol", "side",
                                          "order_type", "tif", "price_ticks", "qty_lots", "quote_qty",
                                          "client_order_id", "stp")

    def __init__(self, seq: int, ts_ns: int, order_id: int, account: int, symbol: str, side: Side,
                 order_type: OrderType, tif: TimeInForce, price_ticks: int, qty_lots: int, quote_qty: int,
                 client_order_id: str, stp: STP) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.order_id: Final = order_id
        self.account: Final = account
        self.symbol: Final = symbol
        self.side: Final = side
        self.order_type: Final = order_type
        self.tif: Final = tif
        self.price_ticks: Final = price_ticks
        self.qty_lots: Final = qty_lots
        self.quote_qty: Final = quote_qty
        self.client_order_id: Final = client_order_id
        self.stp: Final = stp


class OrderRejected(EventBase):
    """A SubmitOrder was refused; nothing changed."""

    __slots__ = ("seq", "ts_ns", "account", "symbol", "client_order_id", "reason")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "account", "symbol", "client_order_id", "reason")

    def __init__(self, seq: int, ts_ns: int, account: int, symbol: str, client_order_id: str,
                 reason: RejectReason) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.account: Final = account
        self.symbol: Final = symbol
        self.client_order_id: Final = client_order_id
        self.reason: Final = reason


class CommandRejected(EventBase):
    """Any other command was refused; nothing changed. ``command`` is the command's class name,
    ``account`` is -1 for commands without one."""

    __slots__ = ("seq", "ts_ns", "command", "account", "reason")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "command", "account", "reason")

    def __init__(self, seq: int, ts_ns: int, command: str, account: int, reason: RejectReason) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.command: Final = command
        self.account: Final = account
        self.reason: Final = reason


class TradeExecuted(EventBase):
    """A fill at the maker's price; ``trade_id == seq``. ``quote_amount`` = notional in quote ledger
    units. Fees are in quote ledger units: the buyer pays notional + its fee, the seller receives
    notional - its fee."""

    __slots__ = ("seq", "ts_ns", "symbol", "price_ticks", "qty_lots", "quote_amount", "aggressor",
                 "maker_order_id", "maker_account", "taker_order_id", "taker_account", "maker_fee",
                 "taker_fee")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "symbol", "price_ticks", "qty_lots",
                                          "quote_amount", "aggressor", "maker_order_id", "maker_account",
                                          "taker_order_id", "taker_account", "maker_fee", "taker_fee")

    def __init__(self, seq: int, ts_ns: int, symbol: str, price_ticks: int, qty_lots: int, quote_amount: int,
                 aggressor: Side, maker_order_id: int, maker_account: int, taker_order_id: int,
                 taker_account: int, maker_fee: int, taker_fee: int) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.symbol: Final = symbol
        self.price_ticks: Final = price_ticks
        self.qty_lots: Final = qty_lots
        self.quote_amount: Final = quote_amount
        self.aggressor: Final = aggressor
        self.maker_order_id: Final = maker_order_id
        self.maker_account: Final = maker_account
        self.taker_order_id: Final = taker_order_id
        self.taker_account: Final = taker_account
        self.maker_fee: Final = maker_fee
        self.taker_fee: Final = taker_fee


class OrderCanceled(EventBase):
    """The owner canceled an open order; ``remaining_lots`` were unfilled."""

    __slots__ = ("seq", "ts_ns", "order_id", "account", "symbol", "remaining_lots", "reason")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "order_id", "account", "symbol", "remaining_lots",
                                          "reason")

    def __init__(self, seq: int, ts_ns: int, order_id: int, account: int, symbol: str, remaining_lots: int,
                 reason: EndReason) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.order_id: Final = order_id
        self.account: Final = account
        self.symbol: Final = symbol
        self.remaining_lots: Final = remaining_lots
        self.reason: Final = reason


class OrderExpired(EventBase):
    """The engine ended an order (IOC/FOK/market remainder, self-trade prevention, halt, funds).
    ``remaining_lots`` is 0 for a market order by quote amount."""

    __slots__ = ("seq", "ts_ns", "order_id", "account", "symbol", "remaining_lots", "reason")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "order_id", "account", "symbol", "remaining_lots",
                                          "reason")

    def __init__(self, seq: int, ts_ns: int, order_id: int, account: int, symbol: str, remaining_lots: int,
                 reason: EndReason) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.order_id: Final = order_id
        self.account: Final = account
        self.symbol: Final = symbol
        self.remaining_lots: Final = remaining_lots
        self.reason: Final = reason


class OrderAmended(EventBase):
    """An open order now has ``price_ticks`` and total ``qty_lots`` with ``remaining_lots`` open.
    ``kept_priority`` False means it went to the back of its level (trades may follow)."""

    __slots__ = ("seq", "ts_ns", "order_id", "account", "symbol", "price_ticks", "qty_lots",
                 "remaining_lots", "kept_priority")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "order_id", "account", "symbol", "price_ticks",
                                          "qty_lots", "remaining_lots", "kept_priority")

    def __init__(self, seq: int, ts_ns: int, order_id: int, account: int, symbol: str, price_ticks: int,
                 qty_lots: int, remaining_lots: int, kept_priority: bool) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.order_id: Final = order_id
        self.account: Final = account
        self.symbol: Final = symbol
        self.price_ticks: Final = price_ticks
        self.qty_lots: Final = qty_lots
        self.remaining_lots: Final = remaining_lots
        self.kept_priority: Final = kept_priority


class BalanceChanged(EventBase):
    """A deposit (delta > 0) or withdrawal (delta < 0); ``available`` is the balance after it.
    Holds and trade settlement are implied by order and trade events and not repeated here."""

    __slots__ = ("seq", "ts_ns", "account", "asset", "delta", "available")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "account", "asset", "delta", "available")

    def __init__(self, seq: int, ts_ns: int, account: int, asset: str, delta: int, available: int) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.account: Final = account
        self.asset: Final = asset
        self.delta: Final = delta
        self.available: Final = available


class FeeTierChanged(EventBase):
    __slots__ = ("seq", "ts_ns", "account", "tier")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "account", "tier")

    def __init__(self, seq: int, ts_ns: int, account: int, tier: int) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.account: Final = account
        self.tier: Final = tier


class BookUpdated(EventBase):
    """L2 levels a command changed on ``symbol``, as absolute (price_ticks, total qty_lots) pairs,
    qty 0 meaning the level is gone. ``update_id`` counts per symbol from 1 with no gaps: a consumer that
    sees a jump has missed an update. At most one per symbol per command, after the command's other
    events."""

    __slots__ = ("seq", "ts_ns", "symbol", "update_id", "bids", "asks")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "symbol", "update_id", "bids", "asks")

    def __init__(self, seq: int, ts_ns: int, symbol: str, update_id: int, bids: tuple[tuple[int, int], ...],
                 asks: tuple[tuple[int, int], ...]) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.symbol: Final = symbol
        self.update_id: Final = update_id
        self.bids: Final = bids
        self.asks: Final = asks


class InstrumentHalted(EventBase):
    __slots__ = ("seq", "ts_ns", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "symbol")

    def __init__(self, seq: int, ts_ns: int, symbol: str) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.symbol: Final = symbol


class InstrumentResumed(EventBase):
    __slots__ = ("seq", "ts_ns", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("seq", "ts_ns", "symbol")

    def __init__(self, seq: int, ts_ns: int, symbol: str) -> None:
        self.seq: Final = seq
        self.ts_ns: Final = ts_ns
        self.symbol: Final = symbol


Event = (OrderAccepted | OrderRejected | CommandRejected | TradeExecuted | OrderCanceled | OrderExpired
         | OrderAmended | BalanceChanged | FeeTierChanged | BookUpdated | InstrumentHalted
         | InstrumentResumed)

# Stable tags for encoding; never renumber.
EVENT_TYPES: dict[int, type] = {
    1: OrderAccepted, 2: OrderRejected, 3: CommandRejected, 4: TradeExecuted, 5: OrderCanceled,
    6: OrderExpired, 7: OrderAmended, 8: BalanceChanged, 9: FeeTierChanged, 10: BookUpdated,
    11: InstrumentHalted, 12: InstrumentResumed,
}
