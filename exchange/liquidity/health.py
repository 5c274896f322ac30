"""A partner venue's health, as the home venue knows it."""
from __future__ import annotations

from enum import IntEnum

__all__ = ["Health"]


class Health(IntEnum):
    """``UP``: quotes and heartbeats flow, children are accepted. ``STALE``: heartbeats may still come but
    the depth feed is frozen (the FTX morning: the last snapshot keeps being shown). ``DOWN``: no feed, no
    heartbeats, every child rejected. ``DEFAULTED``: down for good and insolvent: it never settles, its
    prefunding and unsettled receivables are lost (exposure at default)."""

    UP = 1
    STALE = 2
    DOWN = 3
    DEFAULTED = 4
