"""Shared-liquidity scenarios: the schema (errors name the field), partner flow cloning and account ranges,
and an isolated run end to end: the recording contract's files, conservation across venues, same seed ->
same bytes."""
from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from sim.liquidity.record import EXECUTION_COLUMNS
from sim.liquidity.spec import VENUE_SPAN
from sim.runner import TIMING_FILE, run_scenario
from sim.scenario import NS, ScenarioError, list_scenarios, load_scenario, parse_scenario

SHARING = ("busan-isolated", "busan-mirrored", "busan-pooled", "ftx-collapse", "terra-crash", "latency-spike")


def _raw(name: str) -> dict:
    return tomllib.loads(list_scenarios()[name].read_text())


def test_every_sharing_scenario_loads_and_validates():
    for name in SHARING:
        sc = load_scenario(name)
        liq = sc.liquidity
        assert liq is not None and liq.model in ("isolated", "mirrored", "pooled")
        for p in liq.config.partners:
            lo, hi = p.accounts
            groups = [g for g in sc.groups if g.venue == p.name]
            assert groups and all(lo <= g.account_base and g.account_base + g.count < hi for g in groups)
    assert [load_scenario(n).liquidity.model for n in SHARING[:3]] == ["isolated", "mirrored", "pooled"]
    # the three busan-* files are the same market but for [sharing]
    bodies = [{k: v for k, v in _raw(n).items() if k not in ("sharing", "run")} for n in SHARING[:3]]
    assert bodies[0] == bodies[1] == bodies[2]


def test_flow_scale_clones_home_groups_with_scaled_flow_and_partner_lots():
    sc = load_scenario("busan-isolated")
    by = {g.name: g for g in sc.groups}
    zi, zb = by["zi"], by["zi-binance"]
    assert zb.venue == "binance" and zb.count == zi.count * 10
    assert zb.params["limit_rate"] == zi.params["limit_rate"] * 10
    assert zb.params["size_lots"] == zi.params["size_lots"] * 10            # binance's lot is 10x finer
    assert by["noise-huobi"].params["max_lots"] == by["noise"].params["max_lots"] * 100
    mm, mb = by["mm"], by["mm-binance"]
    assert mb.count == 1 and mb.params["size_lots"] == mm.params["size_lots"] * 10 * 10
    assert mb.funds["BTC"] == mm.funds["BTC"] * 10
    pooled = {g.name: g for g in load_scenario("busan-pooled").groups}
    assert pooled["zi-binance"].params["size_lots"] == zi.params["size_lots"]   # home lots on the one book
    assert "arb-binance" not in by                                           # arbitrage is not cloned
    assert by["zi-binance"].account_base == VENUE_SPAN + 2 * 10_000_000
    assert sc.start_price_at("binance", "BTC-USDT") == sc.start_price["BTC-USDT"] * 10


@pytest.mark.parametrize("change, message", [
    ({"sharing": {"model": "mirrored", "stale_polcy": "expire"}}, "sharing.stale_polcy: unknown key; did you mean 'stale_policy'"),
    ({"sharing": {"model": "hybrid"}}, "sharing.model: must be one of"),
    ({"sharing": {"model": "mirrored", "haircut_bps": 0}}, "sharing.haircut_bps"),
    ({"venues.binance.link": "mars"}, "venues.binance.link: unknown latency profile 'mars'"),
    ({"venues.binance.instruments": {"BTC-USDT": {"tick_size": "0.03", "lot_size": "0.00001"}}},
     "home price unit 0.1 must be a whole multiple of the partner's 0.03"),
    ({"venues.binance.eligible": ["ETH-USDT"]}, "venues.binance.eligible: 'ETH-USDT' is not listed"),
    ({"schedule": [{"at": "10m", "venue": "binanse", "action": "down"}]}, "did you mean 'binance'?"),
    ({"schedule": [{"at": "10m", "venue": "ftx", "action": "latency", "until": "5m", "factor": 10}]},
     "schedule[0].until: must be after at"),
    ({"schedule": [{"at": "10m", "venue": "ftx", "action": "latency"}]}, "schedule[0].until: missing"),
    ({"schedule": [{"at": "10m", "venue": "ftx", "action": "down", "factor": 3}]}, "schedule[0].factor: not used"),
    ({"schedule": [{"at": "2h", "venue": "ftx", "action": "down"}]}, "schedule[0].at: 7200s is not within the run"),
    ({"schedule": [{"at": "10m", "venue": "ftx", "action": "crash", "symbol": "BTC-USDT", "drop": 1.5,
                    "over": "1m"}]}, "schedule[0].drop"),
    ({"sharing": {"model": "pooled"}, "schedule": [{"at": "10m", "venue": "ftx", "action": "stale"}]},
     "'stale' acts on a partner's own book"),
    ({"sharing": {"model": "mirrored", "operator_funds": {"ETH": "1"}}}, "sharing.operator_funds.ETH: unknown asset"),
    ({"venues.busan.flow_scale": 3}, "venues.busan.flow_scale: a partner-venue key, but 'busan' is the home venue"),
])
def test_invalid_sharing_fields_are_named(change, message):
    raw = _raw("busan-isolated")
    for key, value in change.items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    with pytest.raises(ScenarioError) as err:
        parse_scenario(raw)
    assert message in str(err.value)


def test_partner_keys_need_a_sharing_section():
    raw = _raw("busan-isolated")
    del raw["sharing"]
    with pytest.raises(ScenarioError, match=r"venues.binance.instruments: a partner-venue key, only meaningful "
                                            r"with a \[sharing\] section"):
        parse_scenario(raw)


SHORT = ["venues.binance.flow_scale=2", "venues.huobi.flow_scale=1", "venues.gateio.flow_scale=1",
         "venues.cryptocom.flow_scale=1", "venues.ftx.flow_scale=1"]


def _files(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file() and p.name != TIMING_FILE}


def test_isolated_run_writes_the_recording_contract_and_is_deterministic(tmp_path):
    sc = load_scenario("busan-isolated", SHORT)
    a = run_scenario(sc, seed=3, duration_ns=40 * NS, out_dir=tmp_path / "a" / "run")
    b = run_scenario(sc, seed=3, duration_ns=40 * NS, out_dir=tmp_path / "b" / "run")
    fa, fb = _files(a.run_dir), _files(b.run_dir)
    assert set(fa) == set(fb)
    for name in fa:
        assert fa[name] == fb[name], f"{name} differs between two runs of seed 3"
    d = a.run_dir
    for venue in ("busan", "binance", "huobi", "gateio", "cryptocom", "ftx"):
        for f in ("trades.npz", "l1.npz", "l2.npz", "recording.json"):
            assert (d / "venues" / venue / f).is_file(), f"venues/{venue}/{f}"
    with np.load(d / "venues" / "busan" / "executions.npz") as z:
        cols = {c: z[c] for c in EXECUTION_COLUMNS}
    n = len(cols["ts_ns"])
    assert n > 10 and all(v.dtype == np.int64 and len(v) == n for v in cols.values())
    assert set(np.unique(cols["side"])) <= {1, 2} and set(np.unique(cols["market"])) <= {0, 1}
    assert (cols["filled_lots"] > 0).all() and (cols["routed_lots"] == 0).all()   # nothing routes when isolated
    assert (cols["quote_amount"] > 0).all() and (cols["mid_x2"] > 0).sum() > n // 2
    doc = json.loads((d / "liquidity.json").read_text())
    assert doc["model"] == "isolated" and doc["home"] == "busan"
    assert doc["partners"] == ["binance", "huobi", "gateio", "cryptocom", "ftx"]
    assert doc["price_scale"]["binance"]["BTC-USDT"] == ["0.01", "0.00001"]
    assert doc["volume_lots"]["binance"] > 0 and doc["timeline"] == [] and doc["exposure"] == []
    assert all(v["ok"] == 1 for v in doc["conservation"].values())
    assert a.metrics["liquidity"]["conservation_ok"] is True
    assert (d / "venues" / "binance" / "journal.bin").is_file()


def test_a_different_seed_gives_a_different_market(tmp_path):
    sc = load_scenario("busan-isolated", SHORT)
    a = run_scenario(sc, seed=3, duration_ns=10 * NS, out_dir=tmp_path / "a")
    c = run_scenario(sc, seed=4, duration_ns=10 * NS, out_dir=tmp_path / "c")
    assert (a.run_dir / "venues/binance/trades.npz").read_bytes() != (c.run_dir / "venues/binance/trades.npz").read_bytes()


def test_adding_a_partner_leaves_the_home_market_alone():
    """Streams derive from names: a sixth partner venue changes nothing at home when books are separate and
    no one links them (the arbitrageur is removed)."""
    from sim.build import Simulation
    base_raw = _raw("busan-isolated")
    del base_raw["agents"]["arb"]
    more_raw = json.loads(json.dumps(base_raw))
    more_raw["venues"]["okx"] = {"symbols": ["BTC-USDT"], "link": "tokyo", "flow_scale": 1}
    hashes = []
    for raw in (base_raw, more_raw):
        for v in ("binance", "huobi", "gateio", "cryptocom", "ftx", "okx"):
            if v in raw["venues"]:
                raw["venues"][v]["flow_scale"] = 1
        sim = Simulation(parse_scenario(raw), duration_ns=15 * NS)
        sim.start()
        sim.kernel.run(sim.duration_ns)
        hashes.append((sim.home.engine.state_hash(), sim.venues["binance"].engine.state_hash()))
    assert hashes[0] == hashes[1]


def test_sim_list_and_run_work_on_the_sharing_scenarios(tmp_path, capsys):
    from gateway.cli import main
    assert main(["sim", "list"]) == 0
    out = capsys.readouterr().out
    for name in SHARING:
        line = next(x for x in out.splitlines() if x.startswith(name + " "))
        assert "INVALID" not in line
    for name in ("terra-crash", "busan-pooled"):
        d = tmp_path / name
        argv = ["sim", "run", name, "--duration", "8s", "--out", str(d), "--quiet"]
        argv += ["--set", "venues.binance.flow_scale=1"] if name == "terra-crash" else sum((["--set", s] for s in SHORT), [])
        if name == "terra-crash" and not _has_mirrored():
            argv += ["--set", 'sharing.model="isolated"']
        assert main(argv) == 0, capsys.readouterr().err
        assert (d / "liquidity.json").is_file() and (d / "venues" / "busan" / "executions.npz").is_file()
    assert main(["sim", "run", "busan-isolated", "--set", 'schedule=[{at="1m", venue="okx", action="down"}]']) == 2
    assert "schedule[0].venue: 'okx' is not a partner venue" in capsys.readouterr().err


def _has_mirrored() -> bool:
    from importlib.util import find_spec
    return find_spec("exchange.liquidity.mirrored") is not None
