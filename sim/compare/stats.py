"""Statistics over seeds: the median of a metric with a 95% bootstrap confidence interval, and paired
differences between two models run on the same seeds.

The bootstrap draws from ``numpy.random.default_rng(seed)`` with a fixed seed, so a report is a function
of its inputs. Percentile bootstrap of the median (Efron): resample the n per-seed values with replacement
B times, take the 2.5% and 97.5% quantiles of the B medians. With few seeds (n < 5) the interval is wide
and coarse; it is still reported, with n, so a reader sees how much there is behind it.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["Summary", "summarize", "paired", "fmt_ci", "BOOTSTRAP_SEED", "RESAMPLES"]

BOOTSTRAP_SEED = 20240601
RESAMPLES = 4000

Summary = dict   # {"median", "lo", "hi", "n", "values"}


def _finite(values: Sequence[float | None]) -> np.ndarray:
    a = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return a[np.isfinite(a)]


def summarize(values: Sequence[float | None], level: float = 0.95, resamples: int = RESAMPLES,
              seed: int = BOOTSTRAP_SEED) -> Summary:
    """Median and its percentile-bootstrap CI over the finite values (None, NaN, ±inf are left out and
    not counted in ``n``). Empty: every figure NaN and n = 0."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    a = _finite(values)
    n = len(a)
    if n == 0:
        return {"median": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    med = float(np.median(a))
    if n == 1:
        return {"median": med, "lo": med, "hi": med, "n": 1}
    rng = np.random.default_rng(seed)
    meds = np.median(a[rng.integers(0, n, size=(resamples, n))], axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(meds, [tail, 100 - tail])
    return {"median": med, "lo": float(lo), "hi": float(hi), "n": n}


def paired(a: dict[int, float | None], b: dict[int, float | None], *, ratio: bool = False, **kw) -> Summary:
    """Median over common seeds of b − a (or b / a with ``ratio``), with its bootstrap CI. Seeds where
    either value is missing or not finite (or a is 0 for a ratio) are left out."""
    diffs = []
    for seed in sorted(set(a) & set(b)):
        x, y = a[seed], b[seed]
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            continue
        if ratio:
            if x == 0:
                continue
            diffs.append(y / x)
        else:
            diffs.append(y - x)
    return summarize(diffs, **kw)


def fmt_ci(s: Summary, digits: int = 2) -> str:
    """``"1.23 [1.10, 1.40]"``, or ``"n/a"`` when there is nothing."""
    if not s or s.get("n", 0) == 0 or s.get("median") is None or not math.isfinite(s["median"]):
        return "n/a"
    f = f"{{:.{digits}f}}"
    if s["n"] == 1:
        return f.format(s["median"]) + " (1 seed)"
    return f"{f.format(s['median'])} [{f.format(s['lo'])}, {f.format(s['hi'])}]"
