"""Scenario validation: every error names its field; overrides are checked like the file."""
import copy

import pytest

from sim.scenario import (ScenarioError, apply_overrides, list_scenarios, load_scenario, parse_duration,
                          parse_scenario)

MINI = {
    "run": {"name": "mini", "duration": "10m", "seed": 3},
    "assets": {"BTC": 8, "KRW": 4},
    "instruments": {"BTC-KRW": {"base": "BTC", "quote": "KRW", "lot_size": "0.0001", "start_price": "95000000",
                                "tick_table": [["0", "1"], ["1000000", "500"], ["2000000", "1000"]]}},
    "venues": {"busan": {"symbols": ["BTC-KRW"]}},
    "agents": {"noise": {"kind": "noise", "count": 10, "funds": {"BTC": "1", "KRW": "100000000"}}},
}


def parse_with(path: str, value):
    raw = copy.deepcopy(MINI)
    node = raw
    *head, last = path.split(".")
    for p in head:
        node = node.setdefault(p, {})
    node[last] = value
    return parse_scenario(raw)


def test_shipped_scenarios_load():
    names = list_scenarios()
    assert {"busan", "rmsc04"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.duration_ns > 0 and sc.groups
    busan = load_scenario("busan")
    assert busan.home_symbol == "BTC-KRW" and busan.instruments["BTC-KRW"].band_steps[-1] == 1000


def test_minimal_scenario_defaults():
    sc = parse_scenario(copy.deepcopy(MINI))
    assert sc.name == "mini" and sc.seed == 3 and sc.duration_ns == 600 * 10**9 and sc.home_venue == "busan"
    g = sc.groups[0]
    assert g.venue == "busan" and g.symbol == "BTC-KRW" and g.latency == "default"
    assert g.funds == {"BTC": 10**8, "KRW": 100_000_000 * 10**4}
    assert g.params["rate_per_s"] is None and g.params["size_alpha"] == 1.5


@pytest.mark.parametrize("path,value,message", [
    ("agents.noise.count", -3, "agents.noise.count: must be a positive integer, got -3"),
    ("agents.noise.count", 2.5, "agents.noise.count: must be a positive integer, got 2.5"),
    ("agents.noise.cuont", 3, "agents.noise.cuont: unknown key; did you mean 'count'?"),
    ("agents.noise.kind", "noize", "agents.noise.kind: must be one of"),
    ("agents.noise.buy_prob", 1.5, "agents.noise.buy_prob: must be a number in [0, 1]"),
    ("agents.noise.funds", {"ETH": "1"}, "agents.noise.funds.ETH: unknown asset"),
    ("agents.noise.funds", {"BTC": 0.1}, "agents.noise.funds.BTC: must be a non-negative decimal string"),
    ("agents.noise.venue", "upbit", "agents.noise.venue: unknown venue 'upbit'"),
    ("agents.noise.latency", "fast", "agents.noise.latency: unknown latency profile 'fast'"),
    ("agents.noise.min_lots", 5000, "agents.noise.max_lots: must be >= min_lots"),
    ("run.duration", "10 parsecs", "run.duration: must be a positive duration"),
    ("run.duraton", "1h", "run.duraton: unknown key; did you mean 'duration'?"),
    ("run.warmup", "1h", "run.warmup: must be shorter than run.duration"),
    ("run.seed", -1, "run.seed: must be an integer in 0.."),
    ("instruments.BTC-KRW.start_price", "95000100", "instruments.BTC-KRW.start_price: 95000100 is not on"),
    ("instruments.BTC-KRW.base", "ETH", "instruments.BTC-KRW.base: unknown asset 'ETH'"),
    ("instruments.BTC-KRW.lot_size", "0.000000001", "instruments.BTC-KRW:"),
    ("venues.busan.symbols", ["ETH-KRW"], "venues.busan.symbols: unknown instrument 'ETH-KRW'"),
    ("latency.default.jitter", "cubic", "latency.default.jitter: must be one of"),
    ("fundamental.sigma_per_min_bps", 0, "fundamental.sigma_per_min_bps: must be a number > 0"),
    ("record.l2_levels", 0, "record.l2_levels: must be an integer in 1..1000"),
    ("agnets", {}, "agnets: unknown key; did you mean 'agents'?"),
])
def test_errors_name_the_field(path, value, message):
    with pytest.raises(ScenarioError) as exc:
        parse_with(path, value)
    assert message in str(exc.value)


def test_value_traders_need_a_fundamental():
    raw = copy.deepcopy(MINI)
    raw["agents"]["v"] = {"kind": "value", "wake_rate_per_agent": 0.1, "threshold_bps": 2, "size_lots": 10}
    with pytest.raises(ScenarioError, match="agents.v.kind: value traders need a \\[fundamental\\]"):
        parse_scenario(raw)


def test_overrides_are_validated_like_the_file():
    sc = load_scenario("busan", ["agents.noise.count=2000", "run.duration=2h", 'run.seed=9'])
    assert [g.count for g in sc.groups if g.name == "noise"] == [2000]
    assert sc.duration_ns == 7200 * 10**9 and sc.seed == 9
    with pytest.raises(ScenarioError, match="agents.noise.count: must be a positive integer, got -3"):
        load_scenario("busan", ["agents.noise.count=-3"])
    with pytest.raises(ScenarioError, match="expected key.path=value"):
        apply_overrides({}, ["agents.noise.count"])
    with pytest.raises(ScenarioError, match="did you mean 'busan'"):
        load_scenario("busn")


def test_durations():
    assert parse_duration("6.5h") == 23_400 * 10**9
    assert parse_duration("250ms") == 250_000_000
    assert parse_duration(90) == 90 * 10**9
    for bad in ("0s", "-1h", "h", True, None, float("nan")):
        with pytest.raises(ScenarioError):
            parse_duration(bad)
