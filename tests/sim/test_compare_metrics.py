"""sim.compare metrics, statistics and literature formulas on inputs with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.compare import literature as L
from sim.compare import metrics as M
from sim.compare.stats import paired, summarize

NS = 1_000_000_000


def l1(rows):
    cols = list(zip(*rows))
    return {k: np.array(v, dtype=np.int64) for k, v in zip(("ts_ns", "bid", "bid_qty", "ask", "ask_qty"), cols)}


def test_quoted_spread_is_time_weighted_and_skips_one_sided_time():
    # 0-10 s: 99/101 (200 bps of 100), 10-30 s: 98/102 (400 bps), 30-40 s: one-sided
    book = l1([(0, 99, 1, 101, 1), (10 * NS, 98, 1, 102, 1), (30 * NS, 0, 0, 102, 1)])
    s = M.quoted_spread(book, 0, 40 * NS)
    assert s["mean_bps"] == pytest.approx((200 * 10 + 400 * 20) / 30)
    assert s["mean_ticks"] == pytest.approx((2 * 10 + 4 * 20) / 30)
    assert s["median_ticks"] == 4
    assert s["two_sided"] == pytest.approx(0.75)
    empty = M.quoted_spread(l1([(0, 0, 0, 0, 0)]), 0, NS)
    assert math.isnan(empty["mean_bps"]) and empty["two_sided"] == 0
    with pytest.raises(M.MetricsError):
        M.quoted_spread(book, 5, 5)


def _l2(bids, asks, n=3):
    levels = max(len(bids), len(asks))
    def arr(side, i):
        a = np.zeros((n, levels), dtype=np.int64)
        for j, lv in enumerate(side):
            a[:, j] = lv[i]
        return a
    return {"ts_ns": np.arange(n, dtype=np.int64) * NS, "bid_px": arr(bids, 0), "bid_qty": arr(bids, 1),
            "ask_px": arr(asks, 0), "ask_qty": arr(asks, 1)}


def test_depth_within_counts_levels_inside_each_band_in_quote_value():
    # mid 10_000 ticks; 10 bps = 10 ticks. Levels at 5, 20, 80 ticks from mid on each side.
    book = _l2([(9995, 1), (9980, 2), (9920, 4)], [(10005, 1), (10020, 2), (10080, 4)])
    d = M.depth_within(book, 0, 3 * NS, price_unit=0.5, lot_size=0.1)
    assert d["bid"]["10"] == pytest.approx(9995 * 1 * 0.05)
    assert d["ask"]["50"] == pytest.approx((10005 + 10020 * 2) * 0.05)
    assert d["total"]["100"] == pytest.approx((9995 + 9980 * 2 + 9920 * 4 + 10005 + 10020 * 2 + 10080 * 4) * 0.05)
    assert d["truncated"]["100"] == 1.0 and d["truncated"]["10"] == 0.0
    assert d["n"] == 3


def test_static_slippage_walks_the_book():
    book = _l2([(99, 10), (98, 10)], [(101, 10), (102, 10)])      # mid 100
    rows = M.static_slippage(book, 0, 3 * NS, [5, 20, 25])
    assert rows[0]["buy_bps"] == pytest.approx(100.0) and rows[0]["sell_bps"] == pytest.approx(100.0)
    assert rows[1]["bps"] == pytest.approx(150.0)               # VWAP 101.5
    assert rows[2]["coverage"] == 0 and math.isnan(rows[2]["bps"])


def _ex(rows):
    names = ("ts_ns", "side", "qty_lots", "filled_lots", "quote_amount", "mid_x2", "routed_lots", "market")
    return {k: np.array(v, dtype=np.int64) for k, v in zip(names, zip(*rows))}


def test_effective_and_realised_slippage_from_executions():
    q = 10      # quote units per tick x lot
    ex = _ex([(1, 1, 10, 10, 10 * 101 * q, 200, 0, 1),      # buy 10 @101 vs mid 100: +100 bps
              (2, 2, 100, 100, 100 * 98 * q, 200, 0, 1),    # sell 100 @98: +200 bps cost
              (3, 1, 100, 0, 0, 200, 0, 1),                  # no fill: ignored
              (4, 1, 10, 10, 10 * 100 * q, 0, 0, 0)])        # no mid: ignored
    eff = M.effective_spread(ex, q, 0, 10)
    assert eff["n"] == 2
    assert eff["mean_bps"] == pytest.approx((200 * 10 + 400 * 100) / 110)
    rs = M.realised_slippage(ex, q, [1, 50, 500], 0, 10)
    assert [r["n"] for r in rs] == [1, 1]
    assert rs[0]["mean_bps"] == pytest.approx(100) and rs[1]["mean_bps"] == pytest.approx(200)
    with pytest.raises(M.MetricsError):
        M.realised_slippage(ex, q, [5], 0, 10)


def test_dispersion_and_half_life_of_a_known_ar1():
    rng = np.random.default_rng(3)
    phi, n = 0.8, 20_000
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + 1e-4 * rng.standard_normal()
    h = M.half_life(x)
    assert h["phi"] == pytest.approx(phi, abs=0.02)
    assert h["half_life_s"] == pytest.approx(math.log(2) / -math.log(phi), rel=0.1)
    assert M.half_life(1.05 ** np.arange(50))["half_life_s"] == math.inf     # explosive: no reversion
    d = M.dispersion(np.array([1e-4, -2e-4, 3e-4, np.nan]), fees_bps=2.5)
    assert d["p50_bps"] == pytest.approx(2.0) and d["max_bps"] == pytest.approx(3.0)
    assert d["above_fees"] == pytest.approx(1 / 3) and d["n"] == 3


def test_first_passage_episodes():
    bps = np.array([0, 60, 40, 10, 0, 70, 55, 20, 0, 80, 80]) / 1e4
    fp = M.first_passage(bps, k_bps=50, fees_bps=20)
    assert fp["closed"] == 2 and fp["unclosed"] == 1
    assert fp["median_s"] == pytest.approx(2.0)    # 1 -> 3 and 5 -> 7
    with pytest.raises(M.MetricsError):
        M.first_passage(bps, k_bps=10, fees_bps=20)


def test_resilience_peak_and_recovery():
    rows = [(t * NS, 99, 1, 101, 1) for t in range(0, 100)]
    rows[50] = (50 * NS, 90, 1, 110, 1)          # 2000 bps at t = 50 s
    rows[51] = (51 * NS, 95, 1, 105, 1)          # 1000 bps
    book = l1(rows)
    r = M.resilience(book, _l2([(99, 1)], [(101, 1)], 100), 50 * NS, 100 * NS, price_unit=1.0, lot_size=1.0,
                     pre_ns=30 * NS)
    assert r["calm_spread_bps"] == pytest.approx(200)
    assert r["peak_spread_bps"] == pytest.approx(2000)
    assert r["recover_s"] == pytest.approx(2.0)


def test_bootstrap_ci_covers_the_median_and_is_deterministic():
    rng = np.random.default_rng(0)
    vals = list(rng.normal(5.0, 1.0, 40))
    s = summarize(vals)
    assert s["lo"] <= 5.0 <= s["hi"] and s["n"] == 40
    assert summarize(vals) == s
    assert summarize([None, float("nan")])["n"] == 0
    p = paired({1: 1.0, 2: 2.0, 3: 4.0}, {1: 2.0, 2: 4.0, 3: 8.0, 4: 1.0}, ratio=True)
    assert p["median"] == 2.0 and p["lo"] == 2.0 and p["n"] == 3


def test_power_fit_and_zi_formula_match_the_reference_table():
    q = np.geomspace(1, 1000, 10)
    f = L.fit_power(q, 3 * q ** 0.5)
    assert f["delta"] == pytest.approx(0.5) and f["r2"] == pytest.approx(1.0)
    # reference §4.4: predicted cut 7% (ε=0.01,k=2), 22% (0.1,2), 48% (0.1,20), 78% (1,20)
    for eps, k, cut in ((0.01, 2, 0.07), (0.1, 2, 0.22), (0.1, 20, 0.48), (1, 20, 0.78)):
        assert 1 - L.zi_f(eps / k) / L.zi_f(eps) == pytest.approx(cut, abs=0.005)
    p = L.zi_params(limit_rate=2.0, market_rate=0.2, cancel_rate=0.01, size_lots=1, width_steps=400)
    assert p["eps"] == pytest.approx(0.1) and p["mu"] / p["alpha"] == pytest.approx(40)


def test_sqrt_law_check_agrees_on_a_sqrt_world_and_disagrees_otherwise():
    sizes = list(np.geomspace(100, 1e5, 8))
    def curve(scale):
        return [{"size_quote": q, "size_lots": q, "bps": scale * math.sqrt(q), "coverage": 1.0} for q in sizes]
    s = 0.25
    good = {"isolated": {i: curve(1.0 + 0.01 * i) for i in range(5)},
            "pooled": {i: curve((1.0 + 0.01 * i) * math.sqrt(s)) for i in range(5)}}
    out = L.sqrt_law_check(good, {i: s for i in range(5)})
    assert out["fits"]["isolated"]["agree_sqrt"] and out["pooling"]["agree"]
    bad = {"isolated": good["isolated"], "pooled": {i: curve(1.0 + 0.01 * i) for i in range(5)}}
    s_small = 0.01                   # predicts a 10x cut; measured: none
    assert not L.sqrt_law_check(bad, {i: s_small for i in range(5)})["pooling"]["agree"]
    assert not L.sqrt_law_check({"isolated": good["isolated"]}, {})["pooling"]["available"]


def test_zi_check_verdicts():
    p = L.zi_params(2.0, 0.2, 0.01, 1, 400)
    pred = L.zi_prediction(p, 4) / L.zi_prediction(p, 1)
    single = {s: 24.0 + s * 0.1 for s in range(6)}
    agree = L.zi_check(p, 4, single, {s: v * pred for s, v in single.items()})
    assert agree["agree"] and agree["predicted_cut"] == pytest.approx(0.35, abs=0.01)
    assert not L.zi_check(p, 4, single, dict(single))["agree"]


def test_effective_spread_is_signed_so_price_improvement_lowers_it():
    q = 10
    # A buy filled below the arrival mid (routed to a cheaper partner) improves on the mid: -100 bps.
    ex = _ex([(1, 1, 10, 10, 10 * 99 * q, 200, 10, 1), (2, 2, 10, 10, 10 * 99 * q, 200, 0, 1)])
    eff = M.effective_spread(ex, q, 0, 10)
    assert eff["mean_bps"] == pytest.approx((-200 * 10 + 200 * 10) / 20)


def test_quoted_spread_reports_the_share_of_time_the_book_is_crossed():
    book = l1([(0, 99, 1, 101, 1), (10 * NS, 101, 1, 100, 1), (20 * NS, 100, 1, 100, 1)])
    s = M.quoted_spread(book, 0, 40 * NS)
    assert s["crossed"] == pytest.approx(30 / 40)
    assert s["mean_bps"] == pytest.approx((200 * 10 - 1 / 100.5 * 1e4 * 10) / 40)
