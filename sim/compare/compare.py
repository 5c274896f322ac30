"""``bdax sim compare``: run several sharing models over the same seeds and compare them.

Every (scenario, seed) is one independent run in a worker process (the pattern of ``sim.sweep``: results
collected and sorted by (scenario, seed), so the report does not depend on which worker finished first).
Each worker runs the scenario, reads its run directory back (:mod:`sim.compare.load`) and returns the run's
figures (:func:`sim.compare.summary.run_summary`) and its stylized-facts table. The ZI spread check adds
pure zero-intelligence runs (scenario ``zi-pool`` alone and with every rate × k) on their own seeds.

Outputs in ``out_dir``: ``compare.json`` (everything, sorted keys), ``compare.html`` and PNGs
(``cmp_slippage.png``, ``cmp_spread.png``, ``cmp_depth.png``); each run's own directory below
``runs/``. Nothing written depends on wall-clock time; ``compare_timing.json`` holds the wall times.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from sim.compare import literature as L
from sim.compare.stats import fmt_ci, paired, summarize

__all__ = ["run_compare", "aggregate", "run_task", "ZI_SCENARIO", "HEADLINE", "CompareError"]

ZI_SCENARIO = "zi-pool"
HEADLINE = (("spread_bps", "quoted spread (bps)"), ("crossed_share", "book crossed (share of time)"),
            ("effective_spread_bps", "effective spread (bps)"),
            ("depth_10", "depth ±10 bps (quote)"), ("depth_50", "depth ±50 bps (quote)"),
            ("depth_100", "depth ±100 bps (quote)"), ("fill_ratio", "routed fill ratio"),
            ("trade_through_rate", "trade-through rate"), ("dispersion_p50_bps", "dispersion p50 (bps)"),
            ("half_life_s", "arbitrage half-life (s)"), ("exposure_quote", "exposure at default (quote)"))
FILES = {"json": "compare.json", "html": "compare.html", "timing": "compare_timing.json",
         "slippage": "cmp_slippage.png", "spread": "cmp_spread.png", "depth": "cmp_depth.png"}


class CompareError(ValueError):
    """Arguments ``bdax sim compare`` cannot run with; the message says which and how to fix it."""


def run_task(scenario_ref: str, overrides: list[str], seed: int, duration_ns: int | None, out_dir: str,
             label: str) -> dict:
    """One run in a worker: simulate, read back, summarise. Picklable in and out."""
    from sim.compare.load import load_run
    from sim.compare.summary import run_summary
    from sim.runner import run_scenario
    from sim.scenario import load_scenario

    scenario = load_scenario(scenario_ref, overrides)
    t0 = time.perf_counter()
    result = run_scenario(scenario, seed=seed, duration_ns=duration_ns,
                          out_dir=Path(out_dir) / "runs" / f"{label}-{seed}")
    summary = run_summary(load_run(result.run_dir))
    return {"label": label, "scenario": scenario.name, "seed": seed, "run_dir": str(result.run_dir),
            "summary": summary, "facts": result.facts.to_dict(), "wall_s": time.perf_counter() - t0}


def _zi_overrides(base: list[str], k: int, params: dict) -> list[str]:
    return base + [f"agents.zi.limit_rate={params['limit_rate'] * k!r}",
                   f"agents.zi.market_rate={params['market_rate'] * k!r}"]


def zi_group_params(overrides: list[str] | None = None) -> dict:
    """The ZI group's parameters of the ``zi-pool`` scenario (after ``overrides``)."""
    from sim.scenario import load_scenario
    sc = load_scenario(ZI_SCENARIO, overrides or [])
    g = next(g for g in sc.groups if g.kind == "zero_intelligence")
    p = dict(g.params)
    return {k: p[k] for k in ("limit_rate", "market_rate", "cancel_rate", "size_lots", "width_steps")}


def run_compare(scenarios: list[str], seeds: list[int], *, out_dir: Path | str, jobs: int | None = None,
                duration_ns: int | None = None, overrides: list[str] | None = None, zi_seeds: list[int] | None = None,
                zi_k: int = 4, log: Any = None) -> tuple[Path, dict]:
    """Run every scenario on every seed (and the ZI runs), write the report; return (html path, doc).

    Raises:
        CompareError: no scenario, no seed, or a scenario that does not load (named).
    """
    from sim.scenario import ScenarioError, load_scenario

    if not scenarios:
        raise CompareError("--scenarios is empty: name at least one scenario")
    if not seeds:
        raise CompareError("no seeds: give --seeds N (N >= 1)")
    if zi_k < 2:
        raise CompareError(f"--zi-k must be >= 2 (venues pooled), got {zi_k}")
    overrides = list(overrides or [])
    labels = []
    for ref in scenarios:
        try:
            labels.append(load_scenario(ref, overrides).name)
        except ScenarioError as exc:
            raise CompareError(f"scenario {ref!r}: {exc}") from None
    if len(set(labels)) != len(labels):
        raise CompareError(f"scenarios must be distinct, got {labels}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = log if log is not None else sys.stderr
    tasks = [(ref, overrides, s, duration_ns, str(out), lab) for ref, lab in zip(scenarios, labels) for s in seeds]
    zi_seeds = list(zi_seeds or [])
    zi_params = zi_group_params() if zi_seeds else {}
    for s in zi_seeds:
        tasks.append((ZI_SCENARIO, [], s, None, str(out), "zi-k1"))
        tasks.append((ZI_SCENARIO, _zi_overrides([], zi_k, zi_params), s, None, str(out), f"zi-k{zi_k}"))
    t0 = time.perf_counter()
    results = _map(tasks, jobs, log)
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: (r["label"], r["seed"]))
    doc = aggregate([r for r in results if not r["label"].startswith("zi-k")], labels)
    if zi_seeds:
        single = {r["seed"]: r["summary"].get("spread", {}).get("mean_ticks") for r in results if r["label"] == "zi-k1"}
        pooled = {r["seed"]: r["summary"].get("spread", {}).get("mean_ticks") for r in results
                  if r["label"] == f"zi-k{zi_k}"}
        doc["literature"]["zi_spread"] = L.zi_check(L.zi_params(**zi_params), zi_k, single, pooled)
    else:
        doc["literature"]["zi_spread"] = {"available": False, "why": "skipped (--zi-seeds 0)"}
    doc["seeds"] = list(seeds)
    doc["zi_seeds"] = zi_seeds
    from sim.compare.html import write_compare_outputs
    path = write_compare_outputs(out, doc, results)
    (out / FILES["timing"]).write_text(json.dumps({"wall_s": round(wall, 3), "runs": len(tasks),
                                                   "jobs": jobs or min(len(tasks), os.cpu_count() or 1)},
                                                  indent=2, sort_keys=True) + "\n")
    return path, doc


def _map(tasks: list[tuple], jobs: int | None, log: Any) -> list[dict]:
    jobs = jobs or min(len(tasks), os.cpu_count() or 1)
    done = 0
    out = []

    def report(res: dict) -> None:
        nonlocal done
        done += 1
        h = res["summary"].get("headline", {})
        sp = h.get("spread_bps")
        log.write(f"[{done}/{len(tasks)}] {res['label']} seed {res['seed']}: {res['wall_s']:.1f}s, spread "
                  f"{'n/a' if sp is None or not math.isfinite(sp) else f'{sp:.2f} bps'}\n")
        log.flush()

    if jobs == 1:
        for t in tasks:
            res = run_task(*t)
            report(res)
            out.append(res)
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_task, *t) for t in tasks]
        for fut in as_completed(futures):
            res = fut.result()
            report(res)
            out.append(res)
    return out


def _by_label(results: list[dict], labels: list[str]) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {lab: {} for lab in labels}
    for r in results:
        out.setdefault(r["label"], {})[r["seed"]] = r
    return out


def _slip_sizes(by: dict[int, dict]) -> list[str]:
    """Slippage keys (``slip_<Q>``) the baseline's books could fill on at least half of the seeds."""
    keys: dict[str, int] = {}
    for r in by.values():
        for k, v in r["summary"].get("headline", {}).items():
            if k.startswith("slip_") and v is not None and math.isfinite(v):
                keys[k] = keys.get(k, 0) + 1
    ok = [k for k, n in keys.items() if n * 2 >= len(by)]
    return sorted(ok, key=lambda k: float(k[5:]))


def aggregate(results: list[dict], labels: list[str]) -> dict:
    """The comparison document from per-run results (``run_task``'s dicts). Pure: a function of its input.

    Headline: per label and metric, median [95% CI] over seeds; paired differences and ratios against the
    first label (the baseline) on common seeds. Three slippage sizes: the smallest, middle and largest
    quote sizes the baseline's book could fill on at least half the seeds."""
    from sim.facts import FactsTable, aggregate_facts

    by = _by_label(results, labels)
    base = labels[0]
    sizes = _slip_sizes(by[base])
    pick = [sizes[0], sizes[len(sizes) // 2], sizes[-1]] if len(sizes) >= 3 else sizes
    metrics = [k for k, _ in HEADLINE] + list(dict.fromkeys(pick))
    head: dict[str, dict] = {}
    diffs: dict[str, dict] = {}
    for lab in labels:
        runs = by.get(lab, {})
        head[lab] = {m: summarize([r["summary"].get("headline", {}).get(m) for r in runs.values()]) for m in metrics}
        if lab != base:
            diffs[lab] = {}
            for m in metrics:
                a = {s: r["summary"].get("headline", {}).get(m) for s, r in by[base].items()}
                b = {s: r["summary"].get("headline", {}).get(m) for s, r in runs.items()}
                diffs[lab][m] = {"diff": paired(a, b), "ratio": paired(a, b, ratio=True)}
    curves: dict[str, list] = {}
    for lab in labels:
        rows: dict[float, list[float]] = {}
        for r in by.get(lab, {}).values():
            for row in r["summary"].get("static_slippage") or []:
                if row.get("coverage", 0) >= 0.5 and row.get("bps") is not None and math.isfinite(row["bps"]):
                    rows.setdefault(float(row["size_quote"]), []).append(row["bps"])
        curves[lab] = [{"size_quote": q, **summarize(v)} for q, v in sorted(rows.items())]
    models = {}
    for lab in labels:
        for r in by.get(lab, {}).values():
            models.setdefault(lab, r["summary"].get("model"))
    by_model: dict[str, dict[int, list]] = {}
    shares: dict[int, float | None] = {}
    for lab in labels:
        m = models.get(lab) or lab
        if m in by_model:
            continue
        by_model[m] = {s: r["summary"].get("static_slippage") or [] for s, r in by.get(lab, {}).items()}
        if m == "isolated":
            shares = {s: r["summary"].get("home_share") for s, r in by.get(lab, {}).items()}
    if not shares:
        for lab in labels:
            for s, r in by.get(lab, {}).items():
                if r["summary"].get("home_share") is not None:
                    shares.setdefault(s, r["summary"]["home_share"])
    literature = {"sqrt_law": L.sqrt_law_check(by_model, shares)}
    facts = {}
    for lab in labels:
        tables = [FactsTable.from_dict(r["facts"]) for r in by.get(lab, {}).values() if r.get("facts")]
        if tables:
            agg = aggregate_facts(tables)
            banded = agg.banded()
            facts[lab] = {"passed": sum(1 for r in banded if r.passed), "decided": sum(1 for r in banded if r.passed is not None),
                          "bands": len(banded), "table": agg.to_dict()}
    return {"labels": labels, "baseline": base, "models": models, "metrics": metrics, "headline": head,
            "paired_vs_baseline": diffs, "slippage_curves": curves, "headline_sizes": pick,
            "literature": literature, "facts": facts,
            "runs": [{"label": r["label"], "seed": r["seed"], "run_dir": r["run_dir"]} for r in results]}


def headline_text(doc: dict) -> str:
    """The headline table as aligned text for the terminal."""
    labels = doc["labels"]
    names = dict(HEADLINE)
    lines = ["metric".ljust(30) + "".join(lab[:26].ljust(28) for lab in labels)]
    for m in doc["metrics"]:
        name = names.get(m) or f"slippage {float(m[5:]):,.0f} quote (bps)"
        lines.append(name[:29].ljust(30) + "".join(fmt_ci(doc["headline"][lab][m]).ljust(28) for lab in labels))
    return "\n".join(lines)


def _finite_list(xs: list) -> list[float]:
    return [float(x) for x in xs if x is not None and np.isfinite(x)]
