"""``bdax bench``: the benchmark commands. Imports here stay light (no numpy, no engine): the work is
imported when a subcommand runs.

- ``bdax bench matching``: bdax against a naive book and C++ liquibook (:mod:`benchmarks.matching`).
- ``bdax bench journal``: the command journal's write and replay rates (:mod:`benchmarks.journal_bench`,
  which declares its own options through ``add_arguments(parser)`` and runs with ``run(args) -> int``).
- ``bdax bench liquidity``: the sharing hubs' overhead on the home venue (:mod:`benchmarks.liquidity_bench`).
- ``bdax bench gateway``: a real ``bdax serve`` on loopback under WebSocket API order flow and market-data
  fan-out (:mod:`benchmarks.gateway_bench`, same ``add_arguments`` / ``run`` shape).
"""
from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["register", "add_matching_arguments"]

JOURNAL_MODULE = "benchmarks.journal_bench"
SIM_MODULE = "benchmarks.sim_bench"
GATEWAY_MODULE = "benchmarks.gateway_bench"
LIQUIDITY_MODULE = "benchmarks.liquidity_bench"


def add_matching_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workload", choices=("ec", "deep", "all"), default="all",
                        help="ec: exchange-core's mix on a ~1,000-order book; deep: a 100,000-order book "
                             "with sweeping IOCs; all: both (default)")
    parser.add_argument("--runs", type=int, default=None,
                        help="timed runs per engine; the median is reported (default 5, 2 with --quick)")
    parser.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    parser.add_argument("--quick", action="store_true", help="small workloads: a smoke run of a few seconds")
    parser.add_argument("--json-only", action="store_true",
                        help="print only the JSON line (no table, no progress)")
    parser.add_argument("--engines", default=None, metavar="LIST",
                        help="comma-separated subset of bdax,naive,liquibook (default: all available)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory pass (one fresh process per engine and workload)")


def _run_matching(args: argparse.Namespace) -> int:
    from . import matching
    return matching.run(args)


def _journal_missing(args: argparse.Namespace) -> int:
    print(f"bdax bench journal: not available yet ({JOURNAL_MODULE} is not in this checkout)",
          file=sys.stderr)
    return 2


class _LazyParser(argparse.ArgumentParser):
    """A subcommand parser that asks a module for its options only when that subcommand is parsed, so
    that ``bdax --help`` and the other subcommands never import it."""

    loader = None  # set on the instance: a callable(parser) -> bool (False: consume everything)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        loader, self.loader = self.loader, None
        if loader is not None and not loader(self):
            namespace = namespace or argparse.Namespace()
            namespace.func = _journal_missing
            return namespace, []
        return super().parse_known_args(args, namespace)


def _load_journal(parser: argparse.ArgumentParser) -> bool:
    try:
        module = importlib.import_module(JOURNAL_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == JOURNAL_MODULE:
            return False
        raise
    module.add_arguments(parser)
    parser.set_defaults(func=module.run)
    return True


def _loader(module_name: str):
    """A subcommand loader for a benchmark module that declares ``add_arguments(parser)`` and ``run(args)``,
    imported only when that subcommand runs."""
    def load(parser: argparse.ArgumentParser) -> bool:
        module = importlib.import_module(module_name)
        module.add_arguments(parser)
        parser.set_defaults(func=module.run)
        return True
    return load


def register(subparsers) -> None:
    """Add ``bench`` and its subcommands to the ``bdax`` command line."""
    bench = subparsers.add_parser("bench", help="benchmarks: matching engine, journal",
                                  description="Benchmarks that anyone can rerun; each prints a table and "
                                              "one JSON line.")
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", parser_class=_LazyParser)
    matching = sub.add_parser(
        "matching", help="matching throughput, latency and memory: bdax vs a naive book vs liquibook",
        description="Benchmark bdax's engine (validation, holds, matching, settlement, fees, events) "
                    "against a naive SortedDict+deque book and, if installed, C++ liquibook, on seeded "
                    "workloads. Prints a table and one JSON line (the last line of stdout).")
    add_matching_arguments(matching)
    matching.set_defaults(func=_run_matching)
    journal = sub.add_parser("journal", help="journal append and replay throughput",
                             description="Benchmark the write-ahead command journal.")
    journal.loader = _load_journal
    gateway = sub.add_parser(
        "gateway", help="gateway orders/s and round trips over the WebSocket API; market-data fan-out",
        description="Start `bdax serve` on loopback; N WebSocket API clients place and cancel orders "
                    "(orders/s, p50/p99/p99.9 round trip), M subscribers take depth and trades while "
                    "orders flow (messages/s, gaps). Prints a table and one JSON line.")
    gateway.loader = _loader(GATEWAY_MODULE)
    sim = sub.add_parser("sim", help="simulator messages/s, wall time and peak memory at 1k, 10k, 100k agents",
                         description="Benchmark the market simulator on ABIDES's rmsc04 agent mix, then with "
                                     "10,000 and 100,000 noise agents; compares with ABIDES's measured "
                                     "36,345 msg/s. Prints a table and one JSON line.")
    sim.loader = _loader(SIM_MODULE)
    liquidity = sub.add_parser(
        "liquidity", help="home venue cmd/s as a plain engine, mirrored and pooled hub; compare wall time",
        description="The same order flow through a plain Engine, a MirroredVenue (2 quoting partners, a "
                    "scripted partner answering children) and a PooledVenue (3 venues, periodic settlement): "
                    "cmd/s and overhead vs the engine; with --compare-seeds N the wall time of `bdax sim "
                    "compare` at N seeds. Prints a table and one JSON line.")
    liquidity.loader = _loader(LIQUIDITY_MODULE)
    bench.set_defaults(func=lambda args: (bench.print_help(), 2)[1])
