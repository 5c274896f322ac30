"""bdax's exchange core: a deterministic, I/O-free price-time matching engine with accounts.

Feed it commands, get events back (see ``CONTRACT.md`` in this folder for the exact rules)::

    from exchange import Asset, Instrument, Engine, Deposit, SubmitOrder, Side, OrderType, TimeInForce

    btc, krw = Asset("BTC", 8), Asset("KRW", 4)
    inst = Instrument.define("BTC-KRW", btc, krw, tick_size="1000", lot_size="0.0001")
    engine = Engine([inst])
    engine.handle(Deposit(ts_ns=0, account=1, asset="KRW", amount=krw.to_units("100000000")))
    events = engine.handle(SubmitOrder(1, 1, "BTC-KRW", Side.BUY, OrderType.LIMIT, TimeInForce.GTC,
                                       price_ticks=inst.price_to_ticks("95000000"), qty_lots=10))
"""
from .commands import (AmendOrder, CancelAll, CancelOrder, Command, Deposit, HaltInstrument,
                       ResumeInstrument, SetFeeTier, SubmitOrder, Withdraw)
from .engine import Balance, Depth, Engine, FeeTier, OrderView
from .enums import STP, EndReason, OrderType, RejectReason, Side, Stage, TimeInForce
from .events import (BalanceChanged, BookUpdated, CommandRejected, Event, FeeTierChanged,
                     InstrumentHalted, InstrumentResumed, OrderAccepted, OrderAmended, OrderCanceled,
                     OrderExpired, OrderRejected, TradeExecuted)
from .instruments import MAX_AMOUNT, Asset, Instrument, InstrumentError

__all__ = [
    "AmendOrder", "CancelAll", "CancelOrder", "Command", "Deposit", "HaltInstrument", "ResumeInstrument",
    "SetFeeTier", "SubmitOrder", "Withdraw", "Balance", "Depth", "Engine", "FeeTier", "OrderView", "STP",
    "EndReason", "OrderType", "RejectReason", "Side", "Stage", "TimeInForce", "BalanceChanged",
    "BookUpdated", "CommandRejected", "Event", "FeeTierChanged", "InstrumentHalted", "InstrumentResumed",
    "OrderAccepted", "OrderAmended", "OrderCanceled", "OrderExpired", "OrderRejected", "TradeExecuted",
    "MAX_AMOUNT", "Asset", "Instrument", "InstrumentError",
]
