"""``bdax bench sim``: the simulator's speed and memory on ABIDES's rmsc04 agent mix, then at 10,000 and
100,000 agents.

Workloads (``sim/scenarios/rmsc04.toml``: 1 market maker, 100 value, 25 momentum and N noise agents, one
6.5-hour day; ``--quick``: 30 minutes):

- ``rmsc04``: N = 1,000 (1,126 agents).
- ``10k``: N = 10,000 noise agents (10,126 agents), as ABIDES's 10,117-agent measurement.
- ``100k``: N = 100,000 noise agents (100,126 agents).

Messages = commands the venue applied + events delivered to agents (acks, fills, cancels, rejects) +
market-data pushes delivered to subscribed agents; timer wake-ups are not counted (they are reported as
kernel actions). Each workload runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own.

The ABIDES figure is fixed, not rerun: abides-jpmc-public rmsc04, full day, logging off, measured on this
project's 2-core machine: 472,869 messages in 13.0 s = 36,345 msg/s, 186 MB; 10,117 agents: 2,489 MB
(reference doc sim-and-liquidity.md §1.1.6). ABIDES counts every kernel message, wake-ups included.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time

__all__ = ["add_arguments", "run", "ABIDES_MSG_PER_S"]

ABIDES_MSG_PER_S = 36_345          # published in the reference doc §1.1.6 (fixed figure, not rerun)
ABIDES_RSS_MB = {"rmsc04": 186, "10k": 2489}
WORKLOADS = {"rmsc04": 1_000, "10k": 10_000, "100k": 100_000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="30 minutes of virtual time per workload "
                                                              "instead of the 6.5-hour day")
    parser.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all",
                        help="one workload or all (default)")
    parser.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")


def _one(name: str, noise: int, duration: str, seed: int, queue: "mp.Queue") -> None:
    """Run one workload in this (fresh) process and put its figures on ``queue``."""
    from sim.build import Simulation
    from sim.scenario import load_scenario

    t0 = time.perf_counter()
    scenario = load_scenario("rmsc04", [f"agents.noise.count={noise}", f'run.duration="{duration}"'])
    sim = Simulation(scenario, seed=seed)
    build = time.perf_counter() - t0
    sim.start()
    t1 = time.perf_counter()
    sim.kernel.run(sim.duration_ns)
    sim.finish()
    wall = time.perf_counter() - t1
    c = sim.counters()
    msgs = c["commands"] + c["events_delivered"] + c["market_data_delivered"]
    agents = sum(len(g) if g[0].__class__.__name__ in ("MarketMaker", "ScheduledExecution")
                 else getattr(g[0], "count", 1) for g in sim.groups.values())
    queue.put({"workload": name, "agents": agents, "virtual_s": sim.duration_ns / 1e9, "messages": msgs, **c,
               "accounts": len(sim.home.engine.accounts()), "build_s": round(build, 3), "wall_s": round(wall, 3),
               "msg_per_s": round(msgs / wall) if wall > 0 else None,
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def _environment() -> dict:
    from .matching import _environment as env
    out = env()
    out.pop("liquibook", None)
    return out


def run(args: argparse.Namespace) -> int:
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    duration = "30m" if args.quick else "6.5h"
    ctx = mp.get_context("spawn")
    results = []
    env = _environment()
    for name in names:
        if not args.json_only:
            print(f"running {name} ({WORKLOADS[name]:,} noise agents, {duration}) ...", file=sys.stderr, flush=True)
        q: mp.Queue = ctx.Queue()
        p = ctx.Process(target=_one, args=(name, WORKLOADS[name], duration, args.seed, q))
        p.start()
        res = q.get()
        p.join()
        if p.exitcode:
            print(f"bdax bench sim: workload {name} failed (exit {p.exitcode})", file=sys.stderr)
            return 1
        results.append(res)
    report = {"benchmark": "sim", "quick": args.quick, "seed": args.seed, "environment": env,
              "abides_reference": {"msg_per_s": ABIDES_MSG_PER_S, "rss_mb": ABIDES_RSS_MB,
                                   "source": "reference doc §1.1.6, measured on this project's 2-core machine; "
                                             "a fixed published figure, not rerun"},
              "results": results}
    if not args.json_only:
        print(_table(report))
    print(json.dumps(report, sort_keys=True))
    return 0


def _table(report: dict) -> str:
    env = report["environment"]
    m = env["machine"]
    lines = [f"bdax bench sim ({'quick, 30 min' if report['quick'] else 'full 6.5-hour day'}, seed {report['seed']}); "
             f"engine {env['bdax_engine']}; Python {env['python']}, {m['cpu']} x{m['nproc']}, "
             f"load {m['loadavg_1m_at_start']}, commit {env['commit'] or 'unknown'}",
             f"{'workload':<9} {'agents':>8} {'messages':>11} {'commands':>10} {'wall s':>7} {'msg/s':>9} "
             f"{'vs ABIDES':>9} {'peak RSS':>9}"]
    for r in report["results"]:
        ratio = r["msg_per_s"] / ABIDES_MSG_PER_S if r["msg_per_s"] else 0
        lines.append(f"{r['workload']:<9} {r['agents']:>8,} {r['messages']:>11,} {r['commands']:>10,} "
                     f"{r['wall_s']:>7.1f} {r['msg_per_s']:>9,} {ratio:>8.1f}x {r['peak_rss_mb']:>6.0f} MB")
    lines.append(f"ABIDES rmsc04 (fixed figure, reference §1.1.6): {ABIDES_MSG_PER_S:,} msg/s, 186 MB; "
                 f"10,117 agents: 2,489 MB. ABIDES counts wake-ups as messages; bdax does not.")
    return "\n".join(lines)
