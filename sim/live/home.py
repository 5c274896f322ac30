"""The home venue's engine seen from inside a live market: the pump's engine for every read, the pump for
every write.

:class:`sim.venue.SimVenue` applies a command with ``self.engine.handle(command)``; in a live market the
home venue must never do that itself (the gateway's pump owns the engine: journal, then apply, then tell
the listeners). :class:`HomeEngine` is set as the home ``SimVenue.engine``: its reads are the pump's engine's
(so the venue's ``_fold`` reads the state its mirror was folded from), and ``handle`` hands the command to
the live market, which submits it to the pump and returns no events. The events come back through the
pump listener (:meth:`sim.live.market.LiveMarket.on_events`), in journal order, for every applied command.

Why a stand-in rather than replacing the venue's ``submit``: the simulator's compiled code (agent funding
in ``AgentContext.new_client``, arbitrage transfers) calls ``venue.apply_now`` directly, which ends in
``engine.handle``; this is the one place every such path meets.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["HomeEngine"]


class HomeEngine:
    """Engine-like stand-in for the home venue (see the module docstring).

    Args:
        engine: the pump's engine (a plain Engine or a liquidity hub).
        send: called with each command the simulation applies at the home venue; it submits it to the
            pump (or drops it, see :meth:`LiveMarket.from_shell`).
    """

    def __init__(self, engine: Any, send: Callable[[Any], None]) -> None:
        self._engine = engine
        self._send = send
        # The reads SimVenue makes on its hot path, bound once.
        self.best_bid_ask = engine.best_bid_ask
        self.depth = engine.depth
        self.instruments = engine.instruments

    def handle(self, command: Any) -> list[Any]:
        """Submit ``command`` through the live market; its events arrive later through the pump listener,
        so there are none to return now (a caller sees an empty list, as for a command not applied yet)."""
        self._send(command)
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)
