"""The stylized-facts table: rows with pass bands, one run's or aggregated over seeds.

A row's ``passed`` is ``True``/``False`` against its band, or ``None`` when the row is report-only or the
run had too little data to decide (the note says which). ``None`` is never counted as a pass.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from sim.facts.bands import Band, format_band, in_band

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20010223   # fixed: the same tables give the same CI, byte for byte
CI_LEVEL = 0.95


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class FactRow:
    """One statistic. ``horizon`` labels the sampling ("1m", "5m", "orders", "book").

    Aggregated rows also carry ``ci`` (bootstrap CI of the median over seeds), ``n_seeds`` (seeds with
    a value), ``n_decided`` (seeds with a verdict) and ``pass_fraction`` (seeds passing / seeds decided).
    """

    name: str
    horizon: str
    value: float | None
    band: Band | None
    passed: bool | None
    note: str = ""
    ci: tuple[float, float] | None = None
    n_seeds: int | None = None
    pass_fraction: float | None = None
    n_decided: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.horizon)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "horizon": self.horizon,
            "value": _clean(self.value),
            "band": None if self.band is None else [self.band[0], self.band[1]],
            "passed": self.passed,
            "note": self.note,
            "ci": None if self.ci is None else [_clean(self.ci[0]), _clean(self.ci[1])],
            "n_seeds": self.n_seeds,
            "pass_fraction": _clean(self.pass_fraction),
            "n_decided": self.n_decided,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FactRow":
        band = d.get("band")
        ci = d.get("ci")
        return cls(
            name=str(d["name"]), horizon=str(d["horizon"]), value=_clean(d.get("value")),
            band=None if band is None else (band[0], band[1]), passed=d.get("passed"),
            note=str(d.get("note", "")), ci=None if ci is None else (ci[0], ci[1]),
            n_seeds=d.get("n_seeds"), pass_fraction=d.get("pass_fraction"), n_decided=d.get("n_decided"),
        )


@dataclass
class FactsTable:
    """Rows in a fixed order plus ``meta`` (window, tick size, sample sizes: JSON-safe scalars).

    ``series`` holds the arrays the rows were computed from (returns per horizon, ACFs) for plotting;
    it is not serialised.
    """

    rows: list[FactRow]
    meta: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict, repr=False, compare=False)

    def row(self, name: str, horizon: str | None = None) -> FactRow:
        """The row called ``name`` (and ``horizon`` if given); KeyError if absent."""
        for r in self.rows:
            if r.name == name and (horizon is None or r.horizon == horizon):
                return r
        raise KeyError(f"no fact row {name!r}" + (f" at horizon {horizon!r}" if horizon else ""))

    def banded(self) -> list[FactRow]:
        """The rows with a pass band (report-only rows excluded)."""
        return [r for r in self.rows if r.band is not None]

    @property
    def all_passed(self) -> bool:
        """True only if every banded row passed (an undecided banded row is not a pass)."""
        return all(r.passed is True for r in self.banded())

    def summary(self) -> dict:
        banded = self.banded()
        return {
            "banded": len(banded),
            "passed": sum(r.passed is True for r in banded),
            "failed": sum(r.passed is False for r in banded),
            "undecided": sum(r.passed is None for r in banded),
        }

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows], "meta": dict(self.meta), "summary": self.summary()}

    @classmethod
    def from_dict(cls, d: dict) -> "FactsTable":
        return cls([FactRow.from_dict(r) for r in d["rows"]], dict(d.get("meta", {})))

    def to_markdown(self) -> str:
        aggregated = any(r.n_seeds is not None for r in self.rows)
        head = ["statistic", "Δt", "value", "band", "result"]
        if aggregated:
            head[2:3] = ["median", "95% CI"]
            head.append("seeds passing")
        head.append("note")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r.name, r.horizon, fmt_value(r.value)]
            if aggregated:
                cells.append("—" if r.ci is None else f"{fmt_value(r.ci[0])} … {fmt_value(r.ci[1])}")
            cells += [format_band(r.band), verdict(r)]
            if aggregated:
                cells.append("—" if r.pass_fraction is None else f"{r.pass_fraction:.0%} of {r.n_decided}")
            cells.append(r.note.replace("|", "\\|"))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def fmt_value(v: float | None) -> str:
    if v is None:
        return "—"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}" if abs(v) >= 100 else f"{v:.3f}"


def verdict(r: FactRow) -> str:
    if r.band is None:
        return "report"
    return {True: "PASS", False: "FAIL", None: "n/a"}[r.passed]


def bootstrap_median_ci(values: np.ndarray, rng: np.random.Generator,
                        resamples: int = BOOTSTRAP_RESAMPLES, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap CI of the median of ``values`` (seeds are independent, so iid resampling
    is valid here, unlike for returns within one run)."""
    values = np.asarray(values, dtype=np.float64)
    idx = rng.integers(0, values.size, size=(resamples, values.size))
    meds = np.median(values[idx], axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(meds, tail)), float(np.quantile(meds, 1.0 - tail))


def aggregate_facts(tables: list[FactsTable]) -> FactsTable:
    """Aggregate per-seed tables row by row.

    Each row's value is the median over the seeds that have one, with a bootstrap CI of that median;
    ``pass_fraction`` is the share of seeds passing among seeds that could be decided (``None`` if none
    could). ``passed`` is ``None`` when no seed could be decided, else True when the median lies in the
    band and at least half of the decided seeds pass. Rows keep the first table's order; a row missing
    from some tables is aggregated over the others. Deterministic: each row's bootstrap draws from its
    own generator keyed by the row, so adding a row changes no other row's CI.
    """
    if not tables:
        raise ValueError("aggregate_facts needs at least one FactsTable")
    order: list[tuple[str, str]] = []
    by_key: dict[tuple[str, str], list[FactRow]] = {}
    for t in tables:
        for r in t.rows:
            if r.key not in by_key:
                order.append(r.key)
                by_key[r.key] = []
            by_key[r.key].append(r)
    out = []
    for key in order:
        rng = np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32("\x1f".join(key).encode())])
        rows = by_key[key]
        first = rows[0]
        vals = np.array([r.value for r in rows if r.value is not None and math.isfinite(r.value)])
        decided = [r.passed for r in rows if r.passed is not None]
        median = float(np.median(vals)) if vals.size else None
        ci = bootstrap_median_ci(vals, rng) if vals.size >= 2 else None
        frac = (sum(decided) / len(decided)) if decided else None
        note = f"{vals.size}/{len(tables)} seeds with a value"
        if len(decided) < len(rows) and first.band is not None:
            note += f"; {len(rows) - len(decided)} undecided"
        # The verdict needs both: the typical seed in band and most seeds passing (a median over the
        # seeds that have a value could hide seeds that failed for want of one).
        if first.band is None or not decided:
            verdict_ = None
        else:
            verdict_ = bool(in_band(median, first.band)) and frac is not None and frac >= 0.5
        out.append(replace(first, value=median, passed=verdict_, note=note, ci=ci, n_decided=len(decided),
                           n_seeds=int(vals.size), pass_fraction=frac))
    meta = {"seeds": len(tables), "bootstrap_resamples": BOOTSTRAP_RESAMPLES, "ci_level": CI_LEVEL}
    return FactsTable(out, meta)
