"""Binance request parameters -> validated engine commands (shared by REST and the WebSocket API).

Everything that can be checked without the engine's state is checked here, before a command exists:
presence and syntax of each parameter, enum values, the order type's required and forbidden parameters,
the price grid (tick bands, bounds), the lot grid and quantity bounds, and the minimum notional. A request
refused here never reaches the journal. What depends on state (funds, a halted market, a duplicate client
order id, a post-only order that would take) is left to the engine, whose rejects change nothing.

Parameters a handler never reads are refused with -1104 (Binance's "Not all sent parameters were read"),
so a misspelt or unsupported option is an error rather than silently ignored.
"""
from __future__ import annotations

import os
import re
from collections import deque
from typing import NamedTuple

from exchange import (MAX_AMOUNT, STP, AmendOrder, CancelOrder, Instrument, OrderType, Side, SubmitOrder,
                      TimeInForce)
from exchange.decimals import DecimalError

from .errors import BinanceError, bad_param, missing_param
from .symbols import SymbolTable

__all__ = ["Params", "NewOrder", "parse_symbol", "parse_new_order", "parse_cancel", "parse_amend",
           "parse_order_ref", "parse_int", "new_client_order_id", "RESP_TYPES"]

_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CID_RE = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
_INT_RE = re.compile(r"^-?[0-9]{1,19}$")
_DECIMAL_RANGE = "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."
_CID_RANGE = "legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'."
_SIGNING = frozenset(("timestamp", "recvWindow", "signature", "apiKey"))
RESP_TYPES = ("ACK", "RESULT", "FULL")
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_TYPES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET, "LIMIT_MAKER": OrderType.LIMIT_MAKER}
_TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_STPS = {s.name: s for s in STP}
_CID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# byte -> alphabet letter (256 = 4 x 62 + 8: the first 8 letters are 1/64 likelier; harmless for ids).
_CID_TABLE = bytes(ord(_CID_ALPHABET[b % len(_CID_ALPHABET)]) for b in range(256))


def _filter(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def new_client_order_id() -> str:
    """A client order id for an order that came without one (Binance generates them too)."""
    # Perf (G4): one urandom + translate; 22 secrets.choice() calls were 13% of the server's CPU under load.
    # Perf (G6): made 256 at a time (one urandom system call per 256 ids, not per id: ~2% of the server's
    # CPU at 64 connections); deque.popleft is atomic, so threadpool endpoints may call this too.
    try:
        return _cid_pool.popleft()
    except IndexError:
        text = os.urandom(22 * _CID_BATCH).translate(_CID_TABLE).decode("ascii")
        _cid_pool.extend(["bdax-" + text[i:i + 22] for i in range(0, len(text), 22)])
        return _cid_pool.popleft()


_CID_BATCH = 256
_cid_pool: deque[str] = deque()
os.register_at_fork(after_in_child=_cid_pool.clear)    # a forked child must not reuse the parent's ids


class Params:
    """One request's parameters (strings) with a record of which were read."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self._read: set[str] = set(_SIGNING)

    def get(self, name: str) -> str | None:
        """The value, or None if absent. An empty value counts as absent (Binance: "empty/null")."""
        self._read.add(name)
        v = self.values.get(name)
        return v if v != "" else None

    def req(self, name: str) -> str:
        v = self.get(name)
        if v is None:
            raise missing_param(name)
        return v

    def has(self, name: str) -> bool:
        return self.values.get(name, "") != ""

    def done(self) -> None:
        """Raise -1104 if a parameter was sent that nothing read."""
        extra = sorted(k for k in self.values if k not in self._read)
        if extra:
            sent = len(self.values)
            raise BinanceError(-1104, f"Not all sent parameters were read; read {sent - len(extra)} "
                                      f"parameter(s) but was sent {sent}: unknown or unsupported "
                                      f"{', '.join(repr(k) for k in extra[:5])}.")

    def forbid(self, name: str, why: str = "") -> None:
        if self.has(name):
            raise BinanceError(-1106, f"Parameter '{name}' sent when not required{why}.")
        self._read.add(name)


def parse_int(p: Params, name: str, *, default: int | None = None, lo: int = 0,
              hi: int = 2**63 - 1) -> int | None:
    """An integer parameter in ``lo..hi`` (-1100 if not an integer, -1100 out of range)."""
    v = p.get(name)
    if v is None:
        return default
    if not _INT_RE.match(v):
        raise bad_param(name, "legal range is '^[0-9]{1,19}$'.")
    n = int(v)
    if not lo <= n <= hi:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                  f"{lo}..{hi}.")
    return n


def parse_symbol(p: Params, symbols: SymbolTable, *, required: bool = True) -> Instrument | None:
    v = p.req("symbol") if required else p.get("symbol")
    return None if v is None else symbols.instrument(v)


def _enum(p: Params, name: str, table: dict, *, required: bool = True, default=None):
    v = p.req(name) if required else p.get(name)
    if v is None:
        return default
    if v not in table:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                  f"'{', '.join(table)}'.")
    return table[v]


def _decimal(p: Params, name: str) -> str | None:
    v = p.get(name)
    if v is not None and not _DECIMAL_RE.match(v):
        raise bad_param(name, _DECIMAL_RANGE)
    return v


def _places(text: str) -> int:
    """Decimal places of a ``_DECIMAL_RE`` string, trailing zeros not counted."""
    frac = text.partition(".")[2].rstrip("0")
    return len(frac)


def _price(p: Params, inst: Instrument, name: str = "price") -> int:
    text = _decimal(p, name)
    if text is None:
        raise missing_param(name)
    try:
        ticks = inst.price_to_ticks(text)
    except DecimalError:
        raise _filter("PRICE_FILTER") from None
    if not inst.valid_price(ticks):    # zero, above max, or off its band's tick
        raise _filter("PRICE_FILTER")
    return ticks


def _qty(p: Params, inst: Instrument, name: str = "quantity") -> int | None:
    text = _decimal(p, name)
    if text is None:
        return None
    if _places(text) > inst.base.decimals:
        raise BinanceError(-1111, f"Parameter '{name}' has too much precision: {inst.base.name} has "
                                  f"{inst.base.decimals} decimals.")
    try:
        lots = inst.qty_to_lots(text)
    except DecimalError:
        raise _filter("LOT_SIZE") from None
    if not inst.min_qty_lots <= lots <= inst.max_qty_lots:
        raise _filter("LOT_SIZE")
    return lots


def _client_id(p: Params, name: str) -> str | None:
    v = p.get(name)
    if v is not None and not _CID_RE.match(v):
        raise bad_param(name, _CID_RANGE)
    return v


class NewOrder(NamedTuple):
    command: SubmitOrder
    resp_type: str


def parse_new_order(p: Params, inst: Instrument, account: int) -> NewOrder:
    """A new order's parameters -> SubmitOrder (``ts_ns`` 0: the pump stamps it). Without
    ``newClientOrderId`` the order gets a generated one (journaled with the command)."""
    side = _enum(p, "side", _SIDES)
    otype_name = p.req("type")
    if otype_name not in _TYPES:
        raise BinanceError(-1116, f"Invalid orderType: {otype_name!r:.40}; supported: "
                                  f"{', '.join(_TYPES)}.")
    otype = _TYPES[otype_name]
    price = qty = 0
    quote_qty = 0
    if otype is OrderType.MARKET:
        p.forbid("price", " for MARKET orders")
        p.forbid("timeInForce", " for MARKET orders")
        q = _qty(p, inst)
        quote_text = _decimal(p, "quoteOrderQty")
        if q is None and quote_text is None:
            raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were "
                                      "empty/null!")
        if q is not None and quote_text is not None:
            raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required: send either "
                                      "'quantity' or 'quoteOrderQty'.")
        if q is not None:
            qty = q
        else:
            try:
                quote_qty = inst.quote.to_units(quote_text)
            except DecimalError:
                raise BinanceError(-1111, f"Parameter 'quoteOrderQty' has too much precision: "
                                          f"{inst.quote.name} has {inst.quote.decimals} decimals.") from None
            if quote_qty <= 0 or quote_qty > MAX_AMOUNT:
                raise _filter("NOTIONAL")
            if quote_qty < inst.min_notional:
                raise _filter("NOTIONAL")
        tif = TimeInForce.IOC
    else:
        p.forbid("quoteOrderQty", f" for {otype_name} orders")
        if otype is OrderType.LIMIT:
            tif = _enum(p, "timeInForce", _TIFS)
        else:
            p.forbid("timeInForce", " for LIMIT_MAKER orders (they are always GTC)")
            tif = TimeInForce.GTC
        price = _price(p, inst)
        q = _qty(p, inst)
        if q is None:
            raise missing_param("quantity")
        qty = q
        if inst.notional(price, qty) < inst.min_notional:
            raise _filter("NOTIONAL")
    cid = _client_id(p, "newClientOrderId") or new_client_order_id()
    stp = _enum(p, "selfTradePreventionMode", _STPS, required=False)
    default_resp = "FULL" if otype is not OrderType.LIMIT_MAKER else "ACK"
    resp = p.get("newOrderRespType") or default_resp
    if resp not in RESP_TYPES:
        raise bad_param("newOrderRespType", "legal range is 'ACK, RESULT, FULL'.")
    return NewOrder(SubmitOrder(0, account, inst.symbol, side, otype, tif, price, qty, quote_qty, cid, stp),
                    resp)


def parse_order_ref(p: Params, id_name: str = "orderId",
                    cid_name: str = "origClientOrderId") -> tuple[int, str]:
    """An order named by ``orderId`` or ``origClientOrderId`` (-1102 if neither)."""
    oid = parse_int(p, id_name, lo=1)
    cid = _client_id(p, cid_name)
    if oid is None and cid is None:
        raise BinanceError(-1102, f"Param '{id_name}' or '{cid_name}' must be sent, but both were "
                                  f"empty/null!")
    return (oid or 0), (cid or "")


def parse_cancel(p: Params, inst: Instrument, account: int, *, id_name: str = "orderId",
                 cid_name: str = "origClientOrderId") -> CancelOrder:
    oid, cid = parse_order_ref(p, id_name, cid_name)
    return CancelOrder(0, account, inst.symbol, oid, "" if oid else cid)


def parse_amend(p: Params, inst: Instrument, account: int) -> AmendOrder:
    """``order/amend/keepPriority``: ``newQty`` (required, on the lot grid). Binance only lets the
    quantity go down; the caller checks it against the order (state-dependent)."""
    oid, cid = parse_order_ref(p)
    new_qty = _qty(p, inst, "newQty")
    if new_qty is None:
        raise missing_param("newQty")
    _client_id(p, "newClientOrderId")   # accepted for compatibility; the order keeps its client id
    return AmendOrder(0, account, inst.symbol, oid, new_qty, 0, "" if oid else cid)

