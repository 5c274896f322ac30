"""Events: what the engine says happened. Past-tense names, immutable NamedTuples.

Every event starts with ``seq`` (global, gap-free, starting at 1) and ``ts_ns`` (the command's).
Order ids and trade ids *are* the ``seq`` of their OrderAccepted / TradeExecuted event.
Market data (depth, trades, tickers, candles) and user streams are projections of these events.

Hot-path note: the engine builds events with ``tuple.__new__(Cls, (...))``, which measured at ~70 ns
against ~160 ns for ``Cls(...)`` and ~100 ns for a slotted class (CPython 3.11, this machine).
"""
from __future__ import annotations

from typing import NamedTuple

from .enums import STP, EndReason, OrderType, RejectReason, Side, TimeInForce

__all__ = [
    "OrderAccepted", "OrderRejected", "CommandRejected", "TradeExecuted", "OrderCanceled",
    "OrderExpired", "OrderAmended", "BalanceChanged", "FeeTierChanged", "BookUpdated",
    "InstrumentHalted", "InstrumentResumed", "Event", "EVENT_TYPES",
]


class OrderAccepted(NamedTuple):
    """A SubmitOrder passed validation and funds checks; ``order_id == seq``. Its ``stp`` is resolved
    (never None). Trades, expiries and the book update of the same command follow it."""

    seq: int
    ts_ns: int
    order_id: int
    account: int
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price_ticks: int
    qty_lots: int
    quote_qty: int
    client_order_id: str
    stp: STP


class OrderRejected(NamedTuple):
    """A SubmitOrder was refused; nothing changed."""

    seq: int
    ts_ns: int
    account: int
    symbol: str
    client_order_id: str
    reason: RejectReason


class CommandRejected(NamedTuple):
    """Any other command was refused; nothing changed. ``command`` is the command's class name,
    ``account`` is -1 for commands without one."""

    seq: int
    ts_ns: int
    command: str
    account: int
    reason: RejectReason


class TradeExecuted(NamedTuple):
    """A fill at the maker's price; ``trade_id == seq``. ``quote_amount`` = notional in quote ledger
    units. Fees are in quote ledger units: the buyer pays notional + its fee, the seller receives
    notional - its fee."""

    seq: int
    ts_ns: int
    symbol: str
    price_ticks: int
    qty_lots: int
    quote_amount: int
    aggressor: Side
    maker_order_id: int
    maker_account: int
    taker_order_id: int
    taker_account: int
    maker_fee: int
    taker_fee: int


class OrderCanceled(NamedTuple):
    """The owner canceled an open order; ``remaining_lots`` were unfilled."""

    seq: int
    ts_ns: int
    order_id: int
    account: int
    symbol: str
    remaining_lots: int
    reason: EndReason


class OrderExpired(NamedTuple):
    """The engine ended an order (IOC/FOK/market remainder, self-trade prevention, halt, funds).
    ``remaining_lots`` is 0 for a market order by quote amount."""

    seq: int
    ts_ns: int
    order_id: int
    account: int
    symbol: str
    remaining_lots: int
    reason: EndReason


class OrderAmended(NamedTuple):
    """An open order now has ``price_ticks`` and total ``qty_lots`` with ``remaining_lots`` open.
    ``kept_priority`` False means it went to the back of its level (trades may follow)."""

    seq: int
    ts_ns: int
    order_id: int
    account: int
    symbol: str
    price_ticks: int
    qty_lots: int
    remaining_lots: int
    kept_priority: bool


class BalanceChanged(NamedTuple):
    """A deposit (delta > 0) or withdrawal (delta < 0); ``available`` is the balance after it.
    Holds and trade settlement are implied by order and trade events and not repeated here."""

    seq: int
    ts_ns: int
    account: int
    asset: str
    delta: int
    available: int


class FeeTierChanged(NamedTuple):
    seq: int
    ts_ns: int
    account: int
    tier: int


class BookUpdated(NamedTuple):
    """L2 levels a command changed on ``symbol``, as absolute (price_ticks, total qty_lots) pairs,
    qty 0 meaning the level is gone. ``update_id`` counts per symbol from 1 with no gaps: a consumer that
    sees a jump has missed an update. At most one per symbol per command, after the command's other
    events."""

    seq: int
    ts_ns: int
    symbol: str
    update_id: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


class InstrumentHalted(NamedTuple):
    seq: int
    ts_ns: int
    symbol: str


class InstrumentResumed(NamedTuple):
    seq: int
    ts_ns: int
    symbol: str


Event = (OrderAccepted | OrderRejected | CommandRejected | TradeExecuted | OrderCanceled | OrderExpired
         | OrderAmended | BalanceChanged | FeeTierChanged | BookUpdated | InstrumentHalted
         | InstrumentResumed)

# Stable tags for encoding; never renumber.
EVENT_TYPES: dict[int, type] = {
    1: OrderAccepted, 2: OrderRejected, 3: CommandRejected, 4: TradeExecuted, 5: OrderCanceled,
    6: OrderExpired, 7: OrderAmended, 8: BalanceChanged, 9: FeeTierChanged, 10: BookUpdated,
    11: InstrumentHalted, 12: InstrumentResumed,
}
