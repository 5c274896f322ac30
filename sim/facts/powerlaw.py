"""Power-law decay exponents of autocorrelation functions (log-log least squares on log-binned lags).

Used for the slow decay of ACF(|r|) (β) and for order-sign memory (γ): ACF(k) ~ k^(-exponent).

The estimator, stated once so the report can quote it: average the ACF over log-spaced lag bins
(about 6 per decade, so the many noisy long lags do not outvote the few short ones), keep the bins from
lag 1 onward while their mean stays above the noise floor 2/√n (stop at the first that does not: past
it the ACF is noise and its log is meaningless), and fit log(mean ACF) against log(geometric-mean lag)
by ordinary least squares. The exponent is minus the slope. At least ``MIN_FIT_POINTS`` bins reaching
lag ``MIN_FIT_LAG`` (one decade) are needed, otherwise there is no estimate: an ACF that sinks into the
noise before lag 10 is not decaying slowly, whatever its first few points say (ABIDES's volatility
clustering "is gone by lag 10", reference §1.1.7).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.facts.acf import significance_level
from sim.facts.bands import MIN_FIT_LAG, MIN_FIT_POINTS

BINS_PER_DECADE = 6


@dataclass(frozen=True)
class DecayFit:
    """Result of a power-law fit: ``exponent`` (NaN if no fit), the lag range fitted, the bins used."""

    exponent: float
    lag_lo: int
    lag_hi: int
    points: int

    @property
    def ok(self) -> bool:
        return math.isfinite(self.exponent)

    def describe(self) -> str:
        if not self.ok:
            return (f"no fit: {self.points} log bins above the noise floor, up to lag {self.lag_hi} "
                    f"(need {MIN_FIT_POINTS} reaching lag {MIN_FIT_LAG})")
        return f"log-log OLS over lags {self.lag_lo}-{self.lag_hi} ({self.points} log bins)"


def log_bins(max_lag: int, per_decade: int = BINS_PER_DECADE) -> list[tuple[int, int]]:
    """Log-spaced, non-empty, contiguous lag bins ``[lo, hi]`` covering 1..max_lag."""
    if max_lag < 1:
        return []
    decades = math.log10(max_lag + 1)
    edges = np.unique(np.round(np.logspace(0, decades, max(2, int(math.ceil(decades * per_decade)) + 1))))
    edges = [int(e) for e in edges]
    edges[-1] = max_lag + 1
    return [(lo, hi - 1) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]


def fit_decay(rho: np.ndarray, n: int) -> DecayFit:
    """Fit ρ(k) ~ k^(-exponent) to ``rho`` (index 0 = lag 1) estimated from ``n`` observations."""
    rho = np.asarray(rho, dtype=np.float64)
    floor = significance_level(n)
    xs: list[float] = []
    ys: list[float] = []
    lag_hi = 0
    for lo, hi in log_bins(rho.size):
        seg = rho[lo - 1 : hi]
        if seg.size == 0 or not np.isfinite(seg).all():
            break
        m = float(seg.mean())
        if m <= floor:
            break
        xs.append(0.5 * (math.log(lo) + math.log(hi)))
        ys.append(math.log(m))
        lag_hi = hi
    if len(xs) < MIN_FIT_POINTS or lag_hi < MIN_FIT_LAG:
        return DecayFit(math.nan, 1, lag_hi, len(xs))
    slope = float(np.polyfit(np.array(xs), np.array(ys), 1)[0])
    return DecayFit(-slope, 1, lag_hi, len(xs))
