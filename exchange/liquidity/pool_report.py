"""Reports and invariants of a :class:`~exchange.liquidity.pooled.PooledVenue`, kept apart from its hot path.

:func:`pool_stats` is what ``PooledVenue.stats()`` returns; :func:`check_pool` is ``PooledVenue._check()``
(tests call it after every step, production never).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.enums import Side

if TYPE_CHECKING:
    from .pooled import PooledVenue

__all__ = ["pool_stats", "check_pool"]


def pool_stats(pool: "PooledVenue") -> dict:
    """JSON-able figures for reports. Keys are strings, amounts ledger units, values "in quote" are ledger
    units of a valuation group's quote asset (:mod:`.credit`); venue pairs are ``"a|b"`` in venue order for
    fills and ``"debtor>creditor"`` for obligations.

    - ``volume_lots``: lots traded by each venue's customers (a fill between two venues counts for both);
      ``taker_lots``: lots their orders took;
    - ``cross_venue``: per venue pair, fills, lots and notional per quote asset;
    - ``obligations``: ``open`` (netted) and ``in_settlement``, per pair and asset; ``fees_held``: fees
      each partner holds for the operator;
    - ``settlements``: batches started (``fee_batches`` of them remitting fees), completed, failed, and
      answers that changed nothing (``missed``: dead or unknown batches);
    - ``credit``: per partner its ``limit``, ``usage_now`` and ``max_usage`` (the highest usage seen at
      its credit checks and at settlement ticks) per group, what its open orders ``reserved``, its credit
      ``refusals`` and ``own_venue_caps``;
    - ``refusals``: per venue ("(none)" for accounts in no venue) and reason;
    - ``exposure``: per defaulted venue, the time, ``ead`` (everything written off, valued at the marks of
      the default) and ``loss`` (x loss given default) per group, and the amounts per creditor and
      ``asset:kind``;
    - ``orders_pulled``: per partner, orders cancelled because it went down, timed out or defaulted;
    - ``custody``: what each venue physically holds; ``ignored_status``: announcements after a default.
    """
    ledger, credit = pool.ledger, pool.credit
    marks = pool._marks()
    credit_stats = {}
    for p in pool.partners:
        usage = ledger.usage(p)
        credit_stats[p] = {
            "limit": credit.limits[p],
            "usage_now": {g: credit.value_of(usage, g, marks) for g in credit.groups()
                          if credit.value_of(usage, g, marks)},
            "max_usage": dict(sorted(credit.max_usage[p].items())),
            "reserved": dict(sorted(credit.reserved(p).items())),
            "refusals": pool._refusals.get(p, {}).get("CREDIT_LIMIT", 0),
            "own_venue_caps": pool._own_caps[p],
        }
    return {
        "model": "pooled",
        "home": pool.home,
        "partners": list(pool.partners),
        "health": {p: {"health": pool._shown[p][0].name, "routable": pool._shown[p][1]} for p in pool.partners},
        "volume_lots": dict(pool._volume_lots),
        "taker_lots": dict(pool._taker_lots),
        "cross_venue": {k: {"fills": v[0], "lots": v[1], "notional": dict(pool._cross_notional[k])}
                        for k, v in sorted(pool._cross.items())},
        "obligations": {
            "open": {f"{d}>{c}": dict(sorted(v.items())) for (d, c), v in sorted(ledger.open_nets().items())},
            "in_settlement": {f"{d}>{c}": dict(sorted(v.items()))
                              for (d, c), v in sorted(ledger.in_settlement().items())},
        },
        "fees_held": {p: dict(sorted(ledger.fees_held(p).items())) for p in pool.partners
                      if ledger.fees_held(p)},
        "settlements": dict(pool._settlements),
        "credit": credit_stats,
        "refusals": {v: dict(sorted(c.items())) for v, c in sorted(pool._refusals.items())},
        "exposure": {v: {"ts_ns": r["ts_ns"], "ead": dict(r["ead"]), "loss": dict(r["loss"]),
                         "by_creditor": {c: dict(sorted(x.items())) for c, x in r["by_creditor"].items()}}
                     for v, r in sorted(pool._exposure.items())},
        "orders_pulled": {p: dict(c) for p, c in pool._pulled.items()},
        "custody": {v: dict(sorted(c.items())) for v, c in ledger.custody.items()},
        "ignored_status": pool._ignored_status,
    }


def check_pool(pool: "PooledVenue") -> None:
    """Assert the engine's invariants and the hub's: reservations match the partners' open orders, the
    custody identity per venue and across venues, the credit guarantee (:mod:`.credit`), frozen venues
    without open orders, accounts in no venue without orders. O(accounts + orders + pairs)."""
    pool.engine._check()
    pool.ledger._check()
    engine, ledger, credit = pool.engine, pool.ledger, pool.credit
    balances: dict[str, dict[str, int]] = {v: {a: 0 for a in engine.assets} for v in ledger.venues}
    expected: dict[int, tuple[str, str, bool, int, int]] = {}
    for account in engine.accounts():
        venue = pool._venue(account)
        side = balances[venue or pool.home]
        for asset, b in engine.balances(account).items():
            side[asset] += b.available + b.held
        orders = engine.open_orders(account)
        assert venue or not orders, f"account {account} is in no venue but has open orders"
        if venue and venue != pool.home:
            for o in orders:
                expected[o.order_id] = (venue, o.symbol, o.side == Side.BUY, o.price_ticks, o.remaining_lots)
    credit._check(expected)
    total = {a: 0 for a in engine.assets}
    for venue in ledger.venues:
        gap = ledger.custody_gap(venue)
        for asset in engine.assets:
            held = ledger.custody[venue][asset]
            assert held == balances[venue][asset] + gap[asset], (
                f"custody of {venue} in {asset}: {held} != customers' balances {balances[venue][asset]} "
                f"+ ledger gap {gap[asset]}")
            total[asset] += held
    assert total == engine.net_deposits(), f"custodies {total} != net deposits {engine.net_deposits()}"
    for p in pool.partners:
        committed = credit.committed(p, ledger.usage(p))
        for group in credit.groups():
            marks = credit.check_marks(p, group)
            if marks is None:
                assert not any(x > 0 and group in credit.groups_of(a) for a, x in committed.items()), (
                    f"{p} owes or reserves {committed} counting in {group} without an admitted check")
                continue
            value = credit.value_of(committed, group, marks)
            assert value <= credit.limits[p], (
                f"{p}: usage + reserved {committed} = {value} {group} units at its last check's marks, "
                f"over its limit {credit.limits[p]}")
        assert (p in pool._frozen) == (not pool._shown[p][1]), p
        if p in pool._frozen:
            assert credit.open_count(p) == 0, f"frozen {p} still has open orders"
