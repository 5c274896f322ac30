"""What the mirrored hub knows of each partner: health, heartbeat, depth snapshots, and the operator's
prefund ledger there (reference §4.1, §3.5). Plain state with no engine access; the hub drives it.

Health, as the hub derives it (:meth:`PartnerLink.derived`):

- ``announced`` is the last PartnerStatus (UP at the start). DOWN and DEFAULTED win over everything;
  DEFAULTED is final (later announcements are ignored). An announced STALE stands until an UP.
- otherwise the partner is STALE when it has sent depth and none of its snapshots is fresh (the feed
  froze, as FTX's did), else UP.
- ``routable`` = UP and a heartbeat within ``heartbeat_timeout_ns`` (the kill switch). A partner is not
  routable before its first heartbeat.

A snapshot is *fresh* while ``hub clock - venue_ts_ns <= quote_max_age_ns``; it is shown and routed to only
while fresh and its partner routable.

The prefund ledger is the operator's balance at the partner as the hub tracks it: it starts at
``PartnerSpec.prefund`` and moves only by the children's reported fills (base, quote and partner fee).
``reserved`` is what children in flight hold of it (a buy child's worst-case partner hold, a sell child's
base): routing never commits more than ``ledger - reserved``.
"""
from __future__ import annotations

from typing import Final

from exchange.instruments import Instrument

from .config import PartnerSpec
from .health import Health
from .units import Scale

__all__ = ["SideView", "Snapshot", "PartnerLink", "NO_TIME", "NEVER"]

NO_TIME: Final = -(1 << 63)   # "never": no heartbeat or snapshot yet (any real time is later)
NEVER: Final = 1 << 63        # a deadline that never comes
_UP: Final = Health.UP
_STALE: Final = Health.STALE
_DOWN: Final = Health.DOWN
_DEFAULTED: Final = Health.DEFAULTED


class SideView:
    """One side of a snapshot less reservations: ``levels`` best first, the same as a dict (``level_map``,
    what the consolidated book shows of it when routing capacity does not bind), and the totals
    :func:`exchange.liquidity.router.display_walk` checks capacity with (lots, sum of price x lots).
    Immutable by convention: shared between the snapshot, the router and ``Snapshot.shown_*``."""

    __slots__ = ("levels", "level_map", "lots", "price_lots")

    def __init__(self, levels: list[tuple[int, int]]) -> None:
        self.levels: list[tuple[int, int]] = levels
        self.level_map: dict[int, int] = dict(levels)
        lots = 0
        price_lots = 0
        for p, q in levels:
            lots += q
            price_lots += p * q
        self.lots: int = lots
        self.price_lots: int = price_lots


class Snapshot:
    """A partner's last depth of one symbol, converted to home units with the haircut applied.

    ``bids``/``asks``: home price -> home lots as the partner showed them. ``reserved_*``: lots children in
    flight took from a level, subtracted until the next snapshot replaces this one. ``shown_*``: what the
    consolidated book shows of this venue (capacity-capped; empty while not fresh or not routable).

    The dicts are replaced, never changed in place, once handed out (``shown_*`` may be the very dict
    :meth:`side` returned), so the hub can tell an unchanged side by identity."""

    __slots__ = ("symbol", "scale", "venue_ts", "bids", "asks", "reserved_bids", "reserved_asks",
                 "shown_bids", "shown_asks", "fresh", "_side_bids", "_side_asks")

    def __init__(self, symbol: str, scale: Scale) -> None:
        self.symbol: str = symbol
        self.scale: Scale = scale
        self.venue_ts: int = NO_TIME
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.reserved_bids: dict[int, int] = {}
        self.reserved_asks: dict[int, int] = {}
        self.shown_bids: dict[int, int] = {}
        self.shown_asks: dict[int, int] = {}
        self.fresh: bool = False
        # What side() computes, kept until the levels or reservations of that side change.
        self._side_bids: SideView | None = None
        self._side_asks: SideView | None = None

    def replace(self, venue_ts: int, bids: dict[int, int], asks: dict[int, int], fresh: bool) -> None:
        self.venue_ts = venue_ts
        self.bids = bids
        self.asks = asks
        self.reserved_bids = {}
        self.reserved_asks = {}
        self.fresh = fresh
        self._side_bids = None
        self._side_asks = None

    def available(self, bid: bool) -> list[tuple[int, int]]:
        """The snapshot's levels of one side less reservations, best first (zeros dropped). The list is
        shared (cached): do not change it."""
        return self.side(bid).levels

    def side(self, bid: bool) -> "SideView":
        """One side less reservations, computed once per change of its levels or reservations."""
        view = self._side_bids if bid else self._side_asks
        if view is None:
            levels, reserved = (self.bids, self.reserved_bids) if bid else (self.asks, self.reserved_asks)
            if reserved:
                out = [(p, q - reserved.get(p, 0)) for p, q in levels.items()]
                out = [lv for lv in out if lv[1] > 0]
            else:
                out = [lv for lv in levels.items() if lv[1] > 0]
            out.sort(reverse=bid)
            view = SideView(out)
            if bid:
                self._side_bids = view
            else:
                self._side_asks = view
        return view

    def reserve(self, bid: bool, price: int, lots: int) -> None:
        if bid:
            reserved = self.reserved_bids
            self._side_bids = None
        else:
            reserved = self.reserved_asks
            self._side_asks = None
        reserved[price] = reserved.get(price, 0) + lots

    def state(self) -> dict:
        return {"venue_ts": self.venue_ts, "fresh": self.fresh,
                "bids": sorted(self.bids.items(), reverse=True), "asks": sorted(self.asks.items()),
                "reserved_bids": sorted(self.reserved_bids.items()),
                "reserved_asks": sorted(self.reserved_asks.items()),
                "shown_bids": sorted(self.shown_bids.items()), "shown_asks": sorted(self.shown_asks.items())}


class PartnerLink:
    """One partner venue as the mirrored hub tracks it (see the module docstring)."""

    __slots__ = ("spec", "name", "index", "announced", "health", "routable", "hb_alive", "last_hb",
                 "snaps", "ledger", "reserved", "counters", "failed_by_reason")

    def __init__(self, spec: PartnerSpec, index: int, home_instruments: dict[str, Instrument]) -> None:
        self.spec: PartnerSpec = spec
        self.name: str = spec.name
        self.index: int = index
        self.announced: Health = _UP
        self.health: Health = _UP            # last derived (and reported) health
        self.routable: bool = False          # last derived (and reported) routability
        self.hb_alive: bool = False
        self.last_hb: int = NO_TIME
        symbols = sorted(spec.eligible or spec.instruments)
        self.snaps: dict[str, Snapshot] = {
            s: Snapshot(s, Scale(home_instruments[s], spec.instruments[s])) for s in symbols}
        assets = sorted({a.name for s in symbols for a in (spec.instruments[s].base, spec.instruments[s].quote)}
                        | set(spec.prefund))
        self.ledger: dict[str, int] = {a: spec.prefund.get(a, 0) for a in assets}
        self.reserved: dict[str, int] = {a: 0 for a in assets}
        # children_sent, children_filled, children_partially_filled, children_failed, lots_sent (home),
        # lots_filled (home lots delivered), partner_lots_sent, partner_lots_filled, quote_filled,
        # fills_on_stale_quotes, stale_fill_failures
        self.counters: dict[str, int] = {k: 0 for k in _COUNTERS}
        self.failed_by_reason: dict[str, int] = {}

    # ---------------------------------------------------------------- health
    def derived(self) -> tuple[Health, bool]:
        """(health, routable) from the announcements, the snapshots' freshness and the heartbeat."""
        a = self.announced
        if a is _DOWN or a is _DEFAULTED or a is _STALE:
            return a, False
        if any(s.venue_ts != NO_TIME for s in self.snaps.values()) and not any(
                s.fresh for s in self.snaps.values()):
            return _STALE, False
        return _UP, self.hb_alive

    def shows(self, snap: Snapshot) -> bool:
        return self.routable and snap.fresh

    def next_deadline(self, heartbeat_timeout_ns: int, quote_max_age_ns: int) -> int:
        """The earliest hub time after which something of this link expires (NEVER: nothing can)."""
        best = NEVER
        if self.hb_alive:
            best = self.last_hb + heartbeat_timeout_ns
        for s in self.snaps.values():
            if s.fresh:
                best = min(best, s.venue_ts + quote_max_age_ns)
        return best

    # ---------------------------------------------------------------- prefund
    def spend_left(self, asset: str) -> int:
        return self.ledger.get(asset, 0) - self.reserved.get(asset, 0)

    def exposure(self) -> dict[str, int]:
        """What the operator would lose if this partner defaulted now: its whole ledger, per asset."""
        return {a: v for a, v in self.ledger.items() if v}

    def state(self) -> dict:
        return {"announced": int(self.announced), "health": int(self.health), "routable": self.routable,
                "hb_alive": self.hb_alive, "last_hb": self.last_hb,
                "snaps": {s: snap.state() for s, snap in sorted(self.snaps.items())},
                "ledger": dict(sorted(self.ledger.items())), "reserved": dict(sorted(self.reserved.items())),
                "counters": dict(self.counters), "failed_by_reason": dict(sorted(self.failed_by_reason.items()))}


_COUNTERS: Final = ("children_sent", "children_filled", "children_partially_filled", "children_failed",
                    "lots_sent", "lots_filled", "partner_lots_sent", "partner_lots_filled", "quote_filled",
                    "fills_on_stale_quotes", "stale_fill_failures")
