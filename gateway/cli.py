"""The `bdax` command line: one entry point, one subcommand group per package.

Each group lives beside what it drives (``benchmarks/cli.py``, ``exchange/journal/cli.py``, ...) and
exposes ``register(subparsers)``, which adds its parser and sets ``func(args) -> int``. Modules are
imported here but must keep heavy imports (FastAPI, numpy, matplotlib) inside their ``func`` so that
``bdax --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# (module, why it is optional): a group whose module is not there yet is simply not offered.
GROUPS = [
    "benchmarks.cli",
    "exchange.journal.cli",
    "sim.cli",
    "gateway.serve_cli",
    "sim.bots.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bdax",
        description="bdax: a simulated digital-asset exchange (matching engine, journal, Binance-style "
                    "gateway, market simulator, shared liquidity).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
