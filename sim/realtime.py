"""Run a :class:`~sim.kernel.Kernel` against the wall clock, inside an asyncio event loop.

The simulator's agents are written against a clock (``kernel.now``, ``kernel.at``) and venue clients;
in a live market (``bdax serve --market``) and in load bots (``bdax load``) the same agents run in
wall-clock time: kernel time is the time elapsed since :meth:`RealtimeDriver.start`, times ``speed``
(``speed=10``: ten market seconds per wall second). The driver runs every action that is due, then
sleeps until the next one is due or until something outside the kernel (a websocket reply, a pump
listener) calls :meth:`poke` after scheduling an earlier action.

Kernel time never goes backwards and actions still run in (time, scheduling order); what is lost
against a simulation is only that an action runs late when the loop is busy: ``lag`` records how late.
Code outside the kernel that schedules actions must first call :meth:`catch_up` so that ``kernel.now``
is the present (an action scheduled at ``now + delay`` from a stale ``now`` would be due in the past).
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from .kernel import Kernel

__all__ = ["RealtimeDriver"]


class RealtimeDriver:
    """Drive ``kernel`` in wall-clock time.

    Args:
        kernel: a kernel whose clock is at 0 (a fresh one); actions may already be scheduled.
        speed: kernel nanoseconds per wall-clock nanosecond (> 0).
        clock: a monotonic clock in ns (tests inject a fake one).
        max_sleep_s: the longest the loop sleeps without looking at the kernel (bounds the delay of
            actions scheduled from outside without :meth:`poke`).
        budget_s: the longest one :meth:`catch_up` runs actions before it returns (the rest stay due).
    """

    def __init__(self, kernel: Kernel, *, speed: float = 1.0, clock: Callable[[], int] = time.monotonic_ns,
                 max_sleep_s: float = 0.05, budget_s: float = 0.02) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.kernel = kernel
        self.speed = float(speed)
        self.clock = clock
        self.max_sleep_s = max_sleep_s
        self.budget_s = budget_s
        self._deadline = 0.0
        self.t0: int | None = None
        self.actions = 0           # actions run so far
        self.lag_max_ns = 0        # the latest an action ran after it was due, in wall ns
        self._wake: asyncio.Event | None = None
        self._stopped = False

    def start(self) -> None:
        """Fix time zero (kernel time 0 = now). Idempotent."""
        if self.t0 is None:
            self.t0 = self.clock() - int(self.kernel.now / self.speed)

    def now(self) -> int:
        """The kernel time of the present instant (>= kernel.now)."""
        if self.t0 is None:
            self.start()
        t = int((self.clock() - self.t0) * self.speed)   # type: ignore[operator]
        return t if t > self.kernel.now else self.kernel.now

    def catch_up(self) -> int:
        """Run every action due by now; ``kernel.now`` is then the present. Returns the actions run."""
        now = self.now()
        nxt = self.kernel.next_ts()
        if nxt is not None and nxt <= now:
            lag = int((now - nxt) / self.speed)
            if lag > self.lag_max_ns:
                self.lag_max_ns = lag
        self._deadline = time.perf_counter() + self.budget_s
        ran = self.kernel.run(now, on_step=self._over_budget, every=64)
        self.actions += ran
        return ran

    def _over_budget(self, _ts: int) -> None:
        # An overloaded kernel (more actions due than the process can run) must still let sockets, the
        # pump and the caller's own deadline run: stop after budget_s; the rest runs (late) next time.
        if time.perf_counter() > self._deadline:
            self.kernel.stop()

    def poke(self) -> None:
        """Wake the loop: an action may have been scheduled sooner than it planned to look."""
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self.poke()

    async def run(self, until_ns: int | None = None) -> None:
        """Run the kernel in wall-clock time until :meth:`stop` (or kernel time ``until_ns``)."""
        self.start()
        self._wake = wake = asyncio.Event()
        self._stopped = False
        try:
            while not self._stopped:
                self.catch_up()
                if until_ns is not None and self.kernel.now >= until_ns:
                    break
                nxt = self.kernel.next_ts()
                delay = self.max_sleep_s
                if nxt is not None:
                    delay = min(delay, max(0.0, (nxt - self.now()) / self.speed / 1e9))
                if until_ns is not None:
                    delay = min(delay, max(0.0, (until_ns - self.now()) / self.speed / 1e9))
                wake.clear()
                if delay > 0:
                    try:
                        await asyncio.wait_for(wake.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
                else:
                    await asyncio.sleep(0)   # let sockets and the pump run between bursts
        finally:
            self._wake = None
