"""Shared liquidity (DESIGN.md §4): a home venue that shares order books with partner venues.

- :mod:`.config`: the model (isolated, mirrored, pooled) and each partner's terms.
- :mod:`.commands` / :mod:`.events`: partner outcomes coming in (journaled) and routing, settlement and
  default facts going out.
- :mod:`.mirrored`: :class:`MirroredVenue`, the home engine plus partners' mirrored depth and a router.
- :mod:`.pooled`: :class:`PooledVenue`, one book for every venue's orders with obligations, credit and
  default handling.

Both venues are *engine-like*: ``handle(command) -> events`` (engine commands and liquidity commands),
the engine's read methods, deterministic and I/O-free; a shell journals their commands and carries out
their outbound events (:data:`.events.OUTBOUND`).
"""
from .commands import (LIQUIDITY_COMMAND_TYPES, ChildFilled, ChildRejected, PartnerHeartbeat, PartnerQuote,
                       PartnerStatus, SettleDue, SettlementDone, SettlementFailed)
from .config import ConfigError, PartnerSpec, SharingConfig
from .events import (OUTBOUND, ChildRouted, ExposureBooked, ObligationBooked, OrderRefused,
                     PartnerStateChanged, RoutedFill, RouteEnded, SettlementCompleted, SettlementMissed,
                     SettlementStarted)
from .health import Health
from .mirrored import MirroredVenue
from .pooled import PooledVenue

__all__ = [
    "LIQUIDITY_COMMAND_TYPES", "ChildFilled", "ChildRejected", "PartnerHeartbeat", "PartnerQuote",
    "PartnerStatus", "SettleDue", "SettlementDone", "SettlementFailed", "ConfigError", "PartnerSpec",
    "SharingConfig", "OUTBOUND", "ChildRouted", "ExposureBooked", "ObligationBooked", "OrderRefused",
    "PartnerStateChanged", "RoutedFill", "RouteEnded", "SettlementCompleted", "SettlementMissed",
    "SettlementStarted", "Health", "MirroredVenue", "PooledVenue",
]
