"""Events a shared-liquidity home venue emits besides the engine's. NamedTuples starting with ``ts_ns``
(the command's); they carry no engine ``seq`` (the engine's events keep their gap-free sequence).

Two kinds:
- **outbound intents** the shell must carry out: :class:`ChildRouted` (send an IOC child to a partner) and
  :class:`SettlementStarted` (start a transfer); their outcomes come back as commands
  (:mod:`exchange.liquidity.commands`);
- **facts** for users, reports and the journal's readers: routed fills, route ends, refusals, health
  changes, obligations, exposure.

Units: fields named ``*_ticks`` / ``*_lots`` are in the home instrument's units unless the event says
``partner_*``; amounts are ledger units of the named asset (the same across venues).
"""
from __future__ import annotations

from typing import NamedTuple

from exchange.enums import Side

from .health import Health

__all__ = [
    "ChildRouted", "RoutedFill", "RouteEnded", "OrderRefused", "PartnerStateChanged", "ObligationBooked",
    "SettlementStarted", "SettlementCompleted", "SettlementMissed", "ExposureBooked", "LiquidityEvent",
    "OUTBOUND",
]


class ChildRouted(NamedTuple):
    """Send an IOC LIMIT child order to partner ``venue`` for the operator's account there
    (``partner_account``), in the partner's units. ``parent`` is the user's route id (agency) or 0 for a
    principal hedge."""

    ts_ns: int
    child_id: int
    venue: str
    partner_account: int
    symbol: str
    side: Side
    partner_price_ticks: int
    partner_qty_lots: int
    parent: int


class RoutedFill(NamedTuple):
    """``account``'s order ``client_order_id`` traded ``qty_lots`` at partner ``venue`` (agency: the
    partner's fill; principal: the operator's fill at the displayed price). ``quote_amount`` is what
    changed hands (ledger units), ``fee`` the home fee the user paid on it; ``price_ticks`` is the average
    price in home ticks, rounded against the user (for display; balances use the amounts)."""

    ts_ns: int
    account: int
    symbol: str
    side: Side
    price_ticks: int
    qty_lots: int
    quote_amount: int
    fee: int
    venue: str
    client_order_id: str
    route_id: int


class RouteEnded(NamedTuple):
    """The routed part of ``account``'s order ``client_order_id`` is over: ``filled_lots`` traded at
    partners, and ``remaining_lots`` were handled by ``outcome``: ``FILLED`` (nothing left), ``EXPIRED``,
    ``RESTED`` (a home order for the rest was placed: its engine events follow) or ``REROUTED``."""

    ts_ns: int
    account: int
    symbol: str
    client_order_id: str
    route_id: int
    filled_lots: int
    remaining_lots: int
    outcome: str


class OrderRefused(NamedTuple):
    """The hub refused ``account``'s order before the engine saw it (``CREDIT_LIMIT``, ``VENUE_FROZEN``,
    ``NOT_ELIGIBLE``, ...); nothing changed. ``message`` says what was wrong and what would fix it."""

    ts_ns: int
    account: int
    symbol: str
    client_order_id: str
    reason: str
    message: str


class PartnerStateChanged(NamedTuple):
    """Partner ``venue`` is now ``health``; ``routable`` is whether the hub sends it children or shows its
    depth (False once the kill switch trips). ``reason``: ``HEARTBEAT_TIMEOUT``, ``QUOTE_STALE``,
    ``ANNOUNCED``, ``HEARTBEAT_RESUMED``..."""

    ts_ns: int
    venue: str
    health: Health
    routable: bool
    reason: str


class ObligationBooked(NamedTuple):
    """A cross-venue fill (pooled) or routed fill left ``debtor`` owing ``creditor`` ``amount`` of
    ``asset`` (ledger units), until a settlement discharges it. ``trade`` is the engine's trade_id or the
    child id."""

    ts_ns: int
    debtor: str
    creditor: str
    asset: str
    amount: int
    trade: int


class SettlementStarted(NamedTuple):
    """Start transfer ``batch_id``: ``payer`` sends ``payee`` ``amount`` of ``asset`` (the net of their open
    obligations in that asset). The shell answers with SettlementDone or SettlementFailed."""

    ts_ns: int
    batch_id: int
    payer: str
    payee: str
    asset: str
    amount: int


class SettlementCompleted(NamedTuple):
    ts_ns: int
    batch_id: int


class SettlementMissed(NamedTuple):
    ts_ns: int
    batch_id: int
    reason: str


class ExposureBooked(NamedTuple):
    """``venue`` defaulted owing ``creditor`` ``amount`` of ``asset`` (unsettled obligations, prefunding
    held there, children in flight), valued at ``quote_value`` quote ledger units at the last price."""

    ts_ns: int
    venue: str
    creditor: str
    asset: str
    amount: int
    quote_value: int
    kind: str


LiquidityEvent = (ChildRouted | RoutedFill | RouteEnded | OrderRefused | PartnerStateChanged | ObligationBooked
                  | SettlementStarted | SettlementCompleted | SettlementMissed | ExposureBooked)

# What a shell must act on.
OUTBOUND: tuple[type, ...] = (ChildRouted, SettlementStarted)
