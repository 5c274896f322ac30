"""The shared machinery of agent groups: lazily funded members and one Poisson clock for the group."""
from __future__ import annotations

from typing import Any

from ..client import SimClient
from .base import Agent, AgentContext, NS_PER_S

__all__ = ["GroupAgent"]


class GroupAgent(Agent):
    """``count`` identical members driven by one Poisson process of rate ``rate_per_s`` (the sum of the
    members' rates), optionally scaled by the fundamental's activity to the power ``activity_elasticity``.
    Each event picks a member uniformly and calls :meth:`act`. Members' clients are created (and funded)
    on first use, so memory grows with *active* members only.
    """

    def __init__(self, name: str, ctx: AgentContext, count: int, rate_per_s: float,
                 activity_elasticity: float = 0.0) -> None:
        super().__init__(name, ctx)
        self.count: int = count
        self.rate_per_s: float = rate_per_s
        self.elasticity: float = activity_elasticity
        self.members: dict[int, SimClient] = {}
        self.actions: int = 0

    def member(self, i: int) -> SimClient:
        c = self.members.get(i)
        if c is None:
            c = self.members[i] = self.ctx.new_client(self, i)
        return c

    def start(self) -> None:
        if self.rate_per_s > 0 and self.count > 0:
            self._schedule_next()

    def current_rate(self) -> float:
        f = self.ctx.fundamental
        if self.elasticity and f is not None:
            return self.rate_per_s * f.activity ** self.elasticity
        return self.rate_per_s

    def _schedule_next(self) -> None:
        ctx = self.ctx
        wait = int(ctx.draws.exponential(NS_PER_S / self.current_rate())) + 1
        k = ctx.kernel
        k.at(k.now + wait, self._fire)   # wait >= 1: the schedule() check cannot fail

    def _fire(self, _: object = None) -> None:
        self.actions += 1
        c = self.member(self.ctx.draws.below(self.count))
        if c.compute_ns:
            c.when_free(self._act)   # a busy member acts when it is free (SimClient: computation delay)
        else:
            self.act(c)
        self._schedule_next()

    def _act(self, client: SimClient, _: object = None) -> None:
        self.act(client)

    def act(self, client: SimClient) -> None:
        """One action of one member (subclasses)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return {"members": self.count, "active_members": len(self.members), "actions": self.actions}
