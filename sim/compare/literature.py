"""Literature checks of ``bdax sim compare``: does the simulator agree with two published predictions?

1. **Square-root law and pooling** (reference §4.4): slippage(Q) ∝ Q^δ with δ ≈ 0.5; a venue whose volume
   is a share s of the pooled market should see its impact scale by √s once the books are pooled:
   impact_pooled ≈ impact_isolated × √s. Measured: δ from a least-squares fit of log slippage on log Q over
   the static slippage curve (sizes the recorded books could fill), per seed, median [CI] over seeds; the
   pooling ratio as the paired (same seed) ratio pooled / isolated of static slippage at each size.
   *Agreement*: the prediction √s lies inside the measured ratio's CI widened by a factor ``TOLERANCE_SQRT``
   (1.5) on each side. Why that wide: the square-root law is a scaling law whose prefactor varies by market
   (Tóth et al. 2011 report Y ≈ 0.5–1.5), and what is measured here is a *static* book walk, not the
   concave impact of a meta-order; a factor of 1.5 separates "scales like √s" from "does not" (e.g. no
   change, ratio 1, for s < 0.44).
   *Limit*: the simulator's market makers anchor on an exogenous fundamental, so prices are mostly not
   moved by flow; the books' depth, not permanent impact, sets slippage, and that is what this check can
   speak to.

2. **Zero-intelligence spread** (Farmer, Patelli & Zovko 2005): ŝ = (μ/α)·f(ε), f(ε) = 0.28 + 1.86 ε^{3/4},
   ε = δσ/μ. Pooling k identical venues multiplies α and μ by k and leaves δ, σ: μ/α is unchanged and
   ε → ε/k, so the predicted spread cut is 1 − f(ε/k)/f(ε). Parameter mapping from ``sim.agents.zi`` (its
   rates are for the whole group, both sides together; the model's are per side):
   α = (limit_rate / 2) · size_lots / width_steps  (lots per tick per second: limit orders land uniformly
   on 1..width_steps ticks from the opposite best), μ = (market_rate / 2) · size_lots (lots per second),
   δ = cancel_rate (per resting order, hence per lot, per second), σ = size_lots; spreads in ticks.
   Measured: the time-weighted mean spread in ticks of pure-ZI runs (scenario ``zi-pool``) with k = 1 and
   with every rate × k (one book holding k venues' flows: what a pooled book with global price-time
   priority is), paired by seed. *Agreement*: the predicted cut lies in the measured cut's CI ± 10
   percentage points; the absolute spread is reported beside it (Farmer et al.'s fit on LSE stocks was
   log s = 0.99 log ŝ + B, i.e. right up to a constant factor, which is why the check is on the *cut*).
   *Limit*: prices here are discrete (the formula is for continuous prices); the scenario puts ŝ at ~24
   ticks so the tick matters little; limit orders are placed within ``width_steps`` of the opposite best,
   not over an unbounded range.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sim.compare.stats import paired, summarize

__all__ = ["fit_power", "sqrt_law_check", "zi_f", "zi_prediction", "zi_params", "zi_check", "TOLERANCE_SQRT",
           "TOLERANCE_ZI_PP", "MIN_COVERAGE"]

TOLERANCE_SQRT = 1.5
TOLERANCE_ZI_PP = 10.0
MIN_COVERAGE = 0.9


def fit_power(q: Sequence[float], y: Sequence[float]) -> dict:
    """Least squares log y = δ log q + c over the points with q, y > 0: ``{"delta", "c", "r2", "n"}``
    (NaN with fewer than 3 points)."""
    q, y = np.asarray(q, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(q) & np.isfinite(y) & (q > 0) & (y > 0)
    if ok.sum() < 3:
        return {"delta": math.nan, "c": math.nan, "r2": math.nan, "n": int(ok.sum())}
    lx, ly = np.log(q[ok]), np.log(y[ok])
    delta, c = np.polyfit(lx, ly, 1)
    resid = ly - (delta * lx + c)
    ss = ((ly - ly.mean()) ** 2).sum()
    return {"delta": float(delta), "c": float(c), "r2": float(1 - (resid ** 2).sum() / ss) if ss > 0 else math.nan,
            "n": int(ok.sum())}


def _curve_points(curve: list[dict]) -> tuple[list[float], list[float]]:
    q, y = [], []
    for row in curve:
        if row.get("coverage", 0) >= MIN_COVERAGE and row.get("bps") is not None and math.isfinite(row["bps"]):
            q.append(float(row.get("size_quote", row["size_lots"])))
            y.append(float(row["bps"]))
    return q, y


def sqrt_law_check(curves: dict[str, dict[int, list[dict]]], shares: dict[int, float | None], *,
                   isolated: str = "isolated", pooled: str = "pooled") -> dict:
    """The square-root check. ``curves[model][seed]`` = that run's static slippage rows (``size_quote``,
    ``bps``, ``coverage``); ``shares[seed]`` = s (home share of volume). Models are named as in
    ``curves`` (``isolated``/``pooled`` name the pair for the pooling prediction)."""
    out: dict = {"fits": {}, "tolerance_factor": TOLERANCE_SQRT}
    for model, by_seed in curves.items():
        per_seed = {seed: fit_power(*_curve_points(c)) for seed, c in by_seed.items()}
        deltas = [f["delta"] for f in per_seed.values()]
        r2 = [f["r2"] for f in per_seed.values()]
        d = summarize(deltas)
        out["fits"][model] = {"delta": d, "r2": summarize(r2),
                              "agree_sqrt": (d["n"] > 0 and d["lo"] - 0.1 <= 0.5 <= d["hi"] + 0.1)}
    s = summarize([v for v in shares.values() if v is not None])
    out["home_share"] = s
    if isolated not in curves or pooled not in curves or s["n"] == 0:
        out["pooling"] = {"available": False,
                          "why": "needs isolated and pooled runs on common seeds with volume_lots recorded"}
        return out
    predicted = math.sqrt(s["median"])
    by_size: list[dict] = []
    sizes = sorted({q for c in curves[isolated].values() for q in _curve_points(c)[0]})
    for q in sizes:
        a, b = {}, {}
        for seed in set(curves[isolated]) & set(curves[pooled]):
            qa, ya = _curve_points(curves[isolated][seed])
            qb, yb = _curve_points(curves[pooled][seed])
            if q in qa and q in qb:
                a[seed], b[seed] = ya[qa.index(q)], yb[qb.index(q)]
        r = paired(a, b, ratio=True)
        if r["n"]:
            by_size.append({"size_quote": q, "ratio": r})
    if not by_size:
        out["pooling"] = {"available": False, "predicted_ratio": predicted,
                          "why": "no size that both models' recorded books could fill"}
        return out
    mid = by_size[len(by_size) // 2]
    r = mid["ratio"]
    agree = r["lo"] / TOLERANCE_SQRT <= predicted <= r["hi"] * TOLERANCE_SQRT
    out["pooling"] = {"available": True, "predicted_ratio": predicted, "size_quote": mid["size_quote"],
                      "measured_ratio": r, "agree": bool(agree), "by_size": by_size}
    return out


def zi_f(eps: float) -> float:
    """Farmer et al.'s f(ε) = 0.28 + 1.86 ε^{3/4}."""
    return 0.28 + 1.86 * eps ** 0.75


def zi_params(limit_rate: float, market_rate: float, cancel_rate: float, size_lots: int, width_steps: int) -> dict:
    """Map the ZI agent group's parameters onto the model's (see the module docstring)."""
    if not (limit_rate > 0 and market_rate > 0 and cancel_rate >= 0 and size_lots > 0 and width_steps > 0):
        raise ValueError("ZI parameters must be positive (cancel_rate >= 0)")
    alpha = limit_rate / 2 * size_lots / width_steps
    mu = market_rate / 2 * size_lots
    return {"alpha": alpha, "mu": mu, "delta": cancel_rate, "sigma": float(size_lots),
            "eps": cancel_rate * size_lots / mu}


def zi_prediction(p: dict, k: int = 1) -> float:
    """Predicted spread in ticks for k pooled venues of parameters ``p`` (from :func:`zi_params`)."""
    return p["mu"] / p["alpha"] * zi_f(p["eps"] / k)


def zi_check(params: dict, k: int, single: dict[int, float], pooled: dict[int, float]) -> dict:
    """Compare the predicted spread cut from pooling k venues with the measured one. ``single``/``pooled``:
    per seed mean spread in ticks of the k = 1 and k-venue runs."""
    pred_1, pred_k = zi_prediction(params, 1), zi_prediction(params, k)
    cut_pred = 1 - pred_k / pred_1
    ratio = paired(single, pooled, ratio=True)
    cut = {"median": 1 - ratio["median"], "lo": 1 - ratio["hi"], "hi": 1 - ratio["lo"], "n": ratio["n"]}
    tol = TOLERANCE_ZI_PP / 100
    agree = ratio["n"] > 0 and cut["lo"] - tol <= cut_pred <= cut["hi"] + tol
    return {"params": params, "k": k, "predicted_spread_ticks": {"1": pred_1, str(k): pred_k},
            "measured_spread_ticks": {"1": summarize(list(single.values())), str(k): summarize(list(pooled.values()))},
            "predicted_cut": cut_pred, "measured_cut": cut, "tolerance_pp": TOLERANCE_ZI_PP, "agree": bool(agree)}
