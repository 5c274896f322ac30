"""Peak memory of one engine on one workload, measured in a fresh interpreter (used by ``matching.py``).

``python -m benchmarks.memprobe FILE`` (or :func:`main` with ``[FILE]``) loads ``(engine, setup, measured)`` from the pickle FILE, builds the
engine and its call lists, then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``, Linux 4.0+),
runs the setup and the measured stream with the garbage collector on as in normal service, and prints one
JSON object: ``peak_bytes`` = peak resident set size during the run minus the resident size just before it.
RSS counts everything the process holds, so liquibook's C++ allocations are included, which ``tracemalloc``
would miss. Without ``clear_refs`` it falls back to ``ru_maxrss`` (the peak since start, which also covers
loading the pickle, so an upper bound) and says so.
"""
from __future__ import annotations

import gc
import json
import pickle
import resource
import sys


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    from .matching import instance

    path = (argv if argv is not None else sys.argv[1:])[0]
    with open(path, "rb") as f:
        engine, setup, measured = pickle.load(f)
    _, setup_calls, measured_calls = instance(engine, setup, measured)
    del setup, measured
    gc.collect()
    exact = _reset_peak()
    before_kb = _status_kb("VmRSS")
    for fn, args in setup_calls:
        fn(*args)
    for fn, args in measured_calls:
        fn(*args)
    if exact and before_kb is not None:
        peak_kb = _status_kb("VmHWM") or 0
        method = "peak RSS during setup + stream minus RSS before (fresh process, clear_refs)"
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        before_kb = before_kb or 0
        method = "ru_maxrss minus RSS before (fresh process; includes loading, an upper bound)"
    print(json.dumps({"peak_bytes": max(0, peak_kb - before_kb) * 1024, "method": method}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
