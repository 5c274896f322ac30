"""Liquidity metrics of one venue's recorded market (reference §4.4): pure numpy functions of the recorder's
columns (``sim.recorder``) and of the home venue's ``executions`` table (LIQ.md recording contract).

Conventions:
- prices stay in the venue's own ticks until a function needs a ratio; ratios (bps) are unit-free, so only
  cross-venue comparisons and quote values need ``price_unit`` / ``lot_size`` (floats, analysis only: a
  float never goes back into an engine);
- an L1 row is a state that holds until the next row (previous-tick), the last until ``end_ns``;
- a one-sided or empty book has no mid: such time is left out and reported as lost coverage;
- every function returns plain floats/ints/lists (NaN where a figure cannot be computed), never raises on
  empty data: an empty window yields NaN and ``n = 0``. Bad arguments (a negative window, an empty size
  grid) raise :class:`MetricsError`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = [
    "MetricsError", "BPS", "DEPTH_BANDS_BPS", "sample_l1", "mids_on_grid", "quoted_spread",
    "effective_spread", "depth_within", "static_slippage", "realised_slippage", "dispersion",
    "half_life", "first_passage", "resilience", "log_grid",
]

BPS = 1e4
DEPTH_BANDS_BPS = (10, 50, 100, 200)
NS_PER_S = 1_000_000_000


class MetricsError(ValueError):
    """An argument a metric cannot work with; the message names it."""


def _window(start_ns: int, end_ns: int) -> None:
    if not end_ns > start_ns:
        raise MetricsError(f"end_ns ({end_ns}) must be after start_ns ({start_ns})")


# ----------------------------------------------------------------------------------------------- L1 series

def sample_l1(l1: dict, grid_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best bid and ask (ticks, 0 = empty side) in force at each grid time (previous-tick: the last L1 row at
    or before it; before the first row both sides are 0). O((n + g) log n)."""
    ts = np.asarray(l1["ts_ns"], dtype=np.int64)
    grid = np.asarray(grid_ns, dtype=np.int64)
    idx = np.searchsorted(ts, grid, side="right") - 1
    ok = idx >= 0
    bid = np.zeros(len(grid), dtype=np.int64)
    ask = np.zeros(len(grid), dtype=np.int64)
    bid[ok] = np.asarray(l1["bid"], dtype=np.int64)[idx[ok]]
    ask[ok] = np.asarray(l1["ask"], dtype=np.int64)[idx[ok]]
    return bid, ask


def mids_on_grid(l1: dict, start_ns: int, end_ns: int, step_ns: int = NS_PER_S,
                 price_unit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(grid, mid price) every ``step_ns`` in [start, end); mid is NaN where a side is empty. Prices are
    ticks × ``price_unit`` (pass the venue's price unit to compare venues)."""
    _window(start_ns, end_ns)
    if step_ns <= 0:
        raise MetricsError(f"step_ns must be > 0, got {step_ns}")
    grid = np.arange(start_ns, end_ns, step_ns, dtype=np.int64)
    bid, ask = sample_l1(l1, grid)
    mid = np.where((bid > 0) & (ask > 0), (bid + ask) * 0.5 * price_unit, np.nan)
    return grid, mid


def _l1_intervals(l1: dict, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bid, ask, duration_ns) of every L1 state clipped to [start, end), the state in force at ``start``
    included."""
    ts = np.asarray(l1["ts_ns"], dtype=np.int64)
    bid = np.asarray(l1["bid"], dtype=np.int64)
    ask = np.asarray(l1["ask"], dtype=np.int64)
    if len(ts) == 0:
        return bid, ask, np.zeros(0, dtype=np.int64)
    begin = np.clip(ts, start_ns, end_ns)
    end = np.clip(np.append(ts[1:], end_ns), start_ns, end_ns)
    return bid, ask, np.maximum(end - begin, 0)


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    if len(x) == 0 or w.sum() <= 0:
        return math.nan
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cw, 0.5 * cw[-1])])


def quoted_spread(l1: dict, start_ns: int, end_ns: int) -> dict:
    """Time-weighted quoted spread (ask − bid) / mid in bps, and in ticks, over [start, end).

    Returns ``{"mean_bps", "median_bps", "mean_ticks", "median_ticks", "two_sided", "crossed"}`` where
    ``two_sided`` is the share of the window with both sides quoted (the rest is left out of the averages)
    and ``crossed`` the share of the two-sided time with ask <= bid (a consolidated book of venues whose
    prices differ by more than their spreads, kept apart by fees, shows crossed)."""
    _window(start_ns, end_ns)
    bid, ask, dur = _l1_intervals(l1, start_ns, end_ns)
    ok = (bid > 0) & (ask > 0) & (dur > 0)
    w = dur[ok].astype(np.float64)
    spread_t = (ask[ok] - bid[ok]).astype(np.float64)
    bps = spread_t / ((ask[ok] + bid[ok]) * 0.5) * BPS
    total = float(w.sum())
    if total <= 0:
        nan = math.nan
        return {"mean_bps": nan, "median_bps": nan, "mean_ticks": nan, "median_ticks": nan, "two_sided": 0.0,
                "crossed": nan}
    return {"mean_bps": float((bps * w).sum() / total), "median_bps": _weighted_median(bps, w),
            "mean_ticks": float((spread_t * w).sum() / total), "median_ticks": _weighted_median(spread_t, w),
            "two_sided": total / (end_ns - start_ns), "crossed": float(w[spread_t <= 0].sum() / total)}


def spread_on_grid(l1: dict, grid_ns: np.ndarray) -> np.ndarray:
    """Quoted spread in bps at each grid time (NaN where a side is empty)."""
    bid, ask = sample_l1(l1, grid_ns)
    ok = (bid > 0) & (ask > 0)
    out = np.full(len(bid), np.nan)
    out[ok] = (ask[ok] - bid[ok]) / ((ask[ok] + bid[ok]) * 0.5) * BPS
    return out


# ----------------------------------------------------------------------------------------- executions

def execution_prices(ex: dict, quote_units_per_lot_tick: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows with a fill and an arrival mid, their average price in ticks, signed cost in bps).

    The average price is ``quote_amount / (filled_lots × q)`` where ``q`` is the quote ledger units of one
    tick × one lot (price_unit × lot_size × 10^quote decimals); the cost is (p − mid)/mid for a buy and
    (mid − p)/mid for a sell, in bps (positive = paid more than mid)."""
    if not quote_units_per_lot_tick > 0:
        raise MetricsError(f"quote_units_per_lot_tick must be > 0, got {quote_units_per_lot_tick}")
    filled = np.asarray(ex["filled_lots"], dtype=np.int64)
    mid_x2 = np.asarray(ex["mid_x2"], dtype=np.int64)
    rows = np.nonzero((filled > 0) & (mid_x2 > 0))[0]
    price = np.asarray(ex["quote_amount"], dtype=np.float64)[rows] / (filled[rows] * quote_units_per_lot_tick)
    mid = mid_x2[rows] * 0.5
    sign = np.where(np.asarray(ex["side"])[rows] == 1, 1.0, -1.0)
    return rows, price, sign * (price - mid) / mid * BPS


def effective_spread(ex: dict, quote_units_per_lot_tick: float, start_ns: int, end_ns: int) -> dict:
    """Effective spread 2·D·(p − mid_arrival) / mid_arrival in bps (D = +1 for a buy, −1 for a sell) over
    taker orders that filled in [start, end): ``{"mean_bps"`` (volume-weighted), ``"median_bps"``, ``"n"}``.

    Signed, as Bessembinder's definition: a fill better than the arrival mid (a routed buy at a partner
    whose ask sits below the home mid) lowers it; the unsigned 2·|p − mid| would count that price
    improvement as a cost."""
    _window(start_ns, end_ns)
    rows, _, cost = execution_prices(ex, quote_units_per_lot_tick)
    ts = np.asarray(ex["ts_ns"], dtype=np.int64)[rows]
    keep = (ts >= start_ns) & (ts < end_ns)
    eff = 2.0 * cost[keep]
    vol = np.asarray(ex["filled_lots"], dtype=np.float64)[rows][keep]
    if len(eff) == 0:
        return {"mean_bps": math.nan, "median_bps": math.nan, "n": 0}
    return {"mean_bps": float((eff * vol).sum() / vol.sum()), "median_bps": float(np.median(eff)),
            "n": int(len(eff))}


def log_grid(lo: float, hi: float, n: int) -> list[float]:
    """``n`` sizes spaced evenly in log between ``lo`` and ``hi`` (inclusive)."""
    if not (lo > 0 and hi >= lo and n >= 1):
        raise MetricsError(f"log_grid needs 0 < lo <= hi and n >= 1, got {lo}, {hi}, {n}")
    return [float(x) for x in np.geomspace(lo, hi, n)]


def realised_slippage(ex: dict, quote_units_per_lot_tick: float, edges_lots: Sequence[float], start_ns: int,
                      end_ns: int, market_only: bool = True) -> list[dict]:
    """Realised slippage by size: taker orders in [start, end) binned by asked size ``qty_lots`` into
    [edges[i], edges[i+1]); per bin the volume-weighted average cost vs arrival mid (bps), the median, the
    count and the mean fill ratio (filled / asked). ``market_only`` keeps MARKET orders (a limit order's
    cost is capped by its own price)."""
    _window(start_ns, end_ns)
    edges = np.asarray(edges_lots, dtype=np.float64)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise MetricsError(f"edges_lots must be >= 2 increasing sizes, got {list(edges_lots)}")
    rows, _, cost = execution_prices(ex, quote_units_per_lot_tick)
    ts = np.asarray(ex["ts_ns"], dtype=np.int64)[rows]
    keep = (ts >= start_ns) & (ts < end_ns)
    if market_only:
        keep &= np.asarray(ex["market"], dtype=np.int64)[rows] == 1
    asked = np.asarray(ex["qty_lots"], dtype=np.float64)[rows][keep]
    filled = np.asarray(ex["filled_lots"], dtype=np.float64)[rows][keep]
    cost = cost[keep]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        b = (asked >= lo) & (asked < hi)
        n = int(b.sum())
        out.append({"lo_lots": float(lo), "hi_lots": float(hi), "n": n,
                    "mean_bps": float((cost[b] * filled[b]).sum() / filled[b].sum()) if n else math.nan,
                    "median_bps": float(np.median(cost[b])) if n else math.nan,
                    "fill_ratio": float((filled[b] / asked[b]).mean()) if n else math.nan})
    return out


# ---------------------------------------------------------------------------------------------- L2 book

def _l2_window(l2: dict, start_ns: int, end_ns: int) -> dict:
    ts = np.asarray(l2["ts_ns"], dtype=np.int64)
    keep = (ts >= start_ns) & (ts < end_ns)
    out = {k: np.asarray(l2[k])[keep] for k in ("bid_px", "bid_qty", "ask_px", "ask_qty")}
    out["ts_ns"] = ts[keep]
    return out


def depth_within(l2: dict, start_ns: int, end_ns: int, price_unit: float, lot_size: float,
                 bands_bps: Sequence[float] = DEPTH_BANDS_BPS) -> dict:
    """Depth within each band of the mid, per side, in quote value (price × quantity, quote currency), median
    over the two-sided L2 snapshots in [start, end).

    Returns ``{"bid": {band: value}, "ask": {...}, "total": {...}, "truncated": {band: share}, "n"}``.
    Only the recorded levels count: when the deepest recorded level on a side is still inside the band the
    figure is a lower bound, and ``truncated[band]`` is the share of snapshots where that happened."""
    _window(start_ns, end_ns)
    w = _l2_window(l2, start_ns, end_ns)
    two = (w["bid_px"][:, 0] > 0) & (w["ask_px"][:, 0] > 0) if len(w["ts_ns"]) else np.zeros(0, bool)
    bp, bq, ap, aq = (w[k][two].astype(np.float64) for k in ("bid_px", "bid_qty", "ask_px", "ask_qty"))
    n = int(two.sum())
    out: dict = {"bid": {}, "ask": {}, "total": {}, "truncated": {}, "n": n}
    if n == 0:
        for b in bands_bps:
            for side in ("bid", "ask", "total"):
                out[side][str(b)] = math.nan
            out["truncated"][str(b)] = math.nan
        return out
    mid = (bp[:, 0] + ap[:, 0]) * 0.5
    value = price_unit * lot_size
    for b in bands_bps:
        lo, hi = mid * (1 - b / BPS), mid * (1 + b / BPS)
        in_b = (bp > 0) & (bp >= lo[:, None])
        in_a = (ap > 0) & (ap <= hi[:, None])
        vb = (bp * bq * in_b).sum(axis=1) * value
        va = (ap * aq * in_a).sum(axis=1) * value
        full_b = in_b[:, -1]     # the deepest recorded level is inside the band: more may lie beyond
        full_a = in_a[:, -1]
        out["bid"][str(b)] = float(np.median(vb))
        out["ask"][str(b)] = float(np.median(va))
        out["total"][str(b)] = float(np.median(vb + va))
        out["truncated"][str(b)] = float(np.mean(full_b | full_a))
    return out


def depth_series(l2: dict, band_bps: float, price_unit: float, lot_size: float) -> tuple[np.ndarray, np.ndarray]:
    """(ts_ns, bid + ask quote value within ``band_bps`` of mid) per snapshot; NaN when one-sided."""
    ts = np.asarray(l2["ts_ns"], dtype=np.int64)
    if len(ts) == 0:
        return ts, np.zeros(0)
    bp, bq, ap, aq = (np.asarray(l2[k], dtype=np.float64) for k in ("bid_px", "bid_qty", "ask_px", "ask_qty"))
    two = (bp[:, 0] > 0) & (ap[:, 0] > 0)
    mid = (bp[:, 0] + ap[:, 0]) * 0.5
    lo, hi = mid * (1 - band_bps / BPS), mid * (1 + band_bps / BPS)
    v = ((bp * bq * ((bp > 0) & (bp >= lo[:, None]))).sum(axis=1)
         + (ap * aq * ((ap > 0) & (ap <= hi[:, None]))).sum(axis=1)) * price_unit * lot_size
    return ts, np.where(two, v, np.nan)


def _walk(px: np.ndarray, qty: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """VWAP (ticks) of taking ``q`` lots from levels ``px``/``qty`` (n, levels), best first; and whether
    the recorded levels held ``q``."""
    cum = np.cumsum(qty, axis=1)
    prev = cum - qty
    take = np.clip(q - prev, 0, qty)
    enough = cum[:, -1] >= q
    got = take.sum(axis=1)
    vwap = np.where(got > 0, (take * px).sum(axis=1) / np.where(got > 0, got, 1), np.nan)
    return vwap, enough


def static_slippage(l2: dict, start_ns: int, end_ns: int, sizes_lots: Sequence[float]) -> list[dict]:
    """Slippage of a market order of each size walking the recorded book: (VWAP − mid)/mid in bps for a
    buy (asks) and (mid − VWAP)/mid for a sell (bids), median over two-sided snapshots in [start, end)
    where the recorded levels hold the size (``coverage`` = share of snapshots that did; below 1 the median
    is of the books that could fill it, so it understates the cost)."""
    _window(start_ns, end_ns)
    if len(sizes_lots) == 0 or any(not q > 0 for q in sizes_lots):
        raise MetricsError(f"sizes_lots must be positive sizes, got {list(sizes_lots)}")
    w = _l2_window(l2, start_ns, end_ns)
    n = len(w["ts_ns"])
    two = (w["bid_px"][:, 0] > 0) & (w["ask_px"][:, 0] > 0) if n else np.zeros(0, bool)
    bp, bq, ap, aq = (w[k][two].astype(np.float64) for k in ("bid_px", "bid_qty", "ask_px", "ask_qty"))
    mid = (bp[:, 0] + ap[:, 0]) * 0.5 if len(bp) else np.zeros(0)
    out = []
    for q in sizes_lots:
        if len(mid) == 0:
            out.append({"size_lots": float(q), "buy_bps": math.nan, "sell_bps": math.nan, "bps": math.nan,
                        "coverage": 0.0})
            continue
        va, ea = _walk(ap, aq, float(q))
        vb, eb = _walk(bp, bq, float(q))
        buy = (va - mid) / mid * BPS
        sell = (mid - vb) / mid * BPS
        buy_ok, sell_ok = buy[ea], sell[eb]
        both = np.concatenate([buy_ok, sell_ok])
        out.append({"size_lots": float(q),
                    "buy_bps": float(np.median(buy_ok)) if len(buy_ok) else math.nan,
                    "sell_bps": float(np.median(sell_ok)) if len(sell_ok) else math.nan,
                    "bps": float(np.median(both)) if len(both) else math.nan,
                    "coverage": float((ea.sum() + eb.sum()) / (2 * len(mid)))})
    return out


# ------------------------------------------------------------------------------------------- two venues

def log_ratio_series(l1_a: dict, unit_a: float, l1_b: dict, unit_b: float, start_ns: int, end_ns: int,
                     step_ns: int = NS_PER_S) -> np.ndarray:
    """log(mid_a / mid_b) every ``step_ns`` (prices converted with each venue's price unit); NaN where
    either book is one-sided."""
    _, ma = mids_on_grid(l1_a, start_ns, end_ns, step_ns, unit_a)
    _, mb = mids_on_grid(l1_b, start_ns, end_ns, step_ns, unit_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(ma / mb)


def dispersion(x: np.ndarray, fees_bps: float) -> dict:
    """Inter-venue dispersion |log mid_a − log mid_b| in bps from a log-ratio series (NaNs dropped):
    p50, p95, max and the share of samples above ``fees_bps`` (the round-trip cost that an arbitrageur
    must beat)."""
    d = np.abs(x[np.isfinite(x)]) * BPS
    if len(d) == 0:
        return {"p50_bps": math.nan, "p95_bps": math.nan, "max_bps": math.nan, "above_fees": math.nan, "n": 0}
    return {"p50_bps": float(np.median(d)), "p95_bps": float(np.percentile(d, 95)), "max_bps": float(d.max()),
            "above_fees": float(np.mean(d > fees_bps)), "n": int(len(d))}


def half_life(x: np.ndarray, step_s: float = 1.0) -> dict:
    """AR(1) half-life of a (log price ratio) series sampled every ``step_s``: least squares
    x_t − m = φ (x_{t−1} − m) + e over consecutive finite pairs; t½ = ln 2 / −ln φ seconds for 0 < φ < 1,
    +inf for φ >= 1 (no mean reversion seen), 0 for φ <= 0 (reverts within one step)."""
    ok = np.isfinite(x[1:]) & np.isfinite(x[:-1])
    a, b = x[:-1][ok], x[1:][ok]
    if len(a) < 3 or np.var(a) == 0:
        return {"phi": math.nan, "half_life_s": math.nan, "n": int(len(a))}
    m = np.concatenate([a, b]).mean()
    phi = float(((a - m) * (b - m)).sum() / ((a - m) ** 2).sum())
    hl = math.inf if phi >= 1 else 0.0 if phi <= 0 else math.log(2) / -math.log(phi) * step_s
    return {"phi": phi, "half_life_s": hl, "n": int(len(a))}


def first_passage(x: np.ndarray, k_bps: float, fees_bps: float, step_s: float = 1.0) -> dict:
    """Dislocations and how fast they close: each time |x| (bps) rises above ``k_bps`` starts an episode
    that ends at the first sample with |x| <= ``fees_bps``. Returns the median and max duration (seconds)
    of episodes that closed, and how many did and did not close before the series ended."""
    if not k_bps > fees_bps:
        raise MetricsError(f"k_bps ({k_bps}) must exceed fees_bps ({fees_bps}): a dislocation must start "
                           "above the level at which it counts as closed")
    d = np.abs(np.where(np.isfinite(x), x, 0.0)) * BPS
    durations: list[float] = []
    open_at = -1
    unclosed = 0
    # One pass: episodes cannot overlap, and the number of samples is small (one per second).
    above = np.nonzero(d > k_bps)[0]
    under = np.nonzero(d <= fees_bps)[0]
    i = 0
    while i < len(above):
        open_at = int(above[i])
        j = np.searchsorted(under, open_at)
        if j == len(under):
            unclosed += 1
            break
        close = int(under[j])
        durations.append((close - open_at) * step_s)
        i = int(np.searchsorted(above, close))
    return {"episodes": len(durations) + unclosed, "closed": len(durations), "unclosed": unclosed,
            "median_s": float(np.median(durations)) if durations else math.nan,
            "max_s": float(max(durations)) if durations else math.nan}


# ----------------------------------------------------------------------------------------------- stress

def resilience(l1: dict, l2: dict, event_ns: int, end_ns: int, *, price_unit: float, lot_size: float,
               pre_ns: int = 300 * NS_PER_S, step_ns: int = NS_PER_S, band_bps: float = 100) -> dict:
    """Spread and depth around a scheduled event at ``event_ns``: calm = medians over [event − pre, event);
    after the event (until ``end_ns``) the peak spread, the minimum depth within ``band_bps`` and the time
    from the event until the spread is back at or under 2× calm (first 1 s sample at or after the peak;
    NaN if it never is, 0 if it never left). Spreads in bps, depth in quote value."""
    start = max(0, event_ns - pre_ns)
    if not end_ns > event_ns > start:
        return {"calm_spread_bps": math.nan, "peak_spread_bps": math.nan, "calm_depth": math.nan,
                "min_depth": math.nan, "recover_s": math.nan}
    grid_pre = np.arange(start, event_ns, step_ns, dtype=np.int64)
    grid_post = np.arange(event_ns, end_ns, step_ns, dtype=np.int64)
    s_pre, s_post = spread_on_grid(l1, grid_pre), spread_on_grid(l1, grid_post)
    calm = float(np.nanmedian(s_pre)) if np.isfinite(s_pre).any() else math.nan
    # A one-sided book after the event is the widest spread there is: count it as +inf, not as missing.
    s_post_inf = np.where(np.isfinite(s_post), s_post, np.inf)
    peak_i = int(np.argmax(s_post_inf)) if len(s_post) else 0
    peak = float(s_post_inf[peak_i]) if len(s_post) else math.nan
    recover = math.nan
    if math.isfinite(calm) and len(s_post):
        back = np.nonzero(s_post_inf[peak_i:] <= 2 * calm)[0]
        if len(back):
            recover = float((grid_post[peak_i + back[0]] - event_ns) / NS_PER_S)
    ts, dep = depth_series(l2, band_bps, price_unit, lot_size)
    pre = dep[(ts >= start) & (ts < event_ns)]
    post = dep[(ts >= event_ns) & (ts < end_ns)]
    post = np.where(np.isfinite(post), post, 0.0)   # one-sided: no depth on the missing side
    return {"calm_spread_bps": calm, "peak_spread_bps": peak if math.isfinite(peak) else None,
            "calm_depth": float(np.nanmedian(pre)) if np.isfinite(pre).any() else math.nan,
            "min_depth": float(post.min()) if len(post) else math.nan, "recover_s": recover}
