"""The consolidated book of one symbol at the home venue: the home engine's levels plus the partners'
mirrored levels, summed per price, as home users see it (reference §4.1).

Model (all integers, home ticks and lots):

- ``home_*``: the home engine's L2, a projection of its BookUpdated events;
- ``mirror_*``: per price, the partners' *shown* quantity (the hub computes it: fresh snapshots of
  routable partners, haircut, less what children in flight reserved, capped by what the hub could route),
  kept as a running total that each venue's change of shown levels moves (:meth:`SymbolBook.shift_mirror`);
- a mirrored level that would cross or lock the home engine's own opposite best is *hidden* (a mirrored
  bid at or above the home best ask, a mirrored ask at or below the home best bid): the hub does not take
  it actively, and resting home orders are never routed to it;
- ``cons_*``: the published consolidated book, ``home + visible mirror`` at every price;
- ``home_bid``/``home_ask``: the engine's best prices, tracked while a mirror is shown (they decide what
  is hidden).

Every change of ``cons`` goes out as one ``BookUpdated`` per symbol and command (the engine's event class)
with the symbol's own gap-free ``update_id``: the engine's own BookUpdated events are absorbed, never
passed on, once a symbol has had mirrored depth. Per command only *touched* prices are recomputed: the
levels the engine reported, mirrored levels whose quantity changed, and mirrored levels whose visibility
flipped because the home best moved (found by bisection in the sorted mirrored prices).

A symbol that has never had mirrored depth is *passive*: its consolidated book is the engine's, its update
ids are the engine's, and the hub passes the engine's BookUpdated through untouched (no per-command work).
The first mirrored level activates it: the home levels are read once from the engine and update ids
continue from the engine's.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from typing import Callable

from exchange.engine import Depth
from exchange.events import BookUpdated

__all__ = ["SymbolBook"]


class SymbolBook:
    """One symbol's consolidated book. The hub feeds it; :meth:`flush` turns a command's changes into at
    most one BookUpdated. See the module docstring for the model."""

    __slots__ = ("symbol", "active", "update_id", "home_bids", "home_asks", "mirror_bids", "mirror_asks",
                 "bid_prices", "ask_prices", "cons_bids", "cons_asks", "home_bid", "home_ask",
                 "touched_bids", "touched_asks")

    def __init__(self, symbol: str) -> None:
        self.symbol: str = symbol
        self.active: bool = False
        self.update_id: int = 0
        self.home_bids: dict[int, int] = {}
        self.home_asks: dict[int, int] = {}
        self.mirror_bids: dict[int, int] = {}
        self.mirror_asks: dict[int, int] = {}
        self.bid_prices: list[int] = []        # mirrored bid prices, ascending
        self.ask_prices: list[int] = []        # mirrored ask prices, ascending
        self.cons_bids: dict[int, int] = {}
        self.cons_asks: dict[int, int] = {}
        self.home_bid: int = 0                 # home engine's best bid, 0 if none
        self.home_ask: int = 0                 # home engine's best ask, 0 if none
        self.touched_bids: set[int] = set()
        self.touched_asks: set[int] = set()

    # ---------------------------------------------------------------- activation
    def activate(self, depth: Depth, bid: int | None, ask: int | None) -> None:
        """Start tracking: ``depth`` is the engine's full L2 now (its update id continues ours)."""
        assert not self.active
        self.active = True
        self.update_id = depth.update_id
        self.home_bids = dict(depth.bids)
        self.home_asks = dict(depth.asks)
        self.cons_bids = dict(depth.bids)
        self.cons_asks = dict(depth.asks)
        self.home_bid = bid or 0
        self.home_ask = ask or 0

    # ---------------------------------------------------------------- inputs
    def absorb(self, bids: tuple[tuple[int, int], ...], asks: tuple[tuple[int, int], ...]) -> None:
        """Apply the engine's BookUpdated levels to the home projection. O(levels)."""
        home = self.home_bids
        touched = self.touched_bids
        for p, q in bids:
            if q:
                home[p] = q
            else:
                home.pop(p, None)
            touched.add(p)
        home = self.home_asks
        touched = self.touched_asks
        for p, q in asks:
            if q:
                home[p] = q
            else:
                home.pop(p, None)
            touched.add(p)

    def reissue(self, ev: BookUpdated) -> BookUpdated:
        """The engine's update of a symbol that shows no mirrored level: the consolidated book is the home
        book, so the engine's levels go out as they are under this book's update id. O(levels)."""
        home, cons = self.home_bids, self.cons_bids
        for p, q in ev.bids:
            if q:
                home[p] = cons[p] = q
            else:
                del home[p], cons[p]
        home, cons = self.home_asks, self.cons_asks
        for p, q in ev.asks:
            if q:
                home[p] = cons[p] = q
            else:
                del home[p], cons[p]
        self.update_id += 1
        return BookUpdated(ev.seq, ev.ts_ns, self.symbol, self.update_id, ev.bids, ev.asks)

    def translate(self, ev: BookUpdated, engine_best: Callable[[str], tuple[int | None, int | None]]
                  ) -> BookUpdated | None:
        """The hot path for one engine BookUpdated of a symbol that shows mirrored levels (absorb, move the
        home best, flush in one pass). A level at a price with no mirrored quantity is published as the
        engine reported it; only mirrored prices are recomputed. The engine is asked for its best prices
        only when a changed level could have moved them. O(levels + flipped)."""
        home, cons, mirror = self.home_bids, self.cons_bids, self.mirror_bids
        touched_b = self.touched_bids
        direct_b: list[tuple[int, int]] = []
        best_moved = False
        hb = self.home_bid
        for p, q in ev.bids:
            if q:
                home[p] = q
            else:
                del home[p]
            if p >= hb:
                best_moved = True
            if p in mirror:
                touched_b.add(p)
            else:
                if q:
                    cons[p] = q
                else:
                    del cons[p]
                direct_b.append((p, q))
        home, cons, mirror = self.home_asks, self.cons_asks, self.mirror_asks
        touched_a = self.touched_asks
        direct_a: list[tuple[int, int]] = []
        ha = self.home_ask
        for p, q in ev.asks:
            if q:
                home[p] = q
            else:
                del home[p]
            if not ha or p <= ha:
                best_moved = True
            if p in mirror:
                touched_a.add(p)
            else:
                if q:
                    cons[p] = q
                else:
                    del cons[p]
                direct_a.append((p, q))
        if best_moved:
            bid, ask = engine_best(self.symbol)
            self.set_home_best(bid, ask)
        if not touched_b and not touched_a:
            # Nothing mirrored changed: the engine's levels are the consolidated ones.
            self.update_id += 1
            return BookUpdated(ev.seq, ev.ts_ns, self.symbol, self.update_id, ev.bids, ev.asks)
        bu = self.flush(ev.seq, ev.ts_ns)
        if not direct_b and not direct_a:
            return bu
        bids = direct_b + (list(bu.bids) if bu is not None else [])
        asks = direct_a + (list(bu.asks) if bu is not None else [])
        bids.sort(reverse=True)
        asks.sort()
        if bu is None:
            self.update_id += 1
        return BookUpdated(ev.seq, ev.ts_ns, self.symbol, self.update_id, tuple(bids), tuple(asks))

    def set_home_best(self, bid: int | None, ask: int | None) -> None:
        """The home engine's best prices now; mirrored levels whose visibility flips are touched.
        O(log m + flipped)."""
        bid_i = bid or 0
        ask_i = ask or 0
        if ask_i != self.home_ask:
            prices = self.bid_prices
            # Hidden bids: those >= home ask, i.e. prices[i:] with i = bisect_left(prices, ask).
            i_old = bisect_left(prices, self.home_ask) if self.home_ask else len(prices)
            i_new = bisect_left(prices, ask_i) if ask_i else len(prices)
            if i_old != i_new:
                self.touched_bids.update(prices[min(i_old, i_new):max(i_old, i_new)])
            self.home_ask = ask_i
        if bid_i != self.home_bid:
            prices = self.ask_prices
            # Hidden asks: those <= home bid, i.e. prices[:j] with j = bisect_right(prices, bid).
            j_old = bisect_right(prices, self.home_bid) if self.home_bid else 0
            j_new = bisect_right(prices, bid_i) if bid_i else 0
            if j_old != j_new:
                self.touched_asks.update(prices[min(j_old, j_new):max(j_old, j_new)])
            self.home_bid = bid_i

    def shift_mirror(self, bid: bool, old: dict[int, int], new: dict[int, int]) -> None:
        """One venue's shown levels of a side went from ``old`` to ``new`` (price -> lots, zeros absent):
        move the mirrored totals by the difference; the prices it changes are touched, the sorted price
        list gains or loses only the prices that appear or vanish. O(changed levels x log m) plus a list
        insertion or removal per appearing or vanishing price."""
        if bid:
            mirror, prices, touched = self.mirror_bids, self.bid_prices, self.touched_bids
        else:
            mirror, prices, touched = self.mirror_asks, self.ask_prices, self.touched_asks
        for p, q in old.items():
            d = new.get(p, 0) - q
            if d:
                self._shift(mirror, prices, p, d)
                touched.add(p)
        for p, q in new.items():
            if p not in old:
                self._shift(mirror, prices, p, q)
                touched.add(p)

    @staticmethod
    def _shift(mirror: dict[int, int], prices: list[int], p: int, d: int) -> None:
        was = mirror.get(p, 0)
        now = was + d
        assert now >= 0, f"mirrored level {p} would go negative ({was} {d:+})"
        if now:
            mirror[p] = now
            if not was:
                insort(prices, p)
        else:
            del mirror[p]
            del prices[bisect_left(prices, p)]

    # ---------------------------------------------------------------- the published book
    def visible_bid(self, p: int) -> int:
        q = self.mirror_bids.get(p, 0)
        return q if q and (not self.home_ask or p < self.home_ask) else 0

    def visible_ask(self, p: int) -> int:
        q = self.mirror_asks.get(p, 0)
        return q if q and p > self.home_bid else 0

    def flush(self, seq: int, ts_ns: int) -> BookUpdated | None:
        """Recompute the touched prices; return the BookUpdated of what changed (None if nothing did).
        O(touched log touched)."""
        out_b: list[tuple[int, int]] = []
        out_a: list[tuple[int, int]] = []
        if self.touched_bids:
            cons, home = self.cons_bids, self.home_bids
            for p in self.touched_bids:
                new = home.get(p, 0) + self.visible_bid(p)
                if new != cons.get(p, 0):
                    if new:
                        cons[p] = new
                    else:
                        del cons[p]
                    out_b.append((p, new))
            self.touched_bids.clear()
        if self.touched_asks:
            cons, home = self.cons_asks, self.home_asks
            for p in self.touched_asks:
                new = home.get(p, 0) + self.visible_ask(p)
                if new != cons.get(p, 0):
                    if new:
                        cons[p] = new
                    else:
                        del cons[p]
                    out_a.append((p, new))
            self.touched_asks.clear()
        if not out_b and not out_a:
            return None
        out_b.sort(reverse=True)
        out_a.sort()
        self.update_id += 1
        return BookUpdated(seq, ts_ns, self.symbol, self.update_id, tuple(out_b), tuple(out_a))

    # ---------------------------------------------------------------- reads
    def has_mirror(self) -> bool:
        return bool(self.mirror_bids or self.mirror_asks)

    def best_mirror_bid(self) -> int:
        """The best *visible* mirrored bid, 0 if none. O(log m)."""
        prices = self.bid_prices
        i = bisect_left(prices, self.home_ask) if self.home_ask else len(prices)
        return prices[i - 1] if i else 0

    def best_mirror_ask(self) -> int:
        """The best *visible* mirrored ask, 0 if none. O(log m)."""
        prices = self.ask_prices
        j = bisect_right(prices, self.home_bid) if self.home_bid else 0
        return prices[j] if j < len(prices) else 0

    def visible_mirror(self, bid: bool) -> list[int]:
        """Visible mirrored prices of one side, best first."""
        if bid:
            prices = self.bid_prices
            i = bisect_left(prices, self.home_ask) if self.home_ask else len(prices)
            return prices[:i][::-1]
        prices = self.ask_prices
        j = bisect_right(prices, self.home_bid) if self.home_bid else 0
        return prices[j:]

    def best(self) -> tuple[int | None, int | None]:
        """Consolidated best bid and ask (active books only)."""
        mb, ma = self.best_mirror_bid(), self.best_mirror_ask()
        bid = max(self.home_bid, mb)
        ask = min(x for x in (self.home_ask, ma) if x) if (self.home_ask or ma) else 0
        return (bid or None, ask or None)

    def depth(self, limit: int) -> Depth:
        """Top ``limit`` consolidated levels per side. O(n log n)."""
        bids = sorted(self.cons_bids.items(), reverse=True)[:limit]
        asks = sorted(self.cons_asks.items())[:limit]
        return Depth(self.update_id, bids, asks)

    def _check(self, engine_depth: Depth, engine_best: tuple[int | None, int | None]) -> None:
        """Assert the model: home == the engine's L2, cons == home + visible mirror everywhere."""
        assert not self.touched_bids and not self.touched_asks, f"{self.symbol}: touched prices left"
        assert self.home_bids == dict(engine_depth.bids), f"{self.symbol}: home bids drifted from the engine"
        assert self.home_asks == dict(engine_depth.asks), f"{self.symbol}: home asks drifted from the engine"
        if self.mirror_bids or self.mirror_asks:   # tracked only while it decides what is hidden
            assert (self.home_bid or None, self.home_ask or None) == engine_best, (
                f"{self.symbol}: home best {self.home_bid}/{self.home_ask} != engine {engine_best}")
        assert self.bid_prices == sorted(self.mirror_bids) and self.ask_prices == sorted(self.mirror_asks)
        assert all(q > 0 for q in self.mirror_bids.values()) and all(q > 0 for q in self.mirror_asks.values())
        for home, cons, vis in ((self.home_bids, self.cons_bids, self.visible_bid),
                                (self.home_asks, self.cons_asks, self.visible_ask)):
            prices = set(home) | set(cons) | set(self.mirror_bids if vis == self.visible_bid else self.mirror_asks)
            for p in prices:
                want = home.get(p, 0) + vis(p)
                assert cons.get(p, 0) == want, f"{self.symbol}: consolidated level {p} is {cons.get(p, 0)}, " \
                                               f"home + visible mirror is {want}"
            assert all(q > 0 for q in cons.values())
