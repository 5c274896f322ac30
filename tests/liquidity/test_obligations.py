"""The obligation ledger of the pooled book: netting, settlement, fees, default, custody.

Unit tests on hand-made sequences, then a hypothesis state machine that diffs the ledger's incremental
netting and usage with a naive twin recomputing everything from signed per-pair sums.
"""
from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange.liquidity.obligations import FEES, NET, Batch, ObligationLedger, WriteOff

VENUES = ("home", "p1", "p2")
ASSETS = ("BASE", "QUOTE")


def ledger() -> ObligationLedger:
    return ObligationLedger(VENUES, "home", ASSETS)


def test_booking_nets_per_pair_and_asset():
    led = ledger()
    led.book("p1", "home", "QUOTE", 100)
    led.book("home", "p1", "QUOTE", 30)
    led.book("home", "p1", "BASE", 5)     # another asset: not netted against quote
    assert led.open_nets() == {("p1", "home"): {"QUOTE": 70}, ("home", "p1"): {"BASE": 5}}
    assert led.usage("p1") == {"QUOTE": 70} and led.usage("home") == {"BASE": 5}
    led.book("home", "p1", "QUOTE", 100)  # flips direction
    assert led.open_nets() == {("home", "p1"): {"BASE": 5, "QUOTE": 30}}
    assert led.usage("p1") == {} and led.usage("home") == {"BASE": 5, "QUOTE": 30}
    led._check()


def test_settlement_discharges_and_moves_custody():
    led = ledger()
    led.deposit("p1", "QUOTE", 1_000)
    led.deposit("home", "BASE", 50)
    led.book("p1", "home", "QUOTE", 400)
    led.book("home", "p1", "BASE", 4)
    led.book_fee("p1", "QUOTE", 3)
    led.book_fee("home", "QUOTE", 99)   # the home venue's customers' fees are already on its side
    batches = led.start_settlement()
    assert batches == [Batch(1, "home", "p1", "BASE", 4, NET), Batch(2, "p1", "home", "QUOTE", 400, NET),
                       Batch(3, "p1", "home", "QUOTE", 3, FEES)]
    assert led.open_nets() == {} and led.usage("p1") == {"QUOTE": 400}   # in settlement still counts
    assert led.start_settlement() == []
    for b in batches:
        assert led.complete(b.batch_id) == "done"
    assert led.usage("p1") == {} and led.usage("home") == {}
    assert led.custody["p1"] == {"BASE": 4, "QUOTE": 1_000 - 403}
    assert led.custody["home"] == {"BASE": 46, "QUOTE": 403}
    assert led.complete(1) == "unknown" and led.fail(2) == "unknown"
    led._check()


def test_obligations_booked_during_settlement_are_not_netted_with_it():
    led = ledger()
    led.book("p1", "p2", "QUOTE", 100)
    [batch] = led.start_settlement()
    led.book("p2", "p1", "QUOTE", 30)    # the reverse, while the transfer is on its way
    assert led.usage("p1") == {"QUOTE": 100} and led.usage("p2") == {"QUOTE": 30}
    assert led.complete(batch.batch_id) == "done"
    assert led.usage("p1") == {} and led.usage("p2") == {"QUOTE": 30}   # never grew for p2
    led._check()


def test_failed_batch_is_open_again_and_netted_next_time():
    led = ledger()
    led.book("p1", "home", "QUOTE", 100)
    [batch] = led.start_settlement()
    led.book("home", "p1", "QUOTE", 40)
    assert led.fail(batch.batch_id) == "failed"
    assert led.open_nets() == {("p1", "home"): {"QUOTE": 60}} and led.usage("p1") == {"QUOTE": 60}
    assert led.start_settlement() == [Batch(2, "p1", "home", "QUOTE", 60, NET)]
    led._check()


def test_default_writes_off_what_the_defaulter_owes():
    led = ledger()
    led.book("p1", "home", "QUOTE", 100)
    led.book("p1", "p2", "BASE", 7)
    led.book("p2", "p1", "QUOTE", 50)   # p2 owes p1: stays (the estate is still owed)
    led.book_fee("p1", "QUOTE", 5)
    started = led.start_settlement()
    led.book("p1", "home", "QUOTE", 20)
    offs = led.default("p1")
    assert offs == [WriteOff("home", "QUOTE", 120, NET), WriteOff("p2", "BASE", 7, NET),
                    WriteOff("home", "QUOTE", 5, FEES)]
    assert led.default("p1") == []
    assert led.usage("p1") == {} and led.owed_by("p1") == {}
    assert led.in_settlement() == {("p2", "p1"): {"QUOTE": 50}}
    dead = [b for b in started if b.payer == "p1"]
    assert {led.complete(b.batch_id) for b in dead} == {"dead"}
    live = [b for b in started if b.payer != "p1"]
    assert [led.complete(b.batch_id) for b in live] == ["done"]
    assert led.claims("home") == {"QUOTE": 125} and led.claims("p2") == {"BASE": 7}
    with pytest.raises(ValueError):
        led.book("p1", "home", "QUOTE", 1)
    with pytest.raises(ValueError):
        led.default("home")
    led._check()


@pytest.mark.parametrize("args", [("p1", "p1", "QUOTE", 5), ("p1", "home", "QUOTE", 0),
                                  ("p1", "home", "QUOTE", -3)])
def test_bad_bookings_raise_and_change_nothing(args):
    led = ledger()
    before = led.state()
    with pytest.raises(ValueError):
        led.book(*args)
    assert led.state() == before


# ---------------------------------------------------------------------------- the state machine
class NaiveLedger:
    """The ledger recomputed from scratch: a signed open sum per unordered pair and asset, a list of batches."""

    def __init__(self) -> None:
        self.signed: dict[tuple[str, str, str], int] = {}   # (lo, hi, asset): > 0 means lo owes hi
        self.batches: dict[int, tuple[str, str, str, int, str]] = {}
        self.dead: set[int] = set()
        self.fees: dict[tuple[str, str], int] = {}
        self.custody: dict[tuple[str, str], int] = {}
        self.defaulted: set[str] = set()
        self.next_id = 1

    def book(self, debtor: str, creditor: str, asset: str, amount: int) -> None:
        lo, hi = sorted((debtor, creditor), key=VENUES.index)
        sign = 1 if debtor == lo else -1
        self.signed[(lo, hi, asset)] = self.signed.get((lo, hi, asset), 0) + sign * amount

    def open_nets(self) -> dict:
        out: dict = {}
        for (lo, hi, asset), x in self.signed.items():
            if x:
                d, c = (lo, hi) if x > 0 else (hi, lo)
                out.setdefault((d, c), {})[asset] = abs(x)
        return out

    def in_settlement(self) -> dict:
        out: dict = {}
        for payer, payee, asset, amount, kind in self.batches.values():
            if kind == NET:
                pair = out.setdefault((payer, payee), {})
                pair[asset] = pair.get(asset, 0) + amount
        return out

    def usage(self, venue: str) -> dict:
        out: dict = {}
        for table in (self.open_nets(), self.in_settlement()):
            for (d, _), amounts in table.items():
                if d == venue:
                    for asset, x in amounts.items():
                        out[asset] = out.get(asset, 0) + x
        return out


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.led = ledger()
        self.twin = NaiveLedger()
        self.dirty: set[tuple[str, str, str]] = set()   # (lo, hi, asset) touched since their batches started

    def _key(self, a: str, b: str, asset: str) -> tuple[str, str, str]:
        lo, hi = sorted((a, b), key=VENUES.index)
        return (lo, hi, asset)

    @rule(debtor=st.sampled_from(VENUES), creditor=st.sampled_from(VENUES), asset=st.sampled_from(ASSETS),
          amount=st.integers(1, 500))
    def book(self, debtor, creditor, asset, amount):
        if debtor == creditor or debtor in self.twin.defaulted:
            with pytest.raises(ValueError):
                self.led.book(debtor, creditor, asset, amount)
            return
        self.led.book(debtor, creditor, asset, amount)
        self.twin.book(debtor, creditor, asset, amount)
        self.dirty.add(self._key(debtor, creditor, asset))

    @rule(venue=st.sampled_from(VENUES), asset=st.sampled_from(ASSETS), amount=st.integers(0, 50))
    def fee(self, venue, asset, amount):
        if venue in self.twin.defaulted:
            return   # the hub never books fees for a frozen venue (it has no orders)
        self.led.book_fee(venue, asset, amount)
        if venue != "home" and amount:
            self.twin.fees[(venue, asset)] = self.twin.fees.get((venue, asset), 0) + amount

    @rule(venue=st.sampled_from(VENUES), asset=st.sampled_from(ASSETS), amount=st.integers(-100, 1_000))
    def deposit(self, venue, asset, amount):
        self.led.deposit(venue, asset, amount)
        self.twin.custody[(venue, asset)] = self.twin.custody.get((venue, asset), 0) + amount

    @rule()
    def settle(self):
        got = self.led.start_settlement()
        expect = []
        nets = self.twin.open_nets()
        for (d, c) in sorted(nets, key=lambda p: (VENUES.index(p[0]), VENUES.index(p[1]))):
            for asset in sorted(nets[(d, c)]):
                expect.append((d, c, asset, nets[(d, c)][asset], NET))
        for venue in VENUES:
            for asset in ASSETS:
                x = self.twin.fees.pop((venue, asset), 0)
                if x:
                    expect.append((venue, "home", asset, x, FEES))
        assert [tuple(b)[1:] for b in got] == expect
        assert [b.batch_id for b in got] == list(range(self.twin.next_id, self.twin.next_id + len(got)))
        self.twin.next_id += len(got)
        for b in got:
            self.twin.batches[b.batch_id] = tuple(b)[1:]
            if b.kind == NET:
                self.dirty.discard(self._key(b.payer, b.payee, b.asset))
        self.twin.signed = {}

    @rule(data=st.data(), done=st.booleans())
    def answer(self, data, done):
        choices = sorted(self.twin.batches) + sorted(self.twin.dead) + [self.twin.next_id + 5]
        batch_id = data.draw(st.sampled_from(choices))
        outcome = (self.led.complete if done else self.led.fail)(batch_id)
        if batch_id in self.twin.dead:
            assert outcome == "dead"
            self.twin.dead.discard(batch_id)
            return
        if batch_id not in self.twin.batches:
            assert outcome == "unknown"
            return
        assert outcome == ("done" if done else "failed")
        payer, payee, asset, amount, kind = self.twin.batches.pop(batch_id)
        if done:
            for venue, x in ((payer, -amount), (payee, amount)):
                self.twin.custody[(venue, asset)] = self.twin.custody.get((venue, asset), 0) + x
            key = self._key(payer, payee, asset)
            others = [b for b in self.twin.batches.values() if b[4] == NET and self._key(b[0], b[1], b[2]) == key]
            if kind == NET and key not in self.dirty and not others:
                # Nothing was booked on this pair and asset since its batch started: settled flat.
                assert self.twin.signed.get(key, 0) == 0
                assert self.led.owed_by(payer).get((payee, asset), 0) == 0
                assert self.led.owed_by(payee).get((payer, asset), 0) == 0
        elif kind == NET:
            self.twin.book(payer, payee, asset, amount)
            self.dirty.add(self._key(payer, payee, asset))
        else:
            self.twin.fees[(payer, asset)] = self.twin.fees.get((payer, asset), 0) + amount

    @precondition(lambda self: len(self.twin.defaulted) < 2)
    @rule(venue=st.sampled_from(("p1", "p2")))
    def default(self, venue):
        owed_before = self.led.owed_by(venue)
        fees_before = self.led.fees_held(venue)
        offs = self.led.default(venue)
        if venue in self.twin.defaulted:
            assert offs == []
            return
        self.twin.defaulted.add(venue)
        assert {(w.creditor, w.asset): w.amount for w in offs if w.kind == NET} == owed_before
        assert {w.asset: w.amount for w in offs if w.kind == FEES} == {a: x for a, x in fees_before.items() if x}
        for key in [k for k in self.twin.signed if venue in k[:2]]:
            lo, hi, asset = key
            if (self.twin.signed[key] > 0) == (lo == venue):
                del self.twin.signed[key]
        for batch_id in [i for i, b in self.twin.batches.items() if b[0] == venue]:
            del self.twin.batches[batch_id]
            self.twin.dead.add(batch_id)
        for asset in ASSETS:
            self.twin.fees.pop((venue, asset), None)

    @invariant()
    def agrees_with_the_twin(self):
        self.led._check()
        assert self.led.open_nets() == self.twin.open_nets()
        assert self.led.in_settlement() == self.twin.in_settlement()
        for venue in VENUES:
            assert self.led.usage(venue) == self.twin.usage(venue)
            for asset in ASSETS:
                assert self.led.custody[venue][asset] == self.twin.custody.get((venue, asset), 0)


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
