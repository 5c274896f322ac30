"""Read a shared-liquidity run directory (LIQ.md "Recording contract") into one :class:`LiquidityRun`.

What a run may hold, and what is done when it does not:

- ``liquidity.json`` (model, home, partners, stats, timeline, exposure, volume_lots, price_scale, events;
  optional ``warmup_ns``, ``duration_ns``, ``assets`` = {asset: decimals}): missing -> a plain run, model
  ``"plain"``, home from ``metrics.json``;
- ``venues/<venue>/`` recorder files (``sim.recorder.Recorder`` format): a venue whose files are missing or
  unreadable is left out and named in ``problems``; a plain run's own recorder files (in the run dir) stand
  for the home venue;
- ``venues/<home>/executions.npz`` (``ts_ns, side, qty_lots, filled_lots, quote_amount, mid_x2, routed_lots,
  market``): missing -> ``executions`` is None and the realised figures are "n/a".

Nothing here raises for a missing piece (the reports must render whatever exists); a path that is not a
directory raises :class:`RunDirError`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from sim.recorder import Recorder, RecorderError

__all__ = ["LiquidityRun", "RunDirError", "load_run", "EXECUTION_COLUMNS", "LIQUIDITY_FILE", "EXECUTIONS_FILE"]

LIQUIDITY_FILE = "liquidity.json"
EXECUTIONS_FILE = "executions.npz"
EXECUTION_COLUMNS = ("ts_ns", "side", "qty_lots", "filled_lots", "quote_amount", "mid_x2", "routed_lots", "market")
NS = 1_000_000_000
DEFAULT_WARMUP_NS = 600 * NS


class RunDirError(ValueError):
    """The path is not a run directory."""


@dataclass
class LiquidityRun:
    """Everything a report needs from one run, with the gaps listed in ``problems``."""

    run_dir: Path
    model: str
    home: str
    partners: list[str]
    venues: dict[str, Recorder]
    executions: dict[str, np.ndarray] | None
    doc: dict                      # liquidity.json as read ({} for a plain run)
    metrics: dict                  # metrics.json as read ({} if absent)
    start_ns: int
    end_ns: int
    seed: int | None
    scenario: str
    problems: list[str] = field(default_factory=list)

    @property
    def stats(self) -> dict:
        return self.doc.get("stats") or {}

    def symbols(self, venue: str) -> list[str]:
        rec = self.venues.get(venue)
        return list(rec.symbols) if rec is not None else []

    def scale(self, venue: str, symbol: str) -> tuple[float, float] | None:
        """(price_unit, lot_size) of ``symbol`` at ``venue`` as floats (analysis only), from liquidity.json's
        price_scale or the venue's recording.json; None if neither has it."""
        ps = (self.doc.get("price_scale") or {}).get(venue, {}).get(symbol)
        if ps is None:
            rec = self.venues.get(venue)
            ps = rec.price_scale.get(symbol) if rec is not None else None
        if ps is None:
            return None
        return float(Decimal(str(ps[0]))), float(Decimal(str(ps[1])))

    def quote_units_per_lot_tick(self, venue: str, symbol: str) -> float | None:
        """Quote ledger units of one tick × one lot (to turn ``quote_amount`` into a price in ticks):
        price_unit × lot_size × 10^decimals(quote). The quote asset is the part of the symbol after the
        last ``-``; its decimals come from liquidity.json ``assets`` or the scenario file; None if unknown."""
        ps = (self.doc.get("price_scale") or {}).get(venue, {}).get(symbol)
        rec = self.venues.get(venue)
        if ps is None and rec is not None:
            ps = rec.price_scale.get(symbol)
        decimals = _quote_decimals(self, symbol)
        if ps is None or decimals is None:
            return None
        return float(Decimal(str(ps[0])) * Decimal(str(ps[1])) * (Decimal(10) ** decimals))

    def volume_base(self) -> dict[str, float]:
        """Traded volume per venue in base units (lots × that venue's lot size of its first symbol), from
        ``volume_lots``; a venue without a scale is left out."""
        out = {}
        for venue, lots in (self.doc.get("volume_lots") or {}).items():
            if isinstance(lots, dict):       # {symbol: lots}: take the home's first symbol if present
                sym = (self.symbols(self.home) or list(lots))[0]
                lots = lots.get(sym, 0)
                sc = self.scale(venue, sym)
            else:
                syms = self.symbols(venue) or self.symbols(self.home)
                sc = self.scale(venue, syms[0]) if syms else None
            if sc is not None:
                out[venue] = float(lots) * sc[1]
        return out

    def home_share(self) -> float | None:
        """s = V_home / V_all (base units), or None without volumes."""
        v = self.volume_base()
        total = sum(v.values())
        if self.home not in v or total <= 0:
            return None
        return v[self.home] / total


def _quote_decimals(run: LiquidityRun, symbol: str) -> int | None:
    quote = symbol.rsplit("-", 1)[-1]
    assets = run.doc.get("assets") or {}
    if quote in assets:
        return int(assets[quote])
    try:   # fall back on the shipped scenario of that name (a --set of decimals would not be seen)
        from sim.scenario import ScenarioError, load_scenario
        sc = load_scenario(run.scenario)
        for inst in sc.instruments.values() if isinstance(sc.instruments, dict) else sc.instruments:
            if inst.quote.name == quote:
                return int(inst.quote.decimals)
    except (ScenarioError, AttributeError, OSError, KeyError, TypeError):
        return None
    return None


def _read_json(path: Path, problems: list[str]) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        problems.append(f"{path.name} is not valid JSON ({exc})")
        return {}
    if not isinstance(doc, dict):
        problems.append(f"{path.name} is not a JSON object")
        return {}
    return doc


def _read_executions(path: Path, problems: list[str]) -> dict[str, np.ndarray] | None:
    if not path.exists():
        problems.append(f"{path.parent.name}/{path.name} missing: realised slippage and effective spread n/a")
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [c for c in EXECUTION_COLUMNS if c not in z.files]
            if missing:
                problems.append(f"{path.name} lacks columns {missing}")
                return None
            cols = {c: np.asarray(z[c], dtype=np.int64) for c in EXECUTION_COLUMNS}
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} unreadable ({exc})")
        return None
    n = {len(v) for v in cols.values()}
    if len(n) != 1:
        problems.append(f"{path.name}: columns of different lengths {sorted(n)}")
        return None
    return cols


def load_run(run_dir: Path | str) -> LiquidityRun:
    """Read ``run_dir``; see the module docstring for what may be missing.

    Raises:
        RunDirError: ``run_dir`` is not a directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory: give a run directory written by `bdax sim run`")
    problems: list[str] = []
    doc = _read_json(run_dir / LIQUIDITY_FILE, problems)
    metrics = _read_json(run_dir / "metrics.json", problems)
    m = metrics.get("metrics", metrics) if isinstance(metrics.get("metrics"), dict) else metrics
    home = str(doc.get("home") or m.get("venue") or "home")
    partners = [p if isinstance(p, str) else str(p.get("name")) for p in (doc.get("partners") or [])]
    venues: dict[str, Recorder] = {}
    for venue in [home] + partners:
        vdir = run_dir / "venues" / venue
        try:
            venues[venue] = Recorder.load(vdir)
        except (RecorderError, OSError, ValueError, KeyError) as exc:
            if venue == home and (run_dir / "recording.json").exists():
                try:
                    venues[venue] = Recorder.load(run_dir)
                    continue
                except (RecorderError, OSError, ValueError, KeyError) as exc2:
                    exc = exc2
            problems.append(f"venue {venue}: recording unreadable ({exc})")
    executions = _read_executions(run_dir / "venues" / home / EXECUTIONS_FILE, problems) if doc else None
    end = doc.get("duration_ns")
    if end is None and m.get("duration_s") is not None:
        end = int(round(float(m["duration_s"]) * NS))
    if end is None:
        ts = [int(rec.l1(s)["ts_ns"][-1]) for rec in venues.values() for s in rec.symbols if len(rec.l1(s)["ts_ns"])]
        end = max(ts, default=0) + 1
    end = int(end)
    start = doc.get("warmup_ns")
    start = int(start) if start is not None else min(DEFAULT_WARMUP_NS, end // 10)
    seed = doc.get("seed", metrics.get("seed"))
    scenario = str(doc.get("scenario") or metrics.get("scenario") or run_dir.name.rsplit("-", 1)[0])
    return LiquidityRun(run_dir=run_dir, model=str(doc.get("model") or "plain"), home=home, partners=partners,
                        venues=venues, executions=executions, doc=doc, metrics=m, start_ns=start, end_ns=end,
                        seed=int(seed) if isinstance(seed, int) else None, scenario=scenario, problems=problems)
