"""The real hubs wired into the simulator: each sharing model runs end to end (short) with conservation
across venues, and the crisis schedule reaches the hub: a partner default pulls its orders and books
exposure, the kill switch trips when heartbeats stop."""
from __future__ import annotations

import json

import pytest

from exchange.liquidity.events import ChildRouted
from sim.build import Simulation
from sim.liquidity.spec import VENUE_SPAN
from sim.runner import run_scenario
from sim.scenario import NS, load_scenario

LIGHT = ["venues.binance.flow_scale=2", "venues.huobi.flow_scale=1", "venues.gateio.flow_scale=1",
         "venues.cryptocom.flow_scale=1", "venues.ftx.flow_scale=2"]


def _run(name: str, overrides: list[str], seconds: int) -> Simulation:
    sim = Simulation(load_scenario(name, overrides), duration_ns=seconds * NS)
    sim.start()
    sim.kernel.run(sim.duration_ns)
    sim.finish()
    return sim


def _conserved(sim: Simulation) -> None:
    cons = sim.world.conservation()
    assert all(v["ok"] for v in cons.values()), cons
    for v in sim.venues.values():
        v.engine._check()


def test_pooled_run_conserves_and_books_cross_venue_obligations():
    sim = _run("busan-pooled", LIGHT + ['sharing.settle_every="10s"', 'sharing.transfer_delay="5s"'], 40)
    _conserved(sim)
    assert sim.world.settlements["done"] > 0            # transfers landed after the delay
    stats = sim.home.engine.stats()
    assert sum(x["fills"] for x in stats["cross_venue"].values()) > 0
    assert stats["settlements"]["started"] > 0
    assert set(stats["volume_lots"]) == {"busan", "binance", "huobi", "gateio", "cryptocom", "ftx"}


def test_pooled_default_pulls_the_partners_orders_and_books_exposure():
    sched = ['schedule=[{at="20s", venue="ftx", action="down"}, {at="30s", venue="ftx", action="default"}]',
             'sharing.settle_every="10s"']
    sim = _run("busan-pooled", LIGHT + sched, 45)
    _conserved(sim)
    hub = sim.home.engine
    ftx = sim.scenario.liquidity.partners["ftx"].accounts
    resting = [o for a in hub.accounts() if ftx[0] <= a < ftx[1] for o in hub.open_orders(a)]
    assert resting == []
    tl = [(e["ts_ns"], e["health"], e["routable"]) for e in sim.world.timeline if e["venue"] == "ftx"]
    # heartbeats stop at 20 s: the kill switch trips after heartbeat_timeout (3 s); the default at 30 s
    assert any(20 * NS < t <= 24 * NS and not r for t, _, r in tl)
    assert any(t == 30 * NS and h == "DEFAULTED" for t, h, _ in tl)
    assert sim.world.exposure and all(e["venue"] == "ftx" and e["amount"] > 0 for e in sim.world.exposure)


def test_pooled_run_writes_contract_files(tmp_path):
    res = run_scenario(load_scenario("busan-pooled", LIGHT), seed=2, duration_ns=15 * NS, out_dir=tmp_path / "p")
    doc = json.loads((res.run_dir / "liquidity.json").read_text())
    assert doc["model"] == "pooled" and doc["stats"]["model"] == "pooled"
    assert list((res.run_dir / "venues").iterdir()) == [res.run_dir / "venues" / "busan"]   # one book
    assert all(v["ok"] for v in doc["conservation"].values())


def _mirrored_available() -> bool:
    from importlib.util import find_spec
    return find_spec("exchange.liquidity.mirrored") is not None


mirrored = pytest.mark.skipif(not _mirrored_available(), reason="exchange.liquidity.mirrored not written yet")


@mirrored
def test_mirrored_run_routes_children_and_conserves():
    sim = _run("busan-mirrored", LIGHT, 40)
    _conserved(sim)
    links = sim.world.links
    assert sum(l.children for l in links.values()) > 0
    assert sum(l.quotes for l in links.values()) > 0


@mirrored
def test_ftx_collapse_trips_the_kill_switch_and_books_exposure(tmp_path):
    over = ["venues.binance.flow_scale=2", "venues.ftx.flow_scale=4",
            'schedule=[{at="10s", venue="ftx", action="stale"}, {at="20s", venue="ftx", action="down"}, '
            '{at="30s", venue="ftx", action="default"}]']
    res = run_scenario(load_scenario("ftx-collapse", over), seed=1, duration_ns=45 * NS, out_dir=tmp_path / "f")
    doc = json.loads((res.run_dir / "liquidity.json").read_text())
    tl = [(e["ts_ns"], e["health"], e["routable"]) for e in doc["timeline"] if e["venue"] == "ftx"]
    assert any(10 * NS < t <= 13 * NS and not r for t, _, r in tl), tl        # stale quote ages out (2 s)
    assert any(t == 30 * NS and h == "DEFAULTED" for t, h, _ in tl), tl
    assert doc["exposure"] and all(e["venue"] == "ftx" for e in doc["exposure"])
    assert all(v["ok"] for v in doc["conservation"].values()), doc["conservation"]
    # no child is routed to ftx once the kill switch has tripped
    lat = doc["child_latency_ns"]["ftx"]
    assert lat and all(t < 24 * NS for t, _ in lat)


@mirrored
def test_latency_spike_slows_children_in_the_window():
    over = ["venues.binance.flow_scale=2", "venues.huobi.flow_scale=1", "venues.gateio.flow_scale=1",
            "venues.cryptocom.flow_scale=1", "venues.ftx.flow_scale=1",
            'schedule=[{at="10s", venue="binance", action="latency", until="25s", factor=40, what="both"}]']
    sim = _run("latency-spike", over, 35)
    lat = sim.world.links["binance"].child_latency_ns
    inside = [d for t, d in lat if 10 * NS <= t < 25 * NS]
    outside = [d for t, d in lat if t < 10 * NS or t >= 25 * NS]
    assert outside and min(inside or [40 * 30_000_000]) >= 40 * 30_000_000 > max(outside)
    _conserved(sim)


def _replays(sim: Simulation) -> None:
    """Every input of the home hub went through its journal: a fresh hub fed the journal ends in the same
    state, and each partner's engine likewise from its own journal."""
    from exchange import Engine
    sc = sim.scenario
    hub = type(sim.home.engine)(list(sc.instruments_at(sc.home_venue).values()), sc.liquidity.config,
                                fee_tiers=sc.fee_tiers(sc.home_venue))
    for _, command in sim.home.flush_journal().records():
        hub.handle(command)
    assert hub.state_hash() == sim.home.engine.state_hash()
    for name, venue in sim.venues.items():
        if name == sc.home_venue:
            continue
        eng = Engine(list(sc.instruments_at(name).values()), fee_tiers=sc.fee_tiers(name))
        for _, command in venue.flush_journal().records():
            eng.handle(command)
        assert eng.state_hash() == venue.engine.state_hash()


def test_pooled_home_journal_replays_to_the_same_hub_state():
    _replays(_run("busan-pooled", LIGHT + ['sharing.settle_every="5s"', 'sharing.transfer_delay="3s"'], 20))


@mirrored
def test_mirrored_journals_replay_to_the_same_states():
    _replays(_run("busan-mirrored", LIGHT + ['sharing.transfer_delay="3s"'], 20))


@pytest.mark.parametrize("name", ["busan-pooled", pytest.param("busan-mirrored", marks=mirrored)])
def test_same_seed_same_journals_for_the_hub_models(name):
    runs = [_run(name, LIGHT, 10) for _ in range(2)]
    for venue in runs[0].venues:
        a, b = (r.venues[venue].flush_journal().segment_bytes() for r in runs)
        assert a == b, f"{name}: {venue}'s journal differs between two runs of one seed"
    assert runs[0].home.engine.state_hash() == runs[1].home.engine.state_hash()
