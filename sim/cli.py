"""``bdax sim``: list, run and sweep simulation scenarios. Heavy imports stay inside the commands."""
from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="a shipped scenario name (see `bdax sim list`) or a path to a TOML file")
    p.add_argument("--duration", metavar="TIME", default=None,
                   help='override the session length: "6.5h", "90m", "45s" or seconds')
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a scenario field, validated like the file (repeatable), e.g. "
                        "--set agents.noise.count=2000 --set 'run.duration=\"2h\"'")


def _load(args: argparse.Namespace):
    from .scenario import ScenarioError, load_scenario, parse_duration
    try:
        scenario = load_scenario(args.scenario, args.overrides)
        duration = parse_duration(args.duration, "--duration") if args.duration is not None else None
    except ScenarioError as exc:
        print(f"bdax sim: {exc}", file=sys.stderr)
        return None, None
    return scenario, duration


def _cmd_list(args: argparse.Namespace) -> int:
    from .scenario import ScenarioError, list_scenarios, load_scenario
    from .progress import format_ns
    for name, path in list_scenarios().items():
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            print(f"{name:15s} INVALID: {exc}")
            continue
        agents = sum(g.count for g in sc.groups)
        print(f"{name:15s} {format_ns(sc.duration_ns):>7s}  {agents:>6,} agents  {sc.home_symbol} @ {sc.home_venue}"
              f"  {sc.description}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    scenario, duration = _load(args)
    if scenario is None:
        return 2
    from .runner import describe, run_scenario
    seed = args.seed if args.seed is not None else scenario.seed
    if not 0 <= seed < 2**63:
        print(f"bdax sim run: --seed must be in 0..2**63-1, got {seed}", file=sys.stderr)
        return 2
    result = run_scenario(scenario, seed=seed, duration_ns=duration, out_dir=args.out,
                          progress=not args.quiet)
    print(describe(result), file=sys.stderr)
    if not args.quiet:
        print(result.facts.to_markdown(), file=sys.stderr)
    print(result.report)
    return 0


def _parse_seeds(text: str) -> list[int]:
    """``20`` -> seeds 1..20; ``5-9`` -> 5..9; ``1,4,7`` -> those."""
    text = text.strip()
    try:
        if "," in text:
            seeds = [int(x) for x in text.split(",") if x.strip()]
        elif "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            seeds = list(range(lo, hi + 1))
        else:
            n = int(text)
            seeds = list(range(1, n + 1)) if n > 0 else []
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected a count (20), a range (5-9) or a list (1,4,7) of distinct "
                                         f"non-negative seeds, got {text!r}")
    return seeds


def _cmd_sweep(args: argparse.Namespace) -> int:
    scenario, duration = _load(args)
    if scenario is None:
        return 2
    from pathlib import Path

    from .sweep import RayUnavailable, run_sweep
    if args.jobs is not None and args.jobs < 1:
        print(f"bdax sim sweep: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / f"sweep-{scenario.name}"
    try:
        report, results = run_sweep(args.scenario, args.seeds, overrides=args.overrides, duration_ns=duration,
                                    out_dir=out, jobs=args.jobs, use_ray=args.ray)
    except RayUnavailable as exc:
        print(f"bdax sim sweep: {exc}", file=sys.stderr)
        return 2
    import json
    doc = json.loads((report.parent / "sweep.json").read_text())
    from .facts import FactsTable
    print(FactsTable.from_dict(doc["facts"]).to_markdown(), file=sys.stderr)
    print(report)
    return 0


def register(subparsers) -> None:
    """Add ``sim`` and its subcommands to the ``bdax`` command line."""
    sim = subparsers.add_parser("sim", help="agent-based market simulation: list, run, sweep, compare",
                                description="The discrete-event market simulator: scenarios are TOML files "
                                            "(sim/scenarios/); each run writes trades, L1/L2, plots, "
                                            "metrics.json, a stylized-facts report and its journal.")
    sub = sim.add_subparsers(dest="sim_command", metavar="SIM")
    p = sub.add_parser("list", help="the shipped scenarios", description="List the shipped scenarios.")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="run one scenario and write its report",
                       description="Run a scenario with one seed. Outputs go to runs/<scenario>-<seed>/ "
                                   "(--out to change); the report's path is printed last.")
    _add_common(p)
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the scenario's run.seed)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/<scenario>-<seed>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no facts table on stderr")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("sweep", help="run many seeds and aggregate the stylized facts",
                       description="Run a scenario over many seeds on a local process pool (or Ray with "
                                   "--ray) and write a sweep report with the facts aggregated over seeds.")
    _add_common(p)
    p.add_argument("--seeds", type=_parse_seeds, default=_parse_seeds("20"), metavar="N|A-B|LIST",
                   help="20 = seeds 1..20 (default), 5-9 = a range, 1,4,7 = a list")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--ray", action="store_true", help="run the seeds as Ray tasks (needs Ray installed)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/sweep-<scenario>)")
    p.set_defaults(func=_cmd_sweep)
    from .compare.cli import add_parser as add_compare   # `bdax sim compare`: the sharing models side by side
    add_compare(sub)
    sim.set_defaults(func=lambda args: (sim.print_help(), 2)[1])
