"""Stylized-facts functions on synthetic series with known answers (fixed seeds).

Each known answer is a property of the generating process, not of this code: iid Gaussian returns have
no autocorrelation and zero excess kurtosis; a Student-t(3) tail has index 3; GARCH(1,1) clusters
volatility; a sign series built from power-law run lengths (Lillo, Mike & Farmer 2005) or from the signs
of fractional Gaussian noise has a sign ACF decaying as a known power of the lag.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sim.facts import FactsInputError, FactsTable, aggregate_facts, compute_facts
from sim.facts import bands as B
from sim.facts.acf import acf, chi2_sf, leading_significant_lags, ljung_box
from sim.facts.powerlaw import fit_decay, log_bins
from sim.facts.returns import grid_returns, order_signs, spread_samples
from sim.facts.tails import excess_kurtosis, hill_alpha, hill_alpha_range, skewness, weighted_quantile

MIN = 60 * 1_000_000_000


# --------------------------------------------------------------------------- generators

def garch(n: int, rng: np.random.Generator, omega: float = 0.05, a: float = 0.10,
          b: float = 0.85) -> np.ndarray:
    r = np.empty(n)
    s2 = omega / (1 - a - b)
    z = rng.standard_normal(n)
    for i in range(n):
        r[i] = math.sqrt(s2) * z[i]
        s2 = omega + a * r[i] ** 2 + b * s2
    return r


def lmf_signs(alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Runs of one sign with P(L > l) = l^-alpha: sign ACF ~ τ^-(alpha-1) (Lillo, Mike & Farmer 2005)."""
    lengths = np.ceil(rng.pareto(alpha, n) + 1.0).astype(np.int64)
    return np.repeat(rng.choice([-1.0, 1.0], n), lengths)[:n]


def fgn(n: int, hurst: float, rng: np.random.Generator) -> np.ndarray:
    """Fractional Gaussian noise by circulant embedding (Davies-Harte): ACF ~ H(2H-1) k^(2H-2)."""
    k = np.arange(n + 1, dtype=np.float64)
    g = 0.5 * ((k + 1) ** (2 * hurst) - 2 * k ** (2 * hurst) + np.abs(k - 1) ** (2 * hurst))
    c = np.concatenate([g, g[-2:0:-1]])
    lam = np.clip(np.fft.fft(c).real, 0.0, None)
    w = rng.standard_normal(c.size) + 1j * rng.standard_normal(c.size)
    return np.fft.fft(np.sqrt(lam / c.size) * w).real[:n]


def market(r: np.ndarray, rng: np.random.Generator, *, step_ns: int = MIN, spread_ticks=1,
           mid0: float = 1e8, volume_coupling: float = 1.0):
    """Recorder-shaped trades and L1 columns whose mid follows ``exp(cumsum(r))`` on a clock grid.

    One L1 record per step (at its end); trades per step with volume = coupling·|r|/σ + noise, sides
    random. The spread is ``spread_ticks`` (an int, or an array per step).
    """
    n = r.size
    ts = (np.arange(1, n + 1) * step_ns).astype(np.int64)
    mid = mid0 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    spread = np.broadcast_to(np.asarray(spread_ticks), (n + 1,)).astype(np.int64)
    bid = np.floor(mid - spread / 2).astype(np.int64)
    l1 = {"ts_ns": np.concatenate([[0], ts]).astype(np.int64), "bid": bid, "bid_qty": np.full(n + 1, 5),
          "ask": bid + spread, "ask_qty": np.full(n + 1, 5)}
    lots = 10 * (volume_coupling * np.abs(r) / r.std() + rng.exponential(1.0, n))
    vol = np.maximum(1, np.round(lots)).astype(np.int64)
    trades = {"ts_ns": ts - step_ns // 2, "price_ticks": bid[1:], "qty_lots": vol,
              "side": rng.choice(np.array([1, 2]), n)}
    return trades, l1


def facts_of(r: np.ndarray, rng: np.random.Generator, **kw) -> FactsTable:
    trades, l1 = market(r, rng, **kw)
    return compute_facts(trades, l1, tick_size=1.0, start_ns=0, end_ns=int(l1["ts_ns"][-1]))


# --------------------------------------------------------------------------- building blocks

def test_acf_of_iid_gaussian_is_near_zero_and_ljung_box_does_not_reject():
    x = np.random.default_rng(1).standard_normal(20_000)
    rho = acf(x, 10)
    assert np.abs(rho).max() < 3 / math.sqrt(x.size)
    assert ljung_box(x, 10)[1] > 0.01
    assert abs(excess_kurtosis(x)) < 0.15


def test_acf_matches_the_direct_formula_and_detects_ar1():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(500)
    d = x - x.mean()
    direct = [float(np.dot(d[:-k], d[k:]) / np.dot(d, d)) for k in range(1, 6)]
    assert np.allclose(acf(x, 5), direct)
    ar = np.empty(20_000)
    ar[0] = 0.0
    e = rng.standard_normal(ar.size)
    for i in range(1, ar.size):
        ar[i] = 0.5 * ar[i - 1] + e[i]
    assert acf(ar, 1)[0] == pytest.approx(0.5, abs=0.03)
    assert ljung_box(ar, 10)[1] < 1e-6
    assert np.isnan(acf(np.ones(50), 3)).all()


def test_chi2_tail_against_known_values():
    # χ² quantiles: P(χ²_1 > 3.841) = 0.05, P(χ²_10 > 18.307) = 0.05, P(χ²_2 > x) = exp(-x/2)
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-6)
    assert chi2_sf(18.307038053275146, 10) == pytest.approx(0.05, rel=1e-6)
    assert chi2_sf(7.0, 2) == pytest.approx(math.exp(-3.5), rel=1e-9)
    assert chi2_sf(0.5, 10) == pytest.approx(1.0 - 7.0e-6, abs=1e-6)


def test_hill_recovers_student_t3_tail_index():
    rng = np.random.default_rng(3)
    t3 = rng.standard_t(3, 20_000)
    alpha, k_lo, k_hi = hill_alpha_range(np.abs(t3))
    assert (k_lo, k_hi) == (500, 1000)
    # The Hill estimator of a t(3) sits slightly below 3 at k = 2.5-5% (its second-order bias).
    assert 2.5 < alpha < 3.4
    gauss = hill_alpha_range(np.abs(rng.standard_normal(20_000)))[0]
    assert gauss > 5.0                      # thin tails fail the 2 < α < 5 band
    pareto = rng.pareto(2.0, 20_000) + 1.0  # exact Pareto: Hill is unbiased
    assert hill_alpha(pareto, 1000) == pytest.approx(2.0, rel=0.1)
    assert math.isnan(hill_alpha_range(np.abs(t3[:300]))[0])   # fewer than 10 order statistics
    assert math.isnan(hill_alpha_range(np.zeros(1000))[0])     # no resolved tail


def test_garch_clusters_and_iid_does_not():
    rng = np.random.default_rng(4)
    g = garch(20_000, rng, omega=0.01, a=0.09, b=0.90)   # persistence 0.99: clustering over ~100 lags
    x = rng.standard_normal(20_000)
    rg, rx = acf(np.abs(g), 100), acf(np.abs(x), 100)
    assert leading_significant_lags(rg, g.size) >= 30
    assert leading_significant_lags(rx, x.size) <= 1
    assert fit_decay(rg, g.size).ok
    assert not fit_decay(rx, x.size).ok
    assert excess_kurtosis(g) > 1.0


def test_log_bins_cover_every_lag_once():
    for m in (1, 7, 100, 1000):
        bins = log_bins(m)
        covered = [k for lo, hi in bins for k in range(lo, hi + 1)]
        assert covered == list(range(1, m + 1))


def test_fit_decay_recovers_an_exact_power_law():
    k = np.arange(1, 1001, dtype=np.float64)
    fit = fit_decay(0.3 * k**-0.35, 10**9)
    assert fit.exponent == pytest.approx(0.35, abs=0.005)   # bin means vs bin centres: tiny curvature bias
    assert fit.lag_hi == 1000
    short = fit_decay(0.3 * 0.5 ** (k - 1), 10_000)        # in the noise (< 2/√n = 0.02) by lag 5
    assert not short.ok and short.lag_hi < 10 and "reaching lag 10" in short.describe()


@pytest.mark.parametrize("hurst", [0.75, 0.65])
def test_sign_memory_of_fractional_gaussian_signs(hurst):
    # sign(fGn) has ACF (2/π)·arcsin(ρ_fGn) ~ k^-(2-2H); finite samples read it a little steeper.
    gamma = 2 - 2 * hurst
    est = [fit_decay(acf(np.sign(fgn(100_000, hurst, np.random.default_rng(s))), 1000), 100_000).exponent
           for s in range(3)]
    assert float(np.median(est)) == pytest.approx(gamma, abs=0.12)


def test_sign_memory_of_lillo_mike_farmer_runs():
    # Runs with tail α = 1.5 give γ = 0.5. Infinite-variance run lengths make a finite sample miss its
    # longest runs, so the estimate is biased upward (≈ 0.6 at 2e5 signs over 12 seeds); iid signs have
    # no memory to fit at all.
    est = [fit_decay(acf(lmf_signs(1.5, 200_000, np.random.default_rng(s)), 1000), 200_000).exponent
           for s in range(5)]
    assert 0.4 < float(np.median(est)) < 0.8
    iid = np.random.default_rng(9).choice([-1.0, 1.0], 200_000)
    assert not fit_decay(acf(iid, 1000), iid.size).ok


def test_order_signs_merge_fills_of_one_market_order():
    trades = {"ts_ns": np.array([1, 1, 1, 2, 3, 3]), "side": np.array([1, 1, 1, 2, 2, 1]),
              "price_ticks": np.ones(6, np.int64), "qty_lots": np.ones(6, np.int64)}
    assert order_signs(trades).tolist() == [1.0, -1.0, -1.0, 1.0]
    with pytest.raises(FactsInputError, match="side must be 1"):
        order_signs({**trades, "side": np.array([1, 1, 0, 2, 2, 1])})


def test_weighted_statistics():
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 10.0]), 0.5) == 3.0
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([10.0, 1.0, 1.0]), 0.5) == 1.0
    assert skewness(np.array([1.0, 1.0, 1.0, 5.0])) > 0
    assert skewness(np.array([2.0, 2.0, 2.0])) == 0.0
    assert skewness(np.array([1.0, 1.0, 5.0]), np.array([3.0, 3.0, 1.0])) > 0


# --------------------------------------------------------------------------- sampling

def test_grid_returns_use_previous_tick_and_skip_one_sided_books():
    l1 = {"ts_ns": np.array([0, 30, 90, 150, 200]), "bid": np.array([99, 109, 0, 99, 99]),
          "ask": np.array([101, 111, 112, 101, 101]), "bid_qty": np.ones(5), "ask_qty": np.ones(5)}
    trades = {"ts_ns": np.array([10, 60, 61, 200]), "qty_lots": np.array([1, 2, 3, 4]),
              "price_ticks": np.ones(4), "side": np.ones(4)}
    g = grid_returns(trades, l1, 0, 240, 60)
    # grid 0, 60, 120, 180, 240 → mids 100, 110, NaN (one-sided from 90), 100, 100
    assert g.interval.tolist() == [0, 3]
    assert g.r.tolist() == pytest.approx([math.log(110 / 100), 0.0])
    assert g.undefined == 2
    assert g.volume.tolist() == [3.0, 3.0, 0.0, 4.0]   # (0,60], (60,120], (120,180], (180,240]
    spreads, dur = spread_samples(l1, 0, 240)
    assert spreads.tolist() == [2.0, 2.0, 2.0, 2.0] and dur.tolist() == [30.0, 60.0, 50.0, 40.0]


# --------------------------------------------------------------------------- compute_facts end to end

def test_iid_gaussian_market_passes_linear_acf_and_fails_fat_tail_and_clustering_rows():
    rng = np.random.default_rng(10)
    t = facts_of(1e-3 * rng.standard_normal(3000), rng)
    assert t.row("acf_lag1").passed is True
    assert t.row("acf_mean_abs_2_10").passed is True
    assert abs(t.row("excess_kurtosis", "1m").value) < 0.5
    assert t.row("excess_kurtosis", "1m").passed is False
    assert t.row("hill_alpha").passed is False
    assert t.row("abs_acf_leading_lags").passed is False
    # enough data but nothing above the noise floor to fit: the effect is absent, which is a fail
    assert t.row("abs_acf_beta").value is None and t.row("abs_acf_beta").passed is False
    assert t.row("sign_gamma").value is None and t.row("sign_gamma").passed is False   # iid order signs
    assert t.row("volume_volatility").passed is True       # the generator couples volume to |r|
    assert t.row("spread_median_ticks").value == 1.0
    assert t.row("spread_skew").passed is False             # constant spread: no right tail
    assert t.row("leverage").passed is None and t.row("leverage").band is None
    assert not t.all_passed


def test_garch_market_clusters_and_has_fat_tails():
    rng = np.random.default_rng(11)
    r = 1e-3 * garch(6000, rng, omega=0.02, a=0.12, b=0.87)
    spread = 1 + rng.geometric(0.7, r.size + 1) - 1
    t = facts_of(r, rng, spread_ticks=spread)
    assert t.row("abs_acf_leading_lags").passed is True
    assert t.row("abs_acf_beta").value is not None
    assert t.row("excess_kurtosis", "1m").passed is True
    assert t.row("kurtosis_decreasing").value == 1.0
    assert t.row("acf_mean_abs_2_10").passed is True
    assert t.row("spread_skew").passed is True and t.row("spread_median_ticks").passed is True
    # Every verdict is a plain bool or None, so the summary's counts add up (a numpy.bool_ once did not).
    assert all(type(r.passed) in (bool, type(None)) for r in t.rows)
    s = t.summary()
    assert s["passed"] + s["failed"] + s["undecided"] == s["banded"]


def test_autocorrelated_market_fails_the_linear_acf_band_like_abides():
    rng = np.random.default_rng(12)
    e = 1e-3 * rng.standard_normal(3000)
    r = e.copy()
    for i in range(1, r.size):
        r[i] = 0.25 * r[i - 1] + e[i]
    t = facts_of(r, rng)
    assert t.row("acf_lag1").value == pytest.approx(0.25, abs=0.05)
    assert t.row("acf_lag1").passed is False
    assert t.row("ljung_box_p").value < 1e-6


def test_too_little_data_is_undecided_never_a_pass():
    rng = np.random.default_rng(13)
    t = facts_of(1e-3 * rng.standard_normal(200), rng)
    for name in ("acf_lag1", "acf_mean_abs_2_10", "hill_alpha", "abs_acf_leading_lags", "abs_acf_beta",
                 "sign_gamma"):
        row = t.row(name)
        assert row.passed is None, name
        assert "too little data" in row.note, name
    assert t.summary()["undecided"] >= 6
    assert not t.all_passed


def test_empty_run_gives_an_undecided_table():
    empty_t = {"ts_ns": np.zeros(0, np.int64), "price_ticks": np.zeros(0), "qty_lots": np.zeros(0),
               "side": np.zeros(0)}
    empty_l1 = {k: np.zeros(0, np.int64) for k in ("ts_ns", "bid", "bid_qty", "ask", "ask_qty")}
    t = compute_facts(empty_t, empty_l1, tick_size=1, start_ns=0, end_ns=3600 * 10**9)
    assert all(r.passed is None for r in t.rows)
    json.dumps(t.to_dict())


def test_invalid_inputs_are_rejected_with_the_field_named():
    rng = np.random.default_rng(14)
    trades, l1 = market(1e-3 * rng.standard_normal(100), rng)
    with pytest.raises(FactsInputError, match="'ask_qty' is missing"):
        compute_facts(trades, {k: v for k, v in l1.items() if k != "ask_qty"}, tick_size=1, start_ns=0,
                      end_ns=10)
    with pytest.raises(FactsInputError, match="non-decreasing"):
        compute_facts(trades, {**l1, "ts_ns": l1["ts_ns"][::-1].copy()}, tick_size=1, start_ns=0, end_ns=10)
    with pytest.raises(FactsInputError, match="tick_size"):
        compute_facts(trades, l1, tick_size=0, start_ns=0, end_ns=10)
    with pytest.raises(FactsInputError, match="end_ns"):
        compute_facts(trades, l1, tick_size=1, start_ns=10, end_ns=10)
    with pytest.raises(FactsInputError, match="different lengths"):
        compute_facts({**trades, "side": trades["side"][:-1]}, l1, tick_size=1, start_ns=0, end_ns=10)


def test_table_serialises_and_renders():
    rng = np.random.default_rng(15)
    t = facts_of(1e-3 * garch(1000, rng), rng)
    d = t.to_dict()
    text = json.dumps(d, sort_keys=True, allow_nan=False)
    back = FactsTable.from_dict(json.loads(text))
    assert [r.to_dict() for r in back.rows] == d["rows"]
    md = t.to_markdown()
    assert md.count("\n") == len(t.rows) + 2
    assert "| hill_alpha | 1m |" in md and ("PASS" in md or "FAIL" in md)


def test_aggregate_over_seeds_median_ci_and_pass_fraction():
    tables = []
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        tables.append(facts_of(1e-3 * garch(1500, rng), rng))
    agg = aggregate_facts(tables)
    row = agg.row("excess_kurtosis", "1m")
    vals = [t.row("excess_kurtosis", "1m").value for t in tables]
    assert row.value == pytest.approx(float(np.median(vals)))
    assert row.ci[0] <= row.value <= row.ci[1]
    assert row.n_seeds == 5
    passes = [t.row("excess_kurtosis", "1m").passed for t in tables]
    assert row.pass_fraction == pytest.approx(sum(passes) / len(passes))
    assert aggregate_facts(tables).to_dict() == agg.to_dict()       # deterministic bootstrap
    assert "seeds passing" in agg.to_markdown()
    with pytest.raises(ValueError):
        aggregate_facts([])


def test_aggregate_never_counts_undecided_as_passing():
    rng = np.random.default_rng(16)
    short = facts_of(1e-3 * rng.standard_normal(100), rng)
    agg = aggregate_facts([short, short])
    hill = agg.row("hill_alpha")
    assert hill.passed is None and hill.pass_fraction is None and hill.n_seeds == 0
    rng = np.random.default_rng(17)
    iid = facts_of(1e-3 * rng.standard_normal(1000), rng)     # enough data, no sign memory: fails
    agg = aggregate_facts([iid, iid, short])
    sign = agg.row("sign_gamma")
    assert sign.value is None and sign.n_decided == 2 and sign.pass_fraction == 0.0 and sign.passed is False


def test_bands_follow_the_reference_doc():
    assert B.ABS_ACF_BETA == (0.1, 0.6)
    assert B.HILL_ALPHA == (2.0, 5.0)
    assert B.SIGN_GAMMA == (0.3, 0.8)
    assert B.VOLUME_VOLATILITY[0] == 0.3
    assert B.ABS_ACF_LEADING_LAGS[0] == 30
    assert B.in_band(0.05, B.ACF_MEAN_ABS_BEYOND_LAG1) is True
    assert B.in_band(None, B.HILL_ALPHA) is None
