"""Same seed: byte-identical journal and outputs; another seed: a different journal."""
from pathlib import Path

from exchange import Engine
from sim.build import Simulation
from sim.runner import JOURNAL_FILE, TIMING_FILE, run_scenario
from sim.scenario import load_scenario

SHORT = 3 * 60 * 10**9


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.name != TIMING_FILE}


def test_same_seed_same_bytes_other_seed_other_journal(tmp_path):
    sc = load_scenario("busan")
    a = run_scenario(sc, seed=5, duration_ns=SHORT, out_dir=tmp_path / "a")
    b = run_scenario(sc, seed=5, duration_ns=SHORT, out_dir=tmp_path / "b")
    c = run_scenario(sc, seed=6, duration_ns=SHORT, out_dir=tmp_path / "c")
    fa, fb = _files(a.run_dir), _files(b.run_dir)
    assert set(fa) == set(fb) and {JOURNAL_FILE, "metrics.json", "report.html", "trades.npz", "l1.npz"} <= set(fa)
    for name in fa:
        assert fa[name] == fb[name], f"{name} differs between two runs of seed 5"
    assert len(fa[JOURNAL_FILE]) > 10_000
    assert _files(c.run_dir)[JOURNAL_FILE] != fa[JOURNAL_FILE]
    assert (a.run_dir / TIMING_FILE).is_file()


def test_journal_replays_to_the_same_engine_state():
    sim = Simulation(load_scenario("busan"), seed=2, duration_ns=60 * 10**9)
    sim.start()
    sim.kernel.run(sim.duration_ns)
    journal = sim.home.flush_journal()
    replay = Engine(list(sim.home.instruments.values()), fee_tiers=sim.scenario.fee_tiers("busan"))
    n = 0
    for _, command in journal.records():
        replay.handle(command)
        n += 1
    assert n == sim.home.n_commands > 100
    assert replay.state_hash() == sim.home.engine.state_hash()


def test_adding_a_group_leaves_other_streams_alone():
    """The fundamental's path depends on the seed only, not on which agents exist."""
    base = Simulation(load_scenario("busan"), seed=3, duration_ns=30 * 10**9)
    more = Simulation(load_scenario("busan", ["agents.extra.kind=\"noise\"", "agents.extra.count=5",
                                              'agents.extra.funds={BTC="1", KRW="100000000"}']),
                      seed=3, duration_ns=30 * 10**9)
    for sim in (base, more):
        sim.start()
        sim.kernel.run(sim.duration_ns)
    assert base.fundamental.value == more.fundamental.value
