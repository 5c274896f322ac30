"""The partner side of the mirrored hub: depth quotes, heartbeats and announced health coming in, the
kill switch and stale snapshots going off with time, exposure booked at a default, and the children's
reports handed to settlement (:mod:`.mirrored_settle`). Each ``on_*`` function is the hub's handler of one
liquidity command: it validates the command completely before changing anything, runs the hub's clock up
to it (:func:`advance`), applies it and returns the events.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .commands import ChildFilled, ChildRejected, PartnerHeartbeat, PartnerQuote, PartnerStatus, SettleDue
from .events import ExposureBooked, PartnerStateChanged
from .health import Health
from .mirrored_links import NEVER, NO_TIME, PartnerLink
from .mirrored_settle import Child, child_filled, child_rejected

if TYPE_CHECKING:
    from .mirrored import MirroredVenue

__all__ = ["begin", "end_command", "on_quote", "on_heartbeat", "on_status", "on_child_filled",
           "on_child_rejected", "on_tick", "no_settlement", "advance", "next_deadline", "restate",
           "book_exposure", "value_of", "mid_x2", "check_liquidity_types", "NEVER"]

_DEFAULTED: Final = Health.DEFAULTED


def begin(hub: "MirroredVenue", command: Any) -> tuple[int, list]:
    """Type-check a liquidity command and run the clock up to it; returns (ts, events so far)."""
    if command.__class__ is not PartnerQuote:   # on_quote has checked it, levels included
        check_liquidity_types(command)
    ts = command.ts_ns
    out: list = []
    if ts > hub._deadline:
        advance(hub, ts, out)
    return ts, out


def end_command(hub: "MirroredVenue", ts: int, out: list) -> list:
    """Close a liquidity command: the next deadline, the clock, the book updates."""
    hub._deadline = next_deadline(hub)
    hub._tick(ts)
    return hub._finish(ts, out)


def on_quote(hub: "MirroredVenue", cmd: PartnerQuote) -> list:
    """Replace the partner's snapshot of the symbol (home units, haircut); a snapshot older than the one
    kept is dropped; one already older than ``quote_max_age_ns`` is kept but not shown."""
    check_liquidity_types(cmd)   # the scalar fields; the levels are checked here in one pass
    for side in (cmd.bids, cmd.asks):
        if type(side) is not tuple:
            raise TypeError(f"PartnerQuote levels must be a tuple of (price_ticks, lots), got {side!r:.40}")
        for level in side:
            if type(level) is not tuple or len(level) != 2 or type(level[0]) is not int or type(level[1]) is not int:
                raise TypeError(f"PartnerQuote level must be a tuple of two ints, got {level!r:.40}")
            if level[0] <= 0 or level[1] <= 0:
                raise ValueError(f"PartnerQuote {cmd.venue} {cmd.symbol}: level {level!r} must be "
                                 "(price_ticks > 0, lots > 0)")
    link = hub._link(cmd.venue)
    snap = link.snaps.get(cmd.symbol)
    if snap is None:
        raise ValueError(f"partner {cmd.venue} does not share {cmd.symbol!r}; it shares {sorted(link.snaps)}")
    ts, out = begin(hub, cmd)
    if cmd.venue_ts_ns >= snap.venue_ts:   # an older snapshot arriving late is dropped
        scale, haircut = snap.scale, hub.config.haircut_bps
        # Partner levels that round to one home price are summed before flooring to home lots, so that
        # fine-grained partner depth is not lost level by level.
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for pp, pq in cmd.bids:
            p = scale.bid_to_home(pp)
            if p:
                bids[p] = bids.get(p, 0) + pq
        for pp, pq in cmd.asks:
            p = scale.ask_to_home(pp)
            if p:
                asks[p] = asks.get(p, 0) + pq
        bids = {p: q for p, q in ((p, scale.lots_to_home(q, haircut)) for p, q in bids.items()) if q}
        asks = {p: q for p, q in ((p, scale.lots_to_home(q, haircut)) for p, q in asks.items()) if q}
        fresh = hub._clock_at(ts) - cmd.venue_ts_ns <= hub.config.quote_max_age_ns
        if (fresh and snap.fresh and not snap.reserved_bids and not snap.reserved_asks and bids == snap.bids
                and asks == snap.asks):
            snap.venue_ts = cmd.venue_ts_ns   # the same depth, seen later: only its age changes
        else:
            snap.replace(cmd.venue_ts_ns, bids, asks, fresh)
            restate(hub, link, ts, "QUOTE_FRESH", out, [cmd.symbol])
    return end_command(hub, ts, out)


def on_heartbeat(hub: "MirroredVenue", cmd: PartnerHeartbeat) -> list:
    """Refresh the partner's heartbeat; one after a kill switch (or the first) makes it routable again."""
    link = hub._link(cmd.venue)
    ts, out = begin(hub, cmd)
    first = link.last_hb == NO_TIME
    if ts > link.last_hb:
        link.last_hb = ts
    alive = hub._clock_at(ts) <= link.last_hb + hub.config.heartbeat_timeout_ns
    if alive and not link.hb_alive:
        link.hb_alive = True
        restate(hub, link, ts, "CONNECTED" if first else "HEARTBEAT_RESUMED", out, [])
    return end_command(hub, ts, out)


def on_status(hub: "MirroredVenue", cmd: PartnerStatus) -> list:
    """An announced health: DOWN and DEFAULTED pull the partner at once, DEFAULTED books the exposure and
    is final; UP restores (subject to the heartbeat and a fresh feed)."""
    link = hub._link(cmd.venue)
    try:
        health = Health(cmd.health)
    except ValueError:
        raise ValueError(f"PartnerStatus {cmd.venue}: health {cmd.health!r} is not a Health") from None
    ts, out = begin(hub, cmd)
    if link.announced is not _DEFAULTED:
        if health is _DEFAULTED:
            book_exposure(hub, link, ts, out)
        link.announced = health
        restate(hub, link, ts, cmd.reason or "ANNOUNCED", out, [])
    return end_command(hub, ts, out)


def child_in_flight(hub: "MirroredVenue", venue: str, child_id: int) -> Child:
    child = hub._children.get(child_id)
    if child is None or child.venue != venue:
        raise ValueError(f"no child {child_id} in flight at {venue!r} (children in flight: "
                         f"{sorted(hub._children)[:10]})")
    return child


def on_child_filled(hub: "MirroredVenue", cmd: ChildFilled) -> list:
    check_liquidity_types(cmd)
    child = child_in_flight(hub, cmd.venue, cmd.child_id)
    if (cmd.filled_lots <= 0 or cmd.expired_lots < 0 or cmd.filled_lots + cmd.expired_lots != child.partner_lots
            or cmd.quote_amount <= 0 or cmd.fee < 0):
        raise ValueError(f"ChildFilled {cmd.child_id}: filled {cmd.filled_lots} + expired {cmd.expired_lots} "
                         f"must be the child's {child.partner_lots} partner lots with filled > 0, quote_amount "
                         f"> 0 and fee >= 0")
    ts, out = begin(hub, cmd)
    del hub._children[cmd.child_id]
    child_filled(hub, child, cmd.filled_lots, cmd.quote_amount, cmd.fee, cmd.expired_lots, ts, out)
    hub._refresh_all()
    return end_command(hub, ts, out)


def on_child_rejected(hub: "MirroredVenue", cmd: ChildRejected) -> list:
    check_liquidity_types(cmd)
    child = child_in_flight(hub, cmd.venue, cmd.child_id)
    ts, out = begin(hub, cmd)
    del hub._children[cmd.child_id]
    child_rejected(hub, child, cmd.reason or "REJECTED", ts, out)
    hub._refresh_all()
    return end_command(hub, ts, out)


def on_tick(hub: "MirroredVenue", cmd: SettleDue) -> list:
    ts, out = begin(hub, cmd)
    return end_command(hub, ts, out)


def no_settlement(hub: "MirroredVenue", cmd: Any) -> list:
    check_liquidity_types(cmd)
    raise ValueError(f"{type(cmd).__name__}: the mirrored venue starts no settlement batches "
                     "(those belong to the pooled model)")


def advance(hub: "MirroredVenue", now: int, out: list) -> None:
    """Run time-driven changes up to ``now``: heartbeat kill switches and stale snapshots."""
    timeout, max_age = hub.config.heartbeat_timeout_ns, hub.config.quote_max_age_ns
    for link in hub.links:
        reason = ""
        if link.hb_alive and now > link.last_hb + timeout:
            link.hb_alive = False
            reason = "HEARTBEAT_TIMEOUT"
        stale: list[str] = []
        for symbol, snap in link.snaps.items():
            if snap.fresh and now > snap.venue_ts + max_age:
                snap.fresh = False
                stale.append(symbol)
        if reason or stale:
            # The kill switch is reported even when it changes neither health nor routability (a partner
            # already STALE, DOWN or DEFAULTED): the health timeline must show when it tripped.
            restate(hub, link, now, reason or "QUOTE_STALE", out, stale, bool(reason))
    hub._deadline = next_deadline(hub)


def next_deadline(hub: "MirroredVenue") -> int:
    """The hub time after which the next heartbeat or snapshot expires (NEVER if none can)."""
    timeout, max_age = hub.config.heartbeat_timeout_ns, hub.config.quote_max_age_ns
    return min([link.next_deadline(timeout, max_age) for link in hub.links], default=NEVER)


def restate(hub: "MirroredVenue", link: PartnerLink, ts: int, reason: str, out: list,
            symbols: list[str], report: bool = False) -> None:
    """Re-derive a partner's health; report a change (``report``: report it even if unchanged); refresh
    the mirror of what it affects."""
    health, routable = link.derived()
    if health != link.health or routable != link.routable or report:
        if routable != link.routable:
            symbols = list(link.snaps)
        link.health, link.routable = health, routable
        out.append(PartnerStateChanged(ts, link.name, health, routable, reason))
    for symbol in symbols:
        hub._refresh(symbol)


def book_exposure(hub: "MirroredVenue", link: PartnerLink, ts: int, out: list) -> None:
    """A partner defaulted: what the operator had there is lost, valued at the consolidated mid now."""
    for asset, amount in sorted(link.ledger.items()):
        in_flight = link.reserved.get(asset, 0)
        for kind, part in (("PREFUND", amount - in_flight), ("IN_FLIGHT", in_flight)):
            if part > 0:
                value = value_of(hub, link, asset, part)
                out.append(ExposureBooked(ts, link.name, hub.config.home, asset, part, value, kind))
                hub._exposure_booked.append([link.name, asset, part, value, kind])


def value_of(hub: "MirroredVenue", link: PartnerLink, asset: str, amount: int) -> int:
    """``amount`` of ``asset`` in quote ledger units: itself for a quote asset, else at the consolidated
    mid of the first symbol (by name) the partner shares with that base (0 if no price is known)."""
    for symbol in sorted(link.snaps):
        inst = hub.engine.instruments[symbol]
        if inst.quote.name == asset:
            return amount
        if inst.base.name == asset:
            m2 = mid_x2(hub, symbol)
            return amount * m2 * inst.quote_units_per_tick_lot // (2 * inst.lot_units)
    return 0


def mid_x2(hub: "MirroredVenue", symbol: str) -> int:
    """Twice the consolidated mid in home ticks (one side doubled if the other is empty; 0 if both are)."""
    bid, ask = hub.best_bid_ask(symbol)
    if bid is not None and ask is not None:
        return bid + ask
    one = bid if bid is not None else ask
    return 2 * one if one is not None else 0


_LQ_KINDS: dict[type, tuple[tuple[int, str, str], ...]] = {}


def check_liquidity_types(command: Any) -> None:
    """TypeError for a liquidity command with a mistyped field (ints not bools, strs, level tuples)."""
    cls = command.__class__
    kinds = _LQ_KINDS.get(cls)
    if kinds is None:
        # A NamedTuple keeps postponed annotations as ForwardRef('int') on 3.11, as str later.
        kinds = tuple((i, name, getattr(ann, "__forward_arg__", ann if isinstance(ann, str) else ""))
                      for i, (name, ann) in enumerate(cls.__annotations__.items()))
        assert any(k == "int" for _, _, k in kinds), f"{cls.__name__}: annotation format changed"
        _LQ_KINDS[cls] = kinds
    for i, name, kind in kinds:
        value = command[i]
        if kind == "int":
            ok = type(value) is int
        elif kind == "str":
            ok = type(value) is str
        elif kind == "Levels":
            ok = True   # checked level by level by on_quote, with the values
        elif kind == "Health":
            ok = type(value) is int or isinstance(value, Health)
        else:
            ok = True
        if not ok:
            raise TypeError(f"{cls.__name__}.{name} must be {kind}, got {type(value).__name__} {value!r:.40}")
