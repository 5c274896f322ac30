"""How a scenario's agent groups become N load bots, and how one bot's agent is built.

Allotment (:func:`allot`, deterministic, no randomness): a group's *flow* is its members' summed action
rate (``rate_per_s`` of a group agent, i.e. the scenario's Poisson rate for the whole group). Market makers
come first: with N >= 2 bots, ``max(1, N // 8)`` bots (capped at the scenario's market-maker members) are
market makers, so a load run always has someone quoting; the rest go to the other groups in proportion to
their flow (largest remainder; ties by file order), at most one bot per member. With N = 1 the one bot is a
member of the highest-flow group. Groups that need other venues (arbitrage) or run once (execution) get
no bots.

A bot is one member of its group with its own account: a group agent built with ``count=1`` and the
group's rate parameters divided by the group's member count (so it acts like one member), times
``rate_scale`` (``bdax load --rate``: the bot's actions per market second, default one member's rate; a
meta-order bot keeps one member's rate, since its action is a parent order worked for minutes).
``--speed`` then compresses market time: a bot offers about ``rate * speed`` actions per wall second.
Each bot draws from its own stream ``derive(seed, "bot/<group>/<k>")``.

The agent runs against a real :class:`~sim.client.SimClient` on a per-bot *shadow* :class:`SimVenue`
whose engine is a :class:`WireEngine`: the venue's command path hands every command to the bot's wire
connection instead of matching it, and the bot feeds the venue's book mirror and tape from its local
depth book and the trade stream. So the agents, the client and the venue code are the simulator's own,
compiled or not; only what is behind the engine seam is a network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from exchange import Deposit

from ..agents import KINDS
from ..agents.base import AgentContext
from ..agents.group import GroupAgent
from ..kernel import Kernel
from ..latency import JitterSpec, LatencyModel
from ..rng import Draws, derive
from ..scenario import NS, Scenario
from ..venue import SimVenue

__all__ = ["BotSpec", "allot", "WireEngine", "build_agent", "member_rate", "RATE_PARAMS"]

# Per kind: the parameters that are the *group's* rates (divided by the member count for one bot) and
# those that are already per member (kept); both are multiplied by rate_scale.
RATE_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "zero_intelligence": (("limit_rate", "market_rate"), ()),
    "noise": (("rate_per_s",), ()),
    "value": ((), ("wake_rate_per_agent",)),
    "momentum": ((), ("wake_rate_per_agent",)),
    "metaorders": (("arrival_rate_per_hour",), ()),
}


@dataclass(frozen=True)
class BotSpec:
    """One bot: ``k``-th bot of ``group`` (a ``kind`` agent), funded with ``funds`` (asset -> decimal)."""

    group: str
    kind: str
    k: int
    funds: dict[str, str]


def _funds_text(scenario: Scenario, g: Any) -> dict[str, str]:
    return {asset: scenario.assets[asset].format(units) for asset, units in g.funds.items()}


def member_rate(scenario: Scenario, g: Any) -> float:
    """The group's summed action rate per market second (0 for individual agents)."""
    p = dict(g.params)
    if g.kind == "zero_intelligence":
        return p["limit_rate"] + p["market_rate"]
    if g.kind == "noise":
        return p["rate_per_s"] if p.get("rate_per_s") is not None else g.count / (scenario.duration_ns / NS)
    if g.kind in ("value", "momentum"):
        return g.count * p["wake_rate_per_agent"]
    if g.kind == "metaorders":
        return p["arrival_rate_per_hour"] / 3600.0
    return 0.0


def allot(scenario: Scenario, n: int) -> list[BotSpec]:
    """The bots of a run of ``n`` bots (see the module docstring). Raises ValueError if n < 1 or the
    scenario has no group a bot can play."""
    if n < 1:
        raise ValueError(f"--bots must be >= 1, got {n}")
    home = scenario.home_venue
    mms = [g for g in scenario.groups if g.kind == "market_maker" and g.venue == home]
    flows = [(g, member_rate(scenario, g)) for g in scenario.groups
             if g.kind in RATE_PARAMS and g.venue == home and g.count > 0]
    flows = [(g, f) for g, f in flows if f > 0]
    if not flows and not mms:
        raise ValueError(f"scenario {scenario.name!r} has no agent group a load bot can play")
    out: list[BotSpec] = []
    n_mm = 0
    if mms and (n >= 2 or not flows):
        n_mm = min(sum(g.count for g in mms), max(1, n // 8))
    for i in range(n_mm):
        g = mms[i % len(mms)]
        out.append(BotSpec(g.name, g.kind, i // len(mms), _funds_text(scenario, g)))
    rest = n - n_mm
    if rest and flows:
        total = sum(f for _, f in flows)
        cap = sum(g.count for g, _ in flows)
        rest = min(rest, cap)
        quotas = [rest * f / total for _, f in flows]
        alloc = [min(int(q), g.count) for q, (g, _) in zip(quotas, flows)]
        order = sorted(range(len(flows)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
        while sum(alloc) < rest:
            for i in order:
                if sum(alloc) < rest and alloc[i] < flows[i][0].count:
                    alloc[i] += 1
        for (g, _), a in zip(flows, alloc):
            out.extend(BotSpec(g.name, g.kind, k, _funds_text(scenario, g)) for k in range(a))
    return out


class WireEngine:
    """The engine seam of a bot's shadow venue: commands go to ``send`` (the wire), reads of the best
    prices come from the bot's local book. Deposits (the agent context funding a member) are not sent:
    the bot's account was funded by provisioning with the same amounts."""

    def __init__(self, instruments: dict, send: Callable[[Any], None], best: Callable[[str], tuple]) -> None:
        self.instruments = instruments
        self._send = send
        self._best = best

    def handle(self, command: Any) -> list:
        if type(command) is not Deposit:
            self._send(command)
        return []

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        b, a = self._best(symbol)
        return (b or None, a or None)


def build_agent(scenario: Scenario, spec: BotSpec, kernel: Kernel, account: int, engine: WireEngine,
                seed: int, rate_scale: float, fundamental: Any) -> tuple[Any, SimVenue]:
    """The bot's agent on its shadow venue (zero-latency links: the real network is the latency)."""
    g = next(x for x in scenario.groups if x.name == spec.group)
    venue = SimVenue(scenario.home_venue, kernel, [], keep_ns=10 * NS, engine=engine)
    zero = JitterSpec(0, 0, "none")
    link = LatencyModel(seed).add(f"bot/{g.name}/{spec.k}", venue.name, zero, zero)
    ctx = AgentContext(g.name, kernel, Draws(derive(seed, f"bot/{g.name}/{spec.k}")), venue, link, g.symbol,
                       account, g.funds, 0, fundamental)
    ctx.reference_price = scenario.start_price_at(venue.name, g.symbol)
    params = dict(g.params)
    cls = KINDS[g.kind]
    name = f"{g.name}-bot{spec.k}"
    if g.kind == "market_maker":
        agent = cls(name, ctx, member=0, **params)
    else:
        group_rates, member_rates = RATE_PARAMS[g.kind]
        if g.kind == "noise" and params.get("rate_per_s") is None:
            params["rate_per_s"] = g.count / (scenario.duration_ns / NS)
        for p in group_rates:
            params[p] = params[p] / g.count * rate_scale
        for p in member_rates:
            params[p] = params[p] * rate_scale
        agent = cls(name, ctx, count=1, **params)
    return agent, venue


def ensure_client(agent: Any) -> None:
    """Create a group agent's one member client now (it is otherwise created on its first action), so the
    bot can hand it events from the start."""
    if isinstance(agent, GroupAgent):
        agent.member(0)
