"""Agents, one small class per file, all written against :class:`sim.client.VenueClient`.

``KINDS`` maps a scenario's ``kind = "..."`` to the class; :mod:`sim.scenario` holds each kind's
parameters, defaults and checks.
"""
from __future__ import annotations

from .arbitrage import Arbitrageur
from .base import Agent, AgentContext
from .execution import ScheduledExecution
from .market_maker import MarketMaker
from .metaorders import MetaOrderTraders
from .momentum import Momentum
from .noise import NoiseTaker
from .value import ValueTrader
from .zi import ZeroIntelligence

__all__ = ["Agent", "AgentContext", "KINDS"]

KINDS: dict[str, type[Agent]] = {
    "zero_intelligence": ZeroIntelligence,
    "noise": NoiseTaker,
    "market_maker": MarketMaker,
    "momentum": Momentum,
    "value": ValueTrader,
    "execution": ScheduledExecution,
    "metaorders": MetaOrderTraders,
    "arbitrage": Arbitrageur,
}
