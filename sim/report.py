"""A run's ``metrics.json`` and ``report.html`` (plots, headline metrics, stylized facts), and the sweep
report over seeds.

Everything written here is a function of its inputs: JSON with sorted keys, PNGs without timestamps
(``sim.plots``), HTML with no generation time. A run's wall-clock timing belongs in a separate
``timing.json`` written by the runner, never here.

``runs`` for ``write_sweep_report`` is a list of dicts, one per seed::

    {"seed": 7, "facts": FactsTable | FactsTable.to_dict(), "metrics": {...},   # metrics optional
     "run_dir": "runs/busan-7", "scenario": "busan"}                              # both optional

or the parsed ``metrics.json`` of a run (it holds ``seed``, ``scenario``, ``metrics`` and ``facts``).
"""
from __future__ import annotations

import html
import json
import math
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from sim import plots
from sim.facts import DEFAULT_HORIZONS_S, FactsTable, aggregate_facts, compute_facts
from sim.facts.bands import format_band
from sim.facts.table import fmt_value, verdict
from sim.recorder import Recorder

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
SWEEP_FILE = "sweep.json"
SWEEP_PLOT = "facts_by_seed.png"


class ReportError(ValueError):
    """Report inputs were unusable; the message names the field."""


# ---------------------------------------------------------------------------- JSON

def jsonable(value: Any, where: str = "metrics") -> Any:
    """``value`` as plain JSON types: numpy scalars and arrays unwrapped, NaN/inf → None, tuples → lists,
    Decimal/Path → str, dict keys → str. Raises ReportError naming the key of anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (Decimal, Path)):
        return str(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), where)
    if isinstance(value, dict):
        return {str(k): jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ReportError(f"{where}: {type(value).__name__} is not JSON-serialisable; pass numbers, strings, "
                      "lists or dicts")


def dump_json(data: Any) -> str:
    return json.dumps(jsonable(data, "report"), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- one run

def write_run_report(run_dir: Path, *, scenario_name: str, seed: int, recorder: Recorder, facts: FactsTable,
                     metrics: dict, symbol: str) -> Path:
    """Write the plots, ``metrics.json`` and ``report.html`` of one run into ``run_dir``; return the
    report's path.

    ``facts`` is ``compute_facts``'s table for ``symbol``; its ``meta`` gives the analysis window and
    tick size. If it was loaded from JSON (no ``series``), the series are recomputed from ``recorder``.
    Prices on plots are in quote currency when ``recorder.price_scale`` knows the symbol (after
    ``save``), else in ticks.
    """
    if not isinstance(facts, FactsTable):
        raise ReportError(f"facts must be a FactsTable (sim.facts.compute_facts), got {type(facts).__name__}")
    if not isinstance(metrics, dict):
        raise ReportError(f"metrics must be a dict, got {type(metrics).__name__}")
    for key in ("start_ns", "end_ns", "tick_size"):
        if key not in facts.meta:
            raise ReportError(f"facts.meta lacks {key!r}: build the table with sim.facts.compute_facts")
    metrics = jsonable(metrics)      # fail on an unserialisable metric before writing anything
    recorder.l1(symbol)              # RecorderError for a symbol that was not recorded
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trades, l1, l2 = recorder.trades(symbol), recorder.l1(symbol), recorder.l2(symbol)
    start, end, tick = int(facts.meta["start_ns"]), int(facts.meta["end_ns"]), float(facts.meta["tick_size"])
    series = facts.series
    if not series:
        horizons = tuple(facts.meta.get("horizons_s", DEFAULT_HORIZONS_S))
        series = compute_facts(trades, l1, tick_size=tick, start_ns=start, end_ns=end,
                               horizons_s=horizons).series
    price_unit = recorder.price_scale.get(symbol, (None, None))[0]
    title = f"{scenario_name} · seed {seed} · {symbol}"
    files = plots.PLOT_FILES
    plots.plot_price_spread(run_dir / files["price_spread"], l1, trades, start_ns=start, end_ns=end,
                            price_unit=price_unit, tick_size=tick, title=title)
    plots.plot_depth(run_dir / files["depth"], l2, start_ns=start, end_ns=end, tick_size=tick)
    plots.plot_returns_distribution(run_dir / files["returns"], series.get("returns", {}))
    fit = series.get("abs_acf_fit")
    plots.plot_acf(run_dir / files["acf"], series.get("acf", np.zeros(0)), series.get("abs_acf", np.zeros(0)),
                   int(series.get("n_base", 0)), horizon=series.get("base_horizon", "1m"),
                   beta=None if fit is None or not fit.ok else fit.exponent,
                   fit_lags=None if fit is None or not fit.ok else (fit.lag_lo, fit.lag_hi))
    doc = {
        "scenario": scenario_name, "seed": seed, "symbol": symbol, "metrics": metrics,
        "facts": facts.to_dict(), "recording": recorder.counts().get(symbol, {}),
        "plots": dict(files), "price_scale": list(recorder.price_scale.get(symbol, ())) or None,
    }
    _write_text(run_dir / METRICS_FILE, dump_json(doc))
    path = run_dir / REPORT_FILE
    _write_text(path, _run_html(doc, facts))
    return path


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde}
.sub{color:#5a6475;margin-top:0}
table{border-collapse:collapse;font-size:.86rem;width:100%}
th,td{border:1px solid #d8dce3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.pass td.v{background:#e3f6e8;color:#14632b;font-weight:600}
tr.fail td.v{background:#fde8e8;color:#9b1c1c;font-weight:600}
tr.na td.v{background:#fff6dc;color:#7a5b00}
tr.report td.v{color:#5a6475}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600}
.ok{background:#e3f6e8;color:#14632b}.bad{background:#fde8e8;color:#9b1c1c}
.mid{background:#fff6dc;color:#7a5b00}
img{max-width:100%;border:1px solid #e3e6ea;margin:.5rem 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#5a6475}dd{margin:0}
.note{color:#5a6475;font-size:.8rem}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _row_class(passed: bool | None, band) -> str:
    if band is None:
        return "report"
    return {True: "pass", False: "fail", None: "na"}[passed]


def _facts_html(table: FactsTable) -> str:
    aggregated = any(r.n_seeds is not None for r in table.rows)
    head = ["statistic", "Δt", "median" if aggregated else "value"]
    if aggregated:
        head.append("95% CI")
    head += ["band", "result"]
    if aggregated:
        head.append("seeds passing")
    head.append("note")
    out = ["<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in table.rows:
        cells = [f"<td>{_e(r.name)}</td>", f"<td>{_e(r.horizon)}</td>",
                 f'<td class="num">{_e(fmt_value(r.value))}</td>']
        if aggregated:
            ci = "—" if r.ci is None else f"{fmt_value(r.ci[0])} … {fmt_value(r.ci[1])}"
            cells.append(f'<td class="num">{_e(ci)}</td>')
        cells += [f"<td>{_e(format_band(r.band))}</td>", f'<td class="v">{_e(verdict(r))}</td>']
        if aggregated:
            frac = "—" if r.pass_fraction is None else f"{r.pass_fraction:.0%} of {r.n_decided}"
            cells.append(f'<td class="num">{_e(frac)}</td>')
        cells.append(f'<td class="note">{_e(r.note)}</td>')
        out.append(f'<tr class="{_row_class(r.passed, r.band)}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _summary_badge(table: FactsTable) -> str:
    s = table.summary()
    cls = "ok" if table.all_passed else ("bad" if s["failed"] else "mid")
    text = (f"{s['passed']}/{s['banded']} bands pass" + (f", {s['failed']} fail" if s["failed"] else "")
            + (f", {s['undecided']} undecided" if s["undecided"] else ""))
    return f'<span class="badge {cls}">{_e(text)}</span>'


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k in sorted(d, key=str):
        v = d[k]
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flatten(v, key + ".")
        else:
            out.append((key, v))
    return out


def _fmt_metric(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return fmt_value(float(v)) if math.isfinite(v) else "—"
    if isinstance(v, (list, tuple)) and len(v) > 12:
        return f"[{len(v)} values]"
    return str(v)


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def _run_html(doc: dict, facts: FactsTable) -> str:
    metrics = jsonable(doc["metrics"])
    rec = doc["recording"]
    scale = doc["price_scale"]
    meta = facts.meta
    hours = (meta["end_ns"] - meta["start_ns"]) / 3.6e12
    body = [
        f"<h1>{_e(doc['scenario'])} — seed {_e(doc['seed'])}</h1>",
        f"<p class=\"sub\">{_e(doc['symbol'])} · analysis window {hours:.2f} h · "
        f"{_summary_badge(facts)}</p>",
        "<h2>Headline metrics</h2><dl>",
    ]
    for k, v in _flatten(metrics):
        body.append(f"<dt>{_e(k)}</dt><dd>{_e(_fmt_metric(v))}</dd>")
    body.append(f"<dt>recorded</dt><dd>{_e(', '.join(f'{k} {v:,}' for k, v in sorted(rec.items())))}</dd>")
    if scale:
        body.append(f"<dt>price unit / lot</dt><dd>{_e(scale[0])} / {_e(scale[1])}</dd>")
    body.append("</dl>")
    body.append("<h2>Stylized facts</h2>")
    body.append("<p class=\"note\">Pass bands: reference doc §2.3 (calm regime). “n/a”: too little data "
                "to "
                "decide, never counted as a pass. Returns are log mid-price returns sampled in clock time "
                "(previous tick); intervals with a one-sided book are skipped.</p>")
    body.append(_facts_html(facts))
    captions = {"price_spread": "Price and spread", "depth": "Depth", "returns": "Returns distribution",
                "acf": "Autocorrelation of returns and of absolute returns"}
    body.append("<h2>Plots</h2>")
    for key, name in doc["plots"].items():
        caption = _e(captions.get(key, key))
        body.append(f"<h3>{caption}</h3><img src=\"{_e(name)}\" alt=\"{caption}\">")
    return _page(f"bdax sim — {doc['scenario']} seed {doc['seed']}", body)


# ---------------------------------------------------------------------------- sweep

def _as_table(run: dict, i: int) -> FactsTable:
    f = run.get("facts")
    if isinstance(f, FactsTable):
        return f
    if isinstance(f, dict) and "rows" in f:
        return FactsTable.from_dict(f)
    raise ReportError(f"runs[{i}]['facts'] must be a FactsTable or its to_dict(), got {type(f).__name__}")


def _metric_summary(runs: list[dict]) -> dict[str, dict[str, float]]:
    values: dict[str, list[float]] = {}
    for run in runs:
        for k, v in _flatten(jsonable(run.get("metrics") or {})):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                values.setdefault(k, []).append(float(v))
    return {k: {"median": float(np.median(v)), "min": min(v), "max": max(v), "seeds": len(v)}
            for k, v in sorted(values.items())}


def write_sweep_report(out_dir: Path, runs: list[dict]) -> Path:
    """Aggregate per-seed runs into ``sweep.json``, ``facts_by_seed.png`` and ``report.html`` in
    ``out_dir``; return the report's path. See the module docstring for the shape of ``runs``."""
    if not isinstance(runs, list) or not runs:
        raise ReportError("runs must be a non-empty list of per-seed dicts (seed, facts, metrics, run_dir)")
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or "seed" not in run:
            raise ReportError(f"runs[{i}] must be a dict with at least 'seed' and 'facts'")
    runs = sorted(runs, key=lambda r: (str(r.get("scenario", "")), r["seed"]))
    tables = [_as_table(r, i) for i, r in enumerate(runs)]
    agg = aggregate_facts(tables)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = sorted({str(r.get("scenario", "")) for r in runs} - {""})
    per_seed = [{"seed": r["seed"], "run_dir": _rel(r.get("run_dir"), out_dir), "summary": t.summary(),
                 "all_passed": t.all_passed} for r, t in zip(runs, tables)]
    doc = {"scenarios": scenarios, "seeds": [r["seed"] for r in runs], "facts": agg.to_dict(),
           "metrics": _metric_summary(runs), "runs": per_seed, "plots": {"facts_by_seed": SWEEP_PLOT}}
    _write_text(out_dir / SWEEP_FILE, dump_json(doc))
    _plot_facts_by_seed(out_dir / SWEEP_PLOT, agg, tables, [r["seed"] for r in runs])
    path = out_dir / REPORT_FILE
    _write_text(path, _sweep_html(doc, agg, tables))
    return path


def _rel(run_dir: Any, out_dir: Path) -> str | None:
    if run_dir is None:
        return None
    try:
        return os.path.relpath(Path(run_dir), out_dir)
    except ValueError:       # another drive (Windows): keep it absolute
        return str(run_dir)


def _plot_facts_by_seed(path: Path, agg: FactsTable, tables: list[FactsTable], seeds: list) -> Path:
    """One small panel per banded fact: each seed's value, the band shaded, the median as a line."""
    rows = agg.banded()
    cols = 4
    nrows = max(1, math.ceil(len(rows) / cols))
    fig, ax = plots.new_figure(12, 2.4 * nrows, nrows, cols)
    for i, a in enumerate(ax.ravel()):
        if i >= len(rows):
            a.set_axis_off()
            continue
        r = rows[i]
        vals = []
        for t in tables:
            try:
                vals.append(t.row(r.name, r.horizon).value)
            except KeyError:
                vals.append(None)
        xs = [k for k, v in enumerate(vals) if v is not None]
        ys = [v for v in vals if v is not None]
        lo, hi = r.band
        finite = ys + [b for b in (lo, hi) if b is not None]
        span = (max(finite) - min(finite)) if finite else 1.0
        pad = 0.15 * span if span > 0 else 1.0
        bottom = (min(finite) if finite else 0.0) - pad
        top = (max(finite) if finite else 1.0) + pad
        a.axhspan(lo if lo is not None else bottom, hi if hi is not None else top, color="tab:green",
                  alpha=0.15, lw=0)
        colors = ["tab:green" if t.row(r.name, r.horizon).passed else "tab:red" for t, v in zip(tables, vals)
                  if v is not None]
        a.scatter(xs, ys, c=colors, s=14, zorder=3)
        if r.value is not None:
            a.axhline(r.value, color="0.2", lw=1)
        a.set_ylim(bottom, top)
        a.set_xlim(-0.5, len(tables) - 0.5)
        a.set_xticks([])
        a.set_title(f"{r.name} ({r.horizon})", fontsize=9)
        a.tick_params(labelsize=7)
    fig.suptitle(f"Stylized facts by seed ({len(seeds)} seeds; shaded: pass band; line: median)", fontsize=10)
    return plots.save_png(fig, path)


def _sweep_html(doc: dict, agg: FactsTable, tables: list[FactsTable]) -> str:
    name = ", ".join(doc["scenarios"]) or "sweep"
    n = len(doc["seeds"])
    body = [f"<h1>{_e(name)} — {n} seeds</h1>",
            f"<p class=\"sub\">seeds {_e(', '.join(str(s) for s in doc['seeds']))} · "
            f"{_summary_badge(agg)}</p>",
            "<h2>Stylized facts over seeds</h2>",
            "<p class=\"note\">Median over seeds with a 95% percentile-bootstrap CI of the median (seeds are "
            "independent). A row passes when its median is in band and at least half of the seeds that "
            "could be decided pass.</p>",
            _facts_html(agg),
            f"<img src=\"{_e(SWEEP_PLOT)}\" alt=\"facts by seed\">",
            "<h2>Runs</h2><table><thead><tr><th>seed</th><th>bands passed</th><th>failed</th>"
            "<th>undecided</th><th>report</th></tr></thead><tbody>"]
    for run in doc["runs"]:
        s = run["summary"]
        cls = "pass" if run["all_passed"] else ("fail" if s["failed"] else "na")
        link = (f"<a href=\"{_e(Path(run['run_dir'], REPORT_FILE).as_posix())}\">report</a>"
                if run["run_dir"] else "—")
        body.append(f"<tr class=\"{cls}\"><td>{_e(run['seed'])}</td>"
                    f"<td class=\"v num\">{s['passed']}/{s['banded']}</td>"
                    f"<td class=\"num\">{s['failed']}</td>"
                    f"<td class=\"num\">{s['undecided']}</td><td>{link}</td></tr>")
    body.append("</tbody></table>")
    if doc["metrics"]:
        body.append("<h2>Metrics over seeds</h2><table><thead><tr><th>metric</th><th>median</th><th>min</th>"
                    "<th>max</th><th>seeds</th></tr></thead><tbody>")
        for k, m in doc["metrics"].items():
            body.append(f"<tr><td>{_e(k)}</td><td class=\"num\">{_e(fmt_value(m['median']))}</td>"
                        f"<td class=\"num\">{_e(fmt_value(m['min']))}</td>"
                        f"<td class=\"num\">{_e(fmt_value(m['max']))}</td>"
                        f"<td class=\"num\">{m['seeds']}</td></tr>")
        body.append("</tbody></table>")
    return _page(f"bdax sim sweep — {name}", body)
