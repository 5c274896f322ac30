"""The shared-liquidity world of one run: the partner links, the settlement clock and transfers, the
scenario's schedule, what gets recorded, and the conservation check across venues.

Built by :class:`sim.build.Simulation` when the scenario has ``[sharing]``; started before the agents.

- Setup (time 0, journaled at each venue): the operator's home funds (``sharing.operator_funds``) and its
  prefunding at each partner (``venues.<p>.prefund``, deposited into the operator's account there).
- Mirrored: each partner's depth feed and heartbeats flow in; the home venue's outbound events are carried
  out (:class:`ChildRouted` by the partner's link, :class:`SettlementStarted` after ``transfer_delay``:
  SettlementFailed if the payer is down or defaulted when it lands, or with ``settlement_fail_prob``
  from the stream ``derive(seed, "liquidity/settlement")``, else SettlementDone).
- Pooled: heartbeats and the settlement clock; partner agents reach the home book through
  :meth:`pooled_link` (their own latency plus the partner's link).
- Isolated: nothing flows between venues but the arbitrage agents' trades and transfers.
- A SettleDue goes to the hub every second (the kill switch is checked on time even when nothing else
  arrives; the hub nets and settles on its own ``settle_every`` clock).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.commands import Deposit
from exchange.liquidity.commands import SettleDue, SettlementDone, SettlementFailed
from exchange.liquidity.events import (ChildRouted, ExposureBooked, PartnerStateChanged, SettlementStarted)

from ..latency import JitterSpec, Link, PathLatency
from ..rng import Draws, derive
from .links import DEFAULTED, DOWN, PartnerLink
from .record import LiquidityRecorder
from .schedule import Scheduler

if TYPE_CHECKING:
    from ..build import Simulation

__all__ = ["LiquidityWorld", "Transfers"]

NS = 1_000_000_000


class Transfers:
    """Assets in flight between venues (arbitrage rebalancing): withdrawn at one venue, not yet deposited
    at the other. Conservation counts them."""

    def __init__(self) -> None:
        self.in_flight: dict[str, int] = {}
        self.sent = 0
        self.landed = 0
        self.log: list[tuple[int, int, str, str, str, int]] = []   # (sent, lands, from, to, asset, amount)

    def leave(self, asset: str, amount: int) -> None:
        self.in_flight[asset] = self.in_flight.get(asset, 0) + amount
        self.sent += 1

    def land(self, asset: str, amount: int) -> None:
        self.in_flight[asset] -= amount
        self.landed += 1


class LiquidityWorld:
    """Everything between the venues of one shared-liquidity run (see the module docstring)."""

    def __init__(self, sim: "Simulation") -> None:
        sc = sim.scenario
        self.sim = sim
        self.spec = spec = sc.liquidity
        self.model: str = spec.model
        self.kernel = sim.kernel
        self.home = sim.venues[sc.home_venue]
        self.transfers = Transfers()
        self.partner_venues = {n: v for n, v in sim.venues.items() if n != sc.home_venue}
        self.links: dict[str, PartnerLink] = {}
        self._flow_links: dict[str, list[Any]] = {}
        for name, setup in spec.partners.items():
            order, feed = sc.latency[setup.link]
            link = sim.latency.add("@link", name, order, feed)
            shared = sorted(spec.config.partner(name).instruments)
            self.links[name] = PartnerLink(setup, self.kernel, self.home, self.partner_venues.get(name),
                                           link.order, link.feed, shared,
                                           max(1, spec.config.quote_max_age_ns // 2))
        self._settle_draws = Draws(derive(sim.seed, "liquidity/settlement"))
        self.timeline: list[dict[str, Any]] = []
        self.exposure: list[dict[str, Any]] = []
        self.settlements = {"started": 0, "done": 0, "failed": 0}
        self.recorder = LiquidityRecorder(self)
        self.scheduler = Scheduler(self)
        self.deposits: dict[str, int] = {}   # every external deposit the shell made, per asset (conservation)

    @property
    def hub(self) -> Any:
        """The home venue's hub (mirrored, pooled) or None (isolated)."""
        return None if self.model == "isolated" else self.home.engine

    # ------------------------------------------------------------------ wiring
    def pooled_link(self, group: str, partner: str, own: Link) -> Link:
        """A link for a partner's agent group trading on the pooled home book: its own delay to its venue
        plus the partner's link to home (a stream per group, scaled by the partner's latency spikes)."""
        sc = self.sim.scenario
        order, feed = sc.latency[self.spec.partners[partner].link]
        hop = self.sim.latency.add(group, f"{partner}->{sc.home_venue}", order, feed)
        state = self.links[partner]
        dummy = Draws(derive(self.sim.seed, f"latency/{group}/{partner}/pooled"))

        def combined(mine: Any, theirs: Any, which: str) -> PathLatency:
            path = PathLatency(JitterSpec(0), dummy)
            a, b = mine.sample, theirs.sample
            if which == "order":
                path.sample = lambda: a() + int(b() * state.order_factor)
            else:
                path.sample = lambda: a() + int(b() * state.feed_factor)
            return path

        return Link(group, sc.home_venue, combined(own.order, hop.order, "order"),
                    combined(own.feed, hop.feed, "feed"))

    def start(self) -> None:
        """Fund the operator, start the links, the settlement clock and the schedule."""
        now = self.kernel.now
        op = self.spec.config.operator_account
        # The home hook first: it counts the setup deposits (conservation) and records executions.
        self.home.on_events = self._on_plain_home_events if self.model == "isolated" else self._on_home_events
        if self.model != "isolated":
            for asset, amount in sorted(self.spec.operator_funds.items()):
                if amount > 0:
                    self.deposit(self.home, Deposit(now, op, asset, amount))
        if self.model == "mirrored":
            for p in self.spec.config.partners:
                venue = self.partner_venues[p.name]
                for asset, amount in sorted(p.prefund.items()):
                    if amount > 0:
                        self.deposit(venue, Deposit(now, p.operator_account, asset, amount))
        if self.model != "isolated":
            for link in self.links.values():
                link.start(self.sim.duration_ns, with_feed=self.model == "mirrored")
            self.kernel.at(NS, self._settle_clock)
        self.recorder.start()
        self.scheduler.start()

    def deposit(self, venue: Any, command: Deposit) -> None:
        """A deposit from outside the system (setup funding), journaled at ``venue`` and counted."""
        venue.apply_now(command)
        self.deposits[command.asset] = self.deposits.get(command.asset, 0) + command.amount

    def _settle_clock(self, _: object = None) -> None:
        self.home.submit(SettleDue(self.kernel.now))
        nxt = self.kernel.now + NS
        if nxt <= self.sim.duration_ns:
            self.kernel.at(nxt, self._settle_clock)

    # ------------------------------------------------------------------ the home venue's events
    def _on_plain_home_events(self, command: Any, events: list[Any]) -> None:
        self.recorder.on_home(command, events)

    def _on_home_events(self, command: Any, events: list[Any]) -> None:
        self.recorder.on_home(command, events)
        for ev in events:
            if isinstance(ev, ChildRouted):
                self.links[ev.venue].route(ev)
            elif isinstance(ev, SettlementStarted):
                self.settlements["started"] += 1
                self.kernel.at(self.kernel.now + self.spec.transfer_delay_ns, self._settlement_lands, ev)
            elif isinstance(ev, PartnerStateChanged):
                self.timeline.append({"ts_ns": ev.ts_ns, "venue": ev.venue, "health": ev.health.name,
                                      "routable": bool(ev.routable), "reason": ev.reason})
            elif isinstance(ev, ExposureBooked):
                self.exposure.append(ev._asdict() if hasattr(ev, "_asdict") else dict(zip(ev._fields, ev)))

    def _settlement_lands(self, ev: SettlementStarted) -> None:
        now = self.kernel.now
        payer = self.links.get(ev.payer)
        if payer is not None and payer.health in (DOWN, DEFAULTED):
            cmd: Any = SettlementFailed(now, ev.batch_id, f"PAYER_{payer.health.upper()}")
        elif self.spec.settlement_fail_prob and self._settle_draws.uniform() < self.spec.settlement_fail_prob:
            cmd = SettlementFailed(now, ev.batch_id, "TRANSFER_FAILED")
        else:
            cmd = SettlementDone(now, ev.batch_id)
        self.settlements["done" if isinstance(cmd, SettlementDone) else "failed"] += 1
        self.home.submit(cmd)

    # ------------------------------------------------------------------ end of run
    def conservation(self) -> dict[str, dict[str, int]]:
        """Per asset, across venues: ``held`` = the venues' engine totals + the hub's escrow + transfers in
        flight; ``external`` = every deposit minus every withdrawal the shell made at any venue (agents'
        funding, the operator's funds and prefunds, arbitrage transfers), plus transfers in flight. The
        hub's own moves between its engine and its escrow are internal: they change neither side's sum.
        ``ok`` is 1 when they are equal.
        """
        out: dict[str, dict[str, int]] = {}
        hub = self.hub
        escrow = hub.escrow() if hub is not None else {}
        for asset in sorted(self.sim.scenario.assets):
            fly = self.transfers.in_flight.get(asset, 0)
            held = sum(v.engine.totals().get(asset, 0) for v in self.sim.venues.values())
            held += escrow.get(asset, 0) + fly
            external = sum(v.engine.net_deposits().get(asset, 0) for v in self.partner_venues.values())
            external += (self.recorder.shell_net.get(asset, 0) if hub is not None
                         else self.home.engine.net_deposits().get(asset, 0)) + fly
            out[asset] = {"held": held, "external": external, "escrow": escrow.get(asset, 0), "in_flight": fly,
                          "ok": int(held == external)}
        return out

    def stats(self) -> dict[str, Any]:
        hub = self.hub
        return {"links": {n: link.stats() for n, link in self.links.items()},
                "settlements": dict(self.settlements),
                "transfers": {"sent": self.transfers.sent, "landed": self.transfers.landed,
                              "in_flight": dict(self.transfers.in_flight)},
                "hub": hub.stats() if hub is not None else {}}
