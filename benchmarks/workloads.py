"""Seeded command streams for ``bdax bench matching``, built before any clock starts.

Two workloads, each a *setup* (run untimed: deposits, the resting book, for ``ec`` a warm-up stream) and
a *measured* stream:

- ``ec`` follows exchange-core's published benchmark (github.com/exchange-core/exchange-core, README
  "Benchmark configuration", and its ``TestOrdersGenerator``): one symbol, ~1,000 resting orders over
  ~750 price levels, 1,000 funded accounts; 9% GTC limit adds, 3% IOC, 6% cancels, 82% moves. New orders
  and moves follow exchange-core's price model (a new GTC order sits a random distance on the passive side
  of the last trade; a move steps ``MOVE_ALPHA`` of the way toward the last trade, at least one tick).
  exchange-core reports ~6% of commands trading; here ~5% do. With the book held at its size by 9% adds
  against 6% cancels, every trade that is not an IOC removes about one resting order, which caps the
  share near 5.5%; marketable adds and moves (``EC_MARKETABLE``, ``EC_MOVE_CROSS``) take up that room.
- ``deep``: 100,000 resting orders over ~68,000 levels (orders uniform within ``DEEP_WIDTH`` ticks of the
  last trade); 50% adds, 30% cancels, 20% IOC orders each sized and priced to sweep 2-5 levels (~4.5
  fills each). Those sweeps take more orders than the adds replace, so the book shrinks as the stream runs
  (100,000 -> ~66,000 orders over the 60,000 measured commands; the stats record both ends).

The generator keeps its own model of the market, :class:`benchmarks.naive_book.NaiveBook`, as
exchange-core's generator runs its naive book: cancels and moves target orders that are still resting and
prices follow the last trade. It emits engine-neutral ops ``(kind, local_id, is_buy, price_ticks,
qty_lots, account)`` (a move carries its new price and the quantity still open), which the harness hands
to the naive book and liquibook as they are. For bdax they become ``exchange.commands``. bdax names an
order by the ``seq`` of its OrderAccepted, which only the engine knows, so :func:`build` runs a bdax engine
over the stream once to learn each order id: the measured stream cancels and amends by order id, as a real
client does. The engine is deterministic, so a fresh engine fed the same commands assigns the same ids.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .naive_book import NaiveBook

__all__ = [
    "ADD", "IOC", "CANCEL", "MOVE", "KIND_NAMES", "SYMBOL", "WORKLOADS", "Workload", "WorkloadError",
    "build", "generate", "instrument", "make_engine",
]

ADD, IOC, CANCEL, MOVE = 0, 1, 2, 3
KIND_NAMES = ("add", "ioc", "cancel", "move")

SYMBOL = "BTC-USDT"
MID_TICKS = 3_000_000        # 30,000.00 USDT at a 0.01 tick
LOT_MULT = 10                # sizes are multiples of 10 lots (0.0001 BTC, ~3 USDT)
DEPOSIT_BTC = 100 * 10**8            # per account, in satoshi-sized units: no order is ever short of base
DEPOSIT_USDT = 10_000_000 * 10**8    # ... nor of quote
TS_STEP_NS = 1_000

# ec: exchange-core's mix and its price model.
EC_MIX = (0.09, 0.03, 0.06, 0.82)   # add (GTC), IOC, cancel, move
EC_PRICE_DEV = 6_000                # exchange-core's priceDeviation: new GTC orders sit up to this far
                                    # (in ticks) from the last trade; 6,000 gives ~750 levels
EC_IOC_SLIP = 30                    # an IOC's limit is this far through the best opposite price
# While the book is at its target size: the share of GTC adds priced through the best opposite price, and of
# moves repriced to it. Below the target, adds are passive and IOCs small, which holds the book at ~1,000.
EC_MARKETABLE = 0.5
EC_MOVE_CROSS = 0.3
MOVE_ALPHA = 0.01                   # exchange-core's CENTRAL_MOVE_ALPHA

# deep: a wide book and sweeping IOCs.
DEEP_MIX = (0.50, 0.20, 0.30, 0.0)
DEEP_WIDTH = 60_000                 # new orders sit up to this many ticks from the last trade
DEEP_IOC_EXPIRE = 0.25              # the share of IOCs too big for the levels they reach (rest expires)


class WorkloadError(RuntimeError):
    """The generated stream does not run cleanly on bdax (a reject, or bdax and the model disagree)."""


@dataclass(frozen=True)
class Size:
    """How big a workload is. ``warm`` mixed ops run in the untimed setup to reach a steady state."""

    resting: int
    warm: int
    measured: int
    accounts: int = 1_000


SIZES = {
    ("ec", False): Size(resting=1_000, warm=20_000, measured=200_000),
    ("deep", False): Size(resting=100_000, warm=0, measured=60_000),
    ("ec", True): Size(resting=300, warm=2_000, measured=6_000),
    ("deep", True): Size(resting=5_000, warm=0, measured=4_000),
}
WORKLOADS = ("ec", "deep")


@dataclass
class Workload:
    """A generated workload. ``*_ops`` drive the naive book and liquibook; ``bdax_*`` are the same
    stream as bdax commands (``bdax_setup`` starts with the deposits). Empty ``bdax_*`` until
    :func:`build` has translated them."""

    name: str
    seed: int
    quick: bool
    accounts: int
    setup_ops: list[tuple]
    measured_ops: list[tuple]
    stats: dict = field(default_factory=dict)
    bdax_setup: list = field(default_factory=list)
    bdax_measured: list = field(default_factory=list)


def instrument():
    """BTC-USDT with a 0.01 tick and a 0.00001 lot: one tick x one lot is exactly 10 USDT ledger units."""
    from exchange import Asset, Instrument
    return Instrument.define(SYMBOL, Asset("BTC", 8), Asset("USDT", 8), tick_size="0.01", lot_size="0.00001")


def make_engine(inst=None):
    """A bdax engine for the workloads. Self-trade prevention is off (``STP.NONE``) because the baselines
    have no accounts: with it on, bdax would expire the ~0.1% of makers that meet their own account and the
    books would no longer be the same. Fees stay on (10 bps maker and taker)."""
    from exchange import STP, Engine
    return Engine([inst or instrument()], default_stp=STP.NONE)


class _Model:
    """The generator's view of the market: a naive book, which orders rest, their owners and sides."""

    def __init__(self, rnd: random.Random, accounts: int, target: int) -> None:
        self.rnd = rnd
        self.accounts = accounts
        self.target = target               # the resting-order count the generator steers toward
        self.book = NaiveBook()
        self.live: list[int] = []          # resting order ids, for uniform random picks
        self.pos: dict[int, int] = {}      # id -> index in live
        self.owner: dict[int, int] = {}    # id -> account
        self.side: dict[int, bool] = {}    # id -> is_buy
        self.bids = 0                      # resting buy orders
        self.last = MID_TICKS              # last trade price
        self.next_id = 1
        self.reset_counts()

    def reset_counts(self) -> None:
        self.counts = [0, 0, 0, 0]
        self.trading = 0                   # ops that traded at least once
        self.fills = 0
        self.expired = 0                   # IOCs with a remainder dropped

    def _rest(self, oid: int) -> None:
        self.pos[oid] = len(self.live)
        self.live.append(oid)
        self.bids += self.side[oid]

    def _gone(self, oid: int) -> None:
        i = self.pos.pop(oid)
        tail = self.live.pop()
        if tail != oid:
            self.live[i] = tail
            self.pos[tail] = i
        self.bids -= self.side[oid]

    def pick(self) -> int:
        return self.live[self.rnd.randrange(len(self.live))]

    def size(self) -> int:
        r = self.rnd.randrange
        return (1 + r(6) * r(6) * r(6)) * LOT_MULT  # exchange-core's size distribution, 10 to 1,260 lots

    def taker_size(self) -> int:
        # Smaller than resting orders (10 to 260 lots), so that most trades fill makers in part: with the
        # book held at its target size by 9% adds against 6% cancels, that is what lets ~5% of commands
        # trade.
        r = self.rnd.randrange
        return (1 + r(6) * r(6)) * LOT_MULT

    def buy_side(self) -> bool:
        """A side for a new resting order, leaning toward the thinner side so neither empties."""
        asks = len(self.live) - self.bids
        return self.rnd.random() < (0.7 if self.bids < asks else 0.3 if self.bids > asks else 0.5)

    def new_order(self, kind: int, is_buy: bool, price: int, qty: int) -> tuple:
        oid = self.next_id
        self.next_id += 1
        self.owner[oid] = 1 + self.rnd.randrange(self.accounts)
        self.side[oid] = is_buy
        return self.apply((kind, oid, is_buy, max(1, price), qty, self.owner[oid]))

    def cancel(self, oid: int) -> tuple:
        return self.apply((CANCEL, oid, self.side[oid], 0, 0, self.owner[oid]))

    def move(self, oid: int, new_price: int) -> tuple:
        qty = self.book.orders[oid].qty
        return self.apply((MOVE, oid, self.side[oid], max(1, new_price), qty, self.owner[oid]))

    def apply(self, op: tuple) -> tuple:
        kind, oid, is_buy, price, qty, _ = op
        book = self.book
        fills: list[tuple[int, int, int, int]]
        if kind == CANCEL:
            book.cancel(oid)
            self._gone(oid)
            fills = []
        elif kind == MOVE:
            fills = book.move(oid, price)
            if oid not in book.orders:
                self._gone(oid)
        else:
            fills = book.submit(oid, is_buy, price, qty, kind == IOC)
            if oid in book.orders:
                self._rest(oid)
            elif kind == IOC and sum(f[3] for f in fills) < qty:
                self.expired += 1
        if fills:
            orders = book.orders
            for maker, _, _, _ in fills:
                if maker not in orders and maker in self.pos:
                    self._gone(maker)
            self.last = fills[-1][2]
            self.trading += 1
            self.fills += len(fills)
        self.counts[kind] += 1
        return op

    def book_stats(self) -> dict:
        return {"orders": len(self.live), "bid_orders": self.bids,
                "levels": len(self.book.bids) + len(self.book.asks), "last_ticks": self.last}


def _choose(rnd: random.Random, mix: tuple) -> int:
    x = rnd.random()
    for kind, p in enumerate(mix):
        if x < p:
            return kind
        x -= p
    return len(mix) - 1


def _away_from_zero(x: float) -> int:
    i = int(x)
    return i + (1 if x > i else -1 if x < i else 0)


# ec ------------------------------------------------------------------------------------------------

def _ec_gtc(m: _Model, min_dist: int = 0) -> tuple:
    r = m.rnd
    is_buy = m.buy_side()
    book = m.book
    opposite = book.asks if is_buy else book.bids
    if min_dist == 0 and opposite and len(m.live) >= m.target and r.random() < EC_MARKETABLE:
        # A marketable limit order: through the best opposite price; it trades, then rests what is left.
        best = opposite.keys()[0 if is_buy else -1]
        slip = r.randrange(EC_IOC_SLIP)
        return m.new_order(ADD, is_buy, best + slip if is_buy else best - slip, m.taker_size())
    # exchange-core: dev = 1 + u^2 * deviation; p = mean of four uniforms on [0, dev), times 2, minus dev,
    # placed on the passive side of the last trade. Orders cluster near the last trade with a long tail.
    dev = 1 + int(r.random() ** 2 * EC_PRICE_DEV)
    p = max(min_dist, abs((r.randrange(dev) + r.randrange(dev) + r.randrange(dev) + r.randrange(dev))
                          // 4 * 2 - dev))
    return m.new_order(ADD, is_buy, m.last - p if is_buy else m.last + p, m.size())


def _ec_step(m: _Model, kind: int) -> tuple:
    if kind >= CANCEL and not m.live:
        kind = ADD
    if kind == ADD:
        return _ec_gtc(m)
    book = m.book
    if kind == IOC:
        # A marketable limit: through the best opposite price by EC_IOC_SLIP ticks, exchange-core's size.
        is_buy = m.rnd.random() < 0.5
        opposite = book.asks if is_buy else book.bids
        best = opposite.keys()[0 if is_buy else -1] if opposite else m.last
        # Below the target book size, IOCs take one size unit so that they trade without emptying the book.
        qty = m.taker_size() if len(m.live) >= m.target else LOT_MULT
        return m.new_order(IOC, is_buy, best + EC_IOC_SLIP if is_buy else best - EC_IOC_SLIP, qty)
    oid = m.pick()
    if kind == CANCEL:
        return m.cancel(oid)
    order = book.orders[oid]
    opposite = book.bids if not order.is_buy else book.asks
    if opposite and len(m.live) >= m.target and m.rnd.random() < EC_MOVE_CROSS:
        # A trader chasing the market: reprice to the best opposite price (trades there, rests the rest).
        return m.move(oid, opposite.keys()[-1 if not order.is_buy else 0])
    # exchange-core: move by MOVE_ALPHA of the distance to the last trade, rounded away from zero (so at
    # least one tick toward it), or one tick either way when already there.
    old = order.price
    if old == m.last:
        return m.move(oid, old + (1 if m.rnd.random() < 0.5 else -1))
    return m.move(oid, old + _away_from_zero((m.last - old) * MOVE_ALPHA))


# deep ----------------------------------------------------------------------------------------------

def _deep_add(m: _Model) -> tuple:
    # Uniform within DEEP_WIDTH ticks of the last trade (scaled to the book size), on the passive side:
    # ~0.8 orders per tick, ~1.5 per occupied price level, so an IOC sweeping k levels takes ~1.5k orders.
    is_buy = m.buy_side()
    d = 1 + m.rnd.randrange(max(100, DEEP_WIDTH * m.target // 100_000))
    return m.new_order(ADD, is_buy, m.last - d if is_buy else m.last + d, m.size())


def _deep_ioc(m: _Model) -> tuple:
    # Priced at the k-th best opposite level (k = 2..5) and sized to clear the levels before it and take
    # part of the k-th; one in DEEP_IOC_EXPIRE asks for more than the k levels hold, clears them all and
    # expires the rest.
    book = m.book
    r = m.rnd
    is_buy = r.random() < 0.5
    opposite = book.asks if is_buy else book.bids
    if not opposite:
        return m.new_order(IOC, is_buy, m.last, m.size())
    k = min(2 + r.randrange(4), len(opposite))
    prices = opposite.keys()[:k] if is_buy else opposite.keys()[-1:-k - 1:-1]
    qty = sum(o.qty for p in prices[:-1] for o in opposite[p])
    last_level = sum(o.qty for o in opposite[prices[-1]])
    qty += last_level + m.size() if r.random() < DEEP_IOC_EXPIRE else 1 + r.randrange(last_level)
    return m.new_order(IOC, is_buy, prices[-1], qty)


def _deep_step(m: _Model, kind: int) -> tuple:
    if kind == ADD or not m.live:
        return _deep_add(m)
    if kind == IOC:
        return _deep_ioc(m)
    return m.cancel(m.pick())


# generation and translation -----------------------------------------------------------------------

def generate(name: str, seed: int = 1, quick: bool = False) -> Workload:
    """Generate workload ``name`` ("ec" or "deep") as engine-neutral ops. Deterministic for a seed.

    Ops are ``(kind, local_id, is_buy, price_ticks, qty_lots, account)`` with kind ADD (GTC limit), IOC
    (IOC limit), CANCEL (price and qty 0) or MOVE (new price; qty = what is still open). Local ids count
    from 1 in submission order. Raises ValueError for an unknown name.
    """
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    size = SIZES[(name, quick)]
    rnd = random.Random(f"bdax-bench-{name}-{seed}")  # str seeds hash deterministically (sha512)
    m = _Model(rnd, size.accounts, size.resting)
    if name == "ec":
        setup = [_ec_gtc(m, min_dist=1) for _ in range(size.resting)]
        setup += [_ec_step(m, _choose(rnd, EC_MIX)) for _ in range(size.warm)]
        mix, step = EC_MIX, _ec_step
    else:
        setup = [_deep_add(m) for _ in range(size.resting)]
        mix, step = DEEP_MIX, _deep_step
    start = m.book_stats()
    m.reset_counts()
    measured = [step(m, _choose(rnd, mix)) for _ in range(size.measured)]
    n = len(measured)
    stats = {
        "setup_ops": len(setup),
        "measured_ops": n,
        "mix": {KIND_NAMES[k]: round(c / n, 4) for k, c in enumerate(m.counts)},
        "trade_ratio": round(m.trading / n, 4),
        "fills": m.fills,
        "ioc_expired": m.expired,
        "book_start": start,
        "book_end": m.book_stats(),
    }
    return Workload(name, seed, quick, size.accounts, setup, measured, stats)


def _bdax_commands(engine, ops: list, ids: dict, ts: int) -> tuple[list, int, int, int]:
    """Turn ops into bdax commands, running each on ``engine`` to learn order ids. Returns (commands, next
    ts, trades, expiries). Raises WorkloadError on any reject."""
    from exchange import (AmendOrder, CancelOrder, CommandRejected, OrderAccepted, OrderExpired,
                          OrderRejected, OrderType, Side, SubmitOrder, TimeInForce, TradeExecuted)
    buy, sell, limit, gtc, ioc = Side.BUY, Side.SELL, OrderType.LIMIT, TimeInForce.GTC, TimeInForce.IOC
    handle = engine.handle
    commands: list = []
    trades = expired = 0
    cmd: SubmitOrder | CancelOrder | AmendOrder
    for kind, oid, is_buy, price, qty, account in ops:
        if kind == ADD or kind == IOC:
            cmd = SubmitOrder(ts, account, SYMBOL, buy if is_buy else sell, limit,
                              gtc if kind == ADD else ioc, price, qty)
        elif kind == CANCEL:
            cmd = CancelOrder(ts, account, SYMBOL, ids[oid])
        else:
            cmd = AmendOrder(ts, account, SYMBOL, ids[oid], 0, price)
        events = handle(cmd)
        first = events[0]
        if type(first) is OrderRejected or type(first) is CommandRejected:
            raise WorkloadError(f"bdax rejected {cmd}: {first}")
        if kind <= IOC:
            if type(first) is not OrderAccepted:
                raise WorkloadError(f"expected OrderAccepted for {cmd}, got {first}")
            ids[oid] = first.order_id
        for event in events:
            if type(event) is TradeExecuted:
                trades += 1
            elif type(event) is OrderExpired:
                expired += 1
        commands.append(cmd)
        ts += TS_STEP_NS
    return commands, ts, trades, expired


def build(name: str, seed: int = 1, quick: bool = False) -> Workload:
    """Generate workload ``name`` and translate it to bdax commands (needs the bdax engine).

    The translation runs the whole stream once on a fresh engine; bdax must accept every command, make
    exactly as many trades and expire as many IOC remainders as the naive model did, else WorkloadError
    (the baselines and bdax would not be doing the same work).
    """
    from exchange import BalanceChanged, Deposit
    w = generate(name, seed, quick)
    engine = make_engine()
    ts = 1_000_000_000
    deposits = []
    for account in range(1, w.accounts + 1):
        for asset, amount in (("BTC", DEPOSIT_BTC), ("USDT", DEPOSIT_USDT)):
            cmd = Deposit(ts, account, asset, amount)
            events = engine.handle(cmd)
            if type(events[0]) is not BalanceChanged:
                raise WorkloadError(f"bdax rejected {cmd}: {events[0]}")
            deposits.append(cmd)
            ts += TS_STEP_NS
    ids: dict[int, int] = {}
    setup, ts, _, _ = _bdax_commands(engine, w.setup_ops, ids, ts)
    measured, ts, trades, expired = _bdax_commands(engine, w.measured_ops, ids, ts)
    if (trades, expired) != (w.stats["fills"], w.stats["ioc_expired"]):
        raise WorkloadError(f"{name}: in the measured stream bdax made {trades} trades and {expired} "
                            f"expiries, the naive model {w.stats['fills']} and {w.stats['ioc_expired']}; the "
                            f"engines disagree")
    w.bdax_setup = deposits + setup
    w.bdax_measured = measured
    w.stats["bdax_trades"] = trades
    return w
