"""One home <-> partner link in virtual time: the partner's throttled depth feed and heartbeats into the home
venue, routed IOC children out to the partner and their reports back, and the partner's health as the
scenario's schedule sets it.

Everything the home venue learns arrives as a liquidity command through its journal (``SimVenue.submit``),
one link latency after the partner's time: PartnerQuote every ``feed_every`` (sent when the partner's top
levels changed, or when the last one sent is half the hub's ``quote_max_age`` old, so an unchanged book is
not mistaken for a stale one), PartnerHeartbeat every ``heartbeat_every``. A child leaves after the order
latency, trades against the partner's *current* book, and its report comes back after another order
latency. Each direction keeps its messages in order (arrival = max(now + delay, previous arrival)).

Health: ``up``; ``stale`` (the feed repeats the snapshot taken when it froze, with that snapshot's venue time;
heartbeats go on); ``down`` (no feed, no heartbeats, children rejected ``VENUE_DOWN``); ``defaulted`` (as
down, for good). Latency spikes multiply the sampled delays of one or both paths by ``factor``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from exchange import OrderType, Side, TimeInForce
from exchange.commands import SubmitOrder
from exchange.events import OrderAccepted, OrderExpired, OrderRejected, TradeExecuted
from exchange.liquidity.commands import ChildFilled, ChildRejected, PartnerHeartbeat, PartnerQuote
from exchange.liquidity.events import ChildRouted

from ..latency import PathLatency

if TYPE_CHECKING:
    from ..kernel import Kernel
    from ..venue import SimVenue
    from .spec import PartnerSetup

__all__ = ["PartnerLink", "UP", "STALE", "DOWN", "DEFAULTED"]

UP, STALE, DOWN, DEFAULTED = "up", "stale", "down", "defaulted"

Levels = tuple[tuple[int, int], ...]


class PartnerLink:
    """The shell's side of one partner link.

    Args:
        setup: the partner's simulation terms (feed and heartbeat intervals, levels).
        kernel: the clock. home: the home venue (its ``submit`` journals and applies).
        venue: the partner's own venue (None under pooled: there is no partner book).
        order, feed: the link's latency paths (their own random streams).
        symbols: the shared symbols whose depth the feed carries.
        refresh_ns: resend an unchanged snapshot after this long (half the hub's quote_max_age).
    """

    def __init__(self, setup: "PartnerSetup", kernel: "Kernel", home: "SimVenue", venue: "SimVenue | None",
                 order: PathLatency, feed: PathLatency, symbols: list[str], refresh_ns: int) -> None:
        self.name = setup.name
        self.setup = setup
        self.kernel = kernel
        self.home = home
        self.venue = venue
        self._order = order.sample
        self._feed = feed.sample
        self.symbols = symbols
        self.refresh_ns = refresh_ns
        self.health = UP
        self.order_factor = 1.0
        self.feed_factor = 1.0
        self._feed_free = 0      # arrival of the last feed message (in order)
        self._out_free = 0       # arrival of the last child at the partner
        self._back_free = 0      # arrival of the last child report at home
        self._sent: dict[str, tuple[int, tuple[int, Levels, Levels]]] = {}   # symbol -> (sent at, snapshot)
        self._frozen: dict[str, tuple[int, Levels, Levels]] = {}    # stale: what the feed keeps repeating
        self.child_latency_ns: list[tuple[int, int]] = []           # (sent at, one-way delay) per child
        self.children = self.children_filled = self.children_rejected = 0
        self.quotes = self.heartbeats = 0

    # ------------------------------------------------------------------ latency
    def order_delay(self) -> int:
        d = self._order()
        return d if self.order_factor == 1.0 else int(d * self.order_factor)

    def feed_delay(self) -> int:
        d = self._feed()
        return d if self.feed_factor == 1.0 else int(d * self.feed_factor)

    def _feed_arrival(self) -> int:
        t = self.kernel.now + self.feed_delay()
        if t < self._feed_free:
            t = self._feed_free
        self._feed_free = t
        return t

    # ------------------------------------------------------------------ feed and heartbeats
    def start(self, until_ns: int, with_feed: bool) -> None:
        """Schedule the heartbeats (and the depth feed, when the partner has a book) up to ``until_ns``."""
        self._until = until_ns
        self.kernel.at(0, self._heartbeat)
        if with_feed and self.venue is not None:
            self.kernel.at(0, self._quote)

    def snapshot(self, symbol: str) -> tuple[int, Levels, Levels]:
        """The partner's top levels of ``symbol`` now (its own units), with the partner's time."""
        assert self.venue is not None
        d = self.venue.engine.depth(symbol, self.setup.feed_levels)
        return self.kernel.now, tuple(d.bids), tuple(d.asks)

    def freeze(self) -> None:
        """The feed freezes: from now on it repeats the current snapshot, with its venue time."""
        if self.venue is not None:
            self._frozen = {s: self.snapshot(s) for s in self.symbols}

    def _quote(self, _: object = None) -> None:
        now = self.kernel.now
        if self.health in (UP, STALE):
            for symbol in self.symbols:
                snap = self._frozen.get(symbol) if self.health == STALE else None
                if snap is None:
                    snap = self.snapshot(symbol)
                    # the snapshot's venue time only matters when the levels changed: compare levels
                    last = self._sent.get(symbol)
                    if last is not None and last[1][1:] == snap[1:] and now - last[0] < self.refresh_ns:
                        continue
                last = self._sent.get(symbol)
                if last is not None and last[1] == snap and now - last[0] < self.refresh_ns:
                    continue   # unchanged (a frozen feed too): resent only when it would look stale
                self._sent[symbol] = (now, snap)
                t = self._feed_arrival()
                self.quotes += 1
                self.kernel.at(t, self._deliver, PartnerQuote(t, self.name, symbol, snap[0], snap[1], snap[2]))
        nxt = now + self.setup.feed_every_ns
        if nxt <= self._until:
            self.kernel.at(nxt, self._quote)

    def _heartbeat(self, _: object = None) -> None:
        now = self.kernel.now
        if self.health in (UP, STALE):
            t = self._feed_arrival()
            self.heartbeats += 1
            self.kernel.at(t, self._deliver, PartnerHeartbeat(t, self.name, now))
        nxt = now + self.setup.heartbeat_every_ns
        if nxt <= self._until:
            self.kernel.at(nxt, self._heartbeat)

    def _deliver(self, command: Any) -> None:
        self.home.submit(command)

    # ------------------------------------------------------------------ children
    def route(self, ev: ChildRouted) -> None:
        """Carry out a ChildRouted: the IOC reaches the partner after the order latency."""
        now = self.kernel.now
        t = now + self.order_delay()
        if t < self._out_free:
            t = self._out_free
        self._out_free = t
        self.children += 1
        self.child_latency_ns.append((now, t - now))
        self.kernel.at(t, self._child_arrives, ev)

    def _child_arrives(self, ev: ChildRouted) -> None:
        now = self.kernel.now
        report: Any
        if self.health in (DOWN, DEFAULTED) or self.venue is None:
            report = ChildRejected(0, self.name, ev.child_id, "VENUE_DOWN")
        else:
            report = self._execute(ev, now)
        if isinstance(report, ChildRejected):
            self.children_rejected += 1
        else:
            self.children_filled += 1
        t = now + self.order_delay()
        if t < self._back_free:
            t = self._back_free
        self._back_free = t
        self.kernel.at(t, self._report, report)

    def _execute(self, ev: ChildRouted, now: int) -> Any:
        """Submit the child at the partner (journaled there) and sum up its outcome."""
        assert self.venue is not None
        cmd = SubmitOrder(now, ev.partner_account, ev.symbol, Side(ev.side), OrderType.LIMIT, TimeInForce.IOC,
                          ev.partner_price_ticks, ev.partner_qty_lots, 0, f"child-{ev.child_id}", None)
        events = self.venue.apply_now(cmd)
        order_id = 0
        filled = quote = fee = expired = 0
        reason = ""
        for e in events:
            if isinstance(e, OrderRejected):
                return ChildRejected(0, self.name, ev.child_id, e.reason.name)
            if isinstance(e, OrderAccepted):
                order_id = e.order_id
            elif isinstance(e, TradeExecuted) and e.taker_order_id == order_id:
                filled += e.qty_lots
                quote += e.quote_amount
                fee += e.taker_fee
            elif isinstance(e, OrderExpired) and e.order_id == order_id:
                expired += e.remaining_lots
                reason = e.reason.name
        if filled == 0:
            return ChildRejected(0, self.name, ev.child_id, reason or "IOC_REMAINDER")
        return ChildFilled(0, self.name, ev.child_id, filled, quote, fee, expired)

    def _report(self, report: Any) -> None:
        self.home.submit(report._replace(ts_ns=self.kernel.now))

    def stats(self) -> dict[str, Any]:
        return {"health": self.health, "quotes_sent": self.quotes, "heartbeats_sent": self.heartbeats,
                "children": self.children, "children_filled": self.children_filled,
                "children_rejected": self.children_rejected}
