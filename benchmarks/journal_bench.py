"""``bdax bench journal``: what the write-ahead journal costs, how fast it replays, how big snapshots are.

Method:

1. Throughput with the journal off and on, in the same run, on the ``ec`` workload of ``bdax bench
   matching`` (:func:`benchmarks.workloads.build`). Modes: ``off`` (engine only), and journal on with fsync
   ``off``, ``every_batch`` and ``interval_ms=1`` (fsync at most every 1 ms), the last two both inline
   (the fsync inside ``append_batch``) and ``background`` (a syncer thread fsyncs while the engine works).
   Every mode runs the same loop over batches of ``--batch`` (512) commands; with the journal on, each
   batch is ``append_batch(batch)``, then ``engine.handle`` for each command (journal before effect,
   DESIGN.md §1), then the acknowledgement of every batch up to ``durable_seq``. Each run: a fresh engine
   and journal directory, the setup journaled and applied untimed, garbage collected, collector off, one
   ``perf_counter_ns`` pair around the measured stream plus the final ``flush()`` (so every mode ends with
   everything durable). Modes interleave run by run; the figure is the median of ``--runs``.
2. Replay: the ``every_batch`` journal of the last run recovered from ``meta`` (read, CRC, decode,
   ``engine.handle``) in records/s, and read + decode alone.
3. Snapshots: an engine with 100,000 resting orders (10,000 with ``--quick``); the size of its snapshot,
   the time to write it (``state_hash()`` + ``snapshot()`` + temp file + fsync + rename + directory fsync)
   and to load it (read + CRC + ``Engine.restore`` + the state hash check), medians of ``--runs``.

Journals are written under ``--dir`` (default: the system temp directory; its filesystem is reported,
because an fsync on tmpfs costs nothing).
"""
from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from statistics import median

__all__ = ["add_arguments", "run", "main", "MODES"]

MODES = ("off", "fsync off", "every batch", "every 1 ms", "every batch, bg", "every 1 ms, bg")
_POLICY = {"fsync off": "off", "every batch": "every_batch", "every 1 ms": "interval_ms=1",
           "every batch, bg": "every_batch", "every 1 ms, bg": "interval_ms=1"}
LOSS_GOAL_PCT = 25.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (ec quick workload, 10,000-order snapshot): a few seconds")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per mode; the median is reported "
                                                            "(default 3)")
    parser.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    parser.add_argument("--batch", type=int, default=512, help="commands per append_batch (default 512)")
    parser.add_argument("--snapshot-orders", type=int, default=None, metavar="N",
                        help="resting orders in the snapshot test (default 100,000; 10,000 with --quick)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to write the journals (default: the system temp directory)")
    parser.add_argument("--keep-journal", type=Path, default=None, metavar="DIR",
                        help="keep the last fsync-per-batch journal in DIR (for `bdax journal verify DIR`)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")


# Throughput -----------------------------------------------------------------------------------------

def _batches(commands: list, size: int) -> list[list]:
    return [commands[i:i + size] for i in range(0, len(commands), size)]


def _fresh(mode: str, w, batch: int, root: Path):
    """A fresh engine with the setup applied (and journaled, untimed) and the journal to time."""
    from exchange.journal import FileJournal, recover
    from benchmarks.workloads import make_engine
    if mode == "off":
        engine = make_engine()
        for command in w.bdax_setup:
            engine.handle(command)
        return engine, None, None
    data_dir = Path(tempfile.mkdtemp(prefix="journal-", dir=root))
    engine, _ = recover(data_dir, make_engine)
    journal = FileJournal(data_dir, fsync=_POLICY[mode], background=mode.endswith("bg"))
    for chunk in _batches(w.bdax_setup, batch):
        journal.append_batch(chunk)
        for command in chunk:
            engine.handle(command)
    journal.flush()
    return engine, journal, data_dir


def _timed(engine, journal, batches: list[list]) -> tuple[int, int]:
    """Nanoseconds for the measured stream (and the final flush); fsyncs it made."""
    handle = engine.handle
    fsyncs0 = journal.fsyncs if journal else 0
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        if journal is None:
            for batch in batches:
                for command in batch:
                    handle(command)
        else:
            append = journal.append_batch
            pending: deque[int] = deque()   # batches applied, not yet acknowledged (not yet durable)
            for batch in batches:
                pending.append(append(batch))
                for command in batch:
                    handle(command)
                durable = journal.durable_seq
                while pending and pending[0] <= durable:
                    pending.popleft()      # a shell would publish this batch's events now
            journal.flush()
        t1 = time.perf_counter_ns()
    finally:
        gc.enable()
    return t1 - t0, (journal.fsyncs - fsyncs0) if journal else 0


# Replay ----------------------------------------------------------------------------------------------

def _replay(data_dir: Path, runs: int) -> dict:
    from exchange.journal import JournalReader, recover
    full, read = [], []
    records = 0
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter_ns()
        _, report = recover(data_dir, use_snapshots=False, repair=False)
        full.append(time.perf_counter_ns() - t0)
        records = report.replayed
        t0 = time.perf_counter_ns()
        n = sum(1 for _ in JournalReader(data_dir).commands())
        read.append(time.perf_counter_ns() - t0)
        assert n == records
    return {"records": records, "replay_records_per_s": round(records * 1e9 / median(full)),
            "read_decode_records_per_s": round(records * 1e9 / median(read))}


# Snapshots -------------------------------------------------------------------------------------------

def _resting_engine(orders: int):
    """An engine with ``orders`` resting GTC orders (none crossing), spread over 1,000 accounts."""
    from exchange import Deposit, OrderType, Side, SubmitOrder, TimeInForce
    from benchmarks.workloads import DEPOSIT_BTC, DEPOSIT_USDT, MID_TICKS, SYMBOL, make_engine
    engine = make_engine()
    handle = engine.handle
    accounts = 1_000
    for account in range(1, accounts + 1):
        handle(Deposit(0, account, "BTC", DEPOSIT_BTC))
        handle(Deposit(0, account, "USDT", DEPOSIT_USDT))
    buy, sell, limit, gtc = Side.BUY, Side.SELL, OrderType.LIMIT, TimeInForce.GTC
    for i in range(orders):
        side, offset = (buy, -1) if i % 2 == 0 else (sell, 1)
        price = MID_TICKS + offset * (1 + (i // 2) % 5_000)
        handle(SubmitOrder(i, 1 + i % accounts, SYMBOL, side, limit, gtc, price, 10 + 10 * (i % 7)))
    return engine


def _snapshots(orders: int, runs: int, root: Path) -> dict:
    from exchange import Engine
    from exchange.journal.snapshots import load_engine, read_snapshot, write_snapshot
    engine = _resting_engine(orders)
    resting = sum(len(side) for side in engine.l3(next(iter(engine.instruments))))
    assert resting == orders, f"{resting} resting orders, wanted {orders}"
    data_dir = Path(tempfile.mkdtemp(prefix="snapshots-", dir=root))
    write_s, load_s, export_s = [], [], []
    try:
        for i in range(runs):
            gc.collect()
            t0 = time.perf_counter_ns()
            engine.snapshot()
            export_s.append((time.perf_counter_ns() - t0) / 1e9)
            t0 = time.perf_counter_ns()
            path = write_snapshot(data_dir, engine, i + 1)
            write_s.append((time.perf_counter_ns() - t0) / 1e9)
            gc.collect()
            t0 = time.perf_counter_ns()
            restored = load_engine(read_snapshot(path), Engine)
            load_s.append((time.perf_counter_ns() - t0) / 1e9)
            del restored
        size = path.stat().st_size
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"resting_orders": orders, "bytes": size, "write_s": round(median(write_s), 4),
            "load_s": round(median(load_s), 4), "engine_snapshot_s": round(median(export_s), 4)}


# Report ----------------------------------------------------------------------------------------------

def _filesystem(path: Path) -> str:
    """The filesystem type holding ``path`` (from /proc/mounts; "unknown" elsewhere)."""
    try:
        best, fstype = "", "unknown"
        real = str(path.resolve())
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mount = parts[1]
                if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                    best, fstype = mount, parts[2]
        return fstype
    except OSError:
        return "unknown"


def _table(report: dict) -> str:
    env = report["environment"]
    m = env["machine"]
    lines = [
        f"bdax bench journal: ec workload ({report['commands']:,} measured commands), seed {report['seed']}, "
        f"batches of {report['batch']}, {report['runs']} runs (median), "
        f"{'quick' if report['quick'] else 'full'} sizes",
        f"Python {env['python']}, {m['cpu']} x{m['nproc']}, {m['system']}, "
        f"commit {env['commit'] or 'unknown'}, load {m['loadavg_1m_at_start']}; "
        f"journals on {report['filesystem']} ({report['dir']})",
        "",
    ]
    header = f"{'mode':<29}{'cmd/s':>11}{'vs off':>9}{'fsyncs':>8}   runs"
    lines += [header, "-" * len(header)]
    for r in report["results"]:
        loss = "-" if r["mode"] == "off" else f"{-r['loss_pct']:+.1f}%"
        label = "journal off" if r["mode"] == "off" else f"journal on, {r['mode']}"
        lines.append(f"{label:<29}{r['cmd_per_s']:>11,}{loss:>9}{r['fsyncs_per_run']:>8}   "
                     + ", ".join(f"{x:,}" for x in r["runs"]))
    rp, sn = report["replay"], report["snapshot"]
    lines += [
        "",
        f"replay from meta (read, CRC, decode, engine.handle): {rp['replay_records_per_s']:,} records/s over "
        f"{rp['records']:,} records; read + decode alone: {rp['read_decode_records_per_s']:,} records/s",
        f"snapshot with {sn['resting_orders']:,} resting orders: {sn['bytes'] / 2**20:.1f} MiB; write "
        f"{sn['write_s'] * 1e3:,.0f} ms (engine.snapshot() alone, timed separately: "
        f"{sn['engine_snapshot_s'] * 1e3:,.0f} ms); load {sn['load_s'] * 1e3:,.0f} ms (read, CRC, restore, "
        f"hash check)",
        f"goal: at most {LOSS_GOAL_PCT:.0f}% loss with fsync per batch: "
        f"{'met' if report['goal_met'] else 'NOT met'} in the background "
        f"({report['every_batch_bg_loss_pct']:.1f}%); inline {report['every_batch_loss_pct']:.1f}%",
    ]
    return "\n".join(lines)


def run(args) -> int:
    """Run the benchmark for parsed ``args`` (see :func:`add_arguments`). Returns the exit code."""
    from benchmarks import workloads
    from benchmarks.matching import _environment

    def say(msg: str) -> None:
        if not args.json_only:
            print(msg, file=sys.stderr, flush=True)

    if args.runs < 1 or args.batch < 1:
        print("bdax bench journal: --runs and --batch must be >= 1", file=sys.stderr)
        return 2
    if args.keep_journal is not None and args.keep_journal.exists():
        print(f"bdax bench journal: --keep-journal {args.keep_journal} exists; give a new path",
              file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="bdax-journal-bench-", dir=args.dir))
    orders = args.snapshot_orders or (10_000 if args.quick else 100_000)
    try:
        say(f"[ec] generating (seed {args.seed}) ...")
        w = workloads.build("ec", args.seed, args.quick)
        batches = _batches(w.bdax_measured, args.batch)
        n = len(w.bdax_measured)
        engine, journal, data_dir = _fresh("fsync off", w, args.batch, root)   # warm-up, untimed
        _timed(engine, journal, batches[: max(1, 20_000 // args.batch)])
        journal.close()
        shutil.rmtree(data_dir)
        elapsed: dict[str, list[int]] = {m: [] for m in MODES}
        fsyncs: dict[str, list[int]] = {m: [] for m in MODES}
        last_dir = None
        for i in range(args.runs):
            for mode in MODES:
                engine, journal, data_dir = _fresh(mode, w, args.batch, root)
                ns, syncs = _timed(engine, journal, batches)
                elapsed[mode].append(ns)
                fsyncs[mode].append(syncs)
                if journal is not None:
                    journal.close()
                    if mode == "every batch":   # inline: durable when append returns
                        if last_dir is not None:
                            shutil.rmtree(last_dir)
                        last_dir = data_dir
                    else:
                        shutil.rmtree(data_dir)
                del engine, journal
            say(f"[ec] run {i + 1}/{args.runs}: " + ", ".join(
                f"{m} {n * 1e9 / elapsed[m][-1]:,.0f}" for m in MODES) + " cmd/s")
        say("[replay] ...")
        replay = _replay(last_dir, args.runs)
        if args.keep_journal is not None:
            shutil.move(str(last_dir), args.keep_journal)
            say(f"kept the fsync-per-batch journal in {args.keep_journal}")
        say(f"[snapshot] {orders:,} resting orders ...")
        snapshot = _snapshots(orders, args.runs, root)
    finally:
        fs = _filesystem(root)
        shutil.rmtree(root, ignore_errors=True)
    results = []
    base = median(round(n * 1e9 / ns) for ns in elapsed["off"])
    for mode in MODES:
        rates = [round(n * 1e9 / ns) for ns in elapsed[mode]]
        rate = round(median(rates))
        results.append({"mode": mode, "policy": _POLICY.get(mode), "background": mode.endswith("bg"),
                        "cmd_per_s": rate, "runs": rates, "loss_pct": round(100 * (1 - rate / base), 1),
                        "fsyncs_per_run": round(median(fsyncs[mode]))})
    every = {r["mode"]: r for r in results}
    report = {"bench": "journal", "workload": "ec", "seed": args.seed, "quick": args.quick, "runs": args.runs,
              "batch": args.batch, "commands": n, "dir": str(args.dir or tempfile.gettempdir()),
              "filesystem": fs, "environment": _environment(), "results": results, "replay": replay,
              "snapshot": snapshot, "every_batch_loss_pct": every["every batch"]["loss_pct"],
              "every_batch_bg_loss_pct": every["every batch, bg"]["loss_pct"],
              "goal_met": every["every batch, bg"]["loss_pct"] <= LOSS_GOAL_PCT,
              "kept_journal": str(args.keep_journal) if args.keep_journal else None}
    if not args.json_only:
        print(_table(report))
    print(json.dumps(report, separators=(",", ":")))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.journal_bench",
                                     description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
