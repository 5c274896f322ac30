"""The compiled simulator (mypyc, setup.py) and the interpreted source run the same simulation.

`pip install .` compiles the simulator's hot modules (kernel, venue, client and the agents) together with the
engine; the source tree stays plain Python. The same scenario and seed must give byte-identical journals,
the same state hash, counters and agent summaries in both: each build runs in its own process (the
installed package, and the repo source put first on sys.path), on the rmsc04 mix and on busan with
computation delays (the deferred-handling paths).
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Compiled as one group with the engine (setup.py COMPILED): all of them or none.
SIM_COMPILED = ("sim.kernel", "sim.rng", "sim.latency", "sim.venue", "sim.client", "sim.agents.base", "sim.agents.group",
                "sim.agents.fundamental", "sim.agents.market_maker", "sim.agents.zi", "sim.agents.noise",
                "sim.agents.value", "sim.agents.momentum", "sim.agents.execution", "sim.agents.metaorders")

RUN = r"""
import hashlib, json, sys
sys.path[:0] = {path!r}
import exchange.engine, sim.venue
from sim.build import Simulation
from sim.scenario import load_scenario
out = {{"compiled": not sim.venue.__file__.endswith(".py"), "where": sim.venue.__file__,
        "engine_compiled": not exchange.engine.__file__.endswith(".py")}}
for name, seed, minutes, sets in (("rmsc04", 1, 30, []),
                                  ("busan", 3, 10, ["agents.mm.compute_delay_us=3000",
                                                    "agents.zi.compute_delay_us=500"])):
    s = Simulation(load_scenario(name, sets), seed=seed, duration_ns=minutes * 60 * 10**9)
    s.start()
    s.kernel.run(s.duration_ns)
    s.finish()
    s.home.engine._check()
    out[name] = {{"journal": hashlib.sha256(s.home.journal.to_bytes()).hexdigest(),
                  "state": s.home.engine.state_hash(), "counters": s.counters(),
                  "agents": s.agent_summaries()}}
print(json.dumps(out, sort_keys=True))
"""


def run_build(tmp_path: Path, source_first: bool) -> dict:
    path = [str(REPO)] if source_first else []
    out = subprocess.run([sys.executable, "-c", RUN.format(path=path)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_compiled_and_interpreted_simulators_give_the_same_journal_bytes(tmp_path):
    installed = run_build(tmp_path, source_first=False)
    source = run_build(tmp_path, source_first=True)
    if installed["compiled"] == source["compiled"]:
        pytest.skip(f"only one kind of build is importable here (installed: {installed['where']}, source: "
                    f"{source['where']}); `pip install .` (not -e) builds the compiled one")
    assert installed["engine_compiled"] and not source["engine_compiled"]
    for name in ("rmsc04", "busan"):
        assert installed[name]["counters"]["commands"] > 1000
        assert installed[name] == source[name], f"{name}: compiled and interpreted simulators diverge"


def test_installed_simulator_is_compiled_exactly_when_the_engine_is():
    """One mypyc group: a half-compiled install (some hot modules .py, some .so) would be a packaging bug."""
    kinds = {name: not importlib.import_module(name).__file__.endswith(".py")
             for name in (*SIM_COMPILED, "exchange.engine")}
    assert len(set(kinds.values())) == 1, kinds
