"""Moments and the Hill tail index.

Moment estimators are the plain (biased) sample ones: with n in the hundreds the difference to the
bias-corrected versions is far below the width of the pass bands.
"""
from __future__ import annotations

import math

import numpy as np

# The tail fraction the reference doc asks for ("top 2.5-5% of |r|").
HILL_FRACTIONS = (0.025, 0.05)


def excess_kurtosis(x: np.ndarray) -> float:
    """m4 / m2² - 3 (0 for a Gaussian); NaN for a constant or too short series."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 4:
        return math.nan
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    if m2 <= 0.0:
        return math.nan
    return float(np.mean(d**4)) / (m2 * m2) - 3.0


def skewness(x: np.ndarray, weights: np.ndarray | None = None) -> float:
    """m3 / m2^1.5, optionally with non-negative ``weights``; NaN if undefined, 0.0 for a constant series
    with at least 3 points (a degenerate distribution has no tail either side)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 3:
        return math.nan
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if total <= 0.0:
        return math.nan
    mean = float(np.dot(w, x)) / total
    d = x - mean
    m2 = float(np.dot(w, d * d)) / total
    if m2 <= 1e-300:
        return 0.0
    return float(np.dot(w, d**3)) / total / m2**1.5


def hill_alpha(abs_x: np.ndarray, k: int) -> float:
    """Hill's estimator of the tail index from the ``k`` largest values of ``abs_x``.

    α = 1 / mean(ln(x_(i) / x_(k+1))), i = 1..k, with x_(1) ≥ x_(2) ≥ ... NaN when k < 2, k ≥ n, or the
    threshold x_(k+1) is not positive (too many zero returns: the tail is not resolved).
    """
    a = np.asarray(abs_x, dtype=np.float64)
    n = a.size
    if k < 2 or k >= n:
        return math.nan
    top = -np.partition(-a, k)[: k + 1]  # the k+1 largest, unordered except position k
    top.sort()
    threshold = top[0]
    if threshold <= 0.0:
        return math.nan
    h = float(np.mean(np.log(top[1:] / threshold)))
    return 1.0 / h if h > 0 else math.nan


def hill_alpha_range(abs_x: np.ndarray,
                     fractions: tuple[float, float] = HILL_FRACTIONS) -> tuple[float, int, int]:
    """The median Hill α over every k from ``fractions[0]·n`` to ``fractions[1]·n``.

    Averaging over the whole range, rather than picking one k, smooths the well-known wobble of the
    Hill plot. Returns ``(alpha, k_lo, k_hi)``; alpha is NaN when fewer than 10 order statistics remain.
    """
    a = np.abs(np.asarray(abs_x, dtype=np.float64))
    n = a.size
    k_lo, k_hi = max(2, int(round(fractions[0] * n))), int(round(fractions[1] * n))
    if k_lo < 10 or k_hi >= n:
        return math.nan, k_lo, k_hi
    desc = -np.sort(-a)[: k_hi + 1]
    if desc[k_hi] <= 0.0:
        return math.nan, k_lo, k_hi
    logs = np.log(desc)
    csum = np.cumsum(logs)
    ks = np.arange(k_lo, k_hi + 1)
    h = csum[ks - 1] / ks - logs[ks]  # mean of the top k logs minus the log of the (k+1)-th
    if not (h > 0).all():  # ties at the threshold: the tail is not resolved
        return math.nan, k_lo, k_hi
    return float(np.median(1.0 / h)), k_lo, k_hi


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``x`` weighted by ``w`` (lower quantile: the smallest x whose cumulative
    weight reaches q of the total)."""
    order = np.argsort(x, kind="stable")
    xs, ws = np.asarray(x)[order], np.asarray(w, dtype=np.float64)[order]
    cw = np.cumsum(ws)
    if cw.size == 0 or cw[-1] <= 0:
        return math.nan
    return float(xs[int(np.searchsorted(cw, q * cw[-1], side="left"))])
