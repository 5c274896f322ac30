"""What every agent shares: the :class:`Agent` base, the :class:`AgentContext` a run hands it, price helpers.

An agent is written against :class:`~sim.client.VenueClient` objects and a clock (``now`` and
``after(delay_ns, action, arg)``: the kernel here, an event loop for live bots). A *group* of identical
agents (a thousand noise traders) is one object running one Poisson process for the whole group and
picking the member that acts: the superposition of independent Poisson processes is a Poisson process of
the summed rate, so this is the same market as one process per member, and an idle member costs nothing
(its account and client exist from its first action on). Members are funded by a deposit just before
they first act, which for the engine is the same as a deposit at the start.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Final

from exchange import Deposit, Instrument

from ..client import SimClient
from ..kernel import Kernel, SchedulingError
from ..rng import Draws

if TYPE_CHECKING:
    from ..latency import Link
    from ..venue import SimVenue
    from .fundamental import Fundamental

__all__ = ["Agent", "AgentContext", "step_at", "floor_price", "ceil_price", "NS_PER_S"]

NS_PER_S: Final = 1_000_000_000


def step_at(inst: Instrument, price_ticks: int) -> int:
    """The valid price step (in price units) of the band ``price_ticks`` is in."""
    if inst.single_tick:
        return 1
    return inst.band_steps[bisect_right(inst.band_floors, price_ticks) - 1]


def floor_price(inst: Instrument, price: float) -> int:
    """The highest valid price <= ``price`` (at least the first valid step)."""
    p = int(price)
    if p < 1:
        p = 1
    step = step_at(inst, p)
    p -= p % step
    return p if p > 0 else step


def ceil_price(inst: Instrument, price: float) -> int:
    """The lowest valid price >= ``price``. A band floor is a multiple of its own step, so rounding up
    into the next band lands on a valid price."""
    p = int(price)
    if p < price:
        p += 1
    if p < 1:
        p = 1
    step = step_at(inst, p)
    return p + (-p % step)


class AgentContext:
    """Everything a run gives an agent (group): its clock, random draws, venue, latency link, the
    symbol it trades, a fundamental if the scenario has one, and a factory for funded clients.

    Args:
        group: the group's name (also the latency link's name).
        kernel: the clock.
        draws: the group's random draws (its own stream, derived from the seed and the group name).
        venue, link: the venue and this group's latency link to it.
        symbol: the instrument traded.
        first_account: member ``i`` trades for account ``first_account + i``.
        funds: asset -> ledger units deposited into each member's account before it first acts.
        compute_ns: per-agent computation delay added before each command leaves.
        fundamental: the scenario's fundamental value process, or None.
    """

    def __init__(self, group: str, kernel: "Kernel", draws: Draws, venue: "SimVenue", link: "Link",
                 symbol: str, first_account: int, funds: dict[str, int], compute_ns: int = 0,
                 fundamental: "Fundamental | None" = None) -> None:
        self.group: str = group
        self.kernel: Kernel = kernel
        self.draws: Draws = draws
        self.venue: SimVenue = venue
        self.link: Link = link
        self.symbol: str = symbol
        self.instrument: Instrument = venue.instruments[symbol]
        self.first_account: int = first_account
        self.funds: dict[str, int] = funds
        self.compute_ns: int = compute_ns
        self.fundamental: Fundamental | None = fundamental
        self.reference_price: int = 0  # the symbol's start price: a fair value before any quote exists
        self._seen_at = -1
        self._seen_ts = 0

    def new_client(self, agent: "Agent", member: int) -> SimClient:
        """A funded client for member ``member`` (account ``first_account + member``). The deposits are
        journaled commands applied now, before the client is attached, and the client starts knowing its
        balances (an operator-funded account)."""
        account = self.first_account + member
        venue, now = self.venue, self.kernel.now
        for asset, amount in self.funds.items():
            if amount > 0:
                venue.apply_now(Deposit(now, account, asset, amount))
        client = SimClient(venue, account, agent, self.link, self.compute_ns, tag=member)
        for asset, amount in self.funds.items():
            client.balances[asset] = amount
        return client

    def seen_row(self) -> tuple[int, ...]:
        """The public tape row of the group's symbol as the group's feed showed it (one feed latency
        ago; one sample per kernel instant). For group-level signals computed without an account."""
        now = self.kernel.now
        if self._seen_at != now:
            self._seen_at = now
            self._seen_ts = now - self.link.feed.sample()
        return self.venue.tapes[self.symbol].at(self._seen_ts)

    def after(self, delay_ns: int, action: Callable[[Any], None], arg: Any = None) -> None:
        k = self.kernel
        if delay_ns < 0:
            raise SchedulingError(f"cannot schedule {delay_ns} ns before now: delays are >= 0")
        k.at(k.now + delay_ns, action, arg)


class Agent:
    """Base class: a named agent (or group) with a context. Subclasses implement :meth:`start` and the
    callbacks they need; the defaults ignore everything.

    ``subscribes``: True to get ``on_market_data`` pushes after the feed latency (the market maker);
    everyone else reads the feed when it wakes. ``reads_depth``: True if it calls ``client.depth`` (which
    needs the venue's level-change log, kept only when someone declares it).
    """

    subscribes: ClassVar[bool] = False
    reads_depth: ClassVar[bool] = False   # True if the agent calls client.depth(): the venue logs level changes

    def __init__(self, name: str, ctx: AgentContext) -> None:
        self.name: str = name
        self.ctx: AgentContext = ctx

    def wants_order_events(self) -> bool:
        """False if this agent keeps no per-order state, so its clients may skip :meth:`on_order_event`
        (noise takers, momentum followers). Classes that override ``on_order_event`` return True."""
        return False

    def start(self) -> None:
        """Called once at the start of the run: schedule the first wake-ups."""

    def on_order_event(self, client: SimClient, event: Any) -> None:
        """An event about one of ``client``'s orders or balances (client state already updated)."""

    def on_market_data(self, client: SimClient, symbol: str) -> None:
        """A market-data update for ``symbol`` arrived (subscribed agents only)."""

    def summary(self) -> dict:
        """Figures for the run's metrics.json (JSON-able, deterministic)."""
        return {}

    @staticmethod
    def mid(row: tuple[int, ...]) -> float:
        """The mid of a tape row, or the one side present, or the last trade price, or 0."""
        bid, ask = row[0], row[2]
        if bid and ask:
            return (bid + ask) * 0.5
        return float(bid or ask or row[4])
