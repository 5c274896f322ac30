"""The wall-clock kernel driver: actions run in kernel order, at their wall time scaled by speed."""
import asyncio

import pytest

from sim.kernel import Kernel
from sim.realtime import RealtimeDriver


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000

    def __call__(self) -> int:
        return self.t


def test_catch_up_runs_only_what_is_due_with_speed():
    k, clock = Kernel(), FakeClock()
    d = RealtimeDriver(k, speed=10, clock=clock)
    seen = []
    for t in (5, 10, 30):
        k.at(t * 1_000_000, seen.append, t)
    d.start()
    clock.t += 1_000_000            # 1 ms wall = 10 ms kernel
    assert d.catch_up() == 2 and seen == [5, 10] and k.now == 10_000_000
    clock.t += 3_000_000            # kernel 40 ms: the 30 ms action ran 1 ms (wall) late
    d.catch_up()
    assert seen == [5, 10, 30] and d.lag_max_ns == 1_000_000


def test_now_never_goes_back_and_speed_must_be_positive():
    k, clock = Kernel(), FakeClock()
    d = RealtimeDriver(k, clock=clock)
    d.start()
    k.run(50)                       # something ran the kernel ahead of the wall clock
    assert d.now() == 50
    with pytest.raises(ValueError):
        RealtimeDriver(Kernel(), speed=0)


def test_run_sleeps_until_due_and_poke_wakes_it():
    k = Kernel()
    d = RealtimeDriver(k, speed=1, max_sleep_s=10)
    order = []

    async def main():
        k.at(20_000_000, order.append, "timer")     # due 20 ms after start
        task = asyncio.create_task(d.run())
        await asyncio.sleep(0.005)
        d.catch_up()                                # code outside the kernel schedules at the present
        k.at(k.now, order.append, "poked")
        d.poke()
        await asyncio.sleep(0.005)
        assert order == ["poked"]
        await asyncio.sleep(0.05)
        d.stop()
        await asyncio.wait_for(task, 1)

    asyncio.run(main())
    assert order == ["poked", "timer"]


def test_catch_up_stops_after_its_budget_and_resumes_next_time():
    k, clock = Kernel(), FakeClock()
    d = RealtimeDriver(k, clock=clock, budget_s=0.0)    # every 64 actions is over budget
    seen = []
    for t in range(200):
        k.at(t, seen.append, t)
    d.start()
    clock.t += 1_000
    assert d.catch_up() == 64 and seen == list(range(64))
    while d.catch_up():
        pass
    assert seen == list(range(200))                     # nothing lost, order kept
