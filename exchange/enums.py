"""Order enums and the reasons an engine gives for a reject, cancel or expiry.

All are IntEnums so that commands and events encode as plain ints in the journal and compare cheaply on
the hot path.
"""
from __future__ import annotations

from enum import IntEnum

__all__ = ["Side", "OrderType", "TimeInForce", "STP", "RejectReason", "EndReason", "Stage"]


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    LIMIT_MAKER = 3  # post-only: rejected if any part would take (Binance LIMIT_MAKER)


class TimeInForce(IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3


class STP(IntEnum):
    """Self-trade prevention, decided by the taker's mode (Binance spot `selfTradePreventionMode`)."""

    NONE = 0
    EXPIRE_TAKER = 1
    EXPIRE_MAKER = 2
    EXPIRE_BOTH = 3


class Stage(IntEnum):
    VALIDATION = 1
    FUNDS = 2
    MATCHING = 3
    ACCOUNT = 4
    PARTNER = 5


class RejectReason(IntEnum):
    """Why a command was refused; the hundreds digit is its :class:`Stage`. A rejected command changes
    nothing but the event sequence number. Each maps to exactly one gateway error code."""

    # 1xx validation: the command itself is malformed for this instrument
    UNKNOWN_SYMBOL = 101
    UNKNOWN_ASSET = 102
    INVALID_PRICE = 103          # <= 0, above max, or not on the band's tick
    INVALID_QUANTITY = 104       # <= 0, above max, below min_qty, or amend not above filled
    MIN_NOTIONAL = 105           # limit price x qty below the instrument's min notional
    INVALID_ORDER_SPEC = 106     # inconsistent type / time in force / qty vs quote_qty
    INVALID_AMOUNT = 107         # deposit or withdrawal amount <= 0 or too large
    UNKNOWN_FEE_TIER = 108
    # 2xx funds
    INSUFFICIENT_FUNDS = 201
    BALANCE_LIMIT = 202          # a deposit would push a balance over MAX_AMOUNT
    # 3xx matching
    INSTRUMENT_HALTED = 301
    WOULD_TAKE = 302             # LIMIT_MAKER (post-only) would match at once
    UNKNOWN_ORDER = 303          # no such open order for this account and symbol
    NOTHING_TO_CHANGE = 304      # halt of a halted / resume of a trading instrument
    # 4xx account
    UNKNOWN_ACCOUNT = 401
    DUPLICATE_CLIENT_ORDER_ID = 402

    @property
    def stage(self) -> Stage:
        return Stage(self.value // 100)


class EndReason(IntEnum):
    """Why an open order stopped before filling: carried by OrderCanceled and OrderExpired."""

    USER = 1                  # OrderCanceled: CancelOrder or CancelAll
    IOC_REMAINDER = 2         # OrderExpired: IOC or MARKET order's unfilled rest
    FOK_UNFILLED = 3          # OrderExpired: FOK that could not fill completely (nothing traded)
    SELF_TRADE = 4            # OrderExpired: self-trade prevention (taker or maker side)
    HALT = 5                  # OrderExpired: the instrument was halted with expire_orders
    INSUFFICIENT_FUNDS = 6    # OrderExpired: a market buy by quantity ran out of quote balance
