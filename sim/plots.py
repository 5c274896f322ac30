"""Run plots as PNG files: price and spread, depth, returns distribution, ACF of r and |r|.

Matplotlib through its object API with the Agg canvas (no pyplot, no display, no global backend
switch). Files are deterministic: PNG metadata carries no software version or time
(``metadata={"Software": None}``), so identical data gives identical bytes on one installation.

Long series are drawn from a clock-grid sample (``MAX_POINTS`` previous-tick samples) rather than every
event: the picture is the same and a day of millions of events draws in well under a second.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.facts.acf import significance_level
from sim.facts.returns import mid_on_grid

MAX_POINTS = 2000
DPI = 100
NS_PER_HOUR = 3_600_000_000_000
PNG_METADATA = {"Software": None}
PLOT_FILES = {
    "price_spread": "price_spread.png",
    "depth": "depth.png",
    "returns": "returns_distribution.png",
    "acf": "acf.png",
}


def new_figure(width: float, height: float, rows: int = 1, cols: int = 1, **kw):
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **kw)
    return fig, axes


def save_png(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    return path


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _unit(price_unit: str | None) -> tuple[float, str]:
    return (1.0, "ticks") if price_unit is None else (float(price_unit), "price")


def plot_price_spread(path: Path, l1: dict, trades: dict, *, start_ns: int, end_ns: int,
                      price_unit: str | None = None, tick_size: float = 1.0, title: str = "") -> Path:
    """Mid price (with bid/ask band), trades and quoted spread in ticks over virtual time, from the L1
    columns. The whole recording is drawn; a dashed line marks ``start_ns`` when a warm-up precedes it."""
    fig, ax = new_figure(9, 5.5, 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    top, bottom = ax[0, 0], ax[1, 0]
    scale, label = _unit(price_unit)
    ts = np.asarray(l1["ts_ns"])
    if ts.size == 0 or end_ns <= start_ns:
        _empty(top, "no L1 data")
        _empty(bottom, "")
        return save_png(fig, path)
    first = min(int(start_ns), int(ts[0]))
    g = np.linspace(first, end_ns, MAX_POINTS).astype(np.int64)
    idx = np.searchsorted(ts, g, side="right") - 1
    ok = idx >= 0
    bid = np.where(ok, np.asarray(l1["bid"], dtype=np.float64)[np.maximum(idx, 0)], np.nan)
    ask = np.where(ok, np.asarray(l1["ask"], dtype=np.float64)[np.maximum(idx, 0)], np.nan)
    bid[bid <= 0] = np.nan
    ask[ask <= 0] = np.nan
    mid = mid_on_grid(l1, g)
    hours = g / NS_PER_HOUR
    top.fill_between(hours, bid * scale, ask * scale, color="tab:blue", alpha=0.25, lw=0, label="bid-ask")
    top.plot(hours, mid * scale, color="tab:blue", lw=0.8, label="mid")
    tts = np.asarray(trades["ts_ns"])
    if tts.size:
        pick = np.linspace(0, tts.size - 1, min(tts.size, MAX_POINTS)).astype(np.int64)
        top.scatter(tts[pick] / NS_PER_HOUR, np.asarray(trades["price_ticks"])[pick] * scale,
                    s=3, color="tab:orange", alpha=0.6, lw=0, label="trades")
    top.set_ylabel(f"price ({label})")
    top.legend(loc="best", fontsize=8, frameon=False)
    top.set_title(title or "Price")
    # sampled values miss short-lived blow-outs: draw each bin's widest spread behind the sampled one
    widest = _bin_max_spread(l1, g) / tick_size
    bottom.step(hours[:-1], widest, where="post", color="tab:red", alpha=0.3, lw=0.6, label="widest in bin")
    bottom.step(hours, (ask - bid) / tick_size, where="post", color="tab:red", lw=0.7, label="sampled")
    bottom.legend(loc="upper right", fontsize=7, frameon=False)
    bottom.set_ylabel("spread (ticks)")
    bottom.set_xlabel("virtual time (hours)")
    bottom.set_ylim(bottom=0)
    for a in (top, bottom):
        a.grid(alpha=0.3)
        if start_ns > first:
            a.axvline(start_ns / NS_PER_HOUR, color="0.3", ls="--", lw=0.8)
    if start_ns > first:
        top.text(start_ns / NS_PER_HOUR, 1.0, " analysis window →", transform=top.get_xaxis_transform(),
                 va="top", fontsize=8, color="0.3")
    return save_png(fig, path)


def _bin_max_spread(l1: dict, g: np.ndarray) -> np.ndarray:
    """The widest two-sided spread (ticks) recorded within each grid bin [g_i, g_i+1); NaN if none."""
    ts = np.asarray(l1["ts_ns"])
    bid = np.asarray(l1["bid"], dtype=np.float64)
    ask = np.asarray(l1["ask"], dtype=np.float64)
    spread = np.where((bid > 0) & (ask > 0), ask - bid, np.nan)
    out = np.full(g.size - 1, np.nan)
    lo = np.searchsorted(ts, g[:-1], side="left")
    hi = np.searchsorted(ts, g[1:], side="left")
    has = hi > lo
    if has.any() and spread.size:
        # reduceat runs from each start to the next start (the last to the array's end): bins are
        # contiguous and empty ones start where they end, so cutting the array at the last bin's end
        # makes each range exactly that bin's records
        filled = np.nan_to_num(spread, nan=-np.inf)[: int(hi[has][-1])]
        red = np.maximum.reduceat(filled, lo[has])
        out[has] = np.where(np.isfinite(red), red, np.nan)
    return out


def plot_depth(path: Path, l2: dict, *, start_ns: int, end_ns: int, tick_size: float = 1.0,
               title: str = "") -> Path:
    """Left: the book around the mid over time from the L2 snapshots (x time, y distance of each level
    from the mid in ticks, colour log10 lots; bids blue below, asks red above). Right: average resting
    lots by level from the touch. At most ``MAX_POINTS`` snapshots are drawn, evenly spaced."""
    fig, ax = new_figure(10, 4.5, 1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    heat, prof = ax[0, 0], ax[0, 1]
    ts = np.asarray(l2["ts_ns"])
    if ts.size == 0:
        _empty(heat, "no L2 snapshots")
        _empty(prof, "")
        return save_png(fig, path)
    pick = np.unique(np.linspace(0, ts.size - 1, min(ts.size, MAX_POINTS)).astype(np.int64))
    levels = l2["bid_px"].shape[1]
    bid_px = np.asarray(l2["bid_px"], dtype=np.float64)[pick]
    ask_px = np.asarray(l2["ask_px"], dtype=np.float64)[pick]
    two_sided = (bid_px[:, 0] > 0) & (ask_px[:, 0] > 0)
    mid = np.where(two_sided, 0.5 * (bid_px[:, 0] + ask_px[:, 0]), np.nan)
    t = np.repeat(ts[pick] / NS_PER_HOUR, levels)
    shown = []
    for side, px, cmap in (("bid", bid_px, "Blues"), ("ask", ask_px, "Reds")):
        qty = np.asarray(l2[f"{side}_qty"], dtype=np.float64)[pick].ravel()
        dist = ((px - mid[:, None]) / tick_size).ravel()
        keep = (px.ravel() > 0) & np.isfinite(dist)
        if keep.any():
            heat.scatter(t[keep], dist[keep], c=np.log10(qty[keep]), cmap=cmap, s=3, marker="s", lw=0)
            shown.append(dist[keep])
    if shown:
        # a few far-off levels (a thin book after a sweep) would squash the picture: show the central 99%
        lo, hi = np.percentile(np.concatenate(shown), [0.5, 99.5])
        pad = 0.05 * max(hi - lo, 1.0)
        heat.set_ylim(lo - pad, hi + pad)
    heat.axhline(0, color="0.3", lw=0.6)
    heat.set_xlim(min(int(ts[0]), start_ns) / NS_PER_HOUR, max(end_ns, int(ts[-1])) / NS_PER_HOUR)
    heat.set_xlabel("virtual time (hours)")
    heat.set_ylabel("distance from mid (ticks)")
    heat.set_title(title or "Book around the mid (colour: log10 lots)")
    heat.grid(alpha=0.3)
    lv = np.arange(1, levels + 1)
    for side, color, sign in (("bid", "tab:blue", -1), ("ask", "tab:red", 1)):
        mean_qty = np.asarray(l2[f"{side}_qty"], dtype=np.float64).mean(axis=0)
        prof.bar(sign * lv, mean_qty, color=color, alpha=0.7, label=f"{side}s")
    prof.axvline(0, color="0.3", lw=0.8)
    prof.set_xlabel("level from the touch (bids < 0 < asks)")
    prof.set_ylabel("mean lots resting")
    prof.set_title(f"Average book shape ({ts.size} snapshots)", fontsize=10)
    prof.legend(fontsize=8, frameon=False)
    return save_png(fig, path)


def plot_returns_distribution(path: Path, returns: dict[str, np.ndarray]) -> Path:
    """Histogram density of standardised returns per horizon on a log scale, against N(0, 1)."""
    fig, ax = new_figure(7, 4.5)
    a = ax[0, 0]
    drawn = 0
    edges = np.linspace(-8, 8, 81)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for label, r in returns.items():
        r = np.asarray(r, dtype=np.float64)
        if r.size < 30 or not r.std() > 0:
            continue
        z = (r - r.mean()) / r.std()
        dens, _ = np.histogram(z, bins=edges, density=True)
        shown = dens > 0
        a.plot(centres[shown], dens[shown], marker="o", ms=2.5, lw=0.8, label=f"{label} (n={r.size})")
        drawn += 1
    if not drawn:
        _empty(a, "fewer than 30 returns at every horizon")
        return save_png(fig, path)
    a.plot(centres, np.exp(-0.5 * centres**2) / math.sqrt(2 * math.pi), color="black", ls="--", lw=1,
           label="Gaussian")
    a.set_yscale("log")
    a.set_ylim(1e-5, 1.0)
    a.set_xlabel("return / standard deviation")
    a.set_ylabel("density (log)")
    a.set_title("Returns distribution vs Gaussian")
    a.legend(fontsize=8, frameon=False)
    a.grid(alpha=0.3)
    return save_png(fig, path)


def plot_acf(path: Path, acf_r: np.ndarray, acf_abs: np.ndarray, n: int, *, horizon: str = "1m",
             beta: float | None = None, fit_lags: tuple[int, int] | None = None) -> Path:
    """ACF of returns (lags 1..len) and of |returns| (lags 1..len) with ±2/√n bands; the fitted power
    law k^-β over its lag range on the |r| panel when given."""
    fig, ax = new_figure(10, 4, 1, 2)
    band = significance_level(n) if n > 0 else math.nan
    for a, rho, what in ((ax[0, 0], acf_r, "r"), (ax[0, 1], acf_abs, "|r|")):
        rho = np.asarray(rho, dtype=np.float64)
        if rho.size == 0 or not np.isfinite(rho).any():
            _empty(a, f"ACF({what}) undefined (n={n})")
            continue
        lags = np.arange(1, rho.size + 1)
        a.bar(lags, np.nan_to_num(rho), width=0.8, color="tab:blue" if what == "r" else "tab:purple")
        a.axhspan(-band, band, color="0.5", alpha=0.2, lw=0, label="±2/√n")
        a.axhline(0, color="0.3", lw=0.6)
        a.set_xlabel(f"lag ({horizon} steps)")
        a.set_ylabel(f"ACF({what})")
        a.set_title(f"Autocorrelation of {what}, Δt = {horizon}, n = {n}")
        a.grid(alpha=0.3)
    if beta is not None and math.isfinite(beta) and fit_lags is not None and np.isfinite(acf_abs[0]):
        lo, hi = fit_lags
        k = np.arange(lo, hi + 1, dtype=np.float64)
        # anchor the line at the mean ACF over the fitted lags (the fit's level is not stored)
        level = float(np.exp(np.mean(np.log(np.clip(acf_abs[lo - 1: hi], 1e-12, None)) + beta * np.log(k))))
        ax[0, 1].plot(k, level * k**-beta, color="black", lw=1.2, label=f"k^-{beta:.2f}")
    for a in (ax[0, 0], ax[0, 1]):
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=8, frameon=False)
    return save_png(fig, path)
