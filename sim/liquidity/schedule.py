"""The scenario's ``[[schedule]]`` carried out in virtual time (see :mod:`sim.liquidity.spec` for the fields).

- ``stale``: the partner's feed freezes (it repeats the snapshot taken now, with this venue time);
  heartbeats go on.
- ``down``: no feed, no heartbeats, children rejected ``VENUE_DOWN``, settlements it pays fail. Its own
  market goes on (its agents trade among themselves); only the link is cut.
- ``default``: as down, for good, and the home venue is told: PartnerStatus(DEFAULTED) now.
- ``up``: the link is back (feed and heartbeats resume; the hub sees them arrive).
- ``latency``: that link's sampled delays (``what``: feed, order or both) times ``factor`` until ``until``.
- ``crash``: the symbol's fundamental falls by ``drop`` over ``over`` (every venue's agents see it).
- ``halt`` / ``resume``: the partner halts (resumes) the symbol (journaled there; resting orders stay);
  with ``sharing.halt_on_partner_halt`` the home venue follows one feed latency later.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.commands import HaltInstrument, ResumeInstrument
from exchange.liquidity.commands import PartnerStatus
from exchange.liquidity.health import Health

from .links import DEFAULTED, DOWN, STALE, UP
from .spec import ScheduleEntry

if TYPE_CHECKING:
    from .world import LiquidityWorld

__all__ = ["Scheduler"]


class Scheduler:
    def __init__(self, world: "LiquidityWorld") -> None:
        self.world = world
        self.done: list[dict[str, Any]] = []

    def start(self) -> None:
        for e in self.world.spec.schedule:
            if e.at_ns <= self.world.sim.duration_ns:
                self.world.kernel.at(e.at_ns, self._apply, e)

    def _apply(self, e: ScheduleEntry) -> None:
        w = self.world
        link = w.links[e.venue]
        now = w.kernel.now
        a = e.action
        if link.health == DEFAULTED and a in ("stale", "down", "up"):
            self.done.append({"ts_ns": now, "venue": e.venue, "action": a, "skipped": "already defaulted"})
            return
        if a == "stale":
            link.freeze()
            link.health = STALE
        elif a == "down":
            link.health = DOWN
        elif a == "default":
            link.health = DEFAULTED
            if w.model != "isolated":
                w.home.submit(PartnerStatus(now, e.venue, Health.DEFAULTED, "ANNOUNCED"))
        elif a == "up":
            link.health = UP
        elif a == "latency":
            assert e.factor is not None and e.until_ns is not None
            self._scale(link, e.what, e.factor)
            w.kernel.at(e.until_ns, self._restore, (link, e.what))
        elif a == "crash":
            assert e.symbol is not None and e.drop is not None and e.over_ns is not None
            w.sim.fundamentals[e.symbol].crash(e.drop, e.over_ns)
        elif a in ("halt", "resume"):
            assert e.symbol is not None
            cmd = HaltInstrument(now, e.symbol) if a == "halt" else ResumeInstrument(now, e.symbol)
            if link.venue is not None:
                link.venue.apply_now(cmd)
            if w.spec.halt_on_partner_halt and e.symbol in w.home.instruments:
                w.kernel.at(now + link.feed_delay(), self._home_follows, cmd)
        self.done.append({"ts_ns": now, "venue": e.venue, "action": a})

    def _home_follows(self, cmd: Any) -> None:
        self.world.home.submit(cmd._replace(ts_ns=self.world.kernel.now))

    @staticmethod
    def _scale(link: Any, what: str, factor: float) -> None:
        if what in ("order", "both"):
            link.order_factor = factor
        if what in ("feed", "both"):
            link.feed_factor = factor

    def _restore(self, arg: tuple[Any, str]) -> None:
        self._scale(arg[0], arg[1], 1.0)
