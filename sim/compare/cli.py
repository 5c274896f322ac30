"""``bdax sim compare``: registered by ``sim/cli.py`` through :func:`add_parser`. Heavy imports stay inside
the command."""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "DEFAULT_SCENARIOS"]

DEFAULT_SCENARIOS = "busan-isolated,busan-mirrored,busan-pooled"


def _scenarios(text: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated scenario names, got {text!r}")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"scenarios must be distinct, got {text!r}")
    return items


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative whole number, got {text!r}")
    return n


def _cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sim.cli import _parse_seeds
    from sim.compare.compare import CompareError, headline_text, run_compare
    from sim.scenario import ScenarioError, parse_duration

    if args.jobs is not None and args.jobs < 1:
        print(f"bdax sim compare: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    try:
        duration = parse_duration(args.duration, "--duration") if args.duration is not None else None
    except ScenarioError as exc:
        print(f"bdax sim compare: {exc}", file=sys.stderr)
        return 2
    seeds = args.seeds
    zi = _parse_seeds(str(args.zi_seeds)) if args.zi_seeds else []
    out = Path(args.out) if args.out else Path("runs") / ("compare-" + "-".join(s.split("/")[-1].removesuffix(".toml")
                                                                                for s in args.scenarios))
    try:
        path, doc = run_compare(args.scenarios, seeds, out_dir=out, jobs=args.jobs, duration_ns=duration,
                                overrides=args.overrides, zi_seeds=zi, zi_k=args.zi_k)
    except CompareError as exc:
        print(f"bdax sim compare: {exc}", file=sys.stderr)
        return 2
    print(headline_text(doc), file=sys.stderr)
    print(path)
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``compare`` to the ``bdax sim`` subcommands; returns the parser."""
    from sim.cli import _parse_seeds

    p = subparsers.add_parser(
        "compare", help="run sharing models over many seeds and compare their liquidity",
        description="Run each scenario (by default the three sharing models: isolated, mirrored, pooled) on "
                    "the same seeds in a process pool, then write compare.json + compare.html: spreads, depth, "
                    "slippage curves, routing fill ratio, trade-throughs, dispersion, arbitrage half-life as "
                    "median [95% CI] per model, paired ratios against the first scenario, literature checks "
                    "(square-root law and pooling, zero-intelligence spread) and the stylized-facts guard.")
    p.add_argument("--scenarios", type=_scenarios, default=_scenarios(DEFAULT_SCENARIOS), metavar="A,B,C",
                   help=f"comma-separated scenario names or TOML paths; the first is the baseline "
                        f"(default {DEFAULT_SCENARIOS})")
    p.add_argument("--seeds", type=_parse_seeds, default=_parse_seeds("20"), metavar="N|A-B|LIST",
                   help="20 = seeds 1..20 (default), 5-9 = a range, 1,4,7 = a list")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--duration", metavar="TIME", default=None,
                   help='override every scenario\'s session length: "2h", "30m", "45s" or seconds')
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a field in every scenario, validated like the file (repeatable)")
    p.add_argument("--zi-seeds", type=_count, default=8, metavar="N",
                   help="seeds of the pure zero-intelligence runs for the ZI spread check (default 8; 0 skips it)")
    p.add_argument("--zi-k", type=int, default=4, metavar="K",
                   help="venues pooled in the ZI check (default 4: every ZI rate × 4)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output directory (default runs/compare-<scenarios>)")
    p.set_defaults(func=_cmd_compare)
    return p
