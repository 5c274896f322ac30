"""Run one simulation end to end: build it, drive the kernel, record the home market, compute the
stylized facts, write the report.

Outputs in ``run_dir`` (default ``runs/<scenario>-<seed>/``): the recorder's columnar files, the plots,
``metrics.json`` and ``report.html`` (:mod:`sim.report`), ``journal.bin`` (the home venue's
:class:`~exchange.journal.InMemoryJournal` as one segment file: header + frames) and ``timing.json``.
Everything but ``timing.json`` is a function of the scenario and the seed: the same seed gives the same
bytes (tests/sim/test_determinism.py).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .build import Simulation
from .progress import Progress, format_ns
from .scenario import NS, Scenario

__all__ = ["RunResult", "run_scenario", "record_home", "default_run_dir", "JOURNAL_FILE", "TIMING_FILE"]

JOURNAL_FILE = "journal.bin"
TIMING_FILE = "timing.json"


@dataclass
class RunResult:
    run_dir: Path
    report: Path
    facts: Any
    metrics: dict
    timing: dict


def default_run_dir(scenario: Scenario, seed: int, root: Path | str = "runs") -> Path:
    return Path(root) / f"{scenario.name}-{seed}"


def record_home(sim: Simulation, recorder: Any) -> None:
    """Feed ``recorder`` (sim.recorder.Recorder) with the home symbol's trades, every L1 change, and an
    L2 snapshot every ``l2_every_ns`` of virtual time."""
    symbol, venue, kernel = sim.symbol, sim.home, sim.kernel
    on_trade, on_l1 = recorder.on_trade, recorder.on_l1

    def trade(tr: Any) -> None:
        if tr.symbol == symbol:
            on_trade(symbol, tr.ts_ns, tr.price_ticks, tr.qty_lots, int(tr.aggressor))

    def l1(sym: str, ts: int, row: tuple) -> None:
        if sym == symbol:
            on_l1(symbol, ts, row[0], row[1], row[2], row[3])

    levels, every = sim.scenario.l2_levels, sim.scenario.l2_every_ns

    def l2(_: object = None) -> None:
        d = venue.engine.depth(symbol, levels)
        recorder.on_l2(symbol, kernel.now, d.bids, d.asks)
        if kernel.now + every <= sim.duration_ns:
            kernel.schedule(kernel.now + every, l2)

    venue.trade_observers.append(trade)
    venue.l1_observers.append(l1)
    kernel.schedule(0, l2)


def simulate(sim: Simulation, *, progress: bool | TextIO = False, label: str = "") -> float:
    """Start the agents and run the kernel to the end of the session; return the wall seconds."""
    bar = None
    if progress:
        bar = Progress(sim.duration_ns, label=label, stream=None if progress is True else progress)
    t0 = time.perf_counter()
    sim.start()
    sim.kernel.run(sim.duration_ns, on_step=bar.update if bar else None)
    sim.finish()
    wall = time.perf_counter() - t0
    if bar:
        bar.done()
    return wall


def run_metrics(sim: Simulation, recorder: Any) -> dict:
    """Deterministic run figures for metrics.json (no wall-clock time)."""
    counts = sim.counters()
    engine = sim.home.engine
    engine._check()   # conservation and every book/hold invariant, once, at the end
    bid, ask = engine.best_bid_ask(sim.symbol)
    trades = recorder.trades(sim.symbol)
    out = {
        "duration_s": sim.duration_ns / NS,
        "symbol": sim.symbol,
        "venue": sim.home.name,
        "tick_size_units": sim.tick_size,
        "messages": counts["commands"] + counts["events_delivered"] + counts["market_data_delivered"],
        **counts,
        "journal_records": sim.home.journal.last_seq,
        "journal_bytes": len(sim.home.journal.to_bytes()),
        "engine_events": engine.last_seq,
        "state_hash": engine.state_hash(),
        "trades": int(len(trades["ts_ns"])),
        "volume_lots": int(trades["qty_lots"].sum()) if len(trades["qty_lots"]) else 0,
        "final_bid": bid or 0,
        "final_ask": ask or 0,
        "accounts": len(engine.accounts()),
        "agents": sim.agent_summaries(),
    }
    if sim.fundamental is not None:
        out["fundamental_final"] = round(sim.fundamental.value, 3)
        out["fundamental_jumps"] = sim.fundamental.jumps
    return out


def run_scenario(scenario: Scenario, *, seed: int | None = None, duration_ns: int | None = None,
                 out_dir: Path | str | None = None, progress: bool | TextIO = False,
                 runs_root: Path | str = "runs") -> RunResult:
    """Build, run, record, analyse and report one run; return where it went and what it found."""
    from .facts import compute_facts
    from .recorder import Recorder
    from .report import write_run_report

    sim = Simulation(scenario, seed=seed, duration_ns=duration_ns)
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(scenario, sim.seed, runs_root)
    recorder = Recorder([sim.symbol], l2_levels=scenario.l2_levels, l2_every_ns=scenario.l2_every_ns)
    record_home(sim, recorder)
    wall = simulate(sim, progress=progress, label=f"{scenario.name} seed {sim.seed}")
    t1 = time.perf_counter()
    metrics = run_metrics(sim, recorder)
    inst = sim.instrument
    run_dir.mkdir(parents=True, exist_ok=True)
    recorder.save(run_dir, {sim.symbol: (str(inst.price_unit), str(inst.lot_size))})
    (run_dir / JOURNAL_FILE).write_bytes(sim.home.journal.segment_bytes())
    warmup = min(scenario.warmup_ns, sim.duration_ns // 2)
    facts = compute_facts(recorder.trades(sim.symbol), recorder.l1(sim.symbol), tick_size=float(sim.tick_size),
                          start_ns=warmup, end_ns=sim.duration_ns)
    if sim.world is not None:
        metrics["liquidity"] = write_liquidity_outputs(sim, run_dir)
    report = write_run_report(run_dir, scenario_name=scenario.name, seed=sim.seed, recorder=recorder,
                              facts=facts, metrics=metrics, symbol=sim.symbol)
    msgs = metrics["messages"]
    timing = {"wall_s_simulation": round(wall, 3), "wall_s_outputs": round(time.perf_counter() - t1, 3),
              "virtual_s": sim.duration_ns / NS, "messages": msgs,
              "messages_per_s": round(msgs / wall) if wall > 0 else None,
              "speedup_vs_real_time": round(sim.duration_ns / NS / wall, 1) if wall > 0 else None}
    (run_dir / TIMING_FILE).write_text(json.dumps(timing, indent=2, sort_keys=True) + "\n")
    return RunResult(run_dir, report, facts, metrics, timing)


def write_liquidity_outputs(sim: Simulation, run_dir: Path) -> dict:
    """A shared-liquidity run's extra outputs (the recording contract, sim.liquidity.record), every
    partner venue's journal (``venues/<venue>/journal.bin``), then ``liquidity.html`` by
    ``sim.compare.report.write_liquidity_report``. Returns a short summary for metrics.json.

    Raises:
        AssertionError: an asset is not conserved across venues (liquidity.json, already written, says
            which and by how much).
    """
    world = sim.world
    for name, venue in sim.venues.items():
        venue.engine._check()
        if name != sim.home.name:
            (run_dir / "venues" / name).mkdir(parents=True, exist_ok=True)
            (run_dir / "venues" / name / JOURNAL_FILE).write_bytes(venue.flush_journal().segment_bytes())
    doc = world.recorder.save(run_dir)
    from sim.compare.report import write_liquidity_report   # matplotlib and the metrics: sharing runs only
    write_liquidity_report(run_dir)
    broken = {a: v for a, v in doc["conservation"].items() if not v["ok"]}
    if broken:   # an impossible state (DESIGN.md §1): every asset is conserved across venues
        raise AssertionError(f"conservation across venues broken in {run_dir}: {broken}")
    return {"model": doc["model"], "conservation_ok": True, "volume_lots": doc["volume_lots"]}


def describe(result: RunResult) -> str:
    """A few lines for the terminal after a run."""
    m, t = result.metrics, result.timing
    passed = [r for r in result.facts.banded()]
    ok = sum(1 for r in passed if r.passed)
    text = (f"{format_ns(int(m['duration_s'] * NS))} virtual in {t['wall_s_simulation']:.1f}s wall "
            f"({t['messages_per_s'] or 0:,} msg/s): {m['commands']:,} commands, {m['trades']:,} trades; "
            f"stylized facts {ok}/{len(passed)} bands passed")
    liq = m.get("liquidity")
    if liq:
        vol = ", ".join(f"{v} {n:,}" for v, n in liq["volume_lots"].items())
        text += (f"\nshared liquidity ({liq['model']}): traded lots {vol}; conservation across venues "
                 f"{'holds' if liq['conservation_ok'] else 'BROKEN (see liquidity.json)'}")
    return text
