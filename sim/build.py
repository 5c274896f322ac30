"""Build a simulation from a :class:`~sim.scenario.Scenario`: kernel, venues, latency links, the
fundamental, agents and (optionally) the recorder hooks. No I/O: :mod:`sim.runner` writes files.

Random streams (DESIGN.md §5): the fundamental draws from ``derive(seed, "fundamental")``, each agent
group from ``derive(seed, "agent/<group>")``, each latency link from ``derive(seed,
"latency/<group>/<venue>/<order|feed>")``. Accounts: group ``i`` (in file order) trades for accounts
``(i + 1) * 10_000_000 + member`` (a group at a partner venue: that venue's range, sim.liquidity.spec).

Shared liquidity (``scenario.liquidity``): the home venue's engine is a hub under the mirrored and pooled
models; partner venues are full venues with their own agents (none under pooled: their agents trade on the
home book through the partner's link); :class:`sim.liquidity.world.LiquidityWorld` carries everything
between them. Other symbols' fundamentals draw from ``derive(seed, "fundamental/<symbol>")``.
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
        liq = scenario.liquidity
        max_feed = max((spec.max_ns for pair in scenario.latency.values() for spec in pair), default=NS)
        if liq is not None:   # pooled partner flow reads through two links, slowed by latency spikes
            spike = max((e.factor or 1.0 for e in liq.schedule if e.action == "latency"), default=1.0)
            max_feed = int(max_feed * (1 + spike))
        self.venues: dict[str, SimVenue] = {}
        for name, v in scenario.venues.items():
            if liq is not None and liq.model == "pooled" and name != scenario.home_venue:
                continue   # pooled: one book, at home; partner agents trade on it
            self.venues[name] = SimVenue(name, self.kernel, list(scenario.instruments_at(name).values()),
                                         fee_tiers=scenario.fee_tiers(name), keep_ns=max_feed + NS,
                                         engine=self._hub(name))
        self.home = self.venues[scenario.home_venue]
        self.symbol = scenario.home_symbol
        self.instrument = scenario.instruments[self.symbol]
        self.tick_size = step_at(self.instrument, scenario.start_price[self.symbol])
        self.latency = LatencyModel(self.seed)
        self.fundamental: Fundamental | None = None
        self.fundamentals: dict[str, Fundamental] = {}
        if scenario.fundamental is not None:
            self.fundamental = self._fundamental(scenario.fundamental, self.symbol, "fundamental")
            self.fundamentals[self.symbol] = self.fundamental
        for sym, f in scenario.fundamentals.items():
            self.fundamentals[sym] = self._fundamental(f, sym, f"fundamental/{sym}")
        self._views: dict[tuple[str, str], Fundamental | None] = {}
        self.world: Any = None
        if liq is not None:
            from .liquidity.world import LiquidityWorld   # only shared-liquidity runs need it
            self.world = LiquidityWorld(self)
        self.agents: list[Agent] = []
        self.groups: dict[str, list[Agent]] = {}
        for i, g in enumerate(scenario.groups):
            order, feed = scenario.latency[g.latency]
            venue_name = g.venue if g.venue in self.venues else scenario.home_venue
            link = self.latency.add(g.name, g.venue, order, feed)
            if venue_name != g.venue:          # pooled partner flow: + the partner -> home link
                link = self.world.pooled_link(g.name, g.venue, link)
            first = g.account_base if g.account_base is not None else (i + 1) * ACCOUNT_BLOCK
            ctx = AgentContext(g.name, self.kernel, Draws(derive(self.seed, f"agent/{g.name}")),
                               self.venues[venue_name], link, g.symbol, first, g.funds,
                               g.compute_ns, self._fundamental_for(venue_name, g.symbol))
            ctx.reference_price = scenario.start_price_at(venue_name, g.symbol)
            self.groups[g.name] = members = self._make(g, ctx)
            if any(a.reads_depth for a in members):   # client.depth needs the level log from the start
                self.venues[venue_name].track_depth(g.symbol)
            self.agents.extend(members)

    def _hub(self, venue: str) -> Any:
        """The home venue's engine-like hub under the mirrored and pooled models (None: a plain Engine)."""
        sc = self.scenario
        liq = sc.liquidity
        if liq is None or venue != sc.home_venue or liq.model == "isolated":
            return None
        if liq.model == "mirrored":
            from exchange.liquidity.mirrored import MirroredVenue as Hub
        else:
            from exchange.liquidity.pooled import PooledVenue as Hub
        return Hub(list(sc.instruments_at(venue).values()), liq.config, fee_tiers=sc.fee_tiers(venue))

    def _fundamental(self, f: dict, symbol: str, stream: str) -> Fundamental:
        sc = self.scenario
        return Fundamental(
            self.kernel, Draws(derive(self.seed, stream)), start_price=float(sc.start_price[symbol]),
            sigma_per_min=f["sigma_per_min_bps"] * 1e-4, half_life_s=f["half_life"] / NS,
            vol_timescales_s=f["vol_timescales"], vol_of_vol=f["vol_of_vol"],
            jump_rate_per_hour=f["jump_rate_per_hour"], jump_sigma=f["jump_sigma_bps"] * 1e-4,
            dt_ns=f["dt_ms"] * 1_000_000)

    def _fundamental_for(self, venue: str, symbol: str) -> Fundamental | None:
        """The fundamental the agents trading ``symbol`` on ``venue``'s book read, in that book's ticks,
        times the book's local premium when ``sharing.premium_sigma_bps`` is set (stream ``derive(seed,
        "premium/<venue>/<symbol>")``). The premium belongs to a book, not to its customers: separate books
        drift apart (segmentation), one pooled book has one value. A plain run hands every group the
        scenario's one fundamental, as it always has."""
        liq = self.scenario.liquidity
        if liq is None:
            return self.fundamental
        key = (venue, symbol)
        if key not in self._views:
            base = self.fundamentals.get(symbol)
            view = base
            if base is not None:
                sc = self.scenario
                ratio = sc.instruments[symbol].price_unit / sc.instruments_at(venue)[symbol].price_unit
                if liq.premium_sigma_bps > 0:
                    view = base.follower(float(ratio), liq.premium_sigma_bps * 1e-4,
                                         liq.premium_half_life_ns / NS,
                                         Draws(derive(self.seed, f"premium/{venue}/{symbol}")))
                elif ratio != 1:
                    view = base.follower(float(ratio))
            self._views[key] = view
        return self._views[key]

    def _make(self, g: Any, ctx: AgentContext) -> list[Agent]:
        cls = KINDS[g.kind]
        params = dict(g.params)
        if g.kind == "arbitrage":
            return [cls(g.name, ctx, world=self.world, latency=self.latency,
                        profile=self.scenario.latency[g.latency], **params)]
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
        for f in self.fundamentals.values():
            f.start()
        if self.world is not None:
            self.world.start()
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
