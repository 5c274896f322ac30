"""PNG plots of the liquidity reports, deterministic like ``sim.plots`` (Agg canvas, no metadata)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sim.compare import metrics as M
from sim.plots import _empty, new_figure, save_png

__all__ = ["plot_slippage_curves", "plot_spread_by_model", "plot_health_timeline", "plot_around_events",
           "plot_dispersion"]


def plot_slippage_curves(path: Path, curves: dict[str, list[tuple[float, float, float, float]]],
                         title: str = "") -> Path:
    """Slippage (bps) against order size (quote value), log-log, one line per model with its CI band.
    ``curves[model]`` = [(size_quote, median, lo, hi), ...]."""
    fig, ax = new_figure(7, 4.5)
    a = ax[0][0]
    drawn = False
    for model in sorted(curves):
        pts = [p for p in curves[model] if all(math.isfinite(v) and v > 0 for v in p[:2])]
        if not pts:
            continue
        q, med, lo, hi = (np.array(v, dtype=float) for v in zip(*pts))
        a.plot(q, med, marker="o", label=model)
        a.fill_between(q, np.maximum(lo, med * 1e-3), hi, alpha=0.2)
        drawn = True
    if drawn:
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("market order size (quote value)")
        a.set_ylabel("slippage vs mid (bps)")
        a.legend()
        a.grid(True, which="both", alpha=0.3)
    else:
        _empty(a, "no slippage curve: books could not fill any size")
    a.set_title(title or "static slippage (median over seeds, 95% CI)")
    return save_png(fig, path)


def plot_spread_by_model(path: Path, values: dict[str, list[float]], ylabel: str, title: str) -> Path:
    """Per-seed values of one metric per model as a strip + median bar, side by side."""
    fig, ax = new_figure(6, 4)
    a = ax[0][0]
    models = sorted(values)
    any_point = False
    for i, m in enumerate(models):
        v = np.array([x for x in values[m] if x is not None and math.isfinite(x)], dtype=float)
        if len(v) == 0:
            continue
        any_point = True
        jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(1)
        a.scatter(i + jitter, v, s=14, alpha=0.7)
        a.hlines(np.median(v), i - 0.3, i + 0.3, colors="k")
    if any_point:
        a.set_xticks(range(len(models)))
        a.set_xticklabels(models)
        a.set_ylabel(ylabel)
    else:
        _empty(a, "n/a")
    a.set_title(title)
    return save_png(fig, path)


def plot_health_timeline(path: Path, timeline: list[dict], venues: list[str], end_ns: int) -> Path:
    """One row per partner: its health over time (colour) and where routing was off (hatched)."""
    colours = {"UP": "tab:green", "STALE": "tab:orange", "DOWN": "tab:red", "DEFAULTED": "black"}
    fig, ax = new_figure(8, 0.6 * max(2, len(venues)) + 1)
    a = ax[0][0]
    if not timeline:
        _empty(a, "no partner state changes recorded")
        return save_png(fig, path)
    for row_i, v in enumerate(venues):
        rows = sorted((r for r in timeline if str(r.get("venue")) == v), key=lambda r: int(r.get("ts_ns", 0)))
        t_prev, h_prev, r_prev = 0, "UP", True
        for r in rows + [{"ts_ns": end_ns, "health": None, "routable": None}]:
            t = int(r.get("ts_ns", 0))
            if t > t_prev:
                a.broken_barh([(t_prev / 3.6e12, (t - t_prev) / 3.6e12)], (row_i - 0.35, 0.7),
                              facecolors=colours.get(h_prev, "tab:gray"), hatch=None if r_prev else "//",
                              edgecolor="white")
            if r.get("health") is not None:
                h_prev = _health_name(r.get("health"))
                r_prev = bool(r.get("routable", True))
            t_prev = t
    a.set_yticks(range(len(venues)))
    a.set_yticklabels(venues)
    a.set_xlabel("hours (hatched: not routable / kill switch)")
    a.set_title("partner health: green up, orange stale, red down, black defaulted")
    return save_png(fig, path)


def _health_name(h: object) -> str:
    names = {1: "UP", 2: "STALE", 3: "DOWN", 4: "DEFAULTED"}
    if isinstance(h, int):
        return names.get(h, str(h))
    s = str(h).upper()
    return s.split(".")[-1]


def plot_around_events(path: Path, l1: dict, l2: dict, events: list[tuple[str, int]], start_ns: int,
                       end_ns: int, price_unit: float, lot_size: float) -> Path:
    """Home spread (bps) and depth within 100 bps (quote value) over time, events marked."""
    fig, ax = new_figure(8, 5, rows=2, sharex=True)
    step = max(M.NS_PER_S, (end_ns - start_ns) // 2000)
    grid = np.arange(start_ns, end_ns, step, dtype=np.int64)
    s = M.spread_on_grid(l1, grid) if len(grid) else np.zeros(0)
    a, b = ax[0][0], ax[1][0]
    if len(grid):
        a.plot(grid / 3.6e12, s, lw=0.8)
    a.set_ylabel("home spread (bps)")
    ts, dep = M.depth_series(l2, 100, price_unit, lot_size)
    keep = (ts >= start_ns) & (ts < end_ns)
    if keep.any():
        b.plot(ts[keep] / 3.6e12, dep[keep], lw=0.8)
    b.set_ylabel("depth ±100 bps (quote)")
    b.set_xlabel("hours")
    for name, t in events:
        for x in (a, b):
            x.axvline(t / 3.6e12, color="tab:red", ls="--", lw=0.8)
        a.annotate(name, (t / 3.6e12, 1), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                   va="top", ha="right")
    return save_png(fig, path)


def plot_dispersion(path: Path, series: dict[str, tuple[np.ndarray, np.ndarray]], fees_bps: float) -> Path:
    """log(mid_home / mid_partner) in bps over time per partner, ± fees marked."""
    fig, ax = new_figure(8, 4)
    a = ax[0][0]
    drawn = False
    for v in sorted(series):
        t, x = series[v]
        if np.isfinite(x).any():
            stride = max(1, len(x) // 2000)
            a.plot(t[::stride] / 3.6e12, x[::stride] * M.BPS, lw=0.7, label=v)
            drawn = True
    if drawn:
        for y in (fees_bps, -fees_bps):
            a.axhline(y, color="k", ls=":", lw=0.8)
        a.set_xlabel("hours")
        a.set_ylabel("log(mid home / mid partner), bps")
        a.legend(fontsize=7)
    else:
        _empty(a, "no partner recordings: dispersion n/a")
    a.set_title("inter-venue price dispersion (dotted: home + partner taker fees)")
    return save_png(fig, path)
