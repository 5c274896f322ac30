"""Commands a shared-liquidity home venue takes besides the engine's (DESIGN.md §4): partner outcomes
coming back into the home venue. They are journaled like any other input (their tags live beside the
engine's in :mod:`exchange.journal.codec`), so replaying a home journal replays routing, settlement and
defaults exactly.

Every command starts with ``ts_ns`` (the shell's clock at arrival). Prices, quantities and amounts are in
the **partner's** units (its instrument's ticks and lots, ledger units of the asset) exactly as the
partner reported them: converting them to home units is the hub's job, at one place.
"""
from __future__ import annotations

from typing import NamedTuple

from .health import Health

__all__ = [
    "PartnerQuote", "PartnerHeartbeat", "PartnerStatus", "ChildFilled", "ChildRejected", "SettleDue",
    "SettlementDone", "SettlementFailed", "LIQUIDITY_COMMAND_TYPES", "LiquidityCommand",
]

Levels = tuple[tuple[int, int], ...]


class PartnerQuote(NamedTuple):
    """A depth snapshot of ``symbol`` at partner ``venue`` as of the partner's time ``venue_ts_ns``: the
    top levels per side, best first, (price_ticks, lots) in the partner's units. Replaces the previous
    snapshot of that venue and symbol (a throttled full-depth feed, as Binance's depth@100ms)."""

    ts_ns: int
    venue: str
    symbol: str
    venue_ts_ns: int
    bids: Levels
    asks: Levels


class PartnerHeartbeat(NamedTuple):
    """The partner's link is alive as of ``venue_ts_ns``. The kill switch trips when none has arrived
    for the configured timeout."""

    ts_ns: int
    venue: str
    venue_ts_ns: int


class PartnerStatus(NamedTuple):
    """The partner announces (or the operator declares) a health state: DOWN (orders pulled, no routing),
    DEFAULTED (and never settles), UP (recovered). STALE is a fact of the feed, not an announcement: the
    hub infers it from quote ages."""

    ts_ns: int
    venue: str
    health: Health
    reason: str = ""


class ChildFilled(NamedTuple):
    """The final report of IOC child ``child_id`` at ``venue``: ``filled_lots`` traded (> 0) for
    ``quote_amount`` ledger units of quote (the sum of the fills' notionals) plus ``fee`` (quote ledger units,
    paid at the partner); ``expired_lots`` did not trade (the quote had gone: a stale-quote failure)."""

    ts_ns: int
    venue: str
    child_id: int
    filled_lots: int
    quote_amount: int
    fee: int
    expired_lots: int


class ChildRejected(NamedTuple):
    """Child ``child_id`` traded nothing at ``venue``: refused or expired unfilled. ``reason`` is the
    partner's (an engine RejectReason or EndReason name, or ``VENUE_DOWN`` / ``TIMEOUT``)."""

    ts_ns: int
    venue: str
    child_id: int
    reason: str


class SettleDue(NamedTuple):
    """The settlement clock: net every venue pair's open obligations and start their transfers (pooled),
    or check the heartbeat deadlines when nothing else arrives (any model)."""

    ts_ns: int


class SettlementDone(NamedTuple):
    """Settlement batch ``batch_id`` arrived: its obligations are discharged."""

    ts_ns: int
    batch_id: int


class SettlementFailed(NamedTuple):
    """Settlement batch ``batch_id`` failed (the payer is down or defaulted, or the transfer failed): its
    obligations stay open and are netted again at the next settlement."""

    ts_ns: int
    batch_id: int
    reason: str


LiquidityCommand = (PartnerQuote | PartnerHeartbeat | PartnerStatus | ChildFilled | ChildRejected | SettleDue
                    | SettlementDone | SettlementFailed)

# Stable journal tags, beside the engine's 1..9 (exchange.commands.COMMAND_TYPES); never renumber.
LIQUIDITY_COMMAND_TYPES: dict[int, type] = {
    32: PartnerQuote, 33: PartnerHeartbeat, 34: PartnerStatus, 35: ChildFilled, 36: ChildRejected,
    37: SettleDue, 38: SettlementDone, 39: SettlementFailed,
}
