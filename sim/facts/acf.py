"""Autocorrelation, the Ljung-Box test and cross-correlations, numpy only.

All functions take 1-d float arrays without NaN (the caller drops undefined intervals first) and are
O(n log n) through the FFT.
"""
from __future__ import annotations

import math

import numpy as np


def acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation ρ(1..max_lag) of ``x`` (the usual biased estimator: c_k / c_0, both over n).

    Returns an array of length ``max_lag`` (index 0 is lag 1). A constant series has no defined ACF:
    the result is all NaN. ``max_lag`` is clipped to ``len(x) - 1``; missing lags are NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    out = np.full(max_lag, np.nan)
    if n < 2 or max_lag < 1:
        return out
    d = x - x.mean()
    size = 1 << int(2 * n - 1).bit_length()  # zero-pad to avoid circular wrap-around
    spec = np.fft.rfft(d, size)
    c = np.fft.irfft(spec * np.conj(spec), size)[: min(max_lag, n - 1) + 1]
    if c[0] <= 0.0 or not np.isfinite(c[0]):
        return out
    out[: c.size - 1] = c[1:] / c[0]
    return out


def significance_level(n: int) -> float:
    """The usual ±2/√n band of an ACF estimate under the iid null."""
    return 2.0 / math.sqrt(n) if n > 0 else math.inf


def leading_significant_lags(rho: np.ndarray, n: int) -> int:
    """How many lags from lag 1 onward are in a row above +2/√n (stops at the first that is not)."""
    above = np.asarray(rho) > significance_level(n)
    if above.all():
        return int(above.size)
    return int(np.argmin(above))


def ljung_box(x: np.ndarray, lags: int) -> tuple[float, float]:
    """Ljung-Box Q over lags 1..``lags`` and its p-value (χ² with ``lags`` degrees of freedom).

    Returns ``(nan, nan)`` when the ACF is undefined (constant or too short series).
    """
    n = len(x)
    rho = acf(x, lags)
    if n <= lags + 1 or not np.isfinite(rho).all():
        return math.nan, math.nan
    k = np.arange(1, lags + 1)
    q = float(n * (n + 2) * np.sum(rho**2 / (n - k)))
    return q, chi2_sf(q, lags)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN if either side is constant or shorter than 3."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size != b.size or a.size < 3:
        return math.nan
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(np.dot(da, da)) * float(np.dot(db, db)))
    return float(np.dot(da, db)) / den if den > 0 else math.nan


def lagged_corr(r: np.ndarray, lags: int) -> np.ndarray:
    """corr(r_t, |r_{t+k}|) for k = 1..``lags`` (the leverage statistic); NaN where undefined."""
    r = np.asarray(r, dtype=np.float64)
    a = np.abs(r)
    return np.array([corr(r[:-k], a[k:]) if k < r.size - 2 else math.nan for k in range(1, lags + 1)])


# ---------------------------------------------------------------------------- χ² tail without scipy

def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df > x): the regularized upper incomplete gamma Q(df/2, x/2)."""
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    # Numerical Recipes §6.2: the series converges fast for x < a + 1, the continued fraction otherwise.
    if x < a + 1.0:
        return 1.0 - _gamma_p_series(a, x)
    return _gamma_q_fraction(a, x)


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(10_000):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-15:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_fraction(a: float, x: float) -> float:
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h
