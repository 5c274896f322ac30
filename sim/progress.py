"""A progress bar on stderr for long runs: virtual time reached and wall time spent. No dependency.

On a terminal it redraws one line; otherwise (logs, CI) it prints a line at every 10% so logs stay short.
Wall time appears only here and in ``timing.json``, never in a run's outputs.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_ns"]


def format_ns(ns: int) -> str:
    s = ns / 1e9
    if s >= 3600:
        return f"{s / 3600:.2f}h"
    if s >= 60:
        return f"{s / 60:.1f}m"
    return f"{s:.1f}s"


class Progress:
    def __init__(self, total_ns: int, label: str = "", stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(1, total_ns)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self._last_decile = -1

    def update(self, now_ns: int) -> None:
        frac = min(1.0, now_ns / self.total)
        wall = time.perf_counter() - self.t0
        if self.tty:
            filled = int(frac * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}%  virtual {format_ns(now_ns)}"
                              f"/{format_ns(self.total)}  wall {wall:.1f}s ")
            self.stream.flush()
        else:
            decile = int(frac * 10)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label} {frac * 100:.0f}%  virtual {format_ns(now_ns)}"
                                  f"/{format_ns(self.total)}  wall {wall:.1f}s\n")
                self.stream.flush()

    def done(self) -> float:
        """Finish the bar; return the wall seconds since it started."""
        self.update(self.total)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        return time.perf_counter() - self.t0
