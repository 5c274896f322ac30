"""A live market: a scenario's agents (and, for sharing scenarios, its partner venues and links) running in
wall-clock time inside the gateway process, trading on the gateway's own engine through its pump.

The whole simulated world is built by :class:`sim.build.Simulation` exactly as ``bdax sim run`` builds it;
then the home venue's command path is rewired (:mod:`sim.live.home`):

- every command the simulation applies at home (agents' orders and cancels, their funding, partner quotes,
  heartbeats, child reports, settlement messages) is submitted to the pump: journaled, applied, answered
  like any websocket client's;
- a pump listener receives the events of every applied command (agents', bots', admin's) in journal order,
  brings the kernel to the present (``driver.catch_up()``), and does what ``SimVenue.submit`` does after
  ``handle``: ``_route`` (mirror, tape, agents' own events after their latency; other accounts are skipped)
  and, for sharing scenarios, the world's ``on_events`` (ChildRouted is carried out by the partner link,
  also for bots' orders; settlements land), then wakes the driver.

Accounts: group ``i`` trades for ``(i + 1) * 10,000,000 + member`` as in the simulator. A member is funded
(through the pump) only if the engine had never seen its account when the market started; after a restart
its client starts from the engine's balances instead. On start, every agent account's resting orders are
cancelled (their client-side state died with the previous process), (mirrored) every child that was in
flight at the crash is rejected (``LOST_IN_RESTART``) so the hub releases its escrow, and the fundamental
starts at the book's mid instead of the scenario's opening price.

Time: the kernel runs at ``speed`` market seconds per wall second from the market's start. The scenario's
``duration`` does not end the market (it runs until shutdown): rates derived from it (noise traders without
``rate_per_s``) are as in the simulator; heartbeats, quotes and the settlement clock go on forever; scheduled
one-off events (a crisis schedule's entries, execution agents' windows) happen once, at their time after the
market's start. Arbitrage transfers out of the home venue are refused (a withdrawal's outcome is not known
synchronously); transfers into it are deposits like any other.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from exchange import CancelAll, Deposit, TradeExecuted, Withdraw
from exchange.journal import InMemoryJournal
from exchange.liquidity.commands import PartnerHeartbeat, PartnerQuote

from ..agents.base import floor_price
from ..build import ACCOUNT_BLOCK, Simulation
from ..realtime import RealtimeDriver
from ..scenario import Scenario
from .home import HomeEngine

__all__ = ["LiveMarket", "FOREVER_NS"]

log = logging.getLogger("bdax.market")
FOREVER_NS = 1 << 62          # the live market's "duration": heartbeats and clocks never stop
_VENUE_TIMED = (PartnerQuote, PartnerHeartbeat)   # commands carrying the partner's (kernel) time
_KEEP = 1000                  # entries kept of the world's ever-growing logs (timeline, exposure, ...)


class _NoRecorder:
    """The liquidity world's research recorder, switched off: a live market runs for days and the
    recorder keeps every routed execution in memory for a run's report."""

    shell_net: dict[str, int] = {}

    def start(self) -> None:
        pass

    def on_home(self, command: Any, events: list[Any]) -> None:
        pass


class LiveMarket:
    """The scenario's agents trading on ``pump``'s engine in wall-clock time.

    Args:
        scenario: the validated scenario (the engine must be the one ``sim.live.engine`` builds for it).
        pump: the gateway's pump, started (its engine recovered).
        speed: market seconds per wall second (> 0).
        seed: the simulation's master seed (default the scenario's).
        summary_every_s: period of the one-line market summary logged at info level (0: none).

    Use: ``await market.start()`` after the pump started and the starting deposits; ``await market.stop()``
    before the pump stops.
    """

    def __init__(self, scenario: Scenario, pump: Any, *, speed: float = 1.0, seed: int | None = None,
                 summary_every_s: float = 10.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.scenario = scenario
        self.pump = pump
        self.speed = float(speed)
        self.seed = scenario.seed if seed is None else seed
        self.summary_every_s = summary_every_s
        self.sim: Simulation | None = None
        self.driver: RealtimeDriver | None = None
        self.sent = 0                 # commands submitted to the pump by the simulation
        self.skipped = 0              # deposits skipped (account already funded) and refused withdrawals
        self.dropped = 0              # commands the pump refused (not running, failed)
        self.trades = 0               # trades seen on the home venue (everyone's)
        self.events_seen = 0          # commands whose events the listener routed
        self.cancelled_at_start = 0   # agent accounts whose resting orders were cancelled on start
        self.children_lost = 0        # in-flight children rejected on start (mirrored, after a crash)
        self._known: set[int] = set()
        self._world_events: Any = None
        self._running = False
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ facts for banners and tests
    @property
    def n_agents(self) -> int:
        """Agent members (a group of 1000 noise traders counts 1000)."""
        return sum(g.count for g in self.scenario.groups)

    def agent_accounts(self) -> list[tuple[int, int]]:
        """``[first, end)`` account range of each agent group, as :class:`sim.build.Simulation` numbers them."""
        out = []
        for i, g in enumerate(self.scenario.groups):
            first = g.account_base if g.account_base is not None else (i + 1) * ACCOUNT_BLOCK
            out.append((first, first + max(g.count, 1)))
        return out

    def is_agent(self, account: int) -> bool:
        return any(lo <= account < hi for lo, hi in self.agent_accounts())

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Build the world, clean up after a previous process, wire the home venue to the pump and start the
        kernel in wall-clock time."""
        pump = self.pump
        engine = pump.engine
        sim = Simulation(self._resumed(engine), self.seed)
        self.sim = sim
        home = sim.home
        self._known = set(engine.accounts())
        home.engine = HomeEngine(engine, self.from_shell)
        home.submit_action = self.send
        for client in list(home.clients.values()):   # clients made while building (none today)
            client._submit = self.send
        if sim.world is not None:
            sim.world.recorder = _NoRecorder()
        sim.duration_ns = FOREVER_NS
        # The venue's L2 mirror starts from the engine's book (bots' orders may rest there), then follows
        # the listener's events; nothing can be applied between these lines (no await).
        for symbol in home.instruments:
            d = engine.depth(symbol, 1 << 30)
            home._fold(symbol, tuple(d.bids), tuple(d.asks))
            home._publish(symbol, None)
        pump.add_listener(self.on_events)
        self._running = True
        await self._clean_up(engine)
        self.driver = RealtimeDriver(sim.kernel, speed=self.speed)
        self.driver.start()
        sim.start()
        self._world_events = home.on_events    # set by the liquidity world; called by on_events instead
        home.on_events = None
        self.driver.poke()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self.driver.run(), name="bdax-market"))
        if self.summary_every_s > 0:
            self._tasks.append(loop.create_task(self._summaries(), name="bdax-market-summary"))

    def _resumed(self, engine: Any) -> Scenario:
        """The scenario, with the home symbols' start prices moved to the engine's mid where its book is
        two-sided (a restart resumes the market where it stood, not at the scenario's opening price)."""
        sc = self.scenario
        prices = dict(sc.start_price)
        for symbol, inst in sc.instruments_at(sc.home_venue).items():
            if inst is not sc.instruments.get(symbol) or symbol not in engine.instruments:
                continue   # the home venue's own tick: the scenario's price is in other units
            bid, ask = engine.best_bid_ask(symbol)
            if bid and ask:
                prices[symbol] = floor_price(inst, (bid + ask) / 2)
        return sc if prices == sc.start_price else dataclasses.replace(sc, start_price=prices)

    async def _clean_up(self, engine: Any) -> None:
        commands: list[Any] = []
        for account in sorted(self._known):
            if self.is_agent(account) and engine.open_orders(account):
                commands.append(CancelAll(0, account, None))
        self.cancelled_at_start = len(commands)
        children = getattr(engine, "_children", None)     # MirroredVenue: agency children in flight
        if children:
            from exchange.liquidity.commands import ChildRejected
            for child_id, child in sorted(children.items()):
                commands.append(ChildRejected(0, child.venue, child_id, "LOST_IN_RESTART"))
                self.children_lost += 1
        if commands:
            await self.pump.submit_many(commands)
            log.info("market: cancelled the resting orders of %d agent accounts, rejected %d children lost "
                     "in the restart", self.cancelled_at_start, self.children_lost)

    async def stop(self) -> None:
        """Stop the kernel (before the pump stops); commands already submitted are still applied."""
        self._running = False
        if self.driver is not None:
            self.driver.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):   # noqa: BLE001 - shutting down either way
                pass
        self._tasks.clear()

    # ------------------------------------------------------------------ commands out
    def send(self, command: Any) -> None:
        """Kernel action (an agent's command arrives at the venue): submit it to the pump."""
        if not self._running:
            return
        try:
            fut = self.pump.submit_nowait(command)
        except Exception:   # noqa: BLE001 - BinanceError -1001: the pump stopped or failed; the agent's order is lost
            self.dropped += 1
            return
        fut.add_done_callback(_retrieve)
        self.sent += 1

    def from_shell(self, command: Any) -> None:
        """A command the simulation applies itself at home (``apply_now``/``submit``): funding, partner link
        messages, settlements. A deposit for an account the engine knew at start is skipped (a restart must
        not fund twice; the client's balances are read from the engine instead); a withdrawal is refused
        (its outcome cannot be known synchronously, and its caller reads an empty result as refused)."""
        t = type(command)
        if t is Deposit and command.account in self._known:
            self.skipped += 1
            kernel = self.sim.kernel
            kernel.at(kernel.now, self._seed_balances, command.account)
            return
        if t is Withdraw:
            self.skipped += 1
            return
        if t in _VENUE_TIMED:
            # The partner's clock is the kernel's; the hub compares it with the pump's wall-clock stamps
            # (quote age, heartbeat timeout): say when that kernel instant was on the wall clock.
            lag = int((self.sim.kernel.now - command.venue_ts_ns) / self.speed)
            command = command._replace(venue_ts_ns=self.pump.clock() - max(lag, 0))
        self.send(command)

    def _seed_balances(self, account: int) -> None:
        client = self.sim.home.clients.get(account)
        if client is None:
            return
        for asset, bal in self.pump.engine.balances(account).items():
            client.balances[asset] = bal.available + bal.held

    # ------------------------------------------------------------------ events in
    def on_events(self, events: list[Any]) -> None:
        """Pump listener (live events only): route every applied command's events into the simulation."""
        if not self._running:
            return
        driver = self.driver
        if driver is not None:
            driver.catch_up()
        sim = self.sim
        sim.home._route(events)
        self.events_seen += 1
        for ev in events:
            if type(ev) is TradeExecuted:
                self.trades += 1
        if self._world_events is not None:
            # A hub hands the gateway its engine events only; the world needs the hub's own ones too.
            self._world_events(None, self.pump.engine.last_events)
        if driver is not None:
            driver.poke()

    # ------------------------------------------------------------------ progress
    def summary(self) -> dict[str, Any]:
        """Figures for the periodic log line and tests."""
        engine = self.pump.engine
        out: dict[str, Any] = {"sent": self.sent, "trades": self.trades, "dropped": self.dropped,
                               "kernel_s": (self.sim.kernel.now / 1e9) if self.sim else 0.0,
                               "lag_ms": (self.driver.lag_max_ns / 1e6) if self.driver else 0.0}
        for symbol, inst in engine.instruments.items():
            bid, ask = engine.best_bid_ask(symbol)
            tape = self.sim.home.tapes[symbol].last if self.sim else None
            out[symbol] = {"bid": inst.format_price(bid) if bid else None,
                           "ask": inst.format_price(ask) if ask else None,
                           "last": inst.format_price(tape[4]) if tape and tape[4] else None,
                           "spread_ticks": (ask - bid) if bid and ask else None}
        return out

    async def _summaries(self) -> None:
        prev_cmds, prev_sent, prev_trades, prev_t = self.pump.commands, self.sent, self.trades, time.monotonic()
        while self._running:
            await asyncio.sleep(self.summary_every_s)
            now = time.monotonic()
            dt = max(now - prev_t, 1e-9)
            s = self.summary()
            books = "; ".join(f"{sym} last {v['last']} bid {v['bid']} ask {v['ask']}"
                              for sym, v in s.items() if isinstance(v, dict))
            log.info("market %s: %.1f commands/s (agents %.1f/s), %.1f trades/s, %s; market time %.0f s",
                     self.scenario.name, (self.pump.commands - prev_cmds) / dt, (self.sent - prev_sent) / dt,
                     (self.trades - prev_trades) / dt, books, s["kernel_s"])
            prev_cmds, prev_sent, prev_trades, prev_t = self.pump.commands, self.sent, self.trades, now
            self._trim()

    def _trim(self) -> None:
        """Drop what the simulator keeps for an end-of-run report: a live market never ends."""
        sim = self.sim
        for venue in sim.venues.values():
            venue.flush_journal()
            venue.journal = InMemoryJournal()
        w = sim.world
        if w is not None:
            del w.timeline[:-_KEEP]
            del w.exposure[:-_KEEP]
            del w.transfers.log[:-_KEEP]
            for link in w.links.values():
                del link.child_latency_ns[:-_KEEP]


def _retrieve(fut: asyncio.Future) -> None:
    """Read a failed submission's exception so asyncio does not log it as never retrieved (the pump logs the
    failure once)."""
    if not fut.cancelled():
        fut.exception()
