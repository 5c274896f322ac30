"""``bdax journal ...``: check, replay, read and snapshot a journal directory.

``verify``, ``replay`` and ``dump`` never change a file (a torn tail is reported, not truncated);
``snapshot`` recovers (truncating a torn tail, as a restart would) and writes a new snapshot.
Exit codes: 0 success / healthy, 1 a damaged or unusable journal, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
from enum import IntEnum
from pathlib import Path

__all__ = ["register"]

_DESCRIPTION = """Check, replay, read and snapshot a journal directory.

verify, replay and dump never change a file (a torn tail is reported, not truncated); snapshot recovers
(truncating a torn tail, as a restart would) and writes a new snapshot.
Exit codes: 0 success / healthy, 1 a damaged or unusable journal, 2 bad arguments."""
_EPILOG = ("A journal directory holds meta (the engine as created), journal-<seq>.seg segment files and "
           "snapshot-<seq>.snap files; see exchange/journal/__init__.py.")


def register(subparsers) -> None:
    """Add ``journal`` and its subcommands to the ``bdax`` parser."""
    p = subparsers.add_parser("journal", help="check, replay, dump and snapshot a command journal",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="journal_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    v = sub.add_parser("verify", help="check every record and snapshot; exit 0 if healthy, 1 if not",
                       description="Check meta, every snapshot (CRC, restore, state hash), every segment "
                                   "(CRCs, gap-free record seqs) and, unless --no-replay, replay all records "
                                   "and compare the state hash at each snapshot. Changes nothing. Healthy "
                                   "(exit 0) means recovery would succeed without falling back; a torn tail "
                                   "is only a warning.")
    v.add_argument("dir", type=Path, metavar="DIR", help="the journal directory")
    v.add_argument("--no-replay", action="store_true", help="skip the replay (structure and snapshots only)")
    v.set_defaults(func=_verify)

    r = sub.add_parser("replay", help="replay the journal; print state hash, books and balances",
                       description="Rebuild the engine as recovery would (newest good snapshot + later "
                                   "records), read-only, and print its state hash and a summary of books "
                                   "and balances.")
    r.add_argument("dir", type=Path, metavar="DIR", help="the journal directory")
    r.add_argument("--until", type=_positive, metavar="SEQ", help="stop after record SEQ")
    r.add_argument("--from-start", action="store_true",
                   help="replay every record from meta, ignoring snapshots (needs unpruned segments)")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    r.set_defaults(func=_replay)

    d = sub.add_parser("dump", help="print records in human-readable form",
                       description="Print records, one per line: seq, command, fields. On damage, prints "
                                   "the good records before it, then the error.")
    d.add_argument("dir", type=Path, metavar="DIR", help="the journal directory")
    d.add_argument("--from", dest="from_seq", type=_positive, default=None, metavar="SEQ",
                   help="first record to print (default: the oldest on disk)")
    d.add_argument("--limit", type=_positive, default=None, metavar="N", help="print at most N records")
    d.set_defaults(func=_dump)

    s = sub.add_parser("snapshot", help="replay and write a new snapshot",
                       description="Recover the directory (truncating a torn tail, as a restart would), "
                                   "write snapshot-<last seq>.snap and, with --keep, prune old snapshots and "
                                   "the segments they alone needed.")
    s.add_argument("dir", type=Path, metavar="DIR", help="the journal directory")
    s.add_argument("--keep", type=_positive, default=None, metavar="K",
                   help="then keep only the newest K snapshots (and delete segments they cover)")
    s.set_defaults(func=_snapshot)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _guard(func):
    """Turn journal errors into one clear line on stderr and exit code 1."""
    def run(args) -> int:
        from .segments import JournalError
        if not args.dir.is_dir():
            print(f"bdax journal: {args.dir} is not a directory (give the journal directory, the one holding "
                  f"meta and journal-*.seg)", file=sys.stderr)
            return 1
        try:
            return func(args)
        except JournalError as exc:
            print(f"bdax journal {args.journal_command}: {exc}", file=sys.stderr)
            return 1
    return run


@_guard
def _verify(args) -> int:
    from .verify import verify
    report = verify(args.dir, replay=not args.no_replay)
    print(report.summary())
    return 0 if report.healthy else 1


def _book_summary(engine) -> list[dict]:
    books = []
    for symbol, inst in sorted(engine.instruments.items()):
        bid, ask = engine.best_bid_ask(symbol)
        depth = engine.depth(symbol, limit=1 << 62)
        bids, asks = engine.l3(symbol)
        books.append({
            "symbol": symbol, "update_id": depth.update_id, "halted": engine.is_halted(symbol),
            "best_bid": None if bid is None else inst.format_price(bid),
            "best_ask": None if ask is None else inst.format_price(ask),
            "bid_levels": len(depth.bids), "ask_levels": len(depth.asks),
            "bid_orders": len(bids), "ask_orders": len(asks),
        })
    return books


def _balance_summary(engine) -> list[dict]:
    decimals = {}
    for inst in engine.instruments.values():
        decimals[inst.base.name], decimals[inst.quote.name] = inst.base, inst.quote
    accounts = engine.accounts()
    available = {a: 0 for a in decimals}
    held = {a: 0 for a in decimals}
    holders = {a: 0 for a in decimals}
    for account in accounts:
        for asset, bal in engine.balances(account).items():
            available[asset] += bal.available
            held[asset] += bal.held
            holders[asset] += bool(bal.available or bal.held)
    net = engine.net_deposits()
    out = []
    for asset, a in sorted(decimals.items()):
        out.append({"asset": asset, "accounts": holders[asset], "available": a.format(available[asset]),
                    "held": a.format(held[asset]), "net_deposits": a.format(net.get(asset, 0)),
                    "conserved": available[asset] + held[asset] == net.get(asset, 0)})
    return out


@_guard
def _replay(args) -> int:
    from .recovery import recover
    engine, report = recover(args.dir, repair=False, until_seq=args.until, use_snapshots=not args.from_start)
    books, balances = _book_summary(engine), _balance_summary(engine)
    if args.json:
        print(json.dumps({"dir": str(args.dir), "record_seq": report.last_seq, "base": report.base,
                          "replayed": report.replayed, "fallbacks": report.fallbacks,
                          "torn_bytes": report.torn_bytes, "engine_seq": engine.last_seq,
                          "state_hash": report.state_hash, "accounts": len(engine.accounts()),
                          "books": books, "balances": balances}))
        return 0
    print(report.summary())
    if args.until and report.last_seq < args.until:
        print(f"  note: the journal ends at record {report.last_seq}, before --until {args.until}")
    print(f"state hash {report.state_hash} at record {report.last_seq} (engine event seq {engine.last_seq})")
    print("books:")
    for b in books:
        print(f"  {b['symbol']:<12} bid {b['best_bid'] or '-':>14}  ask {b['best_ask'] or '-':>14}  "
              f"levels {b['bid_levels']:,}/{b['ask_levels']:,}  "
              f"orders {b['bid_orders']:,}/{b['ask_orders']:,}"
              f"  update {b['update_id']:,}" + ("  HALTED" if b["halted"] else ""))
    print(f"balances: {len(engine.accounts()):,} accounts (fee account included)")
    for b in balances:
        print(f"  {b['asset']:<6} available {b['available']:>22}  held {b['held']:>20}  in {b['accounts']:,} "
              f"accounts  " + ("conserved" if b["conserved"] else f"NOT CONSERVED (net deposits "
                                                                    f"{b['net_deposits']})"))
    return 0


def _format(command) -> str:
    parts = []
    for name, value in zip(command._fields, command):
        if isinstance(value, IntEnum):
            value = value.name
        elif isinstance(value, str):
            value = repr(value)
        parts.append(f"{name}={value}")
    return f"{type(command).__name__:<16} " + " ".join(parts)


@_guard
def _dump(args) -> int:
    from .reader import JournalReader
    from .segments import list_segments
    segments = list_segments(args.dir)
    start = args.from_seq or (segments[0][0] if segments else 1)
    shown = 0
    try:
        for seq, command in JournalReader(args.dir).commands(start):
            print(f"{seq:>10}  {_format(command)}")
            shown += 1
            if args.limit is not None and shown >= args.limit:
                break
    except BrokenPipeError:   # `bdax journal dump DIR | head`
        sys.stderr.close()
        return 0
    if shown == 0:
        print(f"(no records{' from ' + str(args.from_seq) if args.from_seq else ''})", file=sys.stderr)
    return 0


@_guard
def _snapshot(args) -> int:
    from .segments import DirLock
    from .recovery import recover
    from .snapshots import prune, write_snapshot
    engine, report = recover(args.dir)
    print(report.summary())
    lock = DirLock(args.dir)
    try:
        path = write_snapshot(args.dir, engine, report.last_seq)
        print(f"wrote {path.name}: record {report.last_seq}, {path.stat().st_size:,} bytes, "
              f"state {report.state_hash}")
        if args.keep:
            pruned = prune(args.dir, args.keep)
            print(f"pruned {len(pruned.snapshots)} snapshot(s) and {len(pruned.segments)} segment(s)")
    finally:
        lock.release()
    return 0
