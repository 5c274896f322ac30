"""Accounts: balances per asset (available and held), fee tier, and the account's open orders.

A balance is a two-item list ``[available, held]`` (a *cell*) rather than an object: the matching loop
settles a trade with a handful of ``cell.available += x`` on cells the order already points at, with no dict
lookups (see book.Order.base_cell). Every account gets a cell for every engine asset when it is created,
so those references never go stale.
"""
from __future__ import annotations

from typing import NamedTuple

from .book import Cell, Order

__all__ = ["FeeTier", "Balance", "Account", "Cell"]


class FeeTier(NamedTuple):
    """Maker and taker fee in basis points (0..10000) of the trade's notional, paid in quote."""

    maker_bps: int
    taker_bps: int


class Balance(NamedTuple):
    available: int
    held: int


class Account:
    __slots__ = ("account_id", "tier", "maker_bps", "taker_bps", "cells", "orders", "cids")

    def __init__(self, account_id: int, tier: int, fees: FeeTier, assets: list[str]) -> None:
        self.account_id = account_id
        self.tier = tier
        self.maker_bps = fees.maker_bps
        self.taker_bps = fees.taker_bps
        self.cells: dict[str, Cell] = {asset: Cell() for asset in assets}
        self.orders: dict[int, Order] = {}       # resting orders by order id
        self.cids: dict[str, Order] = {}         # resting orders by non-empty client order id
