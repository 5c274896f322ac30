"""Commands: what shells ask the engine to do. Imperative names, immutable, journaled as they are.

Every command carries ``ts_ns``, stamped by the shell's clock (wall clock in the gateway, virtual time
in the simulator); the engine never reads a clock. All amounts are integers in the units of
:mod:`exchange.instruments`. Commands are NamedTuples: cheap to build, hashable, and encoded in the
journal as ``[type, *fields]``.
"""
from __future__ import annotations

from typing import NamedTuple

from .enums import STP, OrderType, Side, TimeInForce

__all__ = [
    "Deposit", "Withdraw", "SetFeeTier", "SubmitOrder", "CancelOrder", "CancelAll", "AmendOrder",
    "HaltInstrument", "ResumeInstrument", "Command", "COMMAND_TYPES",
]


class Deposit(NamedTuple):
    """Credit ``amount`` ledger units of ``asset`` to ``account`` (creates the account if new)."""

    ts_ns: int
    account: int
    asset: str
    amount: int


class Withdraw(NamedTuple):
    """Debit ``amount`` ledger units of ``asset`` from ``account``'s available balance."""

    ts_ns: int
    account: int
    asset: str
    amount: int


class SetFeeTier(NamedTuple):
    """Move ``account`` to fee ``tier``; applies to orders placed from now on."""

    ts_ns: int
    account: int
    tier: int


class SubmitOrder(NamedTuple):
    """Place an order.

    - LIMIT: ``price_ticks`` and ``qty_lots`` > 0; ``tif`` GTC, IOC or FOK.
    - LIMIT_MAKER: as LIMIT with ``tif`` GTC; rejected (WOULD_TAKE) if it would match at once.
    - MARKET: ``price_ticks`` 0; exactly one of ``qty_lots`` (base quantity) or ``quote_qty``
      (quote ledger units to spend or receive, Binance's quoteOrderQty) > 0; ``tif`` IOC.
    ``client_order_id`` "" means none; otherwise unique among the account's open orders.
    ``stp`` None means the engine's default mode.
    """

    ts_ns: int
    account: int
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price_ticks: int
    qty_lots: int
    quote_qty: int = 0
    client_order_id: str = ""
    stp: STP | None = None


class CancelOrder(NamedTuple):
    """Cancel an open order by ``order_id`` (if non-zero) or else by ``client_order_id``."""

    ts_ns: int
    account: int
    symbol: str
    order_id: int = 0
    client_order_id: str = ""


class CancelAll(NamedTuple):
    """Cancel all of ``account``'s open orders, on ``symbol`` only if given."""

    ts_ns: int
    account: int
    symbol: str | None = None


class AmendOrder(NamedTuple):
    """Change an open order's price and/or total quantity (Binance origQty semantics).

    ``new_qty_lots`` 0 keeps the quantity; ``new_price_ticks`` 0 keeps the price. The new total quantity
    must exceed what is already filled. Queue priority is kept only if the price is unchanged and the
    quantity does not grow; otherwise the order goes to the back of its new level and may trade at once.
    The order is found by ``order_id`` (if non-zero) or else by ``client_order_id``.
    """

    ts_ns: int
    account: int
    symbol: str
    order_id: int
    new_qty_lots: int = 0
    new_price_ticks: int = 0
    client_order_id: str = ""


class HaltInstrument(NamedTuple):
    """Stop trading ``symbol``: new orders and amends are rejected, cancels still work. With
    ``expire_orders`` every resting order is expired (reason HALT) and its hold released."""

    ts_ns: int
    symbol: str
    expire_orders: bool = False


class ResumeInstrument(NamedTuple):
    """Resume trading ``symbol``."""

    ts_ns: int
    symbol: str


Command = (Deposit | Withdraw | SetFeeTier | SubmitOrder | CancelOrder | CancelAll | AmendOrder
           | HaltInstrument | ResumeInstrument)

# Stable tags for encoding; never renumber (journals on disk depend on them).
COMMAND_TYPES: dict[int, type] = {
    1: Deposit, 2: Withdraw, 3: SetFeeTier, 4: SubmitOrder, 5: CancelOrder, 6: CancelAll,
    7: AmendOrder, 8: HaltInstrument, 9: ResumeInstrument,
}


def _field_kinds(cls: type) -> tuple[tuple[int, str, tuple[type, ...]], ...]:
    """(index, name, allowed types) for each int/str/bool field; enum fields are checked by value."""
    kinds = []
    for i, (name, ann) in enumerate(cls.__annotations__.items()):
        # With postponed annotations a NamedTuple keeps them as ForwardRef('int') on 3.11, str later.
        text = getattr(ann, "__forward_arg__", ann if isinstance(ann, str) else getattr(ann, "__name__", ""))
        allowed = {"int": (int,), "str": (str,), "str | None": (str, type(None)),
                   "bool": (bool, int)}.get(text)
        if allowed is not None:
            kinds.append((i, name, allowed))
    return tuple(kinds)


_KINDS: dict[type, tuple[tuple[int, str, tuple[type, ...]], ...]] = {
    cls: _field_kinds(cls) for cls in COMMAND_TYPES.values()}
assert all(_KINDS.values()), "check_types found no typed fields: annotation format changed"


def check_types(command: object) -> None:
    """Raise TypeError if ``command`` is not a command or a field has the wrong Python type.

    Commands are built by shells from validated input, so a float quantity or a str account is a bug in
    the shell, not a client error: the engine raises (in both its compiled and interpreted builds) and
    changes nothing. Values of the right type that break the rules are rejects, not errors. ``bool`` is
    not an ``int`` here, except for ``HaltInstrument.expire_orders``.
    """
    kinds = _KINDS.get(type(command))
    if kinds is None:
        raise TypeError(f"not an engine command: {command!r:.80}")
    for i, name, allowed in kinds:
        value = command[i]  # type: ignore[index]
        if type(value) not in allowed:
            raise TypeError(f"{type(command).__name__}.{name} must be "
                            f"{' or '.join(t.__name__ for t in allowed)}, got {type(value).__name__} "
                            f"{value!r:.40}")
