"""What an agent sees and when it acts: depth as the feed showed it, and the computation delay.

- ``client.depth()`` / ``SimVenue.depth_at(ts)`` is the book after every command applied at or before ``ts``:
  checked against an engine rebuilt from the run's own journal up to that instant.
- With a computation delay, a market maker's handlings (requotes) are never closer together than that
  delay, and the run stays deterministic. Requotes are observed through the kernel's step callback (every
  action), not by patching the agent: the compiled build's classes cannot be patched.
"""
import hashlib

import pytest

from exchange import Engine
from sim.build import Simulation
from sim.scenario import load_scenario

NS = 10**9


def test_depth_at_equals_the_book_rebuilt_from_the_journal_up_to_that_instant():
    sim = Simulation(load_scenario("busan"), seed=4, duration_ns=20 * NS)
    venue, symbol, kernel = sim.home, sim.symbol, sim.kernel
    venue.track_depth(symbol)
    sim.start()
    probes = []

    def probe(_=None):
        now = kernel.now
        # now, within one feed latency, and further back than most latencies but inside the kept window
        for back in (0, 150_000, 2_000_000, 7_000_000):
            probes.append((now - back, venue.depth_at(symbol, now - back, 10)))
        if now + 250_000_000 < sim.duration_ns:
            kernel.schedule(now + 250_000_000, probe)

    kernel.schedule(1 * NS, probe)
    kernel.run(sim.duration_ns)
    commands = [c for _, c in venue.flush_journal().records()]
    engine = Engine(list(venue.instruments.values()), fee_tiers=sim.scenario.fee_tiers("busan"))
    applied = 0
    changed_levels = 0
    for ts, (bids, asks) in sorted(probes, key=lambda p: p[0]):
        while applied < len(commands) and commands[applied].ts_ns <= ts:
            engine.handle(commands[applied])
            applied += 1
        d = engine.depth(symbol, 10)
        assert (list(d.bids), list(d.asks)) == (bids, asks), f"depth_at({ts}) differs from the replayed book"
        changed_levels += bool(bids) and bool(asks)
    assert len(probes) >= 250 and changed_levels == len(probes)   # the book was two-sided at every probe
    assert applied > 100


def test_depth_without_the_declaration_raises_instead_of_leaking_a_fresher_book():
    sim = Simulation(load_scenario("busan"), seed=4, duration_ns=NS)
    agent = sim.agents[0]
    assert not agent.reads_depth
    client = agent.ctx.new_client(agent, 999)
    with pytest.raises(RuntimeError, match="reads_depth = True"):
        client.depth(sim.symbol)


def run_busy(compute_us: int):
    scenario = load_scenario("busan", [f"agents.mm.compute_delay_us={compute_us}",
                                       "agents.zi.compute_delay_us=5000"])
    sim = Simulation(scenario, seed=4, duration_ns=30 * NS)
    mm = sim.groups["mm"][0]
    times = []
    seen = [0]

    def step(ts: int) -> None:   # called after every kernel action
        n = mm.requotes
        if n != seen[0]:
            times.extend([ts] * (n - seen[0]))
            seen[0] = n

    sim.start()
    sim.kernel.run(sim.duration_ns, on_step=step, every=1)
    sim.finish()
    return sim, times


def test_a_busy_market_maker_never_handles_two_things_closer_than_its_compute_delay():
    delay_ns = 20_000 * 1000
    sim, times = run_busy(20_000)
    assert len(times) > 100
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= delay_ns
    client = sim.groups["mm"][0].client
    assert client.compute_ns == delay_ns and client.busy_until > 0
    # without the delay the same market requotes closer together (the test above can fail)
    _, free = run_busy(0)
    assert min(b - a for a, b in zip(free, free[1:])) < delay_ns
    again, times2 = run_busy(20_000)
    digest = [hashlib.sha256(s.home.journal.to_bytes()).hexdigest() for s in (sim, again)]
    assert digest[0] == digest[1] and times == times2 and sim.counters() == again.counters()
