"""Long seeded random flows through the mirrored hub: the state machine's rules and invariants
(test_mirrored_machine) driven for many more steps than hypothesis's short runs, with weights closer to
a run (mostly refreshes, orders and deliveries; rare outages). Deterministic by seed.
"""
from __future__ import annotations

import random

import pytest

from exchange.liquidity import Health
from exchange import Side
from test_mirrored_machine import (MAKERS, USERS, ExpireMachine, MirrorMachine, NoRuleMachine, PrincipalMachine,
                                   RerouteMachine, RestMachine)

STEPS = 4000


def drive(machine: MirrorMachine, rng: random.Random, steps: int) -> None:
    side = lambda: rng.choice([Side.BUY, Side.SELL])   # noqa: E731
    venue = lambda: rng.choice(["alpha", "beta"])       # noqa: E731
    rules = [
        (10, lambda: machine.refresh(venue(), rng.randint(0, 60))),
        (8, lambda: machine.home_taker(rng.choice(USERS), side(), rng.randint(0, 3), rng.randint(1, 12),
                                       rng.choice(["gtc", "ioc", "ioc", "fok", "market"]))),
        (8, lambda: machine.home_maker(rng.choice(USERS), side(), rng.randint(0, 4), rng.random() < 0.5,
                                       rng.randint(1, 6))),
        (3, lambda: machine.home_order(rng.choice(USERS), side(), rng.randint(990, 1010), rng.randint(1, 6),
                                       rng.choice(["gtc", "ioc", "fok", "market"]))),
        (2, lambda: machine.home_cancel(rng.choice(USERS))),
        (16, lambda: machine.partner_maker(venue(), rng.choice(MAKERS), side(), rng.randint(990, 1010),
                                          rng.randint(1, 6))),
        (4, lambda: machine.partner_cancel(venue(), rng.randint(0, 50))),
        (2, lambda: machine.partner_taker(venue(), side(), rng.randint(1, 6))),
        (8, lambda: machine.deliver(rng.choice([0, 40, 40, 100]))),
        (1, lambda: machine.quote(venue(), rng.randint(0, 300))),
        (1, lambda: machine.heartbeat(venue())),
        (1, lambda: machine.wait(rng.choice([1, 30, 200, 900, 2_500]))),
        (0.5, lambda: machine.to_the_kill_switch_deadline(venue())),
        (0.2, lambda: machine.status(venue(), rng.choice([Health.UP] * 4 + [Health.DOWN, Health.STALE,
                                                               Health.DEFAULTED]), rng.randint(0, 3))),
    ]
    weights = [w for w, _ in rules]
    machine.connect()
    for _ in range(steps):
        rng.choices(rules, weights)[0][1]()
        machine.venues_conserve_every_asset()
        machine.health_follows_the_rules()
        machine.inventory_within_cap()
        machine.trade_through_counter_agrees()
    machine.teardown()


@pytest.mark.parametrize("cls", [RerouteMachine, RestMachine, ExpireMachine, PrincipalMachine, NoRuleMachine],
                         ids=lambda c: c.__name__)
def test_long_random_flow_keeps_every_invariant(cls):
    machine = cls()
    drive(machine, random.Random(f"mirrored-{cls.__name__}"), STEPS)
    stats = machine.w.hub.stats()
    # The flow must exercise what it checks: routing, fills judged against partner quotes, failures.
    assert stats["children_sent"] >= 100 and machine.checked >= 50, (stats["children_sent"], machine.checked)
    assert stats["children_filled"] >= 50 and stats["children_partially_filled"] >= 5
    assert stats["children_failed"] >= 20
    if cls.settlement == "agency":
        assert machine.failures_handled >= 20     # route ends with failed lots, each checked against the policy
    else:
        assert stats["hedge_failures"] >= 10
    if not cls.no_trade_through:
        assert machine.throughs >= 10
