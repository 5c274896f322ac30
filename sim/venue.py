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
gateway's depth streams are), so L1 quantities cost a dict lookup rather than a depth query.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Callable, Iterable

from exchange import STP, BookUpdated, Engine, FeeTier, Instrument, TradeExecuted
from exchange.journal import InMemoryJournal

from .kernel import Kernel

if TYPE_CHECKING:
    from .client import SimClient
    from .latency import Link

__all__ = ["SimVenue", "Tape", "FeedLink", "EMPTY_ROW"]

# A tape row: (bid, bid_qty, ask, ask_qty, last_price, last_qty, last_aggressor, trades, volume_lots)
# with 0 for an empty side or no trade yet; ``trades``/``volume_lots`` are running totals.
EMPTY_ROW = (0, 0, 0, 0, 0, 0, 0, 0, 0)
JOURNAL_BATCH = 512


class Tape:
    """The public L1 + last-trade history of one symbol, for reads at a past time. Append O(1); a read is
    O(log n) over the kept window; rows older than ``keep_ns`` behind the newest are dropped in chunks."""

    __slots__ = ("symbol", "ts", "rows", "keep_ns", "last")

    def __init__(self, symbol: str, keep_ns: int) -> None:
        self.symbol = symbol
        self.ts: list[int] = [0]
        self.rows: list[tuple] = [EMPTY_ROW]
        self.keep_ns = keep_ns
        self.last: tuple = EMPTY_ROW

    def append(self, ts_ns: int, row: tuple) -> None:
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

    def at(self, ts_ns: int) -> tuple:
        """The row in force at ``ts_ns`` (the newest with time <= ts_ns; the oldest kept if none)."""
        ts = self.ts
        if ts_ns >= ts[-1]:
            return self.rows[-1]
        i = bisect_right(ts, ts_ns) - 1
        return self.rows[i if i > 0 else 0]


class FeedLink:
    """The pushed market-data feed of one agent group at one venue: subscribed clients, the latency path
    and, per symbol, the venue time of the newest entry delivered (what the group has seen)."""

    __slots__ = ("link", "subscribers", "seen", "next_free")

    def __init__(self, link: "Link") -> None:
        self.link = link
        self.subscribers: list["SimClient"] = []
        self.seen: dict[str, int] = {}
        self.next_free = 0


class SimVenue:
    """One venue of a simulation.

    Args:
        name: the venue's name (``"busan"``); clients and links name it.
        kernel: the run's event loop.
        instruments, fee_tiers, default_stp: as for :class:`exchange.Engine`.
        keep_ns: how far back the tape must answer reads (>= the largest feed latency).
    """

    def __init__(self, name: str, kernel: Kernel, instruments: Iterable[Instrument],
                 fee_tiers: dict[int, FeeTier] | None = None, default_stp: STP = STP.EXPIRE_MAKER,
                 keep_ns: int = 10_000_000_000) -> None:
        self.name = name
        self.kernel = kernel
        self.engine = Engine(list(instruments), fee_tiers=fee_tiers, default_stp=default_stp)
        self.journal = InMemoryJournal()
        self._batch: list = []
        self.instruments: dict[str, Instrument] = dict(self.engine.instruments)
        self.tapes: dict[str, Tape] = {s: Tape(s, keep_ns) for s in self.instruments}
        self._mirror: dict[str, tuple[dict[int, int], dict[int, int]]] = {
            s: ({}, {}) for s in self.instruments}
        self.clients: dict[int, "SimClient"] = {}
        self.feeds: list[FeedLink] = []
        self._feed_by_link: dict[int, FeedLink] = {}
        self.l1_observers: list[Callable[[str, int, tuple], None]] = []
        self.trade_observers: list[Callable[[TradeExecuted], None]] = []
        # Counters for the benchmark: commands applied, events handed to agents, market-data pushes.
        self.n_commands = 0
        self.n_events_delivered = 0
        self.n_md_delivered = 0

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
    def submit(self, command: Any) -> None:
        """Kernel action: a command has arrived (its ``ts_ns`` is now). Journal, apply, route events."""
        batch = self._batch
        batch.append(command)
        if len(batch) >= JOURNAL_BATCH:
            self.flush_journal()
        events = self.engine.handle(command)
        self.n_commands += 1
        self._route(command, events)

    def flush_journal(self) -> InMemoryJournal:
        """Append the open batch to the journal as one frame; return the journal (complete up to now)."""
        if self._batch:
            self.journal.append_batch(self._batch)
            self._batch = []
        return self.journal

    def apply_now(self, command: Any) -> list:
        """Journal and apply a command from the simulation itself (setup deposits), returning its events
        and routing them like any other command's."""
        self._batch.append(command)
        if len(self._batch) >= JOURNAL_BATCH:
            self.flush_journal()
        events = self.engine.handle(command)
        self.n_commands += 1
        self._route(command, events)
        return events

    def _route(self, command: Any, events: list) -> None:
        clients = self.clients
        out: dict[Any, list] = {}
        changed: set[str] | None = None
        trades: list | None = None
        for ev in events:
            cls = ev.__class__
            if cls is BookUpdated:
                bids, asks = self._mirror[ev.symbol]
                for p, q in ev.bids:
                    if q:
                        bids[p] = q
                    else:
                        del bids[p]
                for p, q in ev.asks:
                    if q:
                        asks[p] = q
                    else:
                        del asks[p]
                if changed is None:
                    changed = {ev.symbol}
                else:
                    changed.add(ev.symbol)
                continue
            if cls is TradeExecuted:
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
                account = ev.taker_account
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
            if changed is None:
                changed = {trades[0].symbol}
            else:
                changed.add(trades[0].symbol)
        if changed is not None:
            for symbol in (sorted(changed) if len(changed) > 1 else changed):
                self._publish(symbol, trades)
        if out:
            schedule = self.kernel.schedule
            now = self.kernel.now
            for c, evs in out.items():
                t = now + c.link.order.sample()
                if t < c.resp_free:
                    t = c.resp_free
                c.resp_free = t
                schedule(t, c.receive, evs)

    def _publish(self, symbol: str, trades: list | None) -> None:
        """Append the symbol's new L1/last trade to its tape, tell observers, push to subscribed links."""
        tape = self.tapes[symbol]
        prev = tape.last
        bid, ask = self.engine.best_bid_ask(symbol)
        bids, asks = self._mirror[symbol]
        bq = bids[bid] if bid is not None else 0
        aq = asks[ask] if ask is not None else 0
        lp, lq, la, n, vol = prev[4], prev[5], prev[6], prev[7], prev[8]
        if trades is not None:
            for tr in trades:
                if tr.symbol == symbol:
                    lp, lq, la = tr.price_ticks, tr.qty_lots, int(tr.aggressor)
                    n += 1
                    vol += tr.qty_lots
        row = (bid or 0, bq, ask or 0, aq, lp, lq, la, n, vol)
        if row == prev:
            return
        now = self.kernel.now
        tape.append(now, row)
        for obs in self.l1_observers:
            obs(symbol, now, row)
        if self.feeds:
            schedule = self.kernel.schedule
            for feed in self.feeds:
                t = now + feed.link.feed.sample()
                if t < feed.next_free:
                    t = feed.next_free
                feed.next_free = t
                schedule(t, self._deliver, (feed, symbol, now))

    def _deliver(self, arg: tuple) -> None:
        feed, symbol, venue_ts = arg
        feed.seen[symbol] = venue_ts
        subs = feed.subscribers
        self.n_md_delivered += len(subs)
        for c in subs:
            c.agent.on_market_data(c, symbol)

    # ------------------------------------------------------------------ reads for clients and reports
    def row_at(self, symbol: str, ts_ns: int) -> tuple:
        return self.tapes[symbol].at(ts_ns)

    def mirror(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        """The current L2 (price -> lots per side), a projection of BookUpdated events. Read-only."""
        return self._mirror[symbol]
