"""The discrete-event kernel: a heap of ``(ts_ns, seq, action, arg)`` and an integer-nanosecond clock.

Determinism contract: actions run in ``ts_ns`` order; actions scheduled for the same ``ts_ns`` run in the
order they were scheduled (``seq`` is a counter that only grows), so a run depends on nothing but what was
scheduled and when: never on dict order, object ids, hashing or wall-clock time. An action is any callable
taking one argument; the kernel never inspects it (``seq`` is unique, so the heap never compares actions).

Cost: ``schedule`` and each step of ``run`` are O(log n) in the number of pending actions; an entry is a
4-tuple (~88 bytes), the only per-event object the kernel makes (DESIGN.md §5; reference §4.6).

Hot path: the simulator's own shells (venue, client, agents) schedule with :meth:`at`, which skips the check
:meth:`schedule` makes: they only ever schedule at ``now + a delay >= 0``, so it cannot fail there. This
module is compiled with mypyc at install time (setup.py), and then ``at`` is a C call.
"""
from __future__ import annotations

from heapq import heappop, heappush
from typing import Any, Callable

__all__ = ["Kernel", "SchedulingError", "Action"]

Action = Callable[[Any], None]
"""A kernel action: called with the argument it was scheduled with."""


class SchedulingError(ValueError):
    """An action was scheduled before the current virtual time, or with a non-integer time."""


class Kernel:
    """A single-threaded discrete-event loop over virtual time in integer nanoseconds.

    Args:
        start_ns: the clock's value before the first action runs.
    """

    __slots__ = ("now", "_heap", "_seq", "steps", "_stopped")

    def __init__(self, start_ns: Any = 0) -> None:
        if type(start_ns) is not int or start_ns < 0:
            raise SchedulingError(f"start_ns must be a non-negative int, got {start_ns!r}")
        self.now: int = start_ns
        self._heap: list[tuple[int, int, Action, Any]] = []
        self._seq: int = 0       # the tie-break: grows by one per scheduled entry
        self.steps: int = 0      # actions run so far
        self._stopped: bool = False

    def schedule(self, ts_ns: Any, action: Action, arg: Any = None) -> None:
        """Run ``action(arg)`` at virtual time ``ts_ns`` (>= now), after everything already scheduled for
        that same time. O(log pending).

        Raises:
            SchedulingError: ``ts_ns`` is in the past or not an int.
        """
        if type(ts_ns) is not int or ts_ns < self.now:
            raise SchedulingError(f"cannot schedule at {ts_ns!r} ns: the clock is at {self.now} ns "
                                  f"(times are integer nanoseconds, never earlier than now)")
        self.at(ts_ns, action, arg)

    def at(self, ts_ns: int, action: Action, arg: Any = None) -> None:
        """:meth:`schedule` without its check, for callers whose ``ts_ns`` is ``now`` plus a delay >= 0."""
        self._seq = seq = self._seq + 1
        heappush(self._heap, (ts_ns, seq, action, arg))

    def after(self, delay_ns: int, action: Action, arg: Any = None) -> None:
        """Run ``action(arg)`` ``delay_ns`` (>= 0) after now."""
        self.schedule(self.now + delay_ns, action, arg)

    @property
    def pending(self) -> int:
        return len(self._heap)

    def next_ts(self) -> int | None:
        """The time of the next pending action, or None."""
        return self._heap[0][0] if self._heap else None

    def stop(self) -> None:
        """Make :meth:`run` return after the current action (the rest stays pending)."""
        self._stopped = True

    def run(self, until_ns: int, *, on_step: Callable[[int], None] | None = None,
            every: int = 65536) -> int:
        """Run every action with ``ts_ns <= until_ns`` in order; the clock ends at ``until_ns`` unless
        :meth:`stop` was called. Actions may schedule more actions (at ``now`` or later).

        Args:
            until_ns: the last virtual time to run (inclusive).
            on_step: called with the clock every ``every`` actions (progress bars); never changes state.

        Returns:
            The number of actions run by this call.
        """
        heap = self._heap
        self._stopped = False
        chunks = 0
        countdown = every
        # One pop per step and a bounds check on the popped time (an entry past until_ns goes back once),
        # instead of indexing heap[0][0] before every pop; the count of actions run is derived from the
        # countdown (one counter per step, not two).
        while heap:
            entry = heappop(heap)
            ts = entry[0]
            if ts > until_ns:
                heappush(heap, entry)
                break
            self.now = ts
            entry[2](entry[3])
            countdown -= 1
            if countdown == 0:
                countdown = every
                chunks += 1
                if on_step is not None:
                    on_step(ts)
            if self._stopped:
                break
        ran = chunks * every + (every - countdown)
        self.steps += ran
        if not self._stopped and until_ns > self.now:
            self.now = until_ns
        return ran
