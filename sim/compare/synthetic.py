"""Hand-built run directories in the recording contract's exact format (LIQ.md), with figures known in
advance: the fixtures of the metric tests and a way to try the reports without running a simulation.

:func:`write_synthetic_run` builds a home venue and partners with constant books (so every spread, depth
and slippage is known in closed form), a log price ratio per partner that follows a chosen AR(1), a
schedule, health timeline, exposure and executions. Integers everywhere, like a real run.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim.recorder import Recorder, _write_npz

__all__ = ["write_synthetic_run", "SYMBOL", "NS"]

SYMBOL = "BTC-USDT"
NS = 1_000_000_000


def write_synthetic_run(run_dir: Path, *, model: str = "isolated", seed: int = 1, duration_s: int = 600,
                        mid_ticks: int = 100_000, half_spread_ticks: int = 5, level_lots: int = 10,
                        levels: int = 10, partners: tuple[str, ...] = ("binance", "huobi"), phi: float = 0.9,
                        ratio_sd_bps: float = 5.0, volume_lots: dict[str, int] | None = None,
                        events: dict[str, int] | None = None, timeline: list[dict] | None = None,
                        exposure: list[dict] | None = None, stats: dict | None = None,
                        executions: dict[str, list[int]] | None = None, warmup_s: int = 0,
                        spread_jump: tuple[int, int, int] | None = None) -> Path:
    """Write a run dir. Home book: bid = mid − h, ask = mid + h ticks (price unit 0.01 USDT, lot 0.001
    BTC), ``levels`` levels 1 tick apart each of ``level_lots``; one L1 row at t = 0 (a constant spread),
    L2 snapshots every second. Each partner's L1 mid follows mid·exp(x_t) with x an AR(1) of coefficient
    ``phi`` and stationary sd ``ratio_sd_bps`` (seeded), sampled every second. ``spread_jump =
    (from_s, to_s, half_spread)`` widens the home spread in that window."""
    run_dir = Path(run_dir)
    venues = run_dir / "venues"
    rng = np.random.default_rng(seed)
    scale = {SYMBOL: ("0.01", "0.001")}
    home = Recorder([SYMBOL], l2_levels=levels, l2_every_ns=NS)
    h = half_spread_ticks
    t_grid = range(0, duration_s)
    for t in t_grid:
        hh = h
        if spread_jump and spread_jump[0] <= t < spread_jump[1]:
            hh = spread_jump[2]
        ts = t * NS
        home.on_l1(SYMBOL, ts, mid_ticks - hh, level_lots, mid_ticks + hh, level_lots)
        bids = [(mid_ticks - hh - i, level_lots) for i in range(levels)]
        asks = [(mid_ticks + hh + i, level_lots) for i in range(levels)]
        home.on_l2(SYMBOL, ts, bids, asks)
    home.save(venues / "home", scale)
    sd = ratio_sd_bps / 1e4
    for j, p in enumerate(partners):
        rec = Recorder([SYMBOL], l2_levels=levels, l2_every_ns=NS)
        x = 0.0
        innov = sd * np.sqrt(1 - phi ** 2)
        for t in t_grid:
            x = phi * x + innov * rng.standard_normal()
            pm = int(round(mid_ticks * np.exp(-x)))     # log(mid_H / mid_P) = x
            rec.on_l1(SYMBOL, t * NS, pm - 1, level_lots, pm + 1, level_lots)
            rec.on_l2(SYMBOL, t * NS, [(pm - 1, level_lots)], [(pm + 1, level_lots)])
        rec.save(venues / p, scale)
    if executions is not None:
        cols = {k: np.asarray(v, dtype=np.int64) for k, v in executions.items()}
        _write_npz(venues / "home" / "executions.npz", cols)
    doc = {"model": model, "home": "home", "partners": list(partners), "seed": seed, "scenario": f"synthetic-{model}",
           "stats": stats or {}, "timeline": timeline or [], "exposure": exposure or [],
           "volume_lots": volume_lots or {"home": 100, **{p: 900 for p in partners}},
           "price_scale": {v: {SYMBOL: list(scale[SYMBOL])} for v in ["home", *partners]},
           "events": events or {}, "assets": {"BTC": 8, "USDT": 6},
           "warmup_ns": warmup_s * NS, "duration_ns": duration_s * NS}
    (run_dir / "liquidity.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
    return run_dir
