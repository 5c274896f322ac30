"""Seeded random command streams for the journal tests, and the tests that they are worth replaying.

:class:`CommandStream` proposes the next command from the engine's current state (so cancels and amends
name orders that exist), over every command type, including ones the engine rejects (an unknown symbol,
``side=7``, an overdraft): a journal must replay rejects exactly too. Imported by the other
``test_journal_*`` modules, by the crash test's child process and by ``tests/data/make_golden.py``.
"""
from __future__ import annotations

import random

from exchange import (STP, AmendOrder, Asset, CancelAll, CancelOrder, Deposit, Engine, FeeTier,
                      HaltInstrument, Instrument, OrderType, ResumeInstrument, SetFeeTier, Side, SubmitOrder,
                      TimeInForce, Withdraw)
from exchange.commands import COMMAND_TYPES

__all__ = ["instruments", "make_engine", "CommandStream", "random_commands", "run"]

FEE_TIERS = {0: FeeTier(maker_bps=10, taker_bps=20), 1: FeeTier(maker_bps=0, taker_bps=5)}
ACCOUNTS = (1, 2, 3, 4, 5, 6)
# symbol -> (mid price in ticks, tick step near the mid, smallest lots that meet min notional,
#            quote ledger units per tick x lot)
MARKETS = {"BTC-USDT": (3_000_000, 1, 4, 1), "ETH-KRW": (3_000_000, 10, 1, 10)}
DEPOSITS = {"BTC": 10 * 10**8, "USDT": 1_000_000 * 10**6, "ETH": 100 * 10**8, "KRW": 10**9 * 10**4}


def instruments() -> list[Instrument]:
    """Two markets; ETH-KRW has a Korean tick table (its prices near 3,000,000 KRW move in steps of 10)."""
    btc, usdt, eth, krw = Asset("BTC", 8), Asset("USDT", 6), Asset("ETH", 8), Asset("KRW", 4)
    return [
        Instrument.define("BTC-USDT", btc, usdt, tick_size="0.01", lot_size="0.0001", min_notional="10"),
        Instrument.define("ETH-KRW", eth, krw, tick_table=[("0", "1"), ("1000", "5"), ("10000", "10")],
                          lot_size="0.001", min_notional="1000"),
    ]


def make_engine() -> Engine:
    return Engine(instruments(), fee_tiers=FEE_TIERS, default_stp=STP.EXPIRE_MAKER)


class CommandStream:
    """Proposes plausible commands for ``engine``'s current state; deterministic for a seed and a state."""

    def __init__(self, seed: int | str, ts_ns: int = 1_000_000_000) -> None:
        self.rnd = random.Random(f"journal-stream-{seed}")
        self.ts = ts_ns
        self.funded = False

    def next(self, engine) -> object:
        r = self.rnd
        self.ts += 1 + r.randrange(1_000_000)
        ts = self.ts
        if not self.funded:   # the first commands fund every account in every asset
            self.funded = True
            self._pending = [Deposit(ts, a, asset, amount)
                             for a in ACCOUNTS for asset, amount in DEPOSITS.items()]
        if self._pending:
            return self._pending.pop(0)._replace(ts_ns=ts)
        account = r.choice(ACCOUNTS)
        symbol = r.choice(sorted(MARKETS))
        if engine.is_halted(symbol) and r.random() < 0.1:
            return ResumeInstrument(ts, symbol)
        mid, step, min_lots, k = MARKETS[symbol]
        x = r.random()
        if x < 0.55 or 0.94 <= x < 0.98:
            return self._limit(ts, account, symbol, mid, step, min_lots)
        if x < 0.62:
            side = r.choice((Side.BUY, Side.SELL))
            if r.random() < 0.5:
                return SubmitOrder(ts, account, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0,
                                   min_lots + r.randrange(10))
            return SubmitOrder(ts, account, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0, 0,
                               quote_qty=mid * (min_lots + r.randrange(20)) * k)
        open_orders = engine.open_orders(account)
        if x < 0.74 and open_orders:
            o = r.choice(open_orders)
            if r.random() < 0.3 and o.client_order_id:
                return CancelOrder(ts, account, o.symbol, 0, o.client_order_id)
            return CancelOrder(ts, account, o.symbol, o.order_id)
        if x < 0.86 and open_orders:
            o = r.choice(open_orders)
            if r.random() < 0.5:   # quantity down (keeps priority) or up
                return AmendOrder(ts, account, o.symbol, o.order_id,
                                  new_qty_lots=max(1, o.qty_lots + r.randint(-3, 3)))
            return AmendOrder(ts, account, o.symbol, o.order_id,
                              new_price_ticks=o.price_ticks + MARKETS[o.symbol][1] * r.randint(-5, 5))
        if x < 0.87:
            return CancelAll(ts, account, r.choice((None, symbol)))
        if x < 0.91:
            asset = r.choice(sorted(DEPOSITS))
            cls = Deposit if r.random() < 0.5 else Withdraw
            return cls(ts, account, asset, 1 + r.randrange(DEPOSITS[asset] // 100))
        if x < 0.93:
            return SetFeeTier(ts, account, r.choice((0, 1, 2)))   # tier 2 does not exist: a reject
        if x < 0.935:
            return HaltInstrument(ts, symbol, expire_orders=r.random() < 0.5)
        if x < 0.94:
            return ResumeInstrument(ts, symbol)
        # Malformed on purpose: the engine must reject these the same way on replay.
        bad = r.randrange(3)
        if bad == 0:
            return SubmitOrder(ts, account, "NOPE-USDT", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, mid, 5)
        if bad == 1:
            return SubmitOrder(ts, account, symbol, 7, OrderType.LIMIT, TimeInForce.GTC, mid, 5)  # side 7
        return Withdraw(ts, 99, "BTC", 1)   # unknown account

    def _limit(self, ts: int, account: int, symbol: str, mid: int, step: int, min_lots: int):
        r = self.rnd
        side = r.choice((Side.BUY, Side.SELL))
        price = mid + step * r.randint(-20, 20)
        order_type = OrderType.LIMIT_MAKER if r.random() < 0.1 else OrderType.LIMIT
        tif = TimeInForce.GTC if order_type is OrderType.LIMIT_MAKER else r.choices(
            (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK), (8, 1, 1))[0]
        cid = f"c{r.randrange(40)}" if r.random() < 0.3 else ""
        stp = r.choice((None, None, STP.NONE, STP.EXPIRE_TAKER, STP.EXPIRE_MAKER, STP.EXPIRE_BOTH))
        return SubmitOrder(ts, account, symbol, side, order_type, tif, price, min_lots + r.randrange(30),
                           client_order_id=cid, stp=stp)


def run(engine, commands) -> list:
    """Apply ``commands``; return every event."""
    events = []
    for command in commands:
        events.extend(engine.handle(command))
    return events


def random_commands(seed: int | str, n: int) -> list:
    """``n`` commands of stream ``seed``, each proposed against a fresh engine that has applied the ones
    before it (so the stream is a function of the seed, the engine and this module)."""
    engine, stream, out = make_engine(), CommandStream(seed), []
    for _ in range(n):
        command = stream.next(engine)
        engine.handle(command)
        out.append(command)
    return out


def test_streams_are_deterministic_and_cover_every_command_type():
    a, b = random_commands(3, 1500), random_commands(3, 1500)
    assert a == b
    assert {type(c) for c in a} == set(COMMAND_TYPES.values())
    assert random_commands(4, 200) != a[:200]


def test_streams_trade_reject_and_rest():
    engine = make_engine()
    events = run(engine, random_commands(5, 1500))
    kinds = {type(e).__name__ for e in events}
    assert {"TradeExecuted", "OrderRejected", "CommandRejected", "OrderAmended", "OrderCanceled",
            "OrderExpired", "BookUpdated"} <= kinds
    engine._check()
    assert any(engine.l3(s)[0] or engine.l3(s)[1] for s in MARKETS)
