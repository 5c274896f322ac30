"""Build a simulation from a :class:`~sim.scenario.Scenario`: kernel, venues, latency links, the
fundamental, agents and (optionally) the recorder hooks. No I/O: :mod:`sim.runner` writes files.

Random streams (DESIGN.md §5): the fundamental draws from ``derive(seed, "fundamental")``, each agent
group from ``derive(seed, "agent/<group>")``, each latency link from ``derive(seed,
"latency/<group>/<venue>/<order|feed>")``. Accounts: group ``i`` (in file order) trades for accounts
``(i + 1) * 10_000_000 + member``.
"""
from __future__ import annotations

from typing import Any

from .agents import KINDS
from .agents.base import Agent, AgentContext, step_at
from .agents.fundamental import Fundamental
from .kernel import Kernel
from .latency import LatencyModel
from .rng import Draws, derive
from .scenario import NS, Scenario
from .venue import SimVenue

__all__ = ["Simulation", "ACCOUNT_BLOCK"]

ACCOUNT_BLOCK = 10_000_000


class Simulation:
    """A ready-to-run simulation.

    Args:
        scenario: the validated scenario.
        seed: the master seed (default: the scenario's).
        duration_ns: override the scenario's duration.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, duration_ns: int | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.duration_ns = duration_ns or scenario.duration_ns
        self.kernel = Kernel()
        max_feed = max((spec.max_ns for pair in scenario.latency.values() for spec in pair), default=NS)
        self.venues: dict[str, SimVenue] = {
            name: SimVenue(name, self.kernel, [scenario.instruments[s] for s in v["symbols"]],
                           fee_tiers=scenario.fee_tiers(name), keep_ns=max_feed + NS)
            for name, v in scenario.venues.items()}
        self.home = self.venues[scenario.home_venue]
        self.symbol = scenario.home_symbol
        self.instrument = scenario.instruments[self.symbol]
        self.tick_size = step_at(self.instrument, scenario.start_price[self.symbol])
        self.latency = LatencyModel(self.seed)
        self.fundamental: Fundamental | None = None
        if scenario.fundamental is not None:
            f = scenario.fundamental
            self.fundamental = Fundamental(
                self.kernel, Draws(derive(self.seed, "fundamental")),
                start_price=float(scenario.start_price[self.symbol]),
                sigma_per_min=f["sigma_per_min_bps"] * 1e-4, half_life_s=f["half_life"] / NS,
                vol_timescales_s=f["vol_timescales"], vol_of_vol=f["vol_of_vol"],
                jump_rate_per_hour=f["jump_rate_per_hour"], jump_sigma=f["jump_sigma_bps"] * 1e-4,
                dt_ns=f["dt_ms"] * 1_000_000)
        self.agents: list[Agent] = []
        self.groups: dict[str, list[Agent]] = {}
        for i, g in enumerate(scenario.groups):
            order, feed = scenario.latency[g.latency]
            link = self.latency.add(g.name, g.venue, order, feed)
            ctx = AgentContext(g.name, self.kernel, Draws(derive(self.seed, f"agent/{g.name}")),
                               self.venues[g.venue], link, g.symbol, (i + 1) * ACCOUNT_BLOCK, g.funds,
                               g.compute_ns, self.fundamental)
            ctx.reference_price = scenario.start_price[g.symbol]
            self.groups[g.name] = members = self._make(g, ctx)
            if any(a.reads_depth for a in members):   # client.depth needs the level log from the start
                self.venues[g.venue].track_depth(g.symbol)
            self.agents.extend(members)

    def _make(self, g: Any, ctx: AgentContext) -> list[Agent]:
        cls = KINDS[g.kind]
        params = dict(g.params)
        if g.kind in ("market_maker", "execution"):   # individual agents, one account each
            if g.kind == "execution":
                params["start_s"] = params.pop("start") / NS
                params["duration_s"] = params.pop("length") / NS
            return [cls(f"{g.name}-{m}" if g.count > 1 else g.name, ctx, member=m, **params)
                    for m in range(g.count)]
        if g.kind == "noise" and params["rate_per_s"] is None:
            params["rate_per_s"] = g.count / (self.duration_ns / NS)   # ABIDES: one trade per agent per run
        return [cls(g.name, ctx, count=g.count, **params)]

    def start(self) -> None:
        if self.fundamental is not None:
            self.fundamental.start()
        for agent in self.agents:
            agent.start()

    def finish(self) -> None:
        """Close every venue's open journal batch (call before reading journals)."""
        for v in self.venues.values():
            v.flush_journal()

    def counters(self) -> dict[str, int]:
        """Commands applied, events delivered to agents, market-data pushes, kernel actions."""
        v = list(self.venues.values())
        return {"commands": sum(x.n_commands for x in v),
                "events_delivered": sum(x.n_events_delivered for x in v),
                "market_data_delivered": sum(x.n_md_delivered for x in v),
                "kernel_actions": self.kernel.steps}

    def agent_summaries(self) -> dict[str, dict]:
        return {a.name: {"kind": type(a).__name__, **a.summary()} for a in self.agents}
