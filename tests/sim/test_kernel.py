"""The discrete-event kernel: time order, ties in scheduling order, clock rules."""
import pytest

from sim.kernel import Kernel, SchedulingError


def test_actions_run_in_time_order_and_ties_in_scheduling_order():
    k = Kernel()
    seen = []
    for ts, tag in [(30, "c"), (10, "a1"), (20, "b"), (10, "a2"), (10, "a3"), (0, "z")]:
        k.schedule(ts, seen.append, tag)
    assert k.run(100) == 6
    assert seen == ["z", "a1", "a2", "a3", "b", "c"]
    assert k.now == 100


def test_actions_scheduled_at_now_run_after_pending_ones_at_the_same_time():
    k = Kernel()
    seen = []

    def first(_):
        seen.append("first")
        k.schedule(k.now, seen.append, "added-at-now")

    k.schedule(5, first)
    k.schedule(5, seen.append, "second")
    k.run(5)
    assert seen == ["first", "second", "added-at-now"]


def test_run_stops_at_until_and_keeps_later_actions():
    k = Kernel()
    seen = []
    k.schedule(10, seen.append, 1)
    k.schedule(11, seen.append, 2)
    assert k.run(10) == 1 and seen == [1] and k.pending == 1 and k.next_ts() == 11
    k.run(20)
    assert seen == [1, 2] and k.steps == 2


def test_past_and_non_integer_times_are_refused():
    k = Kernel(start_ns=100)
    with pytest.raises(SchedulingError, match="clock is at 100"):
        k.schedule(99, print)
    with pytest.raises(SchedulingError):
        k.schedule(100.5, print)  # type: ignore[arg-type]
    with pytest.raises(SchedulingError):
        Kernel(start_ns=-1)


def test_stop_returns_after_the_current_action():
    k = Kernel()
    seen = []

    def stopper(_):
        seen.append("stop")
        k.stop()

    k.schedule(1, stopper)
    k.schedule(2, seen.append, "later")
    k.run(10)
    assert seen == ["stop"] and k.now == 1 and k.pending == 1


def test_progress_callback_sees_the_clock():
    k = Kernel()
    for t in range(10):
        k.schedule(t, lambda _: None)
    ticks = []
    k.run(100, on_step=ticks.append, every=3)
    assert ticks == [2, 5, 8]
