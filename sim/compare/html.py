"""``compare.json``, ``compare.html`` and the comparison PNGs of ``bdax sim compare``."""
from __future__ import annotations

import html
import math
from pathlib import Path

from sim.compare import plots as P
from sim.compare.compare import FILES, HEADLINE
from sim.compare.literature import MIN_COVERAGE, TOLERANCE_SQRT, TOLERANCE_ZI_PP
from sim.compare.report import fmt, page, table
from sim.compare.stats import fmt_ci
from sim.report import _write_text, dump_json

__all__ = ["write_compare_outputs"]


def _verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "<span class='ok'>agrees</span>" if ok else "<span class='bad'>disagrees</span>"


def write_compare_outputs(out: Path, doc: dict, results: list[dict]) -> Path:
    """Write the JSON, the plots and the page; return the page's path."""
    _write_text(out / FILES["json"], dump_json(doc))
    labels = doc["labels"]
    curves = {lab: [(c["size_quote"], c["median"], c["lo"], c["hi"]) for c in doc["slippage_curves"][lab]]
              for lab in labels}
    P.plot_slippage_curves(out / FILES["slippage"], curves)
    per_seed = {lab: [r["summary"].get("headline", {}).get("spread_bps") for r in results if r["label"] == lab]
                for lab in labels}
    P.plot_spread_by_model(out / FILES["spread"], per_seed, "quoted spread (bps)", "home quoted spread by seed")
    per_seed = {lab: [r["summary"].get("headline", {}).get("depth_100") for r in results if r["label"] == lab]
                for lab in labels}
    P.plot_spread_by_model(out / FILES["depth"], per_seed, "depth within ±100 bps (quote)",
                           "home depth within 100 bps by seed")
    names = dict(HEADLINE)
    body = [f"<p>{len(doc['seeds'])} seeds per scenario; figures are the median over seeds with a 95% "
            "percentile-bootstrap CI of the median; paired columns compare each scenario with the baseline "
            f"<b>{html.escape(doc['baseline'])}</b> on the same seeds.</p>", "<h2>Headline</h2>"]
    header = ["metric"] + labels + [f"{lab} ÷ {doc['baseline']}" for lab in labels[1:]]
    rows = []
    for m in doc["metrics"]:
        name = names.get(m) or f"slippage, {float(m[5:]):,.0f} quote market order (bps)"
        row = [html.escape(name)] + [fmt_ci(doc["headline"][lab][m]) for lab in labels]
        row += [fmt_ci(doc["paired_vs_baseline"][lab][m]["ratio"]) for lab in labels[1:]]
        rows.append(row)
    body.append(table(header, rows))
    body.append(f"<img src='{FILES['slippage']}' alt='slippage curves'>")
    body.append(f"<img src='{FILES['spread']}' alt='spread by seed'> <img src='{FILES['depth']}' alt='depth by seed'>")
    body += _literature(doc)
    body.append("<h2>Stylized-facts guard</h2><p>Each scenario's home market against the calm-regime bands "
                "(reference §2.3): a model should not look better by breaking the market.</p>")
    if doc["facts"]:
        body.append(table(["scenario", "bands passed (median over seeds)", "bands decided", "bands"],
                          [[lab, f["passed"], f["decided"], f["bands"]] for lab, f in doc["facts"].items()]))
    else:
        body.append("<p>n/a</p>")
    body.append("<h2>Runs</h2>" + table(["scenario", "seed", "run directory"],
                                       [[r["label"], r["seed"], html.escape(r["run_dir"])] for r in doc["runs"]]))
    path = out / FILES["html"]
    _write_text(path, page("bdax sim compare: " + " vs ".join(labels), body))
    return path


def _literature(doc: dict) -> list[str]:
    lit = doc["literature"]
    out = ["<h2>Literature checks</h2>", "<h3>Square-root law</h3>"]
    sq = lit.get("sqrt_law") or {}
    rows = []
    for model, f in (sq.get("fits") or {}).items():
        rows.append([model, fmt_ci(f["delta"]), fmt_ci(f["r2"]), _verdict(f["agree_sqrt"] if f["delta"]["n"] else None)])
    out.append("<p>Slippage ∝ Q<sup>δ</sup> fitted per seed on the static slippage curve (sizes the recorded "
               f"book filled in ≥ {MIN_COVERAGE:.0%} of snapshots); agrees with √Q when 0.5 is within the CI "
               "± 0.1.</p>")
    out.append(table(["model", "δ", "R²", "δ ≈ 0.5"], rows))
    pool = sq.get("pooling") or {}
    if pool.get("available"):
        out.append(f"<p>Pooling prediction: impact_pooled ≈ impact_isolated × √s with s = home share of volume "
                   f"= {fmt_ci(sq['home_share'], 3)}: predicted ratio <b>{pool['predicted_ratio']:.3f}</b>; "
                   f"measured (paired pooled ÷ isolated at {pool['size_quote']:,.0f} quote) "
                   f"<b>{fmt_ci(pool['measured_ratio'], 3)}</b>: {_verdict(pool['agree'])} (tolerance: the "
                   f"prediction within the CI widened ×/÷ {TOLERANCE_SQRT}, because the law fixes a scaling, "
                   "not its prefactor).</p>")
        out.append(table(["size (quote)", "pooled ÷ isolated"],
                         [[r["size_quote"], fmt_ci(r["ratio"], 3)] for r in pool["by_size"]]))
    else:
        out.append(f"<p>Pooling prediction: n/a ({html.escape(str(pool.get('why', '')))})</p>")
    out.append("<p class='note'>Limit: the simulator's market makers anchor on an exogenous fundamental, so flow "
               "moves prices little; slippage here measures the depth of the books (a static walk), not the "
               "permanent impact of meta-orders that the square-root law is about.</p>")
    out.append("<h3>Zero-intelligence spread (Farmer, Patelli &amp; Zovko 2005)</h3>")
    zi = lit.get("zi_spread") or {}
    if zi.get("available") is False:
        out.append(f"<p>n/a ({html.escape(str(zi.get('why')))})</p>")
        return out
    p, k = zi["params"], zi["k"]
    out.append(f"<p>ŝ = (μ/α)(0.28 + 1.86 ε<sup>3/4</sup>), ε = δσ/μ. From the ZI group of scenario zi-pool "
               f"(per side): α = {p['alpha']:.4g} lots/tick/s, μ = {p['mu']:.4g} lots/s, δ = {p['delta']:.4g}/s, "
               f"σ = {p['sigma']:.4g} lots, ε = {p['eps']:.3g}. Pooling k = {k} venues: ε → ε/k, μ/α unchanged.</p>")
    out.append(table(["", "predicted", "measured (mean spread, ticks)"],
                     [["one venue", zi["predicted_spread_ticks"]["1"], fmt_ci(zi["measured_spread_ticks"]["1"])],
                      [f"{k} venues pooled", zi["predicted_spread_ticks"][str(k)],
                       fmt_ci(zi["measured_spread_ticks"][str(k)])],
                      ["spread cut", f"{zi['predicted_cut']:.1%}",
                       "n/a" if not zi["measured_cut"]["n"] else
                       f"{zi['measured_cut']['median']:.1%} [{zi['measured_cut']['lo']:.1%}, {zi['measured_cut']['hi']:.1%}]"]]))
    out.append(f"<p>Verdict on the cut: {_verdict(zi['agree'])} (tolerance ± {TOLERANCE_ZI_PP:.0f} percentage points "
               "around the measured CI; the absolute spread is shown for context: the formula was fitted up to a "
               "constant on real data).</p>")
    return out


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)
