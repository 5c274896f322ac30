"""PooledVenue under random flow from three venues (home + 2 partners), with the test playing the shell:
settlement clock and answers, heartbeats, time jumps, DOWN / UP / STALE / DEFAULTED announcements.

Checked after every step, against a model the test builds from the engine's trade events alone:
- the hub's own invariants (``_check``: engine, ledger, reservations, custody per venue and in total);
- obligations: what each venue owes (open netted per pair and asset + in settlement) equals the model's;
- credit: for every partner, usage + what its open orders could add (from the engine's open orders),
  valued at the marks of its last admitted check, is within its limit;
- frozen partners (DOWN, DEFAULTED, timed out) have no open order;
- a refusal by the hub changes nothing (state hash);
- a default writes off exactly what the ledger said the venue owed, books LGD x that as exposure, and
  that exposure is within the limit at the check's marks;
- after the run: every command encoded, decoded and replayed into a fresh PooledVenue gives the same
  events and the same state hash (determinism and journal round trip).
"""
from __future__ import annotations

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)
from pool_helpers import (ALT, B1, B2, BINANCE, F1, F2, FEES, FTX, H1, H2, HOME, SYMBOL, of, pool_config,
                          pool_instruments)

from exchange import (AmendOrder, CancelAll, CancelOrder, Deposit, OrderAccepted, OrderType, Side, SubmitOrder,
                      TimeInForce, TradeExecuted, Withdraw)
from exchange.journal.codec import decode, encode
from exchange.liquidity import (ExposureBooked, Health, ObligationBooked, OrderRefused, PartnerHeartbeat,
                                PartnerStateChanged, PartnerStatus, SettleDue, SettlementDone, SettlementFailed,
                                SettlementStarted)
from exchange.liquidity.credit import CreditBook
from exchange.liquidity.obligations import ObligationLedger
from exchange.liquidity.pooled import PooledVenue

ACCOUNTS = (H1, H2, B1, B2, F1, F2)
NO_VENUE_ACCOUNT = 5000
LIMITS = {BINANCE: 30_000, FTX: 15_000}
LGD_BPS = 7_500
ORDER_KINDS = ("gtc", "gtc", "gtc", "ioc", "fok", "maker", "market_qty", "market_quote")


def _venue(account: int) -> str:
    return HOME if account < 100 else BINANCE if account < 200 else FTX if account < 300 else ""


class PoolMachine(RuleBasedStateMachine):
    policy = "reject"

    @initialize()
    def setup(self):
        self.config = pool_config(self.policy, binance_limit=LIMITS[BINANCE], ftx_limit=LIMITS[FTX],
                                  settle_every_ns=200, heartbeat_timeout_ns=2_000, loss_given_default_bps=LGD_BPS)
        self.pool = PooledVenue(pool_instruments(), self.config, fee_tiers={0: FEES})
        self.ts = 0
        self.commands: list = []
        self.events: list = []
        # The model, from engine events only.
        self.signed: dict[tuple[str, str, str], int] = {}         # (lo, hi, asset) > 0: lo owes hi (open)
        self.inflight: dict[int, tuple[str, str, str, int]] = {}  # live batches: payer, payee, asset, amount
        self.last_price: dict[str, int] = {}
        self.routable = {BINANCE: True, FTX: True}
        self.defaulted: set[str] = set()
        for account in ACCOUNTS + (NO_VENUE_ACCOUNT,):
            for asset, amount in (("BASE", 200), ("QUOTE", 200_000), ("ALT", 200)):
                self.send(Deposit(0, account, asset, amount))

    # ------------------------------------------------------------------ plumbing
    def send(self, command) -> list:
        events = self.pool.handle(command)
        self.commands.append(command)
        self.events.extend(events)
        self.learn(events)
        self.pool._check()
        return events

    def tick(self, dt: int = 1) -> int:
        self.ts += dt
        return self.ts

    def learn(self, events: list) -> None:
        booked = []
        for e in events:
            cls = type(e)
            if cls is TradeExecuted:
                self.last_price[e.symbol] = e.price_ticks
                buyer, seller = ((e.taker_account, e.maker_account) if e.aggressor == Side.BUY
                                 else (e.maker_account, e.taker_account))
                vb, vs = _venue(buyer), _venue(seller)
                if vb != vs:
                    base = "BASE" if e.symbol == SYMBOL else "ALT"
                    self.owe(vb, vs, "QUOTE", e.quote_amount)
                    self.owe(vs, vb, base, e.qty_lots)
                    booked += [(vb, vs, "QUOTE", e.quote_amount, e.seq), (vs, vb, base, e.qty_lots, e.seq)]
            elif cls is SettlementStarted:
                self.started(e)
            elif cls is PartnerStateChanged:
                self.routable[e.venue] = e.routable
        assert [tuple(e)[1:] for e in events if type(e) is ObligationBooked] == booked

    def owe(self, debtor: str, creditor: str, asset: str, amount: int) -> None:
        lo, hi = sorted((debtor, creditor), key=(HOME, BINANCE, FTX).index)
        self.signed[(lo, hi, asset)] = self.signed.get((lo, hi, asset), 0) + (amount if debtor == lo else -amount)

    def started(self, e: SettlementStarted) -> None:
        # Fee batches (partner -> home) are not obligations. A settlement's NET batches come before its fee
        # batches, so a batch is NET exactly when it equals what the model has open on its pair and asset.
        lo, hi = sorted((e.payer, e.payee), key=(HOME, BINANCE, FTX).index)
        key = (lo, hi, e.asset)
        open_net = self.signed.get(key, 0)
        owes = open_net if e.payer == lo else -open_net
        if owes == e.amount:
            self.signed[key] = 0
            self.inflight[e.batch_id] = (e.payer, e.payee, e.asset, e.amount)
        else:
            self.inflight[e.batch_id] = (e.payer, e.payee, e.asset, 0)   # a fee batch

    def owed(self, venue: str) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for (lo, hi, asset), x in self.signed.items():
            if x and venue in (lo, hi):
                debtor, creditor = (lo, hi) if x > 0 else (hi, lo)
                if debtor == venue:
                    out[(creditor, asset)] = out.get((creditor, asset), 0) + abs(x)
        for payer, payee, asset, amount in self.inflight.values():
            if payer == venue and amount:
                out[(payee, asset)] = out.get((payee, asset), 0) + amount
        return out

    # ------------------------------------------------------------------ rules: orders
    @rule(account=st.sampled_from(ACCOUNTS + (NO_VENUE_ACCOUNT,)), symbol=st.sampled_from((SYMBOL, SYMBOL, ALT)),
          buy=st.booleans(), kind=st.sampled_from(ORDER_KINDS), price=st.integers(990, 1010),
          qty=st.integers(1, 12))
    def submit(self, account, symbol, buy, kind, price, qty):
        self.place(account, symbol, buy, kind, price, qty)

    @rule(account=st.sampled_from(ACCOUNTS), maker=st.sampled_from(ACCOUNTS), buy=st.booleans(),
          kind=st.sampled_from(("gtc", "ioc", "market_qty", "market_quote")), through=st.integers(0, 3),
          qty=st.integers(1, 12))
    def take(self, account, maker, buy, kind, through, qty):
        """A marketable order: priced at the opposite best (plus a few ticks), so trades happen; if that side
        is empty, ``maker`` first rests an order there."""
        bid, ask = self.pool.best_bid_ask(SYMBOL)
        best = ask if buy else bid
        if best is None:
            self.place(maker, SYMBOL, not buy, "gtc", 1000, qty)
            bid, ask = self.pool.best_bid_ask(SYMBOL)
            best = ask if buy else bid
        price = 1000 if best is None else best + (through if buy else -through)
        self.place(account, SYMBOL, buy, kind, price, qty)

    @rule(account=st.sampled_from(ACCOUNTS), buy=st.booleans(), away=st.integers(1, 4), qty=st.integers(1, 8))
    def make(self, account, buy, away, qty):
        """A resting order near the touch."""
        bid, ask = self.pool.best_bid_ask(SYMBOL)
        mid = ((bid or ask or 1000) + (ask or bid or 1000)) // 2
        self.place(account, SYMBOL, buy, "gtc", mid - away if buy else mid + away, qty)

    def place(self, account, symbol, buy, kind, price, qty):
        side = Side.BUY if buy else Side.SELL
        ts = self.tick()
        if kind.startswith("market"):
            quote = qty * price if kind == "market_quote" else 0
            cmd = SubmitOrder(ts, account, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0, 0 if quote else qty,
                              quote)
        else:
            otype = OrderType.LIMIT_MAKER if kind == "maker" else OrderType.LIMIT
            tif = {"ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}.get(kind, TimeInForce.GTC)
            cmd = SubmitOrder(ts, account, symbol, side, otype, tif, price, qty)
        before = self.pool.state_hash()
        marks_before = dict(self.last_price)
        events = self.send(cmd)
        if len(events) == 1 and type(events[0]) is OrderRefused:
            assert self.pool.state_hash() == before, events
            if events[0].reason != "CREDIT_LIMIT":
                assert events[0].reason in ("NO_VENUE", "NOT_ELIGIBLE", "VENUE_FROZEN"), events
        venue = _venue(account)
        if self.policy == "reject" and venue in LIMITS:
            if any(type(e) is OrderAccepted and e.account == account for e in events):
                # Admitted by a credit check at the marks of the moment (the last trade prices).
                marks = self.pool.credit.check_marks(venue, "QUOTE")
                assert marks is not None
                for sym, price_now in marks_before.items():
                    assert marks[sym] == price_now, (marks, marks_before)

    def open_views(self):
        return [o for sym in (SYMBOL, ALT) for side in self.pool.l3(sym) for o in side]

    @precondition(lambda self: bool(self.open_views()))
    @rule(data=st.data())
    def cancel(self, data):
        o = data.draw(st.sampled_from(self.open_views()))
        self.send(CancelOrder(self.tick(), o.account, o.symbol, o.order_id))

    @rule(account=st.sampled_from(ACCOUNTS))
    def cancel_all(self, account):
        self.send(CancelAll(self.tick(), account))

    @precondition(lambda self: bool(self.open_views()))
    @rule(data=st.data(), dq=st.integers(-3, 6), dp=st.integers(-20, 20))
    def amend(self, data, dq, dp):
        o = data.draw(st.sampled_from(self.open_views()))
        new_qty = max(0, o.qty_lots + dq) if dq else 0
        new_price = o.price_ticks + dp if dp else 0
        events = self.send(AmendOrder(self.tick(), o.account, o.symbol, o.order_id, new_qty, new_price))
        if len(events) == 1 and type(events[0]) is OrderRefused:
            assert events[0].reason == "CREDIT_LIMIT" or events[0].reason == "VENUE_FROZEN"

    @rule(account=st.sampled_from(ACCOUNTS), asset=st.sampled_from(("BASE", "QUOTE")), amount=st.integers(1, 5_000),
          withdraw=st.booleans())
    def move_funds(self, account, asset, amount, withdraw):
        cls = Withdraw if withdraw else Deposit
        self.send(cls(self.tick(), account, asset, amount))

    # ------------------------------------------------------------------ rules: the shell
    @rule(dt=st.integers(0, 250), data=st.data())
    def settle_due(self, dt, data):
        """The settlement clock; then the shell answers some of the batches in flight (in any order)."""
        self.send(SettleDue(self.tick(dt)))
        for batch_id in data.draw(st.permutations(sorted(self.inflight))):
            answer = data.draw(st.sampled_from(("later", "done", "done", "failed")))
            if answer != "later":
                self.answer(batch_id, answer == "done")

    @precondition(lambda self: bool(self.inflight))
    @rule(data=st.data(), done=st.booleans())
    def answer_settlement(self, data, done):
        self.answer(data.draw(st.sampled_from(sorted(self.inflight))), done)

    @rule(batch_id=st.integers(1, 400), done=st.booleans())
    def answer_unknown(self, batch_id, done):
        if batch_id not in self.inflight and self.pool.ledger.batch(batch_id) is None:
            cmd = SettlementDone(self.tick(), batch_id) if done else SettlementFailed(self.tick(), batch_id, "x")
            before = self.pool.state_hash()
            events = self.send(cmd)
            assert events[-1].reason in ("UNKNOWN_BATCH", "PAYER_DEFAULTED")
            if len(events) == 1:   # else a heartbeat timeout was noticed first, which changes state
                assert self.pool.state_hash() == before

    def answer(self, batch_id: int, done: bool) -> None:
        payer, payee, asset, amount = self.inflight.pop(batch_id)
        ts = self.tick()
        live = self.pool.ledger.batch(batch_id) is not None
        if done:
            self.send(SettlementDone(ts, batch_id))
            if live and amount:
                lo, hi = sorted((payer, payee), key=(HOME, BINANCE, FTX).index)
                key = (lo, hi, asset)
                if self.signed.get(key, 0) == 0 and not any(
                        sorted(b[:2], key=(HOME, BINANCE, FTX).index) == [lo, hi] and b[2] == asset and b[3]
                        for b in self.inflight.values()):
                    # Settled with nothing booked on the pair and asset since: flat.
                    assert self.pool.ledger.owed_by(payer).get((payee, asset), 0) == 0
                    assert self.pool.ledger.owed_by(payee).get((payer, asset), 0) == 0
        else:
            self.send(SettlementFailed(ts, batch_id, "TRANSFER_FAILED"))
            if live and amount:
                self.owe(payer, payee, asset, amount)

    @rule(venues=st.sampled_from(((BINANCE,), (FTX,), (BINANCE, FTX), (BINANCE, FTX))))
    def heartbeat(self, venues):
        for venue in venues:
            ts = self.tick()
            self.send(PartnerHeartbeat(ts, venue, ts))

    @rule(dt=st.integers(500, 3_000))
    def time_passes(self, dt):
        self.send(SettleDue(self.tick(dt)))

    @rule(venue=st.sampled_from((BINANCE, FTX)),
          health=st.sampled_from((Health.UP,) * 5 + (Health.DOWN, Health.STALE, Health.DEFAULTED)))
    def status(self, venue, health):
        owed_before = self.pool.ledger.owed_by(venue)
        assert owed_before == self.owed(venue)
        events = self.send(PartnerStatus(self.tick(), venue, health, "test"))
        if health != Health.DEFAULTED or venue in self.defaulted:
            assert not of(events, ExposureBooked)
            return
        self.defaulted.add(venue)
        lost = {(e.creditor, e.asset): e.amount for e in of(events, ExposureBooked) if e.kind == "OBLIGATION"}
        assert lost == {k: -(-x * LGD_BPS // 10_000) for k, x in owed_before.items()}
        assert all(lost[k] <= owed_before[k] for k in lost)
        marks = self.pool.credit.check_marks(venue, "QUOTE")
        if owed_before:
            ead = {}
            for (_, asset), x in owed_before.items():
                ead[asset] = ead.get(asset, 0) + x
            assert self.pool.credit.value_of(ead, "QUOTE", marks) <= LIMITS[venue]
        for key in list(self.signed):
            lo, hi, _ = key
            x = self.signed[key]
            if (x > 0 and lo == venue) or (x < 0 and hi == venue):
                del self.signed[key]
        for batch_id, (payer, payee, asset, amount) in list(self.inflight.items()):
            if payer == venue:
                self.inflight[batch_id] = (payer, payee, asset, 0)   # dead: answered but changes nothing

    # ------------------------------------------------------------------ invariants
    @invariant()
    def obligations_match_the_model(self):
        if not hasattr(self, "pool"):
            return
        for venue in (HOME, BINANCE, FTX):
            assert self.pool.ledger.owed_by(venue) == self.owed(venue), venue

    @invariant()
    def credit_is_never_exceeded(self):
        if not hasattr(self, "pool"):
            return
        for venue, limit in LIMITS.items():
            committed: dict[str, int] = {}
            for (_, asset), x in self.owed(venue).items():
                committed[asset] = committed.get(asset, 0) + x
            for account in ACCOUNTS:
                if _venue(account) != venue:
                    continue
                for o in self.pool.open_orders(account):
                    asset = "QUOTE" if o.side == Side.BUY else ("BASE" if o.symbol == SYMBOL else "ALT")
                    amount = o.price_ticks * o.remaining_lots if o.side == Side.BUY else o.remaining_lots
                    committed[asset] = committed.get(asset, 0) + amount
            marks = self.pool.credit.check_marks(venue, "QUOTE")
            if marks is None:
                assert not any(committed.values()), (venue, committed)
                continue
            assert self.pool.credit.value_of(committed, "QUOTE", marks) <= limit, (venue, committed, marks)

    @invariant()
    def frozen_partners_have_no_orders(self):
        if not hasattr(self, "pool"):
            return
        for venue, routable in self.routable.items():
            assert routable == (not self.pool.is_frozen(venue))
            if not routable:
                assert not any(self.pool.open_orders(a) for a in ACCOUNTS if _venue(a) == venue), venue

    def teardown(self):
        if not hasattr(self, "pool"):
            return
        replay = PooledVenue(pool_instruments(), self.config, fee_tiers={0: FEES})
        events = []
        for command in self.commands:
            events.extend(replay.handle(decode(encode(command))))
        assert events == self.events
        assert replay.state_hash() == self.pool.state_hash()


class OwnVenueMachine(PoolMachine):
    policy = "own_venue"


_SETTINGS = settings(max_examples=100, stateful_step_count=80, deadline=None)
TestPoolRejectMachine = PoolMachine.TestCase
TestPoolRejectMachine.settings = _SETTINGS
TestPoolOwnVenueMachine = OwnVenueMachine.TestCase
TestPoolOwnVenueMachine.settings = _SETTINGS


# ---------------------------------------------------------------------------- the machine bites
def _no_reservations(monkeypatch):
    monkeypatch.setattr(CreditBook, "committed", lambda self, venue, usage: dict(usage))


def _failed_batch_forgotten(monkeypatch):
    real = ObligationLedger.fail

    def fail(self, batch_id):
        batch = self.batch(batch_id)
        outcome = real(self, batch_id)
        if batch is not None and batch.kind == "net":
            self._open.clear()   # planted: a failed batch and everything open vanish
            self._usage.clear()
        return outcome
    monkeypatch.setattr(ObligationLedger, "fail", fail)


def _orders_not_pulled(monkeypatch):
    monkeypatch.setattr(PooledVenue, "_pull", lambda self, ts, venue, cause, out: None)


def _exposure_unbounded(monkeypatch):
    real = CreditBook.check
    monkeypatch.setattr(CreditBook, "check", lambda self, venue, usage, asset, amount, symbol, sell, seed:
                        real(self, venue, usage, asset, amount // 3, symbol, sell, seed))


@pytest.mark.parametrize("plant", [_no_reservations, _failed_batch_forgotten, _orders_not_pulled,
                                   _exposure_unbounded])
def test_the_machine_catches_planted_bugs(monkeypatch, plant):
    import exchange.liquidity.pooled as pooled
    if not pooled.__file__.endswith(".py"):
        pytest.skip("planting a bug needs the interpreted hub (compiled classes cannot be patched)")
    plant(monkeypatch)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(PoolMachine, settings=settings(
            max_examples=200, stateful_step_count=80, deadline=None, phases=[Phase.generate],
            report_multiple_bugs=False))
