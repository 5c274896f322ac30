"""What a shared-liquidity run records (the recording contract of issue 6, read by ``sim.compare``):

- ``venues/<venue>/``: each venue's public book in the :class:`sim.recorder.Recorder` format (every symbol
  it lists; the home venue's is what home users see: the consolidated book under mirrored, the one shared
  book under pooled);
- ``venues/<home>/executions.npz``: one row per home taker order that traded at home or was routed (home
  venue accounts only: under pooled, partner customers' orders are the partners' flow), int64 columns
  ``ts_ns, side (1 buy / 2 sell), qty_lots (asked; 0 for a market order by quote amount), filled_lots (home
  + routed), quote_amount (ledger units, fees excluded), mid_x2 (bid + ask in ticks just before it
  arrived, 0 if a side was empty), routed_lots, market (1 MARKET / 0 LIMIT)``; routed fills that report
  later (agency) are added to their order's row;
- ``liquidity.json``: model, venues, the hub's ``stats()``, the shell's link and settlement counters, the
  health timeline, exposure at default, traded volume per venue, price scales, the schedule's times and
  the conservation check.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exchange.commands import Deposit, SubmitOrder, Withdraw
from exchange.enums import OrderType, Side
from exchange.events import BalanceChanged, OrderAccepted, TradeExecuted
from exchange.liquidity.events import ChildRouted, RoutedFill, RouteEnded

from ..recorder import Recorder, _atomic_write, _write_npz
from .spec import VENUE_SPAN

if TYPE_CHECKING:
    from .world import LiquidityWorld

__all__ = ["LiquidityRecorder", "EXECUTION_COLUMNS", "LIQUIDITY_FILE", "EXECUTIONS_FILE", "VENUES_DIR"]

EXECUTION_COLUMNS = ("ts_ns", "side", "qty_lots", "filled_lots", "quote_amount", "mid_x2", "routed_lots", "market")
LIQUIDITY_FILE = "liquidity.json"
EXECUTIONS_FILE = "executions.npz"
VENUES_DIR = "venues"


def _jsonable(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return getattr(v, "name", None) or int(v) if type(v) is not int else v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


class LiquidityRecorder:
    """Per-venue recorders, home executions and the run's liquidity facts."""

    def __init__(self, world: "LiquidityWorld") -> None:
        self.world = world
        sim = world.sim
        sc = sim.scenario
        self.recorders: dict[str, Recorder] = {
            name: Recorder(sorted(v.instruments), l2_levels=sc.l2_levels, l2_every_ns=sc.l2_every_ns)
            for name, v in sim.venues.items()}
        self.rows: list[list[int]] = []
        self._open: dict[int, int] = {}           # route id -> row of its order, until the route ends
        self._open_cids: dict[tuple[int, str], int] = {}   # (account, client id) of a routed order -> row
        self._open_ids: dict[int, int] = {}       # order id of a home order placed for a route's rest -> row
        self._mid: dict[str, int] = {}            # symbol -> bid + ask at home after the last command
        self.shell_net: dict[str, int] = {}       # deposits - withdrawals made by the shell at home
        self.routed_lots = 0

    def start(self) -> None:
        sim = self.world.sim
        for name, venue in sim.venues.items():
            rec = self.recorders[name]
            symbols = set(rec.symbols)

            def trade(tr: Any, rec: Recorder = rec, symbols: set = symbols) -> None:
                if tr.symbol in symbols:
                    rec.on_trade(tr.symbol, tr.ts_ns, tr.price_ticks, tr.qty_lots, int(tr.aggressor))

            def l1(sym: str, ts: int, row: tuple, rec: Recorder = rec) -> None:
                rec.on_l1(sym, ts, row[0], row[1], row[2], row[3])

            venue.trade_observers.append(trade)
            venue.l1_observers.append(l1)
            sim.kernel.at(0, self._l2, (venue, rec))

    def _l2(self, arg: tuple[Any, Recorder]) -> None:
        venue, rec = arg
        kernel = self.world.kernel
        for symbol in rec.symbols:
            d = venue.engine.depth(symbol, rec.l2_levels)
            rec.on_l2(symbol, kernel.now, d.bids, d.asks)
        nxt = kernel.now + rec.l2_every_ns
        if nxt <= self.world.sim.duration_ns:
            kernel.at(nxt, self._l2, arg)

    # ------------------------------------------------------------------ home commands (SimVenue.on_events)
    def on_home(self, command: Any, events: list[Any]) -> None:
        if self._open:
            self._follow(events)   # before a new row is opened: its own events are counted by _execution
        if isinstance(command, SubmitOrder):
            if command.account < VENUE_SPAN:
                self._execution(command, events)
        elif isinstance(command, (Deposit, Withdraw)):
            for ev in events:
                if isinstance(ev, BalanceChanged) and ev.account == command.account and ev.asset == command.asset:
                    self.shell_net[ev.asset] = self.shell_net.get(ev.asset, 0) + ev.delta
                    break
        tapes = self.world.home.tapes
        for symbol, tape in tapes.items():
            r = tape.last
            self._mid[symbol] = r[0] + r[2] if r[0] and r[2] else 0

    def _follow(self, events: list[Any]) -> None:
        """Later outcomes of routed orders: partner fills (RoutedFill) and the taker fills of a home order
        the hub placed for the rest (re-routed), until the route ends."""
        ended: list[int] = []
        for ev in events:
            if isinstance(ev, RoutedFill):
                i = self._open.get(ev.route_id)
                if i is not None:
                    row = self.rows[i]
                    row[3] += ev.qty_lots
                    row[4] += ev.quote_amount
                    row[6] += ev.qty_lots
                    self.routed_lots += ev.qty_lots
            elif isinstance(ev, OrderAccepted):
                i = self._open_cids.get((ev.account, ev.client_order_id))
                if i is not None:
                    self._open_ids[ev.order_id] = i
            elif isinstance(ev, TradeExecuted):
                i = self._open_ids.get(ev.taker_order_id)
                if i is not None:
                    self.rows[i][3] += ev.qty_lots
                    self.rows[i][4] += ev.quote_amount
            elif isinstance(ev, RouteEnded):
                ended.append(ev.route_id)
        for r in ended:
            i = self._open.pop(r, None)
            if i is not None and i not in self._open.values():
                self._open_cids = {k: v for k, v in self._open_cids.items() if v != i}
                self._open_ids = {k: v for k, v in self._open_ids.items() if v != i}

    def _execution(self, cmd: SubmitOrder, events: list[Any]) -> None:
        order_id = filled = quote = 0
        routes: list[int] = []
        ended: list[int] = []
        for ev in events:
            if isinstance(ev, OrderAccepted):
                if ev.account == cmd.account and ev.client_order_id == cmd.client_order_id and not order_id:
                    order_id = ev.order_id
            elif isinstance(ev, TradeExecuted):
                if order_id and ev.taker_order_id == order_id:
                    filled += ev.qty_lots
                    quote += ev.quote_amount
            elif isinstance(ev, ChildRouted):
                if ev.parent and ev.parent not in routes:
                    routes.append(ev.parent)
            elif isinstance(ev, RoutedFill):
                if ev.account == cmd.account and ev.client_order_id == cmd.client_order_id and ev.route_id not in routes:
                    routes.append(ev.route_id)
            elif isinstance(ev, RouteEnded):
                ended.append(ev.route_id)
        if not filled and not routes:
            return
        side = 1 if int(cmd.side) == int(Side.BUY) else 2
        market = 1 if int(cmd.order_type) == int(OrderType.MARKET) else 0
        self.rows.append([cmd.ts_ns, side, cmd.qty_lots, filled, quote, self._mid.get(cmd.symbol, 0), 0, market])
        i = len(self.rows) - 1
        # Fills reported in this same command (principal: the operator fills at once) count now.
        for ev in events:
            if isinstance(ev, RoutedFill) and ev.route_id in routes:
                row = self.rows[i]
                row[3] += ev.qty_lots
                row[4] += ev.quote_amount
                row[6] += ev.qty_lots
                self.routed_lots += ev.qty_lots
        live = [r for r in routes if r not in ended]
        for r in live:
            self._open[r] = i
        if live:
            self._open_cids[(cmd.account, cmd.client_order_id)] = i

    # ------------------------------------------------------------------ files
    def executions(self) -> dict[str, np.ndarray]:
        a = np.array(self.rows, dtype=np.int64).reshape(-1, len(EXECUTION_COLUMNS))
        return {name: np.ascontiguousarray(a[:, k]) for k, name in enumerate(EXECUTION_COLUMNS)}

    def save(self, run_dir: Path) -> dict[str, Any]:
        """Write the contract's files into ``run_dir``; return the liquidity.json document."""
        world = self.world
        sim = world.sim
        sc = sim.scenario
        home = sc.home_venue
        scale: dict[str, dict[str, list[str]]] = {}
        volume: dict[str, int] = {}
        for name, rec in self.recorders.items():
            insts = sim.venues[name].instruments
            ps = {s: (str(insts[s].price_unit), str(insts[s].lot_size)) for s in rec.symbols}
            rec.save(run_dir / VENUES_DIR / name, ps)
            scale[name] = {s: list(v) for s, v in ps.items()}
            volume[name] = int(sum(int(rec.trades(s)["qty_lots"].sum()) for s in rec.symbols))
        cols = self.executions()
        cols["_meta"] = np.array(json.dumps({"columns": list(EXECUTION_COLUMNS), "units": {
            "side": "1 buy, 2 sell", "qty_lots": "home lots asked (0: market by quote)",
            "filled_lots": "home + routed lots", "quote_amount": "quote ledger units, fees excluded",
            "mid_x2": "bid + ask in home ticks just before arrival, 0 if a side was empty",
            "routed_lots": "lots filled at partners", "market": "1 MARKET, 0 LIMIT"}}, sort_keys=True))
        _write_npz(run_dir / VENUES_DIR / home / EXECUTIONS_FILE, cols)
        hub = world.hub
        doc = {
            "scenario": sc.name,
            "seed": sim.seed,
            "duration_ns": sim.duration_ns,
            "warmup_ns": min(sc.warmup_ns, sim.duration_ns // 2),
            "assets": {a.name: a.decimals for a in sc.assets.values()},
            "model": world.model,
            "home": home,
            "partners": list(world.spec.partners),
            "stats": _jsonable(hub.stats()) if hub is not None else {},
            "shell": _jsonable({**{k: v for k, v in world.stats().items() if k != "hub"},
                                "routed_lots_recorded": self.routed_lots, "executions": len(self.rows)}),
            "timeline": _jsonable(world.timeline),
            "exposure": _jsonable(world.exposure),
            "volume_lots": volume,
            "price_scale": scale,
            "events": dict(world.spec.events),
            "conservation": world.conservation(),
            "child_latency_ns": {n: [list(x) for x in link.child_latency_ns] for n, link in world.links.items()},
        }
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        _atomic_write(run_dir / LIQUIDITY_FILE, text.encode())
        return doc
