"""``POST /admin/audit``: after a load run, is everything the clients saw really in the exchange?

Body (admin token, JSON, up to :data:`MAX_AUDIT_BYTES`)::

    {"orders": [[account, orderId, clientOrderId], ...],
     "trades": [[account, tradeId, orderId, "price", "qty"], ...]}

Checks, each against two sources:

- **state**: every order is in the order history projection with that account and client order id (an
  order evicted by ``order_history_per_account`` is looked up in the journal only); every trade is in the
  account's trade history with that order id, price and quantity;
- **journal**: the data dir's journal is replayed read-only into a scratch engine
  (``exchange.journal.recover(..., repair=False)``: no lock, no file is touched; a torn tail is just not
  read) in a worker thread, so the server keeps serving; every order must have an ``OrderAccepted`` with
  that account and client id, every trade a ``TradeExecuted`` with that id, price, quantity and the
  account on one side with that order id;
- **conservation**: per asset, the sum of all balances equals deposits minus withdrawals, on the live
  engine and on the replayed one (a shared-liquidity hub checks its own invariants with ``_check()``).

Answer: ``{"ok", "orders_checked", "trades_checked", "missing_orders": [first 20 of [account, orderId,
cid, where]], "missing_trades": [...], "mismatched": [...], "conservation": {asset: {"balances",
"net_deposits"}}, "journal_records": n}``. ``where`` is ``"state"`` or ``"journal"``.
"""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request, Response

from exchange import OrderAccepted, TradeExecuted

from .errors import BinanceError, bad_param
from .rest_trading import json_response, read_body

__all__ = ["router", "MAX_AUDIT_BYTES", "replay_index", "conservation"]

MAX_AUDIT_BYTES = 64 * 1024 * 1024
LIST_CAP = 20


def replay_index(journal_dir, make_engine, engine_cls=None, config=None) -> tuple[dict, dict, int, object]:
    """Replay ``journal_dir`` read-only: (order_id -> (account, cid), trade seq -> (price, qty, maker
    order, taker order, maker account, taker account, symbol), records replayed, the scratch engine). Every
    record is replayed from the start (snapshots would hide the acceptances before them); if old segments
    were pruned, it falls back to the newest snapshot and says so by a smaller record count. With a gateway
    ``config`` that has a ``[market]``, the journal is replayed as the server recovers it (a hub is rebuilt
    from every record: :func:`sim.live.engine.recover_market`)."""
    from exchange.journal import recover
    orders: dict[int, tuple[int, str]] = {}
    trades: dict[int, tuple] = {}

    def on_record(seq, command, events) -> None:
        for ev in events:
            if type(ev) is OrderAccepted:
                orders[ev.order_id] = (ev.account, ev.client_order_id)
            elif type(ev) is TradeExecuted:
                trades[ev.seq] = (ev.price_ticks, ev.qty_lots, ev.maker_order_id, ev.taker_order_id,
                                  ev.maker_account, ev.taker_account, ev.symbol)

    if config is not None and config.market is not None:
        from sim.live.engine import recover_market
        engine, report = recover_market(journal_dir, config, on_record, repair=False)
        return orders, trades, report.replayed, engine
    kw = {"engine_cls": engine_cls} if engine_cls is not None else {}
    try:
        engine, report = recover(journal_dir, make_engine, repair=False, use_snapshots=False,
                                 on_record=on_record, **kw)
    except Exception:   # pruned segments: replay from the newest snapshot instead
        orders.clear()
        trades.clear()
        engine, report = recover(journal_dir, make_engine, repair=False, on_record=on_record, **kw)
    return orders, trades, report.replayed, engine


def conservation(engine) -> tuple[bool, dict]:
    """(conserved, {asset: {"balances", "net_deposits"}}) in ledger units as decimal strings."""
    engine = getattr(engine, "hub", engine)    # a live market's GatewayHub wraps the hub
    check = getattr(engine, "_check", None)
    if not hasattr(engine, "net_deposits"):
        check()
        return True, {}
    totals, net = engine.totals(), engine.net_deposits()
    out, ok = {}, True
    for asset in sorted(set(totals) | set(net)):
        t, n = totals.get(asset, 0), net.get(asset, 0)
        ok = ok and t == n
        out[asset] = {"balances": str(t), "net_deposits": str(n)}
    if type(engine).__module__.startswith("exchange.liquidity") and check is not None:
        check()   # a hub: its own invariants (raises if broken)
    return ok, out


def _parse(raw: bytes) -> tuple[list, list]:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise BinanceError(-1100, "Malformed request: the body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BinanceError(-1100, 'The body must be a JSON object {"orders": [...], "trades": [...]}.')
    extra = set(body) - {"orders", "trades"}
    if extra:
        raise BinanceError(-1104, f"Unknown field(s): {', '.join(sorted(extra))}; allowed: orders, trades.")
    orders, trades = body.get("orders", []), body.get("trades", [])
    if not isinstance(orders, list):
        raise bad_param("orders", "it must be a list of [account, orderId, clientOrderId].")
    if not isinstance(trades, list):
        raise bad_param("trades", 'it must be a list of [account, tradeId, orderId, "price", "qty"].')
    for i, o in enumerate(orders):
        if not (isinstance(o, list) and len(o) == 3 and type(o[0]) is int and type(o[1]) is int
                and isinstance(o[2], str)):
            raise bad_param("orders", f"entry {i} must be [account (int), orderId (int), clientOrderId].")
    for i, t in enumerate(trades):
        ok = isinstance(t, list) and len(t) == 5 and all(type(x) is int for x in t[:3])
        if ok:
            try:
                ok = isinstance(t[3], str) and isinstance(t[4], str) and Decimal(t[3]).is_finite() \
                    and Decimal(t[4]).is_finite()
            except InvalidOperation:
                ok = False
        if not ok:
            raise bad_param("trades", f'entry {i} must be [account, tradeId, orderId (ints), "price", "qty" '
                                      f'(decimal strings)].')
    return orders, trades


def router(state, authorize) -> APIRouter:
    r = APIRouter()

    @r.post("/audit", summary="Check clients' acknowledged orders and fills against state and journal "
                              "(admin token)")
    async def audit(request: Request) -> Response:
        authorize(request)
        orders, trades = _parse(await read_body(request, MAX_AUDIT_BYTES))
        history, engine = state.history, state.pump.engine
        make_engine = getattr(state, "make_engine", state.config.make_engine)
        from exchange import Engine
        engine_cls = None if type(engine) is Engine else type(engine)
        # Read the live state first (synchronously: one consistent instant), then the journal, which
        # holds at least everything acknowledged before this request arrived.
        missing_o, missing_t, mismatched = [], [], []
        state_miss_o = []
        for acct, oid, cid in orders:
            rec = history.get(acct, oid)
            if rec is None:
                state_miss_o.append((acct, oid, cid))
            elif rec.client_order_id != cid:
                mismatched.append([acct, oid, cid, f"state has clientOrderId {rec.client_order_id!r}"])
        by_acct: dict[int, dict] = {}
        for acct, tid, oid, price, qty in trades:
            mine = by_acct.get(acct)
            if mine is None:
                mine = by_acct[acct] = {t.trade_id: t for t in history.trades(acct)}
            t = mine.get(tid)
            if t is None or t.order_id != oid:
                missing_t.append([acct, tid, oid, "state"])
                continue
            inst = engine.instruments[t.symbol]
            if Decimal(inst.format_price(t.price_ticks)) != Decimal(price) or \
                    Decimal(inst.format_qty(t.qty_lots)) != Decimal(qty):
                mismatched.append([acct, tid, oid, f"state has {inst.format_qty(t.qty_lots)} @ "
                                                   f"{inst.format_price(t.price_ticks)}"])
        live_ok, live_cons = conservation(engine)
        j_orders, j_trades, n_records, scratch = await asyncio.to_thread(
            replay_index, state.data_dir / "journal", make_engine, engine_cls, state.config)
        for acct, oid, cid in orders:
            got = j_orders.get(oid)
            if got is None or got[0] != acct:
                missing_o.append([acct, oid, cid, "journal"])
            elif got[1] != cid:
                mismatched.append([acct, oid, cid, f"journal has clientOrderId {got[1]!r}"])
        for acct, oid, cid in state_miss_o:
            if oid not in j_orders:    # evicted from the history and absent from the journal: lost
                missing_o.append([acct, oid, cid, "state"])
        for acct, tid, oid, price, qty in trades:
            got = j_trades.get(tid)
            if got is None or not ((got[4] == acct and got[2] == oid) or (got[5] == acct and got[3] == oid)):
                missing_t.append([acct, tid, oid, "journal"])
                continue
            inst = engine.instruments[got[6]]
            if Decimal(inst.format_price(got[0])) != Decimal(price) or \
                    Decimal(inst.format_qty(got[1])) != Decimal(qty):
                mismatched.append([acct, tid, oid, "journal price/qty differ"])
        replay_ok, replay_cons = conservation(scratch)
        ok = not missing_o and not missing_t and not mismatched and live_ok and replay_ok
        return json_response({"ok": ok, "orders_checked": len(orders), "trades_checked": len(trades),
                              "missing_orders": missing_o[:LIST_CAP], "missing_trades": missing_t[:LIST_CAP],
                              "mismatched": mismatched[:LIST_CAP], "conservation": live_cons,
                              "conservation_ok": live_ok, "journal_conservation_ok": replay_ok,
                              "journal_records": n_records})

    return r
