"""The liquidity report of ONE shared-liquidity run: ``liquidity.html``, ``liquidity_metrics.json`` and
PNGs in the run directory (the sim runner calls :func:`write_liquidity_report` at the end of a run).

For every run: the home market's spread, depth, slippage curve, routing figures and inter-venue dispersion.
For crisis scenarios (a schedule in ``liquidity.json``): the partners' health timeline, exposure at default
by venue and asset, the stale-fill window before each kill switch, and spread/depth at home around each
event (calm level, peak, minimum depth, time back to 2× calm spread). Whatever the run lacks is shown as
"n/a"; nothing here raises for a missing piece. Outputs are deterministic (no time, sorted JSON).
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.compare import metrics as M
from sim.compare import plots as P
from sim.compare.load import LiquidityRun, load_run
from sim.compare.summary import run_summary, schedule_events
from sim.report import _write_text, dump_json

__all__ = ["write_liquidity_report", "REPORT_FILE", "METRICS_FILE", "fmt", "table", "page"]

REPORT_FILE = "liquidity.html"
METRICS_FILE = "liquidity_metrics.json"
PNG = {"slippage": "liq_slippage.png", "health": "liq_health.png", "events": "liq_events.png",
       "dispersion": "liq_dispersion.png"}


def fmt(v: Any, digits: int = 2) -> str:
    """A figure for a table cell: numbers rounded, None/NaN as n/a."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        return f"{v:,.{digits}f}"
    return html.escape(str(v))


def table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, str) else fmt(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: list[str]) -> str:
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
             ".ok{color:#070}.bad{color:#a00}.note{color:#555;font-size:90%}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>" + "\n".join(body)
            + "</body></html>\n")


def _safe(fn, *a, **kw) -> str | None:
    """Draw a plot; a plot that fails (odd data) is left out of the page rather than failing the run."""
    try:
        fn(*a, **kw)
        return Path(a[0]).name
    except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError, FloatingPointError):
        return None


def write_liquidity_report(run_dir: Path) -> Path:
    """Write ``liquidity.html`` (+ PNGs and ``liquidity_metrics.json``) for the run in ``run_dir``; return
    the page's path.

    Raises:
        RunDirError: ``run_dir`` is not a directory (anything missing inside it is shown as n/a).
    """
    run = load_run(run_dir)
    s = run_summary(run)
    _write_text(run.run_dir / METRICS_FILE, dump_json(s))
    body = [f"<p>model <b>{html.escape(run.model)}</b> · home <b>{html.escape(run.home)}</b> · partners "
            f"{html.escape(', '.join(run.partners) or 'none')} · seed {fmt(run.seed)} · analysis window "
            f"{run.start_ns / 1e9:,.0f}–{run.end_ns / 1e9:,.0f} s</p>"]
    if s["problems"]:
        body.append("<p class='note'>Missing pieces: " + html.escape("; ".join(s["problems"])) + "</p>")
    body += _home_section(s)
    body += _routing_section(s)
    sym = s.get("symbol")
    home_rec = run.venues.get(run.home)
    if s.get("static_slippage"):
        curve = [(r["size_quote"], r["bps"], r["bps"], r["bps"]) for r in s["static_slippage"]
                 if r["coverage"] >= 0.5]
        name = _safe(P.plot_slippage_curves, run.run_dir / PNG["slippage"], {run.model: curve},
                     title="static slippage of the home book (median over snapshots)")
        if name:
            body.append(f"<img src='{name}' alt='slippage curve'>")
    body += _dispersion_section(run, s, sym)
    events = schedule_events(run)
    if events or run.doc.get("timeline") or run.doc.get("exposure"):
        body += _crisis_section(run, s, events, sym, home_rec)
    out = run.run_dir / REPORT_FILE
    _write_text(out, page(f"{run.scenario} · liquidity · seed {fmt(run.seed)}", body))
    return out


def _home_section(s: dict) -> list[str]:
    if "spread" not in s:
        return ["<h2>Home market</h2><p>n/a (no home recording)</p>"]
    sp, dp, eff = s["spread"], s["depth"], s.get("effective_spread", {})
    rows = [["quoted spread, time-weighted mean (bps)", sp["mean_bps"]],
            ["quoted spread, median (bps)", sp["median_bps"]],
            ["quoted spread, mean (ticks)", sp["mean_ticks"]],
            ["share of time two-sided", sp["two_sided"]],
            ["effective spread, volume-weighted (bps)", eff.get("mean_bps")],
            ["taker orders with a fill", eff.get("n")]]
    for b in ("10", "50", "100", "200"):
        rows.append([f"depth within {b} bps, bid / ask (quote)",
                     f"{fmt(dp['bid'].get(b))} / {fmt(dp['ask'].get(b))}"
                     + (f" (≥, book truncated in {dp['truncated'][b]:.0%})"
                        if dp["truncated"].get(b) and dp["truncated"][b] > 0 else "")])
    out = ["<h2>Home market</h2>", table(["figure", "value"], rows)]
    curve = s.get("static_slippage") or []
    real = {r["size_quote"]: r for r in s.get("realised_slippage") or []}
    if curve:
        out.append("<h3>Slippage by size</h3>")
        out.append(table(["size (quote)", "static, bps", "book could fill", "realised, bps", "orders",
                          "fill ratio"],
                         [[r["size_quote"], r["bps"], f"{r['coverage']:.0%}", real.get(r["size_quote"], {}).get("mean_bps"),
                           real.get(r["size_quote"], {}).get("n"), real.get(r["size_quote"], {}).get("fill_ratio")]
                          for r in curve]))
    return out


def _routing_section(s: dict) -> list[str]:
    r = s.get("routing") or {}
    if all(v in (None, {}) for v in r.values()):
        return ["<h2>Routing</h2><p>n/a (no routed orders recorded: isolated, pooled or a plain run)</p>"]
    rows = [[k.replace("_", " "), v] for k, v in r.items() if k != "failed_by_reason"]
    out = ["<h2>Routing</h2>", table(["figure", "value"], rows)]
    if r.get("failed_by_reason"):
        out.append(table(["failure reason", "children"], [[k, v] for k, v in sorted(r["failed_by_reason"].items())]))
    return out


def _dispersion_section(run: LiquidityRun, s: dict, sym: str | None) -> list[str]:
    if not s.get("dispersion"):
        return ["<h2>Inter-venue dispersion</h2><p>n/a (no partner recordings)</p>"]
    rows = []
    for p, d in sorted(s["dispersion"].items()):
        h, f = s["half_life"][p], s["first_passage"][p]
        rows.append([p, d["p50_bps"], d["p95_bps"], d["max_bps"], f"{d['above_fees']:.1%}" if math.isfinite(d["above_fees"]) else "n/a",
                     h["phi"], h["half_life_s"], f["closed"], f["unclosed"], f["median_s"]])
    out = ["<h2>Inter-venue dispersion</h2>",
           table(["partner", "p50 bps", "p95 bps", "max bps", "time above fees", "AR(1) φ", "half-life s",
                  "dislocations closed", "open at end", "median close s"], rows)]
    series = {}
    home = run.venues.get(run.home)
    unit = run.scale(run.home, sym) if sym else None
    if home is not None and unit is not None:
        for p in s["dispersion"]:
            pu = run.scale(p, sym)
            if pu is not None:
                x = M.log_ratio_series(home.l1(sym), unit[0], run.venues[p].l1(sym), pu[0], run.start_ns, run.end_ns)
                series[p] = (np.arange(run.start_ns, run.end_ns, M.NS_PER_S)[: len(x)], x)
    name = _safe(P.plot_dispersion, run.run_dir / PNG["dispersion"], series, 0.0) if series else None
    if name:
        out.append(f"<img src='{name}' alt='dispersion'>")
    return out


def _crisis_section(run: LiquidityRun, s: dict, events: list[tuple[str, int]], sym: str | None,
                    home_rec) -> list[str]:
    out = ["<h2>Crisis</h2>"]
    if events:
        out.append(table(["event", "at (s)"], [[n, t / 1e9] for n, t in events]))
    name = _safe(P.plot_health_timeline, run.run_dir / PNG["health"], run.doc.get("timeline") or [],
                 run.partners, run.end_ns)
    if name:
        out.append(f"<img src='{name}' alt='health timeline'>")
    ex = s.get("exposure") or {}
    out.append("<h3>Exposure at default</h3>")
    if ex.get("by_venue_quote"):
        rows = []
        for v, q in sorted(ex["by_venue_quote"].items()):
            assets = ", ".join(f"{a} {fmt(x, 0)}" for a, x in sorted(ex["by_venue_asset"].get(v, {}).items()))
            rows.append([v, q, assets])
        out.append(table(["defaulted venue", "quote value", "amounts (ledger units)"], rows))
    else:
        out.append("<p>none booked</p>")
    out.append("<h3>Stale fills before the kill switch</h3>")
    sf, r = s.get("stale_fills") or {}, s.get("routing") or {}
    if sf:
        out.append(table(["partner", "first stale/down (s)", "kill switch (s)", "window (s)"],
                         [[v, None if e["first_bad_ns"] is None else e["first_bad_ns"] / 1e9,
                           None if e["kill_ns"] is None else e["kill_ns"] / 1e9, e["window_s"]]
                          for v, e in sorted(sf.items())]))
    out.append(f"<p>children filled on stale quotes: {fmt(r.get('fills_on_stale_quotes'))}; children that got "
               f"less than shown: {fmt(r.get('stale_fill_failures'))} (hub counters over the whole run)</p>")
    res = s.get("resilience") or {}
    if res:
        out.append("<h3>Home spread and depth around each event</h3>")
        out.append(table(["event", "calm spread bps", "peak spread bps", "calm depth ±100 bps", "min depth",
                          "back to 2× calm (s)"],
                         [[n, e["calm_spread_bps"], e["peak_spread_bps"] if e["peak_spread_bps"] is not None
                           else "one-sided", e["calm_depth"], e["min_depth"], e["recover_s"]]
                          for n, e in res.items()]))
    if home_rec is not None and sym is not None:
        sc = run.scale(run.home, sym) or (1.0, 1.0)
        name = _safe(P.plot_around_events, run.run_dir / PNG["events"], home_rec.l1(sym), home_rec.l2(sym), events,
                     run.start_ns, run.end_ns, sc[0], sc[1])
        if name:
            out.append(f"<img src='{name}' alt='spread and depth around events'>")
    return out
