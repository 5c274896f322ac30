"""Pass bands of the stylized-facts report (calm regime) and the data each test needs.

Source: ``/work/shared/reference/sim-and-liquidity.md`` §2.3 (the "accept" range where the table gives
one), which draws on Cont (2001) and Lillo & Farmer (2004). A band is ``(lo, hi)``, closed, either end
``None`` for open. Where the table states a fact in words, the number chosen here is written next to it,
so a reader can disagree with one line.

The minimum sample sizes are the point below which a statistic cannot tell a realistic market from a
broken one; under them a row reports its value (when there is one) but ``passed`` is ``None`` and the
note says why. They are never lowered to manufacture a pass.
"""
from __future__ import annotations

Band = tuple[float | None, float | None]

# No linear autocorrelation, at Δt = 1 min: "|ACF| < 0.05 beyond lag 1 (lag-1 may be slightly
# negative on trade prices)". Lag 1 on the *mid* may dip slightly below zero (bid-ask bounce leaks in
# through the quotes); -0.10 is our bound for "slightly".
ACF_LAG1: Band = (-0.10, 0.05)
ACF_MEAN_ABS_BEYOND_LAG1: Band = (0.0, 0.05)        # mean |ACF(r, k)|, k = 2..10
# Heavy tails: Hill α on the top 2.5-5% of |r|, "2 < α < 5".
HILL_ALPHA: Band = (2.0, 5.0)
# Excess kurtosis at 1 min: "κ(1 min) ≫ 0 (stocks ~10+, BTC often tens)"; "≫ 0" taken as > 3, i.e. the
# fourth moment at least twice the Gaussian's.
KURTOSIS_1M: Band = (3.0, None)
# Volatility clustering: ACF(|r|, k) "positive and significant up to ≥ 30 lags" (k = 1..100).
ABS_ACF_LEADING_LAGS: Band = (30.0, None)
# Slow decay: slope of log ACF(|r|) vs log k, "β ∈ [0.2, 0.4] (accept 0.1-0.6)".
ABS_ACF_BETA: Band = (0.1, 0.6)
# Volume/volatility: corr(V_t, |r_t|) "> 0.3".
VOLUME_VOLATILITY: Band = (0.3, None)
# Order-sign memory: slope of log ACF(signs), "γ ∈ [0.3, 0.8]".
SIGN_GAMMA: Band = (0.3, 0.8)
# Spread: "median 1-2 ticks for liquid pairs; skew > 0". Skew must be strictly positive: a constant
# spread has no right tail and fails.
SPREAD_MEDIAN_TICKS: Band = (1.0, 2.0)
SPREAD_SKEW: Band = (1e-9, None)

# Minimum sample sizes (see the module docstring).
# iid noise gives mean |ACF(k)| ≈ 0.8/√n: 0.036 at n = 500, safely under the 0.05 band
MIN_RETURNS_ACF = 500
MIN_RETURNS_HILL = 400      # 2.5% of n must leave at least 10 order statistics
MIN_RETURNS_KURTOSIS = 100  # for the 1-min band; other horizons report from 30 returns
MIN_RETURNS_REPORT = 30
MIN_RETURNS_CLUSTERING = 500  # lag 100 must stay under n/5
MIN_RETURNS_CORR = 100
MIN_ORDER_SIGNS = 1000
MIN_SPREAD_SAMPLES = 10
MIN_FIT_POINTS = 4          # log-binned points in a power-law fit ...
MIN_FIT_LAG = 10            # ... reaching at least this lag (one decade)


def in_band(value: float | None, band: Band | None) -> bool | None:
    """Whether ``value`` lies in the closed ``band``; ``None`` when either is missing."""
    if value is None or band is None:
        return None
    lo, hi = band
    # bool(): a numpy comparison gives numpy.bool_, which `passed is True` checks would miss.
    return bool((lo is None or value >= lo) and (hi is None or value <= hi))


def format_band(band: Band | None) -> str:
    """``"[0.1, 0.6]"``, ``"≥ 30"``, ``"≤ 0.05"`` or ``"report only"``."""
    if band is None:
        return "report only"
    lo, hi = band
    if lo is not None and hi is not None:
        return f"[{lo:g}, {hi:g}]"
    if lo is not None:
        return "> 0" if lo == 1e-9 else f"≥ {lo:g}"
    if hi is not None:
        return f"≤ {hi:g}"
    return "any"
