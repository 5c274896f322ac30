"""Many seeds of one scenario: a local process pool by default, Ray's existing API with ``--ray``.

Each seed is an independent run (its own process, its own ``runs/<scenario>-<seed>/`` under the sweep's
directory); the sweep report aggregates the stylized facts over seeds (median and bootstrap CI, fraction of
seeds passing: :func:`sim.facts.aggregate_facts`). Runs are collected in seed order, so the report does
not depend on which worker finished first.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable

__all__ = ["run_one", "run_sweep", "RayUnavailable"]


class RayUnavailable(RuntimeError):
    """``--ray`` was asked for but Ray cannot be imported."""


def run_one(scenario_ref: str, overrides: list[str], seed: int, duration_ns: int | None, out_dir: str) -> dict:
    """One seed in a worker: run, report, and return what the sweep report needs (picklable)."""
    from .runner import run_scenario
    from .scenario import load_scenario

    scenario = load_scenario(scenario_ref, overrides)
    result = run_scenario(scenario, seed=seed, duration_ns=duration_ns,
                          out_dir=Path(out_dir) / f"{scenario.name}-{seed}")
    return {"seed": seed, "scenario": scenario.name, "run_dir": str(result.run_dir),
            "facts": result.facts.to_dict(), "metrics": result.metrics, "timing": result.timing}


def _ray_map(args: list[tuple], jobs: int | None, on_done: Callable[[dict], None]) -> list[dict]:
    try:
        import ray  # type: ignore[import-not-found]
    except ImportError:
        raise RayUnavailable("--ray needs Ray (pip install 'ray[default]'); without --ray the sweep runs on a "
                             "local process pool") from None
    if not ray.is_initialized():
        ray.init(num_cpus=jobs) if jobs else ray.init()
    remote = ray.remote(run_one)
    pending = {remote.remote(*a): a[2] for a in args}
    out = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            pending.pop(ref)
            res = ray.get(ref)
            on_done(res)
            out.append(res)
    return out


def run_sweep(scenario_ref: str, seeds: list[int], *, overrides: list[str] | None = None,
              duration_ns: int | None = None, out_dir: Path | str, jobs: int | None = None,
              use_ray: bool = False, log: Any = None) -> tuple[Path, list[dict]]:
    """Run every seed, write the sweep report into ``out_dir``; return (report path, per-seed results).

    Raises:
        RayUnavailable: ``use_ray`` without Ray installed.
    """
    from .report import write_sweep_report

    overrides = list(overrides or [])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = log if log is not None else sys.stderr
    args = [(scenario_ref, overrides, s, duration_ns, str(out)) for s in seeds]
    finished = 0

    def on_done(res: dict) -> None:
        nonlocal finished
        finished += 1
        t = res["timing"]
        log.write(f"[{finished}/{len(seeds)}] seed {res['seed']}: {t['wall_s_simulation']:.1f}s wall, "
                  f"{sum(1 for r in res['facts']['rows'] if r.get('passed'))} bands passed\n")
        log.flush()

    if use_ray:
        results = _ray_map(args, jobs, on_done)
    else:
        jobs = jobs or min(len(seeds), os.cpu_count() or 1)
        results = []
        if jobs == 1:
            for a in args:
                res = run_one(*a)
                on_done(res)
                results.append(res)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(run_one, *a) for a in args]
                for fut in as_completed(futures):
                    res = fut.result()
                    on_done(res)
                    results.append(res)
    results.sort(key=lambda r: r["seed"])
    report = write_sweep_report(out, [{k: r[k] for k in ("seed", "scenario", "run_dir", "facts", "metrics")}
                                      for r in results])
    return report, results
