"""A simulated venue: an :class:`exchange.Engine` with an in-memory journal inside the discrete-event loop.

The shell's contract (DESIGN.md §1): a command arrives after its sender's order latency, is stamped with
the arrival time (``ts_ns``), appended to the journal, then applied; the engine's events go back to the
agents they concern after the order-path latency (acks, fills, cancels, rejects), and market data goes
out through the venue's public tape:

- :class:`Tape` (one per symbol) records the public L1 and last trade after every command that changed
  them, with the venue time. An agent that reads the book when it wakes sees the tape as it was one feed
  latency ago; nothing is sent to it in between, so idle and timer-driven agents cost nothing per market
  event (reference §4.6: agents that only act on timers need no per-event market data).
- Links that *subscribe* get a push per tape entry after their feed latency (in order per link) and each
  subscribed agent's ``on_market_data`` is called then; the view it reads is exactly the delivered entry.
- Observers (the run's recorder) see every tape entry and trade at venue time, with no latency.

Journaling is a group commit: each command joins the venue's open batch *before* it is applied, and the
batch becomes one journal frame every ``JOURNAL_BATCH`` commands (as a gateway appends a batch with
``FileJournal.append_batch`` and then applies it). Per command that is ~0.1 us of msgpack instead of ~1 us
of framing (exchange/journal/codec.py); nothing outside the process can observe an effect before its
command is in the journal's order, and :meth:`SimVenue.flush_journal` closes the batch before anyone reads
the journal.

The venue keeps an L2 mirror of each book from its own BookUpdated events (a projection of events, as the
gateway's depth streams are), so L1 quantities cost a dict lookup rather than a depth query, and tracks the
best prices from the same deltas (the engine is asked only when an update empties the best level): a
deep-level quote move costs no engine read and no tape row. For symbols some agent reads depth of
(``track_depth``), it also logs every level change with its venue time, so :meth:`SimVenue.depth_at` can
answer with the book as a feed showed it (the current mirror with later changes undone).

Hot path: kernel entries are pushed with :meth:`Kernel.at`, without :meth:`Kernel.schedule`'s check (every time
here is now plus a delay >= 0), and each latency path's ``sample`` is bound once. This module is compiled with
mypyc at install time (setup.py): the annotations on the hot attributes make their reads C field reads.
"""
from __future__ import annotations

from bisect import bisect_right
from heapq import nlargest, nsmallest
from typing import TYPE_CHECKING, Any, Callable, Final, Iterable

from exchange import STP, BookUpdated, Engine, FeeTier, Instrument, TradeExecuted
from exchange.journal import InMemoryJournal

from .kernel import Kernel

if TYPE_CHECKING:
    from .client import SimClient
    from .latency import Link

__all__ = ["SimVenue", "Tape", "FeedLink", "EMPTY_ROW"]

# A tape row: (bid, bid_qty, ask, ask_qty, last_price, last_qty, last_aggressor, trades, volume_lots)
# with 0 for an empty side or no trade yet; ``trades``/``volume_lots`` are running totals.
Row = tuple[int, ...]
EMPTY_ROW: Final[Row] = (0, 0, 0, 0, 0, 0, 0, 0, 0)
JOURNAL_BATCH: Final = 512


class Tape:
    """The public L1 + last-trade history of one symbol, for reads at a past time. Append O(1); a read is
    O(log n) over the kept window; rows older than ``keep_ns`` behind the newest are dropped in chunks."""

    __slots__ = ("symbol", "ts", "rows", "keep_ns", "last")

    def __init__(self, symbol: str, keep_ns: int) -> None:
        self.symbol: str = symbol
        self.ts: list[int] = [0]
        self.rows: list[Row] = [EMPTY_ROW]
        self.keep_ns: int = keep_ns
        self.last: Row = EMPTY_ROW

    def append(self, ts_ns: int, row: Row) -> None:
        ts = self.ts
        if ts[-1] == ts_ns:        # several commands at one instant: the last state wins
            self.rows[-1] = row
        else:
            ts.append(ts_ns)
            self.rows.append(row)
            if len(ts) > 4096 and ts[2048] < ts_ns - self.keep_ns:
                cut = bisect_right(ts, ts_ns - self.keep_ns) - 1
                del ts[:cut]
                del self.rows[:cut]
        self.last = row

    def at(self, ts_ns: int) -> Row:
        """The row in force at ``ts_ns`` (the newest with time <= ts_ns; the oldest kept if none)."""
        ts = self.ts
        if ts_ns >= ts[-1]:
            return self.rows[-1]
        i = bisect_right(ts, ts_ns) - 1
        return self.rows[i if i > 0 else 0]


class FeedLink:
    """The pushed market-data feed of one agent group at one venue: subscribed clients, the latency path
    and, per symbol, the venue time of the newest entry delivered (what the group has seen)."""

    __slots__ = ("link", "subscribers", "seen", "next_free", "sample")

    def __init__(self, link: "Link") -> None:
        self.link: Link = link
        self.sample: Callable[[], int] = link.feed.sample
        self.subscribers: list[SimClient] = []
        self.seen: dict[str, int] = {}
        self.next_free: int = 0


class SimVenue:
    """One venue of a simulation.

    Args:
        name: the venue's name (``"busan"``); clients and links name it.
        kernel: the run's event loop.
        instruments, fee_tiers, default_stp: as for :class:`exchange.Engine`.
        keep_ns: how far back the tape must answer reads (>= the largest feed latency).
        engine: an engine-like venue to use instead of a new :class:`Engine` (a shared-liquidity hub,
            ``exchange.liquidity.MirroredVenue`` or ``PooledVenue``: the engine's commands and reads, plus
            liquidity commands and events); ``instruments`` etc. are then ignored.

    ``on_events``: if set, called with each command and its events after they are routed (the shared-liquidity
    shell carries out the hub's outbound intents there); None for a plain venue (one attribute test).
    """

    def __init__(self, name: str, kernel: Kernel, instruments: Iterable[Instrument],
                 fee_tiers: dict[int, FeeTier] | None = None, default_stp: STP = STP.EXPIRE_MAKER,
                 keep_ns: int = 10_000_000_000, engine: Any = None) -> None:
        self.name: str = name
        self.kernel: Kernel = kernel
        self.engine: Any = (engine if engine is not None
                            else Engine(list(instruments), fee_tiers=fee_tiers, default_stp=default_stp))
        self.on_events: Callable[[Any, list[Any]], None] | None = None
        self.journal: InMemoryJournal = InMemoryJournal()
        # One bound method shared by every client as its command's kernel action (not one each).
        self.submit_action: Callable[[Any], Any] = self.submit
        self._deliver_action: Callable[[Any], None] = self._deliver
        self._batch: list[Any] = []
        self.instruments: dict[str, Instrument] = dict(self.engine.instruments)
        self.tapes: dict[str, Tape] = {s: Tape(s, keep_ns) for s in self.instruments}
        self._mirror: dict[str, tuple[dict[int, int], dict[int, int]]] = {
            s: ({}, {}) for s in self.instruments}
        # The current (bid, bid_qty, ask, ask_qty) per symbol, 0 for an empty side, kept by _fold.
        self._top: dict[str, list[int]] = {s: [0, 0, 0, 0] for s in self.instruments}
        # Per symbol whose depth a client may read: (venue time, is_bid, price, lots before) per level change,
        # so depth can be rolled back to what a feed showed (see depth_at). Off unless asked for.
        self._depth_log: dict[str, list[tuple[int, bool, int, int]]] = {}
        self._keep_ns: int = keep_ns
        self.clients: dict[int, SimClient] = {}
        self.feeds: list[FeedLink] = []
        self._feed_by_link: dict[int, FeedLink] = {}
        self.l1_observers: list[Callable[[str, int, Row], None]] = []
        self.trade_observers: list[Callable[[TradeExecuted], None]] = []
        # Counters for the benchmark: commands applied, events handed to agents, market-data pushes.
        self.n_commands: int = 0
        self.n_events_delivered: int = 0
        self.n_md_delivered: int = 0

    # ------------------------------------------------------------------ wiring
    def attach(self, client: "SimClient") -> None:
        """Route ``client.account``'s events to ``client``. One client per account per venue."""
        if client.account in self.clients:
            raise ValueError(f"venue {self.name}: account {client.account} already has a client")
        self.clients[client.account] = client

    def subscribe(self, client: "SimClient") -> FeedLink:
        """Push market data to ``client`` after its link's feed latency (on_market_data)."""
        key = id(client.link)
        feed = self._feed_by_link.get(key)
        if feed is None:
            feed = FeedLink(client.link)
            self._feed_by_link[key] = feed
            self.feeds.append(feed)
        if client not in feed.subscribers:
            feed.subscribers.append(client)
        return feed

    # ------------------------------------------------------------------ the command path
    def submit(self, command: Any) -> list[Any]:
        """Kernel action: a command has arrived (its ``ts_ns`` is now). Journal, apply, route events; the
        events are returned for :meth:`apply_now`'s callers (the kernel ignores them)."""
        batch = self._batch
        batch.append(command)
        if len(batch) >= JOURNAL_BATCH:
            self.flush_journal()
        events = self.engine.handle(command)
        self.n_commands += 1
        self._route(events)
        if self.on_events is not None:
            self.on_events(command, events)
        return events

    def flush_journal(self) -> InMemoryJournal:
        """Append the open batch to the journal as one frame; return the journal (complete up to now)."""
        if self._batch:
            self.journal.append_batch(self._batch)
            self._batch = []
        return self.journal

    def apply_now(self, command: Any) -> list[Any]:
        """Journal and apply a command from the simulation itself (setup deposits), returning its events
        and routing them like any other command's."""
        return self.submit(command)

    def _route(self, events: list[Any]) -> None:
        """Fold BookUpdated into the mirrors (and the new L1), hand every other event to the client(s) it
        concerns after their order latency, publish changed symbols."""
        clients = self.clients
        out: dict[SimClient, list[Any]] = {}
        changed: list[str] | None = None
        trades: list[TradeExecuted] | None = None
        for ev in events:
            if isinstance(ev, BookUpdated):
                symbol = ev.symbol
                if changed is None:
                    changed = [symbol]
                elif symbol not in changed:
                    changed.append(symbol)
                self._fold(symbol, ev.bids, ev.asks)
                continue
            if isinstance(ev, TradeExecuted):
                if trades is None:
                    trades = [ev]
                else:
                    trades.append(ev)
                c = clients.get(ev.maker_account)
                if c is not None:
                    lst = out.get(c)
                    if lst is None:
                        out[c] = [ev]
                    else:
                        lst.append(ev)
                if ev.taker_account == ev.maker_account:
                    continue
                account: int = ev.taker_account
            else:
                account = getattr(ev, "account", -1)   # CommandRejected carries -1 for account-less commands
            c = clients.get(account)
            if c is not None:
                lst = out.get(c)
                if lst is None:
                    out[c] = [ev]
                else:
                    lst.append(ev)
        if trades is not None:
            for obs in self.trade_observers:
                for tr in trades:
                    obs(tr)
            symbol = trades[0].symbol
            if changed is None:
                changed = [symbol]
            elif symbol not in changed:
                changed.append(symbol)
        if changed is not None:
            if len(changed) > 1:
                changed.sort()
            for symbol in changed:
                self._publish(symbol, trades)
        if out:
            kernel = self.kernel
            now = kernel.now
            for c, evs in out.items():
                t = now + c.order_sample()
                if t < c.resp_free:
                    t = c.resp_free
                c.resp_free = t
                kernel.at(t, c.receive, evs)

    def _fold(self, symbol: str, bid_levels: tuple[tuple[int, int], ...],
              ask_levels: tuple[tuple[int, int], ...]) -> None:
        """Apply one BookUpdated to the symbol's L2 mirror and work out its new best prices from the
        deltas: the best moves only to a level the update touched, unless the update emptied the best level
        (then the engine is asked). This replaces an engine read after every command (most updates are
        deep-level quote moves that leave the top alone)."""
        bids, asks = self._mirror[symbol]
        top = self._top[symbol]
        log = self._depth_log.get(symbol)
        if log is not None:
            now = self.kernel.now
            for p, q in bid_levels:
                log.append((now, True, p, bids.get(p, 0)))
            for p, q in ask_levels:
                log.append((now, False, p, asks.get(p, 0)))
            if len(log) > 8192 and log[4096][0] < now - self._keep_ns:   # drop what no feed can still show
                cut = bisect_right(log, (now - self._keep_ns, True, 1 << 62))
                del log[:cut]
        if bid_levels:
            best = top[0]
            lost = False
            for p, q in bid_levels:
                if q:
                    bids[p] = q
                    if p > best:
                        best = p
                else:
                    del bids[p]
                    if p == best:
                        lost = True
            if lost:
                best = _or0(self.engine.best_bid_ask(symbol)[0])
            top[0] = best
            top[1] = bids[best] if best else 0
        if ask_levels:
            best = top[2]
            lost = False
            for p, q in ask_levels:
                if q:
                    asks[p] = q
                    if p < best or not best:
                        best = p
                else:
                    del asks[p]
                    if p == best:
                        lost = True
            if lost:
                best = _or0(self.engine.best_bid_ask(symbol)[1])
            top[2] = best
            top[3] = asks[best] if best else 0

    def _publish(self, symbol: str, trades: list[TradeExecuted] | None) -> None:
        """Append the symbol's new L1/last trade to its tape, tell observers, push to subscribed links."""
        tape = self.tapes[symbol]
        prev = tape.last
        bid, bq, ask, aq = self._top[symbol]
        if trades is None:
            # Nothing at the top moved (a deep-level change): no row, no push (as the row == prev test
            # below, without building the row).
            if bid == prev[0] and bq == prev[1] and ask == prev[2] and aq == prev[3]:
                return
            row = (bid, bq, ask, aq, prev[4], prev[5], prev[6], prev[7], prev[8])
        else:
            lp, lq, la, n, vol = prev[4], prev[5], prev[6], prev[7], prev[8]
            for tr in trades:
                if tr.symbol == symbol:
                    lp, lq, la = tr.price_ticks, tr.qty_lots, int(tr.aggressor)
                    n += 1
                    vol += tr.qty_lots
            row = (bid, bq, ask, aq, lp, lq, la, n, vol)
            if row == prev:
                return
        kernel = self.kernel
        now = kernel.now
        tape.append(now, row)
        for obs in self.l1_observers:
            obs(symbol, now, row)
        if self.feeds:
            deliver = self._deliver_action
            for feed in self.feeds:
                t = now + feed.sample()
                if t < feed.next_free:
                    t = feed.next_free
                feed.next_free = t
                kernel.at(t, deliver, (feed, symbol, now))

    def _deliver(self, arg: tuple[FeedLink, str, int]) -> None:
        feed, symbol, venue_ts = arg
        feed.seen[symbol] = venue_ts
        subs = feed.subscribers
        self.n_md_delivered += len(subs)
        now = self.kernel.now
        for c in subs:
            if c.busy_until > now:   # the agent is computing: it reads this push when it is free
                c.defer(c.agent.on_market_data, symbol)
            else:
                c.agent.on_market_data(c, symbol)
                if c.compute_ns:
                    c.busy_until = now + c.compute_ns

    # ------------------------------------------------------------------ reads for clients and reports
    def row_at(self, symbol: str, ts_ns: int) -> Row:
        return self.tapes[symbol].at(ts_ns)

    def track_depth(self, symbol: str) -> None:
        """Keep the level-change log :meth:`depth_at` needs for ``symbol`` from now on (idempotent). The
        simulation calls it before the run for the symbols of agents that declare ``reads_depth``."""
        if symbol not in self.instruments:
            raise ValueError(f"venue {self.name} does not list {symbol!r}")
        self._depth_log.setdefault(symbol, [])

    def depth_at(self, symbol: str, ts_ns: int, levels: int = 10) -> tuple[list[tuple[int, int]],
                                                                          list[tuple[int, int]]]:
        """The top ``levels`` (price, lots) per side, best first, as the book stood at venue time ``ts_ns``
        (after every command applied at or before it): the current mirror with the logged level changes
        after ``ts_ns`` undone. O(book levels + changes since ts_ns).

        Raises:
            RuntimeError: no depth log for ``symbol`` (see :meth:`track_depth`).
        """
        log = self._depth_log.get(symbol)
        if log is None:
            raise RuntimeError(
                f"venue {self.name} keeps no depth history for {symbol}: an agent that reads depth must "
                f"declare reads_depth = True on its class, so the simulation logs level changes from the "
                f"start (a client may only see the book as its feed showed it, one feed latency ago)")
        bids, asks = self._mirror[symbol]
        i = len(log)
        while i and log[i - 1][0] > ts_ns:
            i -= 1
        if i < len(log):
            bids, asks = dict(bids), dict(asks)
            for _, is_bid, p, q in reversed(log[i:]):
                side = bids if is_bid else asks
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)
        return nlargest(levels, bids.items()), nsmallest(levels, asks.items())

    def mirror(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        """The current L2 (price -> lots per side), a projection of BookUpdated events. Read-only."""
        return self._mirror[symbol]


def _or0(price: int | None) -> int:
    return price if price is not None else 0
