"""``bdax bench matching``: bdax's engine against a naive order book and C++ liquibook, in one run.

Method (README.md in this folder has the results and the reasoning):

1. Build each workload once (:mod:`benchmarks.workloads`): seeded, every command constructed before any
   clock starts, the same stream for every engine (bdax gets ``exchange.commands``; the naive book and
   liquibook get the same orders, ids, prices and quantities as calls).
2. Per engine, a warm-up pass over the start of the stream, untimed.
3. Throughput: ``--runs`` runs (5 by default), engines interleaved run by run (the first one rotating)
   so that a noisy neighbour or a clock change hits all of them alike. Each run builds a fresh engine,
   plays the setup untimed, collects garbage, disables the collector, times the measured stream with one
   ``perf_counter_ns`` pair around the whole loop, and re-enables the collector. The figure is the median
   of the runs' commands/s; the ratio to the naive book is the median of each run's own ratio.
4. Latency: one more run per engine timing every command with its own ``perf_counter_ns`` pair
   (collector off); p50 / p99 / p99.9 of those. They include the timer's own cost (``timer_ns``).
5. Memory: per engine a fresh interpreter (:mod:`benchmarks.memprobe`) loads the stream, resets the
   kernel's peak-RSS mark and reports the peak growth of the resident set over setup + stream, garbage
   collector on. RSS, unlike ``tracemalloc``, also sees liquibook's C++ heap.

Every engine runs through the same loop, ``for fn, args in calls: fn(*args)``, over calls bound before
timing; bdax's call is ``engine.handle(command)`` and it returns its events, the naive book returns fills.
"""
from __future__ import annotations

import gc
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from . import liquibook_driver, workloads
from .naive_book import NaiveBook
from .workloads import ADD, CANCEL, IOC

__all__ = ["ENGINES", "instance", "run", "main"]

ENGINES = ("bdax", "naive", "liquibook")
WARMUP_COMMANDS = 20_000
ROOT = Path(__file__).resolve().parent.parent


# Engines --------------------------------------------------------------------------------------------

def _book_calls(book, ops: list, liquibook: bool) -> list:
    submit, cancel, move = book.submit, book.cancel, book.move
    calls: list[tuple] = []
    append = calls.append
    for kind, oid, is_buy, price, qty, _ in ops:
        if kind == ADD:
            append((submit, (oid, is_buy, price, qty)))
        elif kind == IOC:
            append((submit, (oid, is_buy, price, qty, True)))
        elif kind == CANCEL:
            append((cancel, (oid,)))
        elif liquibook:
            append((move, (oid, price, is_buy, qty)))
        else:
            append((move, (oid, price)))
    return calls


def streams(engine: str, w: workloads.Workload) -> tuple[list, list]:
    """The (setup, measured) stream ``engine`` consumes: bdax commands, or engine-neutral ops."""
    if engine == "bdax":
        return w.bdax_setup, w.bdax_measured
    return w.setup_ops, w.measured_ops


def instance(engine: str, setup: list, measured: list) -> tuple[Any, list, list]:
    """A fresh ``engine`` and its (setup, measured) call lists of ``(fn, args)``."""
    if engine == "bdax":
        e = workloads.make_engine()
        handle = e.handle
        return e, [(handle, (c,)) for c in setup], [(handle, (c,)) for c in measured]
    book: NaiveBook | liquibook_driver.LiquibookBook
    if engine == "naive":
        book = NaiveBook()
    elif engine == "liquibook":
        book = liquibook_driver.LiquibookBook()
    else:
        raise ValueError(f"unknown engine {engine!r}")
    lb = engine == "liquibook"
    return book, _book_calls(book, setup, lb), _book_calls(book, measured, lb)


# Measurements ----------------------------------------------------------------------------------------

def _play(calls: list) -> None:
    for fn, args in calls:
        fn(*args)


def _fresh(engine: str, w: workloads.Workload) -> tuple[Any, list]:
    setup, measured = streams(engine, w)
    obj, setup_calls, measured_calls = instance(engine, setup, measured)
    _play(setup_calls)
    return obj, measured_calls


def _timed(calls: list) -> int:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for fn, args in calls:
            fn(*args)
        t1 = time.perf_counter_ns()
    finally:
        gc.enable()
    return t1 - t0


def _latencies(calls: list) -> list[int]:
    clock = time.perf_counter_ns
    out = [0] * len(calls)
    i = 0
    gc.collect()
    gc.disable()
    try:
        for fn, args in calls:
            t = clock()
            fn(*args)
            out[i] = clock() - t
            i += 1
    finally:
        gc.enable()
    return out


def _timer_ns() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(10_001):
        t = clock()
        samples.append(clock() - t)
    return int(median(samples))


def _percentiles(samples: list[int], ops: list[tuple]) -> tuple[int, int, int, dict[str, int]]:
    """p50, p99, p99.9 of all samples, and the p50 per command kind (``ops`` aligned with samples)."""
    import numpy as np  # only here: `bdax --help` must not pay for numpy
    arr = np.asarray(samples, dtype=np.int64)
    p50, p99, p999 = np.percentile(arr, [50, 99, 99.9])
    kinds = np.fromiter((op[0] for op in ops), dtype=np.int8, count=len(ops))
    by_kind = {workloads.KIND_NAMES[k]: int(round(np.percentile(arr[kinds == k], 50)))
               for k in range(len(workloads.KIND_NAMES)) if (kinds == k).any()}
    return int(round(p50)), int(round(p99)), int(round(p999)), by_kind


def _peak_memory(engine: str, w: workloads.Workload) -> tuple[int | None, str]:
    """Peak RSS growth of ``engine`` over the workload, measured in a fresh interpreter."""
    fd, path = tempfile.mkstemp(prefix=f"bdax-bench-{w.name}-{engine}-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump((engine, *streams(engine, w)), f, protocol=pickle.HIGHEST_PROTOCOL)
        # The child imports the very packages this process runs (compiled or source), whatever the cwd.
        import exchange
        paths = [str(Path(exchange.__file__).resolve().parent.parent), str(ROOT)]
        code = (f"import sys; sys.path[:0] = {paths!r}; from benchmarks.memprobe import main; "
                f"sys.exit(main([{path!r}]))")
        proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode:
            return None, f"memprobe failed: {proc.stderr.strip().splitlines()[-1:]}"
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        return int(out["peak_bytes"]), out["method"]
    finally:
        os.unlink(path)


# Report ----------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """The checkout's commit: the package's own tree if it runs from one, else the working directory
    (an installed copy lives in site-packages; the README runs it from the checkout)."""
    for where in (ROOT, Path.cwd()):
        try:
            head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=where, capture_output=True,
                                  text=True, timeout=10)
            if head.returncode:
                continue
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                   capture_output=True, text=True, timeout=10)
            return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def _liquibook_version() -> str | None:
    if not liquibook_driver.AVAILABLE:
        return None
    try:
        from importlib.metadata import version
        return version("liquibook")
    except Exception:  # noqa: BLE001 - the version is informative only
        return "unknown"


def _bdax_build() -> str:
    """Whether the engine runs compiled (mypyc extension modules, the default install) or interpreted."""
    import exchange.engine
    path = getattr(exchange.engine, "__file__", "") or ""
    return "compiled (mypyc)" if path.endswith((".so", ".pyd")) else "interpreted"


def _environment() -> dict:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "bdax_engine": _bdax_build(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": {"cpu": _cpu_model(), "nproc": os.cpu_count(), "arch": platform.machine(),
                    "system": f"{platform.system()} {platform.release()}",
                    "loadavg_1m_at_start": round(load, 2) if load is not None else None},
        "commit": _git_commit(),
        "liquibook": _liquibook_version() or liquibook_driver.NOT_INSTALLED,
    }


def _fmt_int(x: int | None) -> str:
    return "-" if x is None else f"{x:,}"


def _table(report: dict) -> str:
    env = report["environment"]
    m = env["machine"]
    lines = [
        f"bdax bench matching: seed {report['seed']}, {report['runs']} runs (median), "
        f"{'quick' if report['quick'] else 'full'} sizes",
        f"bdax engine {env['bdax_engine']}; Python {env['python']} ({env['implementation']}), {m['cpu']} "
        f"x{m['nproc']}, {m['system']}, commit {env['commit'] or 'unknown'}, load {m['loadavg_1m_at_start']}",
        "",
    ]
    for name, s in report["workloads"].items():
        mix = ", ".join(f"{k} {v * 100:.1f}%" for k, v in s["mix"].items() if v)
        b0, b1 = s["book_start"], s["book_end"]
        lines.append(f"{name}: {s['measured_ops']:,} measured commands ({mix}); "
                     f"{s['trade_ratio'] * 100:.1f}% trade ({s['fills']:,} fills); book {b0['orders']:,} "
                     f"orders / {b0['levels']:,} levels at start, {b1['orders']:,} / {b1['levels']:,} at end")
    lines.append("")
    header = (f"{'workload':<9}{'engine':<11}{'cmd/s':>11}{'vs naive':>10}{'p50 ns':>9}{'p99 ns':>9}"
              f"{'p99.9 ns':>10}{'peak MB':>9}")
    lines += [header, "-" * len(header)]
    for r in report["results"]:
        ratio = "-" if r["ratio_to_naive"] is None else f"{r['ratio_to_naive']:.2f}x"
        mem = "-" if r["peak_mem_bytes"] is None else f"{r['peak_mem_bytes'] / 2**20:.1f}"
        lines.append(f"{r['workload']:<9}{r['engine']:<11}{_fmt_int(r['cmd_per_s']):>11}{ratio:>10}"
                     f"{_fmt_int(r['p50_ns']):>9}{_fmt_int(r['p99_ns']):>9}{_fmt_int(r['p999_ns']):>10}"
                     f"{mem:>9}")
    lines += ["", "median latency by command kind, ns:"]
    for r in report["results"]:
        lines.append(f"  {r['workload']:<7}{r['engine']:<11}" + "  ".join(
            f"{kind} {ns:,}" for kind, ns in r["p50_ns_by_kind"].items()))
    lines.append("")
    if not liquibook_driver.AVAILABLE:
        lines.append(liquibook_driver.NOT_INSTALLED)
    for name in report["workloads"]:
        by = {r["engine"]: r for r in report["results"] if r["workload"] == name}
        if "bdax" in by and by["bdax"]["ratio_to_naive"] is not None:
            verdict = "at least as fast as" if by["bdax"]["ratio_to_naive"] >= 1 else "SLOWER than"
            lines.append(f"{name}: bdax/naive = {by['bdax']['ratio_to_naive']:.2f}; bdax (validation, holds, "
                         f"matching, settlement, fees, events) is {verdict} the naive book")
    lines.append(f"latency includes the timer's own cost ({report['timer_ns']} ns per pair); "
                 f"memory: {report['memory_method']}")
    return "\n".join(lines)


# Driver ----------------------------------------------------------------------------------------------

def run(args) -> int:
    """Run the benchmark for parsed ``args`` (see ``benchmarks.cli.add_matching_arguments``)."""
    quiet = args.json_only

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    names = workloads.WORKLOADS if args.workload == "all" else (args.workload,)
    runs = args.runs or (2 if args.quick else 5)
    engines = [e.strip() for e in (args.engines or ",".join(ENGINES)).split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or runs < 1:
        print(f"bdax bench matching: unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}"
              if unknown else "bdax bench matching: --runs must be >= 1", file=sys.stderr)
        return 2
    if "liquibook" in engines and not liquibook_driver.AVAILABLE:
        engines.remove("liquibook")
        say(liquibook_driver.NOT_INSTALLED)

    report: dict = {"bench": "matching", "seed": args.seed, "quick": args.quick, "runs": runs,
                    "environment": _environment(), "workloads": {}, "results": [],
                    "timer_ns": _timer_ns(), "memory_method": "not measured (--no-memory)"}
    for name in names:
        say(f"[{name}] generating (seed {args.seed}) ...")
        try:
            w = workloads.build(name, args.seed, args.quick)
        except workloads.WorkloadError as exc:
            print(f"bdax bench matching: {exc}", file=sys.stderr)
            return 1
        report["workloads"][name] = w.stats
        n = len(w.measured_ops)
        for engine in engines:  # warm-up: the start of the stream, untimed
            _, calls = _fresh(engine, w)
            _play(calls[:WARMUP_COMMANDS])
        elapsed: dict[str, list[int]] = {e: [] for e in engines}
        for i in range(runs):
            for engine in engines[i % len(engines):] + engines[:i % len(engines)]:  # rotate who goes first
                obj, calls = _fresh(engine, w)
                elapsed[engine].append(_timed(calls))
                del obj, calls
            say(f"[{name}] run {i + 1}/{runs}: " + ", ".join(
                f"{e} {n * 1e9 / elapsed[e][-1]:,.0f} cmd/s" for e in engines))
        rows: dict[str, dict[str, Any]] = {}
        for engine in engines:
            obj, calls = _fresh(engine, w)
            p50, p99, p999, by_kind = _percentiles(_latencies(calls), w.measured_ops)
            del obj, calls
            mem = None
            if not args.no_memory:
                say(f"[{name}] {engine}: memory (fresh process) ...")
                mem, report["memory_method"] = _peak_memory(engine, w)
            rates = [round(n * 1e9 / ns) for ns in elapsed[engine]]
            rows[engine] = {"workload": name, "engine": engine, "cmd_per_s": round(median(rates)),
                            "runs": len(rates), "runs_cmd_per_s": rates, "commands": n,
                            "p50_ns": p50, "p99_ns": p99, "p999_ns": p999, "p50_ns_by_kind": by_kind,
                            "peak_mem_bytes": mem, "ratio_to_naive": None}
        if "naive" in rows:
            # The median of the runs' own ratios: the engines of one run share its moment, so a noisy
            # neighbour that slows one run cancels out of its ratio.
            for engine, row in rows.items():
                row["ratio_to_naive"] = round(median(
                    e_naive / e for e, e_naive in zip(elapsed[engine], elapsed["naive"])), 3)
        report["results"].extend(rows.values())
    if not quiet:
        print(_table(report))
    print(json.dumps(report, separators=(",", ":")))
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .cli import add_matching_arguments
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matching", description=__doc__.split("\n")[0])
    add_matching_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
