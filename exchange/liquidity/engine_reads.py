"""The engine's read methods for a hub that owns an :class:`exchange.Engine` as ``self.engine``: what a
hub shows of accounts and orders is the engine's own (a mirrored hub overrides the book reads with its
consolidated book)."""
from __future__ import annotations

from exchange import Balance, Engine, OrderView

__all__ = ["EngineReads"]


class EngineReads:
    engine: Engine

    @property
    def last_seq(self) -> int:
        return self.engine.last_seq

    def l3(self, symbol: str) -> tuple[list[OrderView], list[OrderView]]:
        return self.engine.l3(symbol)

    def order(self, order_id: int, account: int | None = None) -> OrderView | None:
        return self.engine.order(order_id, account)

    def open_orders(self, account: int, symbol: str | None = None) -> list[OrderView]:
        return self.engine.open_orders(account, symbol)

    def balances(self, account: int) -> dict[str, Balance]:
        return self.engine.balances(account)

    def accounts(self) -> list[int]:
        return self.engine.accounts()

    def totals(self) -> dict[str, int]:
        return self.engine.totals()

    def net_deposits(self) -> dict[str, int]:
        return self.engine.net_deposits()

    def is_halted(self, symbol: str) -> bool:
        return self.engine.is_halted(symbol)

    def fee_tier(self, account: int) -> int | None:
        return self.engine.fee_tier(account)
