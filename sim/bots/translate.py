"""Binance user-data events -> the engine event objects an agent's client receives.

A load bot's agent must see exactly what it sees in a simulation: ``OrderAccepted``, ``TradeExecuted``,
``OrderCanceled``, ``OrderExpired``, ``OrderAmended``, ``OrderRejected``, ``CommandRejected``, applied to
its :class:`~sim.client.SimClient` (``orders``, ``by_id``, ``balances``) by the client's own ``_receive``.
This module builds them from ``executionReport`` (``x`` = NEW, TRADE, CANCELED, EXPIRED,
TRADE_PREVENTION, REPLACED) and from WebSocket API error answers. Fields the wire does not carry (the
other side of a trade, sequence numbers) are 0 / -1; nothing an agent or the client reads is made up.

Amends that change the price travel as ``order.cancelReplace`` keeping the client order id: the server
reports CANCELED (old order id) then NEW (new id, same client id). :class:`Translator` turns that pair
into one ``OrderAmended`` of the order the client knows (re-keying the client's ``by_id`` to the new id),
so the agent sees an amend, as in a simulation. If the replacement fails after the cancel succeeded, the
held CANCELED is delivered when the answer arrives (:meth:`Translator.replace_failed`).
"""
from __future__ import annotations

from typing import Any

from exchange import (STP, CommandRejected, Instrument, OrderAccepted, OrderAmended, OrderCanceled,
                      OrderExpired, OrderRejected, OrderType, Side, TimeInForce, TradeExecuted)
from exchange.enums import EndReason, RejectReason

__all__ = ["Translator", "ms_ns"]

_SIDE = {"BUY": Side.BUY, "SELL": Side.SELL}
_TYPE = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET, "LIMIT_MAKER": OrderType.LIMIT_MAKER}
_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


def ms_ns(ms: Any) -> int:
    return int(ms) * 1_000_000 if ms else 0


class Translator:
    """Per bot: ``instruments`` maps the wire symbol (``BTCKRW``) to the engine instrument; ``client``
    is the bot's SimClient (read for the cancelReplace bookkeeping)."""

    def __init__(self, account: int, instruments: dict[str, Instrument], client: Any) -> None:
        self.account = account
        self.instruments = instruments
        self.client = client
        self.replacing: dict[str, int] = {}      # cid -> cancelReplaces of it in flight (the bot counts them)
        self.held: dict[str, Any] = {}           # cid -> the held OrderCanceled of a replaced order

    def execution_report(self, r: dict[str, Any]) -> list[Any]:
        """The events for one executionReport (usually one; none for a held replace cancel)."""
        inst = self.instruments[r["s"]]
        x, oid, cid, ts = r["x"], int(r["i"]), r["c"], ms_ns(r.get("E"))
        acct = self.account
        if x == "NEW":
            price = inst.price_to_ticks(r["p"]) if _TYPE[r["o"]] != OrderType.MARKET else 0
            qty = inst.qty_to_lots(r["q"])
            o = self.client.orders.get(cid)
            old = o.order_id if o is not None else 0
            if cid in self.replacing and old and old != oid:
                self.held.pop(cid, None)
                by_id = self.client.by_id
                by_id.pop(old, None)
                o.order_id = oid
                by_id[oid] = o
                return [OrderAmended(0, ts, oid, acct, inst.symbol, price, qty, qty - inst.qty_to_lots(r["z"]),
                                     False)]
            tif = TimeInForce.IOC if r["o"] == "MARKET" else _TIF[r["f"]]
            return [OrderAccepted(0, ts, oid, acct, inst.symbol, _SIDE[r["S"]], _TYPE[r["o"]], tif, price, qty,
                                  inst.quote.to_units(r["Q"]) if r.get("Q") else 0, cid, STP[r.get("V", "NONE")])]
        if x == "TRADE":
            side = _SIDE[r["S"]]
            maker = bool(r["m"])
            aggressor = (Side.SELL if side == Side.BUY else Side.BUY) if maker else side
            fee = inst.quote.to_units(r["n"])
            price, qty = inst.price_to_ticks(r["L"]), inst.qty_to_lots(r["l"])
            quote_amount = inst.quote.to_units(r["Y"])
            tid = int(r["t"])
            if maker:
                return [TradeExecuted(tid, ts, inst.symbol, price, qty, quote_amount, aggressor, oid, acct, 0, -1,
                                      fee, 0)]
            return [TradeExecuted(tid, ts, inst.symbol, price, qty, quote_amount, aggressor, 0, -1, oid, acct,
                                  0, fee)]
        remaining = inst.qty_to_lots(r["q"]) - inst.qty_to_lots(r["z"])
        if x == "CANCELED":
            ev = OrderCanceled(0, ts, oid, acct, inst.symbol, remaining, EndReason.USER)
            o = self.client.orders.get(cid) if self.client is not None else None
            if cid in self.replacing and o is not None and o.order_id == oid:
                self.held[cid] = ev      # the first half of a cancelReplace: wait for the NEW
                return []
            return [ev]
        if x in ("EXPIRED", "TRADE_PREVENTION"):
            reason = EndReason.SELF_TRADE if x == "TRADE_PREVENTION" else EndReason.IOC_REMAINDER
            return [OrderExpired(0, ts, oid, acct, inst.symbol, remaining, reason)]
        if x == "REPLACED":
            price = inst.price_to_ticks(r["p"])
            qty = inst.qty_to_lots(r["q"])
            return [OrderAmended(0, ts, oid, acct, inst.symbol, price, qty, remaining, True)]
        return []

    def replace_failed(self, cid: str, symbol: str) -> list[Any]:
        """The cancelReplace of ``cid`` was answered with an error: the held cancel (if the cancel half
        succeeded) and a CommandRejected for the agent (as the engine refuses an amend)."""
        self.replacing.pop(cid, None)
        out: list[Any] = []
        held = self.held.pop(cid, None)
        if held is not None:
            out.append(held)
        out.append(CommandRejected(0, 0, "AmendOrder", self.account, RejectReason.UNKNOWN_ORDER))
        return out

    def rejected(self, symbol: str, cid: str) -> list[Any]:
        """An order.place answered with an error: the order never existed."""
        return [OrderRejected(0, 0, self.account, symbol, cid, RejectReason.UNKNOWN_ORDER)]
