"""The display walk's shortcuts (levels that fit in full, venues and the shared room found exhausted,
a snapshot side's precomputed totals) change nothing: against a plain level-by-level walk over random
venues whose prefund, notional cap, size cap, home balance and inventory room bind at random places."""
from __future__ import annotations

import random

import pytest

from exchange.liquidity.router import Shared, VenueSide, _merged, display_walk


def plain_walk(venues: list[VenueSide], shared: Shared, taker_buys: bool, k: int,
               lot: int) -> dict[int, dict[int, int]]:
    """The definition: every level in routing order, capped by both rooms (no shortcut)."""
    by_index = {v.index: v for v in venues}
    cum = {v.index: 0 for v in venues}
    cum_n = {v.index: 0 for v in venues}
    shown: dict[int, dict[int, int]] = {v.index: {} for v in venues}
    for _, i, p, q in _merged(venues, taker_buys):
        v = by_index[i]
        x = min(q, v.room(p, cum[i], cum_n[i], taker_buys, k, lot), shared.room(p, taker_buys, k, lot))
        if x > 0:
            shown[i][p] = x
            cum[i] += x
            cum_n[i] += p * x * k
            shared.take(p, x, taker_buys, k, lot)
    return shown


def random_case(rng: random.Random, taker_buys: bool, with_totals: bool) -> tuple[list[VenueSide], int, int, int, int]:
    k, lot = rng.choice([(1, 1), (100, 10_000), (7, 3)])
    venues = []
    for index in range(rng.randint(1, 5)):
        prices = sorted(rng.sample(range(900, 1100), rng.randint(1, 20)), reverse=not taker_buys)
        levels = [(p, rng.randint(1, 30)) for p in prices]
        lots = sum(q for _, q in levels)
        budget = rng.choice([10**15, rng.randint(0, 1100 * k * lots * 12 // 10)]) if taker_buys else \
            rng.choice([10**15, rng.randint(0, lot * lots * 12 // 10)])
        cap = rng.choice([0, 0, rng.randint(1, 1100 * k * lots)])
        taker_bps = rng.choice([0, 10, 30])
        extra = {}
        if with_totals:
            extra = dict(level_map=dict(levels), lots=lots, price_lots=sum(p * q for p, q in levels))
        venues.append(VenueSide(f"v{index}", index, taker_bps, max(taker_bps, rng.choice([0, 20])), levels, budget,
                                cap, rng.choice([10**9, rng.randint(1, lots + 5)]), **extra))
    everything = sum(q for v in venues for _, q in v.levels)
    home_left = rng.choice([10**15, rng.randint(0, (lot if taker_buys else 1100 * k) * everything)])
    inventory = rng.choice([-1, -1, rng.randint(0, lot * everything)])
    return venues, home_left, inventory, k, lot


@pytest.mark.parametrize("taker_buys", [True, False], ids=["buy", "sell"])
def test_display_walk_equals_the_plain_walk(taker_buys):
    rng = random.Random(f"walk-{taker_buys}")
    binding = 0
    for case in range(3000):
        venues, home_left, inventory, k, lot = random_case(rng, taker_buys, case % 2 == 0)
        want = plain_walk(venues, Shared(home_left, inventory), taker_buys, k, lot)
        got = display_walk(venues, Shared(home_left, inventory), taker_buys, k, lot)
        assert got == want, (case, taker_buys)
        full = {v.index: dict(v.levels) for v in venues}
        binding += want != full
    assert binding >= 1000   # most cases must exercise the capped walk, not only the whole-fits shortcut


def test_fits_agrees_with_room():
    rng = random.Random("fits")
    for _ in range(20_000):
        taker_buys = rng.random() < 0.5
        k, lot = rng.choice([(1, 1), (100, 10_000), (7, 3)])
        v = VenueSide("v", 0, 10, rng.choice([0, 10, 25]), [(1000, 1)], rng.randint(-5, 10**7),
                      rng.choice([0, rng.randint(1, 10**7)]), rng.randint(1, 500))
        price, lots, cum = rng.randint(1, 2000), rng.randint(1, 50), rng.randint(0, 100)
        cum_n = rng.randint(0, 10**6)
        assert v.fits(price, lots, cum, cum_n, taker_buys, k, lot) == (
            v.room(price, cum, cum_n, taker_buys, k, lot) >= lots)
        s = Shared(rng.randint(0, 10**7), rng.choice([-1, rng.randint(0, 10**6)]))
        assert s.fits(price, lots, taker_buys, k, lot) == (s.room(price, taker_buys, k, lot) >= lots)
