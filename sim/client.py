"""The venue client: the one interface every agent trades through.

Agents never touch an engine. They hold :class:`VenueClient` objects (one per account per venue) and a
clock; in a simulation these are :class:`SimClient` and the :class:`~sim.kernel.Kernel`, and a later issue
implements the same surface over the gateway's websocket API for wall-clock bots. What an agent may know
is what a real client knows: its own orders and balances as its own events told it, and the market as the
feed showed it (one feed latency old).

The interface (all prices in the instrument's price units, ``*_ticks``; quantities in lots):

- ``place_limit(symbol, side, price_ticks, qty_lots, tif=GTC, post_only=False, client_order_id="")``
  and ``place_market(symbol, side, qty_lots=0, quote_qty=0, client_order_id="")`` return the client
  order id (generated if not given); ``cancel(symbol, client_order_id)``, ``cancel_all(symbol=None)``,
  ``amend(symbol, client_order_id, new_qty_lots=0, new_price_ticks=0)``.
- ``top(symbol) -> (bid, bid_qty, ask, ask_qty)`` (0 for an empty side), ``last_trade(symbol) ->
  (price, qty, aggressor)``, ``tape_row(symbol)`` (both plus running trade count and volume),
  ``orders`` (client order id -> :class:`OpenOrder`), ``balance(asset)`` (total) and ``available(asset)``
  (total minus what open orders hold, as the engine computes holds).
- ``venue_name``, ``account``, ``instrument(symbol)``.

Cost: a command is built once, with its arrival time, and handed to the kernel; nothing else is allocated
on the send path. Commands from one client reach the venue in the order sent (a link is one connection),
and so do the venue's replies.

Computation delay (ABIDES's per-agent "busy until", reference §4.6): an agent that handles something at
``t`` (a reply, a market-data push, a timer wake-up of this member) is busy until ``t + compute_ns``;
commands it sends while handling leave at ``t + compute_ns`` (plus the order latency), and replies,
pushes and wake-ups that reach it while it is busy are handed to it when it is free, in arrival order
(each then keeps it busy for another ``compute_ns``). With ``compute_ns = 0`` (every shipped scenario)
nothing is ever deferred and the cost is one comparison per delivery. Group-level signal sampling
(momentum averages) is not an action of any member and is not delayed.

Depth: :meth:`SimClient.depth` is the L2 book as the feed showed it (the same instant as :meth:`top`),
rolled back from the venue's current book through a log of level changes the venue keeps only for symbols
some agent reads depth of: an agent class that calls ``depth`` declares ``reads_depth = True`` (the
simulation turns the log on for its symbol before the run starts); ``depth`` on a symbol without the log
raises rather than silently answer with a fresher book than a real client could see.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Final, Protocol

from exchange import (AmendOrder, BalanceChanged, CancelAll, CancelOrder, Instrument, OrderAccepted,
                      OrderAmended, OrderCanceled, OrderExpired, OrderRejected, OrderType, Side,
                      SubmitOrder, TimeInForce, TradeExecuted)

from exchange.liquidity.events import OrderRefused, RoutedFill, RouteEnded

from .kernel import Kernel

if TYPE_CHECKING:
    from .agents.base import Agent
    from .latency import Link
    from .venue import FeedLink, SimVenue

__all__ = ["VenueClient", "SimClient", "OpenOrder", "BUY", "SELL"]

BUY: Final = Side.BUY
SELL: Final = Side.SELL
_LIMIT: Final = OrderType.LIMIT
_MAKER: Final = OrderType.LIMIT_MAKER
_MARKET: Final = OrderType.MARKET
_GTC: Final = TimeInForce.GTC
_IOC: Final = TimeInForce.IOC
_LIQUIDITY: Final = (RoutedFill, RouteEnded, OrderRefused)


class OpenOrder:
    """An order as its owner knows it. ``order_id`` is 0 until the venue's acceptance arrives."""

    __slots__ = ("client_order_id", "symbol", "side", "price_ticks", "qty_lots", "remaining_lots",
                 "order_id", "market")

    def __init__(self, cid: str, symbol: str, side: Side, price: int, qty: int, market: bool) -> None:
        self.client_order_id: str = cid
        self.symbol: str = symbol
        self.side: Side = side
        self.price_ticks: int = price
        self.qty_lots: int = qty
        self.remaining_lots: int = qty
        self.order_id: int = 0
        self.market: bool = market

    def __repr__(self) -> str:
        return (f"OpenOrder({self.client_order_id!r}, {self.symbol}, {self.side.name}, "
                f"price={self.price_ticks}, remaining={self.remaining_lots}/{self.qty_lots}, "
                f"order_id={self.order_id})")


class VenueClient(Protocol):
    """What an agent may call. See the module docstring for units and semantics."""

    venue_name: str
    account: int
    orders: dict[str, OpenOrder]

    def place_limit(self, symbol: str, side: Side, price_ticks: int, qty_lots: int, tif: TimeInForce = _GTC,
                    post_only: bool = False, client_order_id: str = "") -> str: ...
    def place_market(self, symbol: str, side: Side, qty_lots: int = 0, quote_qty: int = 0,
                     client_order_id: str = "") -> str: ...
    def cancel(self, symbol: str, client_order_id: str) -> None: ...
    def cancel_all(self, symbol: str | None = None) -> None: ...
    def amend(self, symbol: str, client_order_id: str, new_qty_lots: int = 0,
              new_price_ticks: int = 0) -> None: ...
    def top(self, symbol: str) -> tuple[int, int, int, int]: ...
    def last_trade(self, symbol: str) -> tuple[int, int, int]: ...
    def balance(self, asset: str) -> int: ...
    def available(self, asset: str) -> int: ...
    def instrument(self, symbol: str) -> Instrument: ...


class SimClient:
    """A :class:`VenueClient` inside the simulator.

    Args:
        venue: the venue; the client registers itself for its account's events.
        account: the engine account it trades for.
        agent: receives ``on_order_event(client, event)`` and, if subscribed, ``on_market_data(client,
            symbol)``.
        link: the latency link of the agent's group to this venue.
        compute_ns: the agent's computation delay, added before each command leaves.
    """

    __slots__ = ("venue", "venue_name", "account", "agent", "link", "compute_ns", "kernel", "orders",
                 "by_id", "balances", "_next_cid", "send_free", "resp_free", "feed", "_seen_at",
                 "_seen_now", "tag", "_notify", "busy_until", "order_sample", "_submit", "receive",
                 "_instruments")

    def __init__(self, venue: "SimVenue", account: int, agent: "Agent", link: "Link", compute_ns: int = 0,
                 tag: Any = None) -> None:
        self.venue: SimVenue = venue
        self.venue_name: str = venue.name
        self.account: int = account
        self.agent: Agent = agent
        self.link: Link = link
        self.compute_ns: int = compute_ns
        self.kernel: Kernel = venue.kernel
        self.orders: dict[str, OpenOrder] = {}
        self.by_id: dict[int, OpenOrder] = {}
        self.balances: dict[str, int] = {}
        self._next_cid = 0
        self.send_free = 0      # arrival time of the last command sent (FIFO per connection)
        self.resp_free = 0      # arrival time of the last reply (set by the venue)
        self.feed: FeedLink | None = None   # the FeedLink if subscribed
        self._seen_at = -1      # the kernel time of the last unsubscribed read and the venue time it saw
        self._seen_now = 0
        self.tag: Any = tag     # free for the agent (a member index)
        self.busy_until = 0     # the agent computes until then (compute_ns after it last handled something)
        # Hot-path callables bound once (each saves an attribute chain or a bound-method allocation per call):
        self.order_sample: Callable[[], int] = link.order.sample
        self._submit: Callable[[Any], None] = venue.submit_action
        self._instruments: dict[str, Instrument] = venue.instruments
        self.receive: Callable[[list[Any]], None] = self._receive_busy if compute_ns else self._receive
        # Agents that keep no per-order state (noise, momentum) do not override on_order_event: the client
        # still applies every event to what it knows, but skips a call that would do nothing.
        self._notify: bool = agent.wants_order_events()
        venue.attach(self)
        if agent.reads_depth:
            for symbol in venue.instruments:
                venue.track_depth(symbol)

    # ------------------------------------------------------------------ computation delay
    def when_free(self, action: Any, arg: Any = None) -> None:
        """Run ``action(self, arg)`` now if the agent is free, else when it is; either way the agent is then
        busy for ``compute_ns``. Agents route their members' timer wake-ups through this."""
        now = self.kernel.now
        if self.busy_until > now:
            self.kernel.at(self.busy_until, self._when_free, (action, arg))
            return
        action(self, arg)
        if self.compute_ns:
            self.busy_until = now + self.compute_ns

    def _when_free(self, pair: tuple[Any, Any]) -> None:
        self.when_free(pair[0], pair[1])

    def defer(self, action: Any, arg: Any) -> None:
        """Schedule ``action(self, arg)`` for when the agent is free (it is busy now)."""
        self.kernel.at(self.busy_until, self._when_free, (action, arg))

    # ------------------------------------------------------------------ sending
    def _arrival(self) -> int:
        t = self.kernel.now + self.compute_ns + self.order_sample()
        if t < self.send_free:
            t = self.send_free
        self.send_free = t
        return t

    def new_cid(self) -> str:
        self._next_cid = n = self._next_cid + 1
        return str(n)

    def place_limit(self, symbol: str, side: Side, price_ticks: int, qty_lots: int,
                    tif: TimeInForce = _GTC, post_only: bool = False, client_order_id: str = "") -> str:
        """Send a limit order (post-only: LIMIT_MAKER, rejected if it would take). Returns its client id."""
        if not client_order_id:
            self._next_cid = n = self._next_cid + 1
            cid = str(n)
        else:
            cid = client_order_id
        t = self.kernel.now + self.compute_ns + self.order_sample()   # _arrival, inlined on the hot path
        if t < self.send_free:
            t = self.send_free
        self.send_free = t
        self.kernel.at(t, self._submit, SubmitOrder(
            t, self.account, symbol, side, _MAKER if post_only else _LIMIT, tif, price_ticks, qty_lots,
            0, cid, None))
        self.orders[cid] = OpenOrder(cid, symbol, side, price_ticks, qty_lots, False)
        return cid

    def place_market(self, symbol: str, side: Side, qty_lots: int = 0, quote_qty: int = 0,
                     client_order_id: str = "") -> str:
        """Send a market order by base quantity or by quote amount (exactly one > 0)."""
        cid = client_order_id or self.new_cid()
        t = self._arrival()
        self.kernel.at(t, self._submit, SubmitOrder(
            t, self.account, symbol, side, _MARKET, _IOC, 0, qty_lots, quote_qty, cid, None))
        self.orders[cid] = OpenOrder(cid, symbol, side, 0, qty_lots, True)
        return cid

    def cancel(self, symbol: str, client_order_id: str) -> None:
        t = self._arrival()
        self.kernel.at(t, self._submit, CancelOrder(t, self.account, symbol, 0, client_order_id))

    def cancel_all(self, symbol: str | None = None) -> None:
        t = self._arrival()
        self.kernel.at(t, self._submit, CancelAll(t, self.account, symbol))

    def amend(self, symbol: str, client_order_id: str, new_qty_lots: int = 0, new_price_ticks: int = 0) -> None:
        """Change an open order's total quantity and/or price (0 keeps it); see AmendOrder."""
        t = self.kernel.now + self.compute_ns + self.order_sample()   # _arrival, inlined on the hot path
        if t < self.send_free:
            t = self.send_free
        self.send_free = t
        self.kernel.at(t, self._submit, AmendOrder(
            t, self.account, symbol, 0, new_qty_lots, new_price_ticks, client_order_id))

    # ------------------------------------------------------------------ receiving (kernel action)
    def _receive_busy(self, events: list[Any]) -> None:
        """``receive`` with a computation delay: replies reaching a busy agent wait until it is free."""
        now = self.kernel.now
        if self.busy_until > now:
            self.kernel.at(self.busy_until, self._receive_busy, events)
            return
        self._receive(events)
        self.busy_until = now + self.compute_ns

    def _receive(self, events: list[Any]) -> None:
        """Apply the venue's replies to what the client knows, then hand each to the agent.
        (``receive`` is this, or :meth:`_receive_busy` when the agent has a computation delay.)"""
        agent = self.agent
        notify = self._notify
        orders, by_id, bal = self.orders, self.by_id, self.balances
        account = self.account
        self.venue.n_events_delivered += len(events)
        # Branches in order of frequency (amends and acks dominate: market makers move quotes). isinstance,
        # not a class identity test: compiled, it narrows the event to its class (C field reads).
        for ev in events:
            if isinstance(ev, OrderAmended):
                o = by_id.get(ev.order_id)
                if o is not None:
                    o.price_ticks = ev.price_ticks
                    o.qty_lots = ev.qty_lots
                    o.remaining_lots = ev.remaining_lots
            elif isinstance(ev, OrderAccepted):
                o = orders.get(ev.client_order_id)
                if o is not None:
                    o.order_id = ev.order_id
                    by_id[ev.order_id] = o
            elif isinstance(ev, TradeExecuted):
                inst = self._instruments[ev.symbol]
                units = ev.qty_lots * inst.lot_units
                if ev.taker_account == account:
                    buyer = ev.aggressor == BUY
                    fee = ev.taker_fee
                    self._fill(by_id.get(ev.taker_order_id), ev.qty_lots, orders, by_id)
                    if ev.maker_account == account:   # own maker too (stp NONE): both legs
                        self._fill(by_id.get(ev.maker_order_id), ev.qty_lots, orders, by_id)
                        fee += ev.maker_fee
                        q = inst.quote.name
                        bal[q] = bal.get(q, 0) - fee
                        if notify:
                            agent.on_order_event(self, ev)
                        continue
                else:
                    buyer = ev.aggressor != BUY
                    fee = ev.maker_fee
                    self._fill(by_id.get(ev.maker_order_id), ev.qty_lots, orders, by_id)
                b, q = inst.base.name, inst.quote.name
                if buyer:
                    bal[b] = bal.get(b, 0) + units
                    bal[q] = bal.get(q, 0) - ev.quote_amount - fee
                else:
                    bal[b] = bal.get(b, 0) - units
                    bal[q] = bal.get(q, 0) + ev.quote_amount - fee
            elif isinstance(ev, OrderCanceled) or isinstance(ev, OrderExpired):
                o = by_id.pop(ev.order_id, None)
                if o is not None:
                    orders.pop(o.client_order_id, None)
            elif isinstance(ev, OrderRejected):
                orders.pop(ev.client_order_id, None)
            elif isinstance(ev, BalanceChanged):
                bal[ev.asset] = bal.get(ev.asset, 0) + ev.delta
            elif isinstance(ev, _LIQUIDITY):   # a shared-liquidity home venue's routing outcomes (rare)
                self._routed(ev, orders, by_id)
            if notify:
                agent.on_order_event(self, ev)

    @staticmethod
    def _routed(ev: Any, orders: dict[str, OpenOrder], by_id: dict[int, OpenOrder]) -> None:
        """RoutedFill: part of the order traded at a partner (balances move by the BalanceChanged events
        the hub's transfers emit, as for any deposit); RouteEnded FILLED/EXPIRED: the routed part is over,
        and the order is gone unless a home part still rests; OrderRefused: a reject."""
        if isinstance(ev, RoutedFill):
            o = orders.get(ev.client_order_id)
            if o is not None:
                o.remaining_lots -= ev.qty_lots
                if o.remaining_lots <= 0 and o.order_id not in by_id:
                    orders.pop(o.client_order_id, None)
        elif isinstance(ev, RouteEnded):
            o = orders.get(ev.client_order_id)
            if o is not None and ev.outcome in ("FILLED", "EXPIRED") and o.order_id not in by_id:
                orders.pop(o.client_order_id, None)
        elif isinstance(ev, OrderRefused):
            orders.pop(ev.client_order_id, None)

    @staticmethod
    def _fill(o: OpenOrder | None, qty: int, orders: dict[str, OpenOrder], by_id: dict[int, OpenOrder]) -> None:
        if o is None:
            return
        o.remaining_lots -= qty
        if o.remaining_lots <= 0:   # filled (a market order by quote amount: its first fill; later ones
            by_id.pop(o.order_id, None)     # settle balances without the order)
            orders.pop(o.client_order_id, None)

    # ------------------------------------------------------------------ reading
    def tape_row(self, symbol: str) -> tuple[int, ...]:
        """The public row (bid, bid_qty, ask, ask_qty, last_price, last_qty, last_aggressor, trades,
        volume_lots) this client has seen: the newest delivered if subscribed, else the tape one feed
        latency ago (one sample per kernel instant, so reads within one wake-up agree)."""
        feed = self.feed
        if feed is not None:
            return self.venue.tapes[symbol].at(feed.seen.get(symbol, 0))
        now = self.kernel.now
        if self._seen_at != now:
            self._seen_at = now
            self._seen_now = now - self.link.feed.sample()
        return self.venue.tapes[symbol].at(self._seen_now)

    def top(self, symbol: str) -> tuple[int, int, int, int]:
        """(bid, bid_qty, ask, ask_qty) as last seen; 0 for an empty side."""
        r = self.tape_row(symbol)
        return r[0], r[1], r[2], r[3]

    def last_trade(self, symbol: str) -> tuple[int, int, int]:
        """(price, qty, aggressor side) of the last trade seen; zeros before the first."""
        r = self.tape_row(symbol)
        return r[4], r[5], r[6]

    def view_ts(self, symbol: str) -> int:
        """The venue time of the market state this client sees now (see :meth:`tape_row`)."""
        feed = self.feed
        if feed is not None:
            return feed.seen.get(symbol, 0)
        now = self.kernel.now
        if self._seen_at != now:
            self._seen_at = now
            self._seen_now = now - self.link.feed.sample()
        return self._seen_now

    def depth(self, symbol: str, levels: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``levels`` (price, lots) per side, best first, as the feed showed them: the same instant as
        :meth:`top` (the venue's book rolled back to :meth:`view_ts`).

        Raises:
            RuntimeError: the venue keeps no depth log for ``symbol``: the agent's class must declare
                ``reads_depth = True`` (a fresher book than the feed's would leak the future).
        """
        return self.venue.depth_at(symbol, self.view_ts(symbol), levels)

    def balance(self, asset: str) -> int:
        """Total (available + held) in ledger units, from deposits and fills seen so far."""
        return self.balances.get(asset, 0)

    def held(self, asset: str) -> int:
        """What this client's open orders hold of ``asset`` (the engine's hold rules, CONTRACT.md)."""
        total = 0
        for o in self.orders.values():
            if o.market:
                continue
            inst = self.venue.instruments[o.symbol]
            if o.side == BUY:
                if inst.quote.name == asset:
                    n = inst.notional(o.price_ticks, o.remaining_lots)
                    total += n + n // 100 + 1   # 1% fee margin, see available()
            elif inst.base.name == asset:
                total += o.remaining_lots * inst.lot_units
        return total

    def available(self, asset: str) -> int:
        """Total minus holds of open orders; buy holds include a 1% fee margin (fees are <= 100 bps in
        every shipped scenario), so an order sized to this never overdraws."""
        return self.balances.get(asset, 0) - self.held(asset)

    def instrument(self, symbol: str) -> Instrument:
        return self.venue.instruments[symbol]

    def __repr__(self) -> str:
        return f"SimClient({self.venue_name}, account={self.account}, open={len(self.orders)})"
