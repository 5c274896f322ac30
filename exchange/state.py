"""The engine's whole state as a canonical value: for snapshots, restore and ``state_hash()``.

Pure functions (no files: the journal's snapshot store writes the bytes). The state holds everything
future behaviour depends on: config, instruments, sequence numbers, every account with its balances and
tier, and every resting order with its hold, in priority order. Two engines with the same state produce
the same events for the same commands; ``state_hash`` is the sha256 of the canonical JSON.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from .accounts import Account, FeeTier
from .book import Level, Order
from .enums import STP, OrderType, Side, TimeInForce
from .instruments import Asset, Instrument

__all__ = ["export_state", "snapshot", "restore", "state_hash", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_ORDER_FIELDS = ("order_id", "account", "side", "order_type", "tif", "price", "qty", "remaining", "filled",
                 "hold", "client_order_id", "stp", "maker_bps", "taker_bps", "ts_ns")


def _instrument(inst: Instrument) -> dict:
    return {
        "symbol": inst.symbol, "base": [inst.base.name, inst.base.decimals],
        "quote": [inst.quote.name, inst.quote.decimals], "price_unit": str(inst.price_unit),
        "lot_size": str(inst.lot_size), "band_floors": list(inst.band_floors),
        "band_steps": list(inst.band_steps), "min_qty_lots": inst.min_qty_lots,
        "min_notional": inst.min_notional, "max_price_ticks": inst.max_price_ticks,
        "max_qty_lots": inst.max_qty_lots,
    }


def export_state(engine) -> dict:
    """The engine's state as JSON-able plain data, in a canonical order."""
    books = {}
    for symbol, book in sorted(engine._books.items()):
        sides = []
        for side in (Side.BUY, Side.SELL):
            sides.append([[int(getattr(o, f)) if f in ("side", "order_type", "tif", "stp") else getattr(o, f)
                           for f in _ORDER_FIELDS]
                          for level in book.levels(side) for o in level.orders.values()])
        books[symbol] = {"update_id": book.update_id, "halted": book.halted, "bids": sides[0], "asks": sides[1]}
    accounts = [[a.account_id, a.tier, {asset: [c.available, c.held] for asset, c in sorted(a.cells.items())}]
                for _, a in sorted(engine._accounts.items())]
    return {
        "format": FORMAT_VERSION,
        "config": {"fee_tiers": [[t, f.maker_bps, f.taker_bps] for t, f in engine.fee_tiers.items()],
                   "default_stp": int(engine.default_stp), "fee_account": engine.fee_account},
        "instruments": [_instrument(i) for _, i in sorted(engine.instruments.items())],
        "seq": engine._seq,
        "net_deposits": dict(sorted(engine._net.items())),
        "accounts": accounts,
        "books": books,
    }


def snapshot(engine) -> bytes:
    """Canonical bytes of the state (compact JSON with sorted keys)."""
    return json.dumps(export_state(engine), sort_keys=True, separators=(",", ":")).encode()


def state_hash(engine) -> str:
    return hashlib.sha256(snapshot(engine)).hexdigest()


def restore(blob: bytes):
    """Rebuild an engine from :func:`snapshot` bytes. Raises ValueError on a malformed or foreign blob."""
    from .engine import Engine

    try:
        state = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an engine snapshot: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported snapshot format {state.get('format') if isinstance(state, dict) else '?'}")
    instruments = []
    for d in state["instruments"]:
        inst = Instrument(d["symbol"], Asset(*d["base"]), Asset(*d["quote"]), Decimal(d["price_unit"]),
                          Decimal(d["lot_size"]), tuple(d["band_floors"]), tuple(d["band_steps"]),
                          d["min_qty_lots"], d["min_notional"], d["max_price_ticks"], d["max_qty_lots"])
        instruments.append(inst)
    cfg = state["config"]
    engine = Engine(instruments, fee_tiers={t: FeeTier(m, k) for t, m, k in cfg["fee_tiers"]},
                    default_stp=STP(cfg["default_stp"]), fee_account=cfg["fee_account"])
    engine._seq = state["seq"]
    engine._net = dict(state["net_deposits"])
    engine._accounts.clear()
    for account_id, tier, cells in state["accounts"]:
        acct = Account(account_id, tier, engine.fee_tiers[tier], list(engine.assets))
        for asset, (avail, held) in cells.items():
            acct.cells[asset].available = avail
            acct.cells[asset].held = held
        engine._accounts[account_id] = acct
    fee_cells = engine._accounts[engine.fee_account].cells
    for symbol, b in state["books"].items():
        book = engine._books[symbol]
        book.fee_cell = fee_cells[book.instrument.quote.name]
        book.update_id = b["update_id"]
        book.halted = b["halted"]
        inst = book.instrument
        for rows, levels in ((b["bids"], book.bids), (b["asks"], book.asks)):
            for row in rows:
                f = dict(zip(_ORDER_FIELDS, row))
                acct = engine._accounts[f["account"]]
                o = Order(f["order_id"], f["account"], symbol, Side(f["side"]), OrderType(f["order_type"]),
                          TimeInForce(f["tif"]), f["price"], f["qty"], f["client_order_id"], STP(f["stp"]),
                          f["maker_bps"], f["taker_bps"], f["ts_ns"], acct.cells[inst.base.name],
                          acct.cells[inst.quote.name], acct)
                o.remaining, o.filled, o.hold = f["remaining"], f["filled"], f["hold"]
                level = levels.get(o.price)
                if level is None:
                    level = Level(o.price)
                    levels[level.key] = level
                level.orders[o.key] = o
                level.total += o.remaining
                o.level = level
                acct.orders[o.key] = o
                if o.client_order_id:
                    acct.cids[o.client_order_id] = o
        book.compact_heaps()
    # Accounts list their orders by id (the live engine inserts in acceptance order, which is id order
    # except for orders re-registered by an amend; the order of acct.orders is never observable).
    return engine
