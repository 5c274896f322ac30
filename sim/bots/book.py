"""A local order book kept from Binance's depth diff stream, by Binance's rules (binance-compat §7).

1. Open ``<sym>@depth@100ms`` and buffer its events; 2. GET ``/api/v3/depth`` (the snapshot,
``lastUpdateId``); 3. drop buffered events with ``u <= lastUpdateId``; 4. the first event applied must
straddle the snapshot: ``U <= lastUpdateId + 1 <= u``; 5. after that every event's ``U`` must be the
previous event's ``u + 1``. Anything else is a *gap*: counted, and the book must be resynced from a new
snapshot (the caller does it; :meth:`LocalBook.needs_snapshot` says so).

Levels are integers (price ticks -> lots) of one instrument; quantity 0 deletes a level. Each applied
change is returned as (bid changes, ask changes) with only the levels that really changed, so a mirror of
this book (the bot's shadow venue) can apply them without knowing Binance's rules.
"""
from __future__ import annotations

from typing import Any

__all__ = ["LocalBook", "Changes"]

Changes = tuple[list[tuple[int, int]], list[tuple[int, int]]]


class LocalBook:
    """One symbol's book. ``to_level(price_text, qty_text) -> (ticks, lots)`` converts wire levels."""

    def __init__(self, to_level) -> None:
        self.to_level = to_level
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last_u: int | None = None      # None: not synced (waiting for a snapshot)
        self.fresh = False                  # synced from a snapshot, no event applied since
        self.buffer: list[dict] = []
        self.gaps = 0
        self.resyncs = 0

    # ------------------------------------------------------------------ sync
    def needs_snapshot(self) -> bool:
        return self.last_u is None

    def on_diff(self, ev: dict[str, Any]) -> Changes | None:
        """A depth diff event. Returns the changes applied, or None (buffered, dropped, or a gap: then
        :meth:`needs_snapshot` is True and the caller fetches a new snapshot)."""
        if self.last_u is None:
            self.buffer.append(ev)
            return None
        U, u = ev["U"], ev["u"]
        if u <= self.last_u:
            return None          # old news (already in the snapshot)
        if self.fresh:           # the first event after a snapshot must straddle it
            if not U <= self.last_u + 1 <= u:
                self._gap(stream=False)
                self.buffer.append(ev)
                return None
            self.fresh = False
            return self._apply(ev)
        if U != self.last_u + 1:
            self._gap()
            self.buffer.append(ev)
            return None
        return self._apply(ev)

    def on_snapshot(self, snap: dict[str, Any]) -> Changes:
        """Install a REST snapshot and replay the buffered diffs after it. Returns the changes from the
        previous book to the new one. If the buffer does not connect to the snapshot (its first kept event
        does not straddle ``lastUpdateId``) that is a gap: the book stays unsynced and the caller must
        fetch a newer snapshot."""
        last = snap["lastUpdateId"]
        new_b = dict(self.to_level(p, q) for p, q in snap["bids"])
        new_a = dict(self.to_level(p, q) for p, q in snap["asks"])
        changes = (_delta(self.bids, new_b), _delta(self.asks, new_a))
        self.bids, self.asks = new_b, new_a
        self.last_u = last
        self.fresh = True
        buffered, self.buffer = self.buffer, []
        first = True
        for ev in buffered:
            if ev["u"] <= last:
                continue
            if first:
                first = False
                if not ev["U"] <= last + 1 <= ev["u"]:
                    self._gap(stream=False)
                    self.buffer = [e for e in buffered if e["u"] > last]
                    return changes
                self.last_u = ev["U"] - 1
                self.fresh = False
            if ev["U"] != self.last_u + 1:
                self._gap()
                self.buffer = [e for e in buffered if e["u"] > self.last_u]   # type: ignore[operator]
                return changes
            b, a = self._apply(ev)
            changes[0].extend(b)
            changes[1].extend(a)
        return changes

    def _gap(self, stream: bool = True) -> None:
        """Lose the sync. ``stream``: the stream itself skipped updates (U != previous u + 1), a server
        fault counted in ``gaps``; otherwise the snapshot and the stream did not meet (the snapshot was
        older than the first buffered event, a race Binance's rules resolve by fetching another one), which
        only counts as a resync."""
        if stream:
            self.gaps += 1
        self.resyncs += 1
        self.last_u = None

    def reset(self) -> None:
        """Forget the sync (a reconnect): buffer again until the next snapshot. Levels are kept so the
        next snapshot's changes are relative to them."""
        self.last_u = None
        self.buffer = []

    def _apply(self, ev: dict[str, Any]) -> Changes:
        out_b = _update(self.bids, [self.to_level(p, q) for p, q in ev["b"]])
        out_a = _update(self.asks, [self.to_level(p, q) for p, q in ev["a"]])
        self.last_u = ev["u"]
        return out_b, out_a

    # ------------------------------------------------------------------ reads
    def best(self) -> tuple[int, int]:
        """(best bid, best ask) in ticks, 0 for an empty side."""
        return (max(self.bids) if self.bids else 0, min(self.asks) if self.asks else 0)

    def depth(self, levels: int = 1000) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return (sorted(self.bids.items(), reverse=True)[:levels], sorted(self.asks.items())[:levels])


def _update(side: dict[int, int], levels: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for p, q in levels:
        if q:
            if side.get(p) != q:
                side[p] = q
                out.append((p, q))
        elif p in side:
            del side[p]
            out.append((p, 0))
    return out


def _delta(old: dict[int, int], new: dict[int, int]) -> list[tuple[int, int]]:
    out = [(p, 0) for p in old if p not in new]
    out.extend((p, q) for p, q in new.items() if old.get(p) != q)
    return out
