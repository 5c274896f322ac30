"""From recorded columns to the series the facts are computed on.

Inputs are the recorder's column dicts (``sim.recorder``): trades ``ts_ns, price_ticks, qty_lots, side``
(side 1 = taker buy, 2 = taker sell) and L1 ``ts_ns, bid, bid_qty, ask, ask_qty`` (0 for an empty side),
each sorted by ``ts_ns``. Prices become floats here, for analysis only.

Clock-time sampling (previous tick): the mid at grid time t is the mid of the last L1 record with
``ts_ns <= t``. Interval j is ``(t_{j-1}, t_j]``; its return is ``ln mid(t_j) - ln mid(t_{j-1})`` and is
undefined (dropped) when either end has no book yet or a one-sided book: a one-sided book has no mid,
and bridging it would invent a price.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NS_PER_S = 1_000_000_000


class FactsInputError(ValueError):
    """The recorded columns cannot be analysed as given (the message says which column and why)."""


@dataclass(frozen=True)
class GridReturns:
    """Log mid returns on a clock grid. ``r`` holds the defined returns only; ``interval`` the index j
    of each (so ``volume[interval]`` lines up); ``undefined`` counts the dropped intervals."""

    step_ns: int
    r: np.ndarray
    interval: np.ndarray
    volume: np.ndarray      # traded lots per interval, every interval (float64)
    undefined: int

    @property
    def n(self) -> int:
        return int(self.r.size)


def check_columns(cols: dict, names: tuple[str, ...], what: str) -> int:
    """Validate a column dict: every name present, 1-d, equal lengths, ``ts_ns`` non-decreasing.
    Returns the row count; raises FactsInputError naming the offending column."""
    if not isinstance(cols, dict):
        raise FactsInputError(f"{what}: expected a dict of numpy columns {names}, got {type(cols).__name__}")
    lengths = set()
    for name in names:
        if name not in cols:
            raise FactsInputError(f"{what}: column {name!r} is missing (have {sorted(cols)})")
        arr = np.asarray(cols[name])
        if arr.ndim != 1:
            raise FactsInputError(f"{what}: column {name!r} must be 1-d, has shape {arr.shape}")
        lengths.add(arr.size)
    if len(lengths) > 1:
        raise FactsInputError(f"{what}: columns have different lengths {sorted(lengths)}")
    ts = np.asarray(cols["ts_ns"])
    if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
        raise FactsInputError(f"{what}: ts_ns must be non-decreasing (record events in time order)")
    return lengths.pop() if lengths else 0


def mid_on_grid(l1: dict, grid_ns: np.ndarray) -> np.ndarray:
    """Mid price (in ticks, float) at each grid time, NaN where no two-sided book is known."""
    ts = np.asarray(l1["ts_ns"], dtype=np.int64)
    bid = np.asarray(l1["bid"], dtype=np.float64)
    ask = np.asarray(l1["ask"], dtype=np.float64)
    idx = np.searchsorted(ts, grid_ns, side="right") - 1
    mid = np.full(grid_ns.size, np.nan)
    have = idx >= 0
    b, a = bid[idx[have]], ask[idx[have]]
    two_sided = (b > 0) & (a > 0)
    vals = np.where(two_sided, 0.5 * (b + a), np.nan)
    mid[have] = vals
    return mid


def grid(start_ns: int, end_ns: int, step_ns: int) -> np.ndarray:
    """Grid times start, start+step, ... up to and including end (whole steps only)."""
    if step_ns <= 0:
        raise FactsInputError(f"step must be positive, got {step_ns} ns")
    count = (end_ns - start_ns) // step_ns
    return start_ns + step_ns * np.arange(max(count, 0) + 1, dtype=np.int64)


def grid_returns(trades: dict, l1: dict, start_ns: int, end_ns: int, step_ns: int) -> GridReturns:
    """Log mid returns and traded volume per interval of ``step_ns`` between ``start_ns`` and ``end_ns``."""
    g = grid(start_ns, end_ns, step_ns)
    mid = mid_on_grid(l1, g)
    with np.errstate(invalid="ignore", divide="ignore"):
        logm = np.log(mid)
    raw = np.diff(logm)
    ok = np.isfinite(raw)
    volume = np.zeros(max(g.size - 1, 0))
    tts = np.asarray(trades["ts_ns"], dtype=np.int64)
    if tts.size and volume.size:
        # interval j (1-based over the grid) holds trades with g[j-1] < ts <= g[j]
        j = np.searchsorted(g, tts, side="left")
        inside = (j >= 1) & (j < g.size)
        volume = np.bincount(j[inside] - 1, weights=np.asarray(trades["qty_lots"], dtype=np.float64)[inside],
                             minlength=volume.size)
    interval = np.flatnonzero(ok)
    return GridReturns(step_ns, raw[ok], interval, volume, int((~ok).sum()))


def order_signs(trades: dict) -> np.ndarray:
    """Market-order signs (+1 buy, -1 sell), one per taker order.

    The engine prints one trade per maker fill, so a market order sweeping three levels gives three
    trades with the same timestamp and side; counting them three times would fake sign memory. Runs of
    consecutive trades sharing ``ts_ns`` and side are merged into one sign.
    """
    side = np.asarray(trades["side"], dtype=np.int64)
    ts = np.asarray(trades["ts_ns"], dtype=np.int64)
    if side.size == 0:
        return np.zeros(0)
    bad = ~np.isin(side, (1, 2))
    if bad.any():
        raise FactsInputError(f"trades: side must be 1 (buy) or 2 (sell), found {int(side[bad][0])}")
    new = np.ones(side.size, dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
    return np.where(side[new] == 1, 1.0, -1.0)


def spread_samples(l1: dict, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Quoted spreads (ticks, float) of two-sided L1 states within the window, with the time (ns) each
    state lasted inside it, so distributions are time-weighted rather than event-weighted."""
    ts = np.asarray(l1["ts_ns"], dtype=np.int64)
    bid = np.asarray(l1["bid"], dtype=np.float64)
    ask = np.asarray(l1["ask"], dtype=np.float64)
    if ts.size == 0:
        return np.zeros(0), np.zeros(0)
    begin = np.maximum(ts, start_ns)
    finish = np.minimum(np.append(ts[1:], max(end_ns, int(ts[-1]))), end_ns)
    dur = (finish - begin).astype(np.float64)
    keep = (dur > 0) & (bid > 0) & (ask > 0)
    return (ask - bid)[keep], dur[keep]
