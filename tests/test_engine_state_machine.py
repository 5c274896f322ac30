"""The engine against the naive reference model, on random multi-account, multi-symbol command streams.

A Hypothesis ``RuleBasedStateMachine`` (STYLE.md habits 2-4) sends every command to both
``exchange.Engine`` and ``tests/reference_model.ReferenceModel`` and demands, after every step:

- identical event lists (type and every field, seq numbering included);
- identical depth, L3 (order ids, remaining, priority order = FIFO), open orders, balances, totals;
- ``engine._check()`` passes;
- from the outside: no crossed book at rest, each account's ``held`` equals what its open orders can still
  spend (recomputed from CONTRACT.md "Holds"), every asset conserved (totals == net deposits), no negative
  balance, and a rejected command changed nothing.

Commands: deposits and (over-)withdrawals, fee tier changes (a 0 bps tier, a high one, one with maker >
taker), LIMIT GTC/IOC/FOK, LIMIT_MAKER, MARKET by quantity and by quote, every STP mode (and a drawn engine
default), amends (price, quantity up/down, both, by id or client id), cancels by id and client id,
cancel-all, halts with and without expiry, resumes, malformed orders and mistyped commands, on three
markets in narrow price bands (one with a tick table) so that orders cross often.

Scale it with ``BDAX_HYPOTHESIS_PROFILE=ci-heavy`` or ``soak`` (tests/conftest.py). The machine is also
run by ``test_state_machine_catches_bugs.py`` against engines with a planted bug, which it must catch.
"""
from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine_helpers import balances_dict, depth_tuple, event_key, machine_instruments, view_tuple
from exchange import (MAX_AMOUNT, STP, AmendOrder, CancelAll, CancelOrder, CommandRejected, Deposit, Engine,
                      FeeTier, FeeTierChanged, HaltInstrument, OrderAccepted, OrderRejected, OrderType,
                      ResumeInstrument, SetFeeTier, Side, SubmitOrder, TimeInForce, Withdraw)
from reference_model import ReferenceModel, fee

INSTRUMENTS = {inst.symbol: inst for inst in machine_instruments()}
SYMBOLS = sorted(INSTRUMENTS)
ASSETS = sorted({a.name for inst in INSTRUMENTS.values() for a in (inst.base, inst.quote)})
FEE_ACCOUNT = 0
TRADERS = [1, 2, 3, 4]
UNKNOWN_ACCOUNT = 7
ALL_ACCOUNTS = [FEE_ACCOUNT, *TRADERS, UNKNOWN_ACCOUNT]
# A 0 bps tier, a high one, and one whose maker rate exceeds its taker rate (holds use the max of both).
FEE_TIERS = {0: FeeTier(maker_bps=10, taker_bps=20), 1: FeeTier(maker_bps=0, taker_bps=0),
             2: FeeTier(maker_bps=300, taker_bps=700), 3: FeeTier(maker_bps=40, taker_bps=5)}

# Narrow price bands so that orders cross often. XYZ-KRW straddles its tick-table edge at 100.
VALID_PRICES = {
    "BTC-USDT": [5_000_000 + d for d in range(-3, 4)],
    "ETH-BTC": [5_000 + d for d in range(-3, 4)],
    "XYZ-KRW": [96, 97, 98, 99, 100, 105, 110],
}
OFF_TICK = {"BTC-USDT": 0, "ETH-BTC": -7, "XYZ-KRW": 101}   # 0 and negatives are invalid everywhere
# One asset "lot" of deposits: enough for a handful of typical orders.
DEPOSIT_UNIT = {"USDT": 100_000_000, "BTC": 200_000, "ETH": 1_500_000, "KRW": 7_000, "XYZ": 4_000}

accounts = st.sampled_from([1, 1, 2, 2, 3, 3, 4, 4, FEE_ACCOUNT])
any_account = st.sampled_from([1, 2, 3, 4, FEE_ACCOUNT, UNKNOWN_ACCOUNT])
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from([Side.BUY, Side.SELL])
stps = st.sampled_from([None, None, STP.NONE, STP.EXPIRE_TAKER, STP.EXPIRE_MAKER, STP.EXPIRE_BOTH])
client_ids = st.sampled_from(["", "", "", "a", "b", "c"])
price_index = st.integers(0, 6)
lots = st.integers(1, 12)
picks = st.integers(0, 10**6)


def is_reject(events) -> bool:
    return len(events) == 1 and isinstance(events[0], (OrderRejected, CommandRejected))


def describe_mismatch(cmd, got, want) -> str:
    lines = [f"command: {cmd!r}", "engine events:"]
    lines += [f"  {e!r}" for e in got]
    lines += ["model events:"]
    lines += [f"  {e!r}" for e in want]
    return "\n".join(lines)


class EngineVsModel(RuleBasedStateMachine):
    """Drives ``engine_factory()`` and the reference model in lock step."""

    # The seam for test_state_machine_catches_bugs.py: a subclass may build a deliberately broken engine.
    @staticmethod
    def engine_factory(default_stp: STP = STP.EXPIRE_MAKER):
        return Engine(list(INSTRUMENTS.values()), fee_tiers=FEE_TIERS, default_stp=default_stp,
                      fee_account=FEE_ACCOUNT)

    def __init__(self) -> None:
        super().__init__()
        self.start(STP.EXPIRE_MAKER)

    def start(self, default_stp: STP) -> None:
        self.engine = self.engine_factory(default_stp)
        self.model = ReferenceModel(list(INSTRUMENTS.values()), fee_tiers=FEE_TIERS, default_stp=default_stp,
                                    fee_account=FEE_ACCOUNT)
        self.ts_ns = 0
        self.tier = {FEE_ACCOUNT: 0}         # tracked from events, for the outside hold check
        self.order_bps: dict[int, int] = {}  # order id -> max(maker, taker) bps fixed at acceptance

    # ------------------------------------------------------------------ plumbing

    def observe(self, impl) -> dict:
        """Everything a command may change, except the event sequence number."""
        return {
            "depth": {s: depth_tuple(impl.depth(s)) for s in SYMBOLS},
            "depth2": {s: depth_tuple(impl.depth(s, 2)) for s in SYMBOLS},
            "l3": {s: tuple([view_tuple(v) for v in side] for side in impl.l3(s)) for s in SYMBOLS},
            "balances": {a: balances_dict(impl.balances(a)) for a in ALL_ACCOUNTS},
            "open": {a: [view_tuple(v) for v in impl.open_orders(a)] for a in ALL_ACCOUNTS},
            "open_by_symbol": {(a, s): [v.order_id for v in impl.open_orders(a, s)]
                               for a in TRADERS for s in SYMBOLS},
            "best": {s: tuple(impl.best_bid_ask(s)) for s in SYMBOLS},
            "order": {oid: (None if v is None else view_tuple(v))
                      for oid in [1, 2, 30, 31, 10**9, *self.model_order_ids()] for v in [impl.order(oid)]},
            "accounts": list(impl.accounts()),
            "totals": dict(impl.totals()),
            "net_deposits": dict(impl.net_deposits()),
        }

    def run(self, cmd):
        self.ts_ns += 1
        cmd = cmd._replace(ts_ns=self.ts_ns)
        before = self.observe(self.engine)
        got = self.engine.handle(cmd)
        want = self.model.handle(cmd)
        assert isinstance(got, list), f"handle() returned {type(got).__name__}, not a list"
        assert [event_key(e) for e in got] == [event_key(e) for e in want], describe_mismatch(cmd, got, want)
        assert self.engine.last_seq == self.model.last_seq
        if is_reject(want):
            after = self.observe(self.engine)
            changed = [k for k in before if before[k] != after[k]]
            assert not changed, f"rejected {cmd!r} changed {changed}"
        for e in want:
            if isinstance(e, FeeTierChanged):
                self.tier[e.account] = e.tier
            elif isinstance(e, OrderAccepted):
                t = FEE_TIERS[self.tier.get(e.account, 0)]
                self.order_bps[e.order_id] = max(t.maker_bps, t.taker_bps)
        return want

    def model_order_ids(self) -> list[int]:
        return [o.order_id for o in self.open_orders()]

    def open_orders(self) -> list:
        return [o for a in ALL_ACCOUNTS for o in self.model.open_orders(a)]

    # ------------------------------------------------------------------ rules: money

    @initialize(default_stp=st.sampled_from([STP.EXPIRE_MAKER, STP.EXPIRE_MAKER, STP.NONE, STP.EXPIRE_TAKER,
                                             STP.EXPIRE_BOTH]),
                mults=st.lists(st.integers(1, 4), min_size=len(TRADERS) * len(ASSETS),
                               max_size=len(TRADERS) * len(ASSETS)),
                qtys=st.lists(lots, min_size=4 * len(SYMBOLS), max_size=4 * len(SYMBOLS)))
    def fund_and_seed_books(self, default_stp, mults, qtys):
        """A fresh engine with the drawn default STP mode; every trader gets some of every asset; each
        book gets two bids below and two asks above the middle of its band, from different accounts."""
        self.start(default_stp)
        i = 0
        for account in TRADERS:
            for asset in ASSETS:
                self.run(Deposit(0, account, asset, mults[i] * DEPOSIT_UNIT[asset]))
                i += 1
        i = 0
        for symbol in SYMBOLS:
            prices = VALID_PRICES[symbol]
            for side, price_i in ((Side.BUY, 1), (Side.BUY, 2), (Side.SELL, 4), (Side.SELL, 5)):
                self.run(SubmitOrder(0, TRADERS[i % 4], symbol, side, OrderType.LIMIT, TimeInForce.GTC,
                                     prices[price_i], qtys[i]))
                i += 1

    @rule(account=st.sampled_from([1, 2, 3, 4, FEE_ACCOUNT, UNKNOWN_ACCOUNT, -1]),
          asset=st.sampled_from(ASSETS + ["DOGE"]),
          amount=st.one_of(st.integers(-1, 6), st.sampled_from([MAX_AMOUNT, MAX_AMOUNT + 1])))
    def deposit(self, account, asset, amount):
        if amount < 10:
            amount = amount * DEPOSIT_UNIT.get(asset, 1) + amount  # an odd number of units
        self.run(Deposit(0, account, asset, amount))

    @rule(account=st.sampled_from([1, 2, 3, 4, FEE_ACCOUNT, UNKNOWN_ACCOUNT, -1]),
          asset=st.sampled_from(ASSETS + ["DOGE"]),
          how=st.sampled_from(["half", "all", "all+1", "zero", "negative", "huge"]))
    def withdraw(self, account, asset, how):
        available = self.model.balances(account).get(asset, (0, 0))[0]
        amount = {"half": available // 2 + 1, "all": available, "all+1": available + 1, "zero": 0,
                  "negative": -5, "huge": MAX_AMOUNT + 1}[how]
        self.run(Withdraw(0, account, asset, amount))

    @rule(account=any_account, tier=st.sampled_from([0, 0, 1, 2, 3, 9]))
    def set_fee_tier(self, account, tier):
        self.run(SetFeeTier(0, account, tier))

    # ------------------------------------------------------------------ rules: orders

    # One tuple argument: Hypothesis orders rules by argument count and favours the first, so this
    # rule, which keeps the books full, comes first.
    @rule(order=st.tuples(accounts, symbols, sides, price_index, lots))
    def place_gtc(self, order):
        account, symbol, side, price, qty = order
        self.run(SubmitOrder(0, account, symbol, side, OrderType.LIMIT, TimeInForce.GTC,
                             VALID_PRICES[symbol][price], qty))

    @rule(account=accounts, symbol=symbols, side=sides,
          tif=st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
          price=price_index, qty=lots, cid=client_ids, stp=stps)
    def submit_limit(self, account, symbol, side, tif, price, qty, cid, stp):
        self.run(SubmitOrder(0, account, symbol, side, OrderType.LIMIT, tif, VALID_PRICES[symbol][price], qty,
                             client_order_id=cid, stp=stp))

    @rule(account=accounts, symbol=symbols, side=sides, price=price_index, qty=lots, cid=client_ids, stp=stps)
    def submit_limit_maker(self, account, symbol, side, price, qty, cid, stp):
        self.run(SubmitOrder(0, account, symbol, side, OrderType.LIMIT_MAKER, TimeInForce.GTC,
                             VALID_PRICES[symbol][price], qty, client_order_id=cid, stp=stp))

    @rule(account=accounts, symbol=symbols, side=sides, qty=st.integers(1, 30), cid=client_ids, stp=stps)
    def submit_market_qty(self, account, symbol, side, qty, cid, stp):
        self.run(SubmitOrder(0, account, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0, qty,
                             client_order_id=cid, stp=stp))

    @rule(account=accounts, symbol=symbols, side=sides, whole_lots=st.integers(0, 25),
          fraction=st.integers(0, 999), stp=stps)
    def submit_market_quote(self, account, symbol, side, whole_lots, fraction, stp):
        inst = INSTRUMENTS[symbol]
        one_lot = inst.notional(VALID_PRICES[symbol][3], 1)
        quote = whole_lots * one_lot + fraction * one_lot // 1000
        self.run(SubmitOrder(0, account, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0, 0,
                             quote_qty=quote, stp=stp))

    @rule(account=accounts, symbol=symbols, side=sides, kind=st.integers(0, 21), qty=lots, price=price_index)
    def submit_invalid(self, account, symbol, side, kind, qty, price):
        """Malformed or out-of-range orders; most must be rejected with a specific reason."""
        inst = INSTRUMENTS[symbol]
        p = VALID_PRICES[symbol][price]
        L, M = OrderType.LIMIT, OrderType.MARKET
        GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
        order = {
            0: SubmitOrder(0, account, "NOPE-USDT", side, L, GTC, p, qty),
            1: SubmitOrder(0, UNKNOWN_ACCOUNT, symbol, side, L, GTC, p, qty),
            2: SubmitOrder(0, account, symbol, 9, L, GTC, p, qty),
            3: SubmitOrder(0, account, symbol, side, 9, GTC, p, qty),
            4: SubmitOrder(0, account, symbol, side, L, 9, p, qty),
            5: SubmitOrder(0, account, symbol, side, L, GTC, p, qty, stp=9),
            6: SubmitOrder(0, account, symbol, side, L, GTC, p, qty, quote_qty=5),
            7: SubmitOrder(0, account, symbol, side, OrderType.LIMIT_MAKER, IOC, p, qty),
            8: SubmitOrder(0, account, symbol, side, M, GTC, 0, qty),
            9: SubmitOrder(0, account, symbol, side, M, FOK, 0, qty),
            10: SubmitOrder(0, account, symbol, side, M, IOC, p, qty),
            11: SubmitOrder(0, account, symbol, side, M, IOC, 0, qty, quote_qty=10**6),
            12: SubmitOrder(0, account, symbol, side, M, IOC, 0, 0),
            13: SubmitOrder(0, account, symbol, side, L, GTC, p, qty, client_order_id="x" * 37),
            14: SubmitOrder(0, account, symbol, side, L, GTC, OFF_TICK[symbol], qty),
            15: SubmitOrder(0, account, symbol, side, L, GTC, p, 0),
            16: SubmitOrder(0, account, symbol, side, L, IOC, p, inst.max_qty_lots + 1),
            17: SubmitOrder(0, account, symbol, side, L, GTC, inst.max_price_ticks + 1, qty),
            18: SubmitOrder(0, account, symbol, side, M, IOC, 0, 0, quote_qty=MAX_AMOUNT + 1),
            19: SubmitOrder(0, account, symbol, side, M, IOC, 0, 0, quote_qty=max(inst.min_notional - 1, 1)),
            20: SubmitOrder(0, account, symbol, side, L, GTC, p, -qty),
            21: SubmitOrder(0, account, symbol, side, M, IOC, 0, -qty, quote_qty=10**6),
        }[kind]
        self.run(order)

    # ------------------------------------------------------------------ rules: cancel and amend

    @rule(pick=picks, how=st.sampled_from(["id", "id", "cid", "id_and_other_cid", "wrong_account",
                                           "wrong_symbol", "cid_wrong_symbol", "unknown", "nothing"]))
    def cancel(self, pick, how):
        orders = self.open_orders()
        if not orders or how == "unknown":
            self.run(CancelOrder(0, TRADERS[pick % 4], SYMBOLS[pick % 3], order_id=10**9))
            return
        o = orders[pick % len(orders)]
        if how == "id":
            cmd = CancelOrder(0, o.account, o.symbol, order_id=o.order_id)
        elif how == "cid":
            cmd = CancelOrder(0, o.account, o.symbol, client_order_id=o.client_order_id)
        elif how == "id_and_other_cid":   # a non-zero order id wins over the client id
            cmd = CancelOrder(0, o.account, o.symbol, order_id=o.order_id, client_order_id="zz")
        elif how == "cid_wrong_symbol":
            cmd = CancelOrder(0, o.account, SYMBOLS[(SYMBOLS.index(o.symbol) + 1) % 3],
                              client_order_id=o.client_order_id)
        elif how == "wrong_account":
            cmd = CancelOrder(0, TRADERS[(TRADERS.index(o.account) + 1) % 4] if o.account in TRADERS else 1,
                              o.symbol, order_id=o.order_id)
        elif how == "wrong_symbol":
            cmd = CancelOrder(0, o.account, SYMBOLS[(SYMBOLS.index(o.symbol) + 1) % 3], order_id=o.order_id)
        else:
            cmd = CancelOrder(0, o.account, o.symbol)   # neither an id nor a client id
        self.run(cmd)

    @rule(account=any_account, symbol=st.sampled_from([None, None, *SYMBOLS, "NOPE-USDT"]))
    def cancel_all(self, account, symbol):
        self.run(CancelAll(0, account, symbol))

    @rule(pick=picks, price=st.sampled_from(["keep", "keep", "new", "new", "bad", "negative"]),
          price_i=price_index,
          qty=st.sampled_from(["keep", "up", "down", "filled", "filled+1", "negative", "max+1"]),
          delta=st.integers(1, 6), by_cid=st.booleans())
    def amend(self, pick, price, price_i, qty, delta, by_cid):
        orders = self.open_orders()
        if not orders:
            return
        o = orders[pick % len(orders)]
        inst = INSTRUMENTS[o.symbol]
        bad_price = 101 if o.symbol == "XYZ-KRW" else inst.max_price_ticks + 1
        new_price = {"keep": 0, "new": VALID_PRICES[o.symbol][price_i], "bad": bad_price,
                     "negative": -VALID_PRICES[o.symbol][price_i]}[price]
        new_qty = {"keep": 0, "up": o.qty_lots + delta, "down": max(o.qty_lots - delta, 1),
                   "filled": o.filled_lots, "filled+1": o.filled_lots + 1, "negative": -delta,
                   "max+1": inst.max_qty_lots + 1}[qty]
        if by_cid and o.client_order_id:
            cmd = AmendOrder(0, o.account, o.symbol, 0, new_qty, new_price, client_order_id=o.client_order_id)
        else:
            cmd = AmendOrder(0, o.account, o.symbol, o.order_id, new_qty, new_price)
        self.run(cmd)

    @rule(account=any_account, symbol=st.sampled_from([*SYMBOLS, "NOPE-USDT"]))
    def amend_unknown(self, account, symbol):
        self.run(AmendOrder(0, account, symbol, 10**9, 3, 0))

    @rule(kind=st.integers(0, 7))
    def mistyped_command(self, kind):
        """A float or bool where an int belongs: a shell bug, so TypeError and no change at all
        (CONTRACT "Typed commands")."""
        cmd = [
            SubmitOrder(0, 1, "BTC-USDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 5_000_000, 1.0),
            SubmitOrder(0, 1, "BTC-USDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 5_000_000.0, 1),
            SubmitOrder(0, True, "BTC-USDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 5_000_000, 1),
            Deposit(0, 1, "USDT", 10.5),
            Withdraw(0, "1", "USDT", 10),
            CancelOrder(0, 1, "BTC-USDT", order_id=1.0),
            AmendOrder(0, 1, "BTC-USDT", 1, new_qty_lots=False),
            SetFeeTier(0, 1, 1.0),
        ][kind]
        before, seq = self.observe(self.engine), self.engine.last_seq
        for impl in (self.engine, self.model):
            try:
                impl.handle(cmd)
            except TypeError:
                pass
            else:
                raise AssertionError(f"{type(impl).__name__} accepted mistyped {cmd!r}")
        assert self.engine.last_seq == seq == self.model.last_seq
        assert self.observe(self.engine) == before

    # ------------------------------------------------------------------ rules: halts

    @rule(symbol=st.sampled_from([*SYMBOLS, "NOPE-USDT"]),
          action=st.sampled_from(["halt", "halt_expire", "resume", "resume_halted", "resume_halted"]))
    def halt_or_resume(self, symbol, action):
        if action == "resume_halted" and self.model.halted:
            symbol = sorted(self.model.halted)[0]
        if action.startswith("halt"):
            self.run(HaltInstrument(0, symbol, action == "halt_expire"))
        else:
            self.run(ResumeInstrument(0, symbol))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def engine_checks_itself(self):
        self.engine._check()
        self.model._check()

    @invariant()
    def same_state_as_model(self):
        got, want = self.observe(self.engine), self.observe(self.model)
        for key in want:
            assert got[key] == want[key], f"{key} differs\nengine: {got[key]}\nmodel:  {want[key]}"

    @invariant()
    def book_not_crossed_and_l3_matches_depth(self):
        for s in SYMBOLS:
            bids, asks = self.engine.l3(s)
            if bids and asks:
                assert bids[0].price_ticks < asks[0].price_ticks, f"{s} crossed at rest"
            for side, descending in ((bids, True), (asks, False)):
                prices = [v.price_ticks for v in side]
                assert prices == sorted(prices, reverse=descending), f"{s} L3 not in price order"
                levels: dict[int, int] = {}
                for v in side:
                    assert v.remaining_lots > 0 and v.filled_lots + v.remaining_lots == v.qty_lots
                    levels[v.price_ticks] = levels.get(v.price_ticks, 0) + v.remaining_lots
                depth = self.engine.depth(s, 10**6)
                assert [tuple(x) for x in (depth.bids if descending else depth.asks)] == list(levels.items())

    @invariant()
    def holds_are_what_open_orders_can_spend(self):
        for account in ALL_ACCOUNTS:
            bals = self.engine.balances(account)
            expected = {asset: 0 for asset in bals}
            for v in self.engine.open_orders(account):
                inst = INSTRUMENTS[v.symbol]
                if v.side == Side.BUY:
                    n = inst.notional(v.price_ticks, v.remaining_lots)
                    expected[inst.quote.name] += n + fee(n, self.order_bps[v.order_id])
                else:
                    expected[inst.base.name] += v.remaining_lots * inst.lot_units
            for asset, b in bals.items():
                assert b.held == expected[asset], (
                    f"account {account} {asset}: held {b.held} != what its orders can spend {expected[asset]}")
                assert b.available >= 0, f"account {account} {asset}: available {b.available} < 0"

    @invariant()
    def every_asset_is_conserved(self):
        totals, net = self.engine.totals(), self.engine.net_deposits()
        for asset in ASSETS:
            assert totals[asset] == net[asset], (
                f"{asset}: totals {totals[asset]} != net deposits {net[asset]}")
        assert self.engine.net_deposits() == self.model.net_deposits()


TestEngineVsModel = EngineVsModel.TestCase
TestEngineVsModel.settings = settings(settings.default)
