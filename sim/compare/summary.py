"""One run's liquidity figures (:func:`run_summary`), from a :class:`~sim.compare.load.LiquidityRun`.

Headline figures (flat, in ``summary["headline"]``, what ``bdax sim compare`` aggregates over seeds):

==========================  =========================================================================
``spread_bps``              home, time-weighted quoted spread (what home users see: the consolidated
                            book under mirrored, the shared book under pooled)
``effective_spread_bps``    home takers, volume-weighted signed 2·D·(p − mid)/mid
``depth_{10,50,100}``       home, median quote value within that many bps of mid, both sides
``slip_<Q>``                home, static slippage of a market order of quote value Q (bps)
``fill_ratio``              routed children: lots filled / lots sent (mirrored; n/a elsewhere)
``trade_through_rate``      trade-throughs / home fills, from the hub's counters
``dispersion_p50_bps``      median over partners of the p50 of |log mid_H − log mid_P|
``half_life_s``             median over partners of the AR(1) half-life of log(mid_H / mid_P) at 1 s
``exposure_quote``          exposure at default booked, total quote value
==========================  =========================================================================

Quote-value slippage sizes are turned into home lots at the run's median home mid, so every model is
asked about the same money (the models share the fundamental, so the lot counts differ by little).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.compare import metrics as M
from sim.compare.load import LiquidityRun

__all__ = ["run_summary", "SLIPPAGE_QUOTE_GRID", "routing_figures", "stale_fills", "schedule_events"]

# Quote-currency sizes of the slippage curve: 3 per decade from 100 to 10^10 (covers USDT and KRW books).
SLIPPAGE_QUOTE_GRID = tuple(float(x) for x in np.round(np.geomspace(1e2, 1e10, 25), 0))
K_BPS_DISLOCATION = 50.0
FIRST_PASSAGE_STEP_NS = M.NS_PER_S


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    return None


def _find(stats: dict, *names: str) -> Any:
    """The first of ``names`` present in ``stats`` (top level, then one level down)."""
    for n in names:
        if n in stats:
            return stats[n]
    for v in stats.values():
        if isinstance(v, dict):
            for n in names:
                if n in v:
                    return v[n]
    return None


def routing_figures(stats: dict) -> dict:
    """Fill ratio, failure reasons and trade-throughs from the hub's ``stats()``; names follow the
    mirrored hub's counters, absent ones are None."""
    sent = _num(_find(stats, "children_sent"))
    lots_sent = _num(_find(stats, "lots_sent", "child_lots_sent", "routed_lots"))
    lots_filled = _num(_find(stats, "lots_filled", "child_lots_filled", "routed_filled_lots"))
    ratio = _num(_find(stats, "fill_ratio"))
    if ratio is None and lots_sent:
        ratio = (lots_filled or 0.0) / lots_sent
    reasons = _find(stats, "failed_by_reason", "children_failed_by_reason", "failures_by_reason")
    tt = _num(_find(stats, "trade_throughs"))
    fills = _num(_find(stats, "home_fills"))
    return {"children_sent": sent, "children_filled": _num(_find(stats, "children_filled")),
            "children_partial": _num(_find(stats, "children_partially_filled", "children_partial")),
            "children_failed": _num(_find(stats, "children_failed")),
            "fill_ratio": ratio, "failed_by_reason": reasons if isinstance(reasons, dict) else {},
            "trade_throughs": tt, "home_fills": fills,
            "trade_through_rate": (tt / fills) if tt is not None and fills else (0.0 if tt == 0 else None),
            "stale_fill_failures": _num(_find(stats, "stale_fill_failures")),
            "fills_on_stale_quotes": _num(_find(stats, "fills_on_stale_quotes")),
            "operator_pnl_quote": _num(_find(stats, "operator_pnl_quote")),
            "operator_inventory_lots": _num(_find(stats, "operator_inventory_lots")),
            "hedge_failures": _num(_find(stats, "hedge_failures"))}


def schedule_events(run: LiquidityRun) -> list[tuple[str, int]]:
    """The scenario schedule as (name, ts_ns), time-ordered."""
    ev = run.doc.get("events") or {}
    out = []
    if isinstance(ev, dict):
        out = [(str(k), int(v)) for k, v in ev.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    elif isinstance(ev, list):
        for e in ev:
            if isinstance(e, dict) and isinstance(e.get("ts_ns", e.get("at_ns")), (int, float)):
                name = e.get("name") or f"{e.get('venue', '')} {e.get('action', '')}".strip()
                out.append((str(name), int(e.get("ts_ns", e.get("at_ns")))))
    return sorted(out, key=lambda x: (x[1], x[0]))


def stale_fills(run: LiquidityRun) -> dict:
    """Between the first stale/down/default health change of a partner and its kill switch (first
    ``routable = False``): the window, and the hub's stale-fill counters (the contract records counters,
    not per-child rows, so they cover the whole run; the window says when they could have happened)."""
    out: dict = {}
    for row in run.doc.get("timeline") or []:
        if not isinstance(row, dict):
            continue
        venue = str(row.get("venue"))
        health = str(row.get("health", "")).upper()
        entry = out.setdefault(venue, {"first_bad_ns": None, "kill_ns": None})
        bad = any(h in health for h in ("STALE", "DOWN", "DEFAULT", "2", "3", "4"))
        if bad and entry["first_bad_ns"] is None:
            entry["first_bad_ns"] = int(row.get("ts_ns", 0))
        if row.get("routable") is False and entry["kill_ns"] is None:
            entry["kill_ns"] = int(row.get("ts_ns", 0))
    for entry in out.values():
        a, b = entry["first_bad_ns"], entry["kill_ns"]
        entry["window_s"] = (b - a) / M.NS_PER_S if a is not None and b is not None and b >= a else None
    return out


def _exposure(run: LiquidityRun) -> dict:
    by_venue: dict[str, float] = {}
    by_asset: dict[str, dict[str, float]] = {}
    for e in run.doc.get("exposure") or []:
        if not isinstance(e, dict):
            continue
        v, a = str(e.get("venue")), str(e.get("asset"))
        q = float(e.get("quote_value") or 0)
        by_venue[v] = by_venue.get(v, 0.0) + q
        by_asset.setdefault(v, {})
        by_asset[v][a] = by_asset[v].get(a, 0.0) + float(e.get("amount") or 0)
    return {"total_quote": sum(by_venue.values()), "by_venue_quote": by_venue, "by_venue_asset": by_asset}


def _home_symbol(run: LiquidityRun) -> str | None:
    syms = run.symbols(run.home)
    return syms[0] if syms else None


def _taker_bps(run: LiquidityRun, venue: str) -> float:
    fees = run.doc.get("fees") or {}
    f = fees.get(venue) if isinstance(fees, dict) else None
    if isinstance(f, dict) and isinstance(f.get("taker_bps"), (int, float)):
        return float(f["taker_bps"])
    for p in run.doc.get("partners") or []:
        if isinstance(p, dict) and p.get("name") == venue and isinstance(p.get("taker_bps"), (int, float)):
            return float(p["taker_bps"])
    return 10.0     # LiquidityRun knows no fee: PartnerSpec's default


def run_summary(run: LiquidityRun) -> dict:
    """Every figure of one run (nested, JSON-able; NaN where a figure cannot be computed) with the flat
    ``headline`` described in the module docstring."""
    start, end = run.start_ns, run.end_ns
    sym = _home_symbol(run)
    out: dict = {"model": run.model, "scenario": run.scenario, "seed": run.seed, "home": run.home,
                 "symbol": sym, "window_ns": [start, end], "problems": list(run.problems)}
    head: dict[str, float | None] = {}
    if sym is None or end <= start:
        out["headline"] = head
        out["problems"].append("no home recording: home figures n/a")
        return out
    rec = run.venues[run.home]
    l1, l2 = rec.l1(sym), rec.l2(sym)
    unit, lot = run.scale(run.home, sym) or (1.0, 1.0)
    spread = M.quoted_spread(l1, start, end)
    depth = M.depth_within(l2, start, end, unit, lot)
    _, mids = M.mids_on_grid(l1, start, end, 10 * M.NS_PER_S, unit)
    mid_price = float(np.nanmedian(mids)) if np.isfinite(mids).any() else math.nan
    sizes_quote = list(SLIPPAGE_QUOTE_GRID)
    if math.isfinite(mid_price) and mid_price > 0:
        lots = [max(1.0, round(q / (mid_price * lot))) for q in sizes_quote]
        curve = M.static_slippage(l2, start, end, lots)
        for row, q in zip(curve, sizes_quote):
            row["size_quote"] = q
    else:
        curve = []
    out.update({"spread": spread, "depth": depth, "mid_price": mid_price, "static_slippage": curve})
    q_units = run.quote_units_per_lot_tick(run.home, sym)
    if run.executions is not None and q_units:
        out["effective_spread"] = M.effective_spread(run.executions, q_units, start, end)
        if math.isfinite(mid_price) and mid_price > 0:
            half_step = math.sqrt(10 ** (1 / 3))     # bin edges halfway (in log) between grid sizes
            edges = [q / (mid_price * lot) for q in np.geomspace(1e2 / half_step, 1e10 * half_step, 26)]
            rs = M.realised_slippage(run.executions, q_units, edges, start, end)
            for row, q in zip(rs, sizes_quote):
                row["size_quote"] = q
            out["realised_slippage"] = rs
    else:
        out["effective_spread"] = {"mean_bps": math.nan, "median_bps": math.nan, "n": 0}
        out["realised_slippage"] = []
    routing = routing_figures(run.stats)
    out["routing"] = routing
    disp, hl, fp = {}, {}, {}
    for p in run.partners:
        if p not in run.venues or sym not in run.venues[p].symbols:
            continue
        pu = run.scale(p, sym)
        if pu is None:
            continue
        x = M.log_ratio_series(l1, unit, run.venues[p].l1(sym), pu[0], start, end, FIRST_PASSAGE_STEP_NS)
        fees = _taker_bps(run, run.home) + _taker_bps(run, p)
        disp[p] = M.dispersion(x, fees)
        hl[p] = M.half_life(x, 1.0)
        fp[p] = M.first_passage(x, max(K_BPS_DISLOCATION, fees + 1), fees, 1.0)
    out.update({"dispersion": disp, "half_life": hl, "first_passage": fp})
    out["exposure"] = _exposure(run)
    out["home_share"] = run.home_share()
    out["stale_fills"] = stale_fills(run)
    events = schedule_events(run)
    out["resilience"] = {name: M.resilience(l1, l2, ts, end, price_unit=unit, lot_size=lot)
                         for name, ts in events}
    head["spread_bps"] = spread["mean_bps"]
    head["crossed_share"] = spread.get("crossed", math.nan)
    head["effective_spread_bps"] = out["effective_spread"]["mean_bps"]
    for b in (10, 50, 100):
        head[f"depth_{b}"] = depth["total"][str(b)]
    for row in curve:
        head[f"slip_{int(row['size_quote'])}"] = row["bps"] if row["coverage"] >= 0.5 else math.nan
    head["fill_ratio"] = routing["fill_ratio"]
    head["trade_through_rate"] = routing["trade_through_rate"]
    p50 = [d["p50_bps"] for d in disp.values() if math.isfinite(d["p50_bps"])]
    head["dispersion_p50_bps"] = float(np.median(p50)) if p50 else math.nan
    hls = [h["half_life_s"] for h in hl.values() if h["half_life_s"] is not None and not math.isnan(h["half_life_s"])]
    head["half_life_s"] = float(np.median(hls)) if hls else math.nan
    head["exposure_quote"] = out["exposure"]["total_quote"]
    out["headline"] = head
    return out
