"""End to end: unmodified ccxt 4.5.90 against a real ``bdax serve`` on a loopback port.

The server runs in a subprocess with its demo config (``e2e_server.py``); the clients are ccxt's own
``binance`` (sync REST) and ``ccxt.pro.binance`` (asyncio REST + websockets) configured only by
binance-compat §2 Recipe A (or Recipe B: every host rewritten, default options). Nothing in ccxt is
patched; the one piece of client state the tests touch is the order book's stored nonce, to force the
gap of binance-compat §7 step 5 and watch the resync of step 6.

Two demo accounts trade with each other: ``maker`` rests orders, ``taker`` takes them. Every test leaves
no open order behind (``_clean``), so tests are independent of their order.
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from decimal import ROUND_UP, Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2e_server import GatewayServer, ccxt_config, gateway_server  # noqa: E402,F401  (fixture)

ccxt = pytest.importorskip("ccxt")
import ccxt.pro as ccxtpro  # noqa: E402

pytestmark = pytest.mark.skipif(ccxt.__version__ != "4.5.90",
                                reason=f"pinned to ccxt 4.5.90 (binance-compat.md), found {ccxt.__version__}")

SYMBOL = "BTC/USDT"       # one tick size, so ccxt's rounding is the grid the gateway enforces
WATCH_TIMEOUT = 15.0      # seconds any single watch_* may take before the test fails


# ---------------------------------------------------------------------------------------------- helpers

def D(x) -> Decimal:
    return Decimal(str(x))


def _sync(server: GatewayServer, key, **options):
    ex = ccxt.binance({**ccxt_config(server, key, **options), "enableRateLimit": False})
    ex.load_markets()
    return ex


def _pro(server: GatewayServer, key, **options):
    return ccxtpro.binance({**ccxt_config(server, key, **options), "enableRateLimit": False})


class Grid:
    """Prices and amounts on the market's published grid, sized from its filters."""

    def __init__(self, market: dict, mid: Decimal | None = None):
        self.tick = D(market["precision"]["price"])
        self.step = D(market["precision"]["amount"])
        self.min_cost = D(market["limits"]["cost"]["min"] or 0)
        self.min_amount = D(market["limits"]["amount"]["min"] or self.step)
        self.mid = mid or (D(30000) / self.tick).to_integral_value() * self.tick

    def px(self, ticks_from_mid: int) -> Decimal:
        return self.mid + ticks_from_mid * self.tick * 10

    def amount(self, price: Decimal, times: int = 1) -> Decimal:
        """The smallest amount on the step grid whose notional is at least twice the minimum, times n."""
        need = max(self.min_amount, (2 * self.min_cost / price) if self.min_cost else self.min_amount)
        lots = (need / self.step).to_integral_value(ROUND_UP)
        return lots * self.step * times


def _clean(*exchanges):
    for ex in exchanges:
        for o in ex.fetch_open_orders(SYMBOL):
            ex.cancel_order(o["id"], SYMBOL)
        assert ex.fetch_open_orders(SYMBOL) == []


def _bal(ex) -> dict[str, tuple[Decimal, Decimal]]:
    raw = ex.fetch_balance()
    return {a: (D(raw[a]["free"]), D(raw[a]["used"])) for a in ("BTC", "USDT")}


def _total(bal, asset) -> Decimal:
    return bal[asset][0] + bal[asset][1]


# ---------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def keys(gateway_server):
    found = gateway_server.trading_keys()
    assert len(found) >= 2, f"the demo config should fund at least two trading accounts, found {found}"
    return found


@pytest.fixture(scope="module")
def maker(gateway_server, keys):
    return _sync(gateway_server, keys[0])


@pytest.fixture(scope="module")
def taker(gateway_server, keys):
    return _sync(gateway_server, keys[1])


@pytest.fixture(scope="module")
def grid(maker):
    assert SYMBOL in maker.markets, f"demo config has no {SYMBOL}: {sorted(maker.markets)}"
    return Grid(maker.market(SYMBOL))


@pytest.fixture()
def clean(maker, taker):
    _clean(maker, taker)
    yield
    _clean(maker, taker)


def _trade(maker, taker, grid, price: Decimal, amount: Decimal) -> dict:
    """maker rests a sell at ``price``, taker market-buys it all; returns the taker's order."""
    sell = maker.create_order(SYMBOL, "limit", "sell", float(amount), float(price))
    assert sell["status"] == "open"
    buy = taker.create_order(SYMBOL, "market", "buy", float(amount))
    assert buy["status"] == "closed" and D(buy["filled"]) == amount, buy
    return buy


# ---------------------------------------------------------------------------------------------- REST

def test_load_markets_recipe_a(maker):
    m = maker.market(SYMBOL)
    assert m["spot"] and m["active"] and not m["contract"]
    assert m["id"] == "BTCUSDT" and m["base"] == "BTC" and m["quote"] == "USDT"
    assert m["precision"]["price"] is not None and m["precision"]["amount"] is not None
    assert m["limits"]["amount"]["min"] is not None and m["limits"]["cost"]["min"] is not None
    for sym, market in maker.markets.items():
        assert market["spot"] and market["type"] == "spot", sym
    assert "BTC/KRW" in maker.markets


def test_public_market_data(maker, taker, grid, clean):
    price = grid.px(1)
    amount = grid.amount(price)
    before = int(time.time() * 1000)
    _trade(maker, taker, grid, price, amount)
    bid = grid.px(-1)
    maker.create_order(SYMBOL, "limit", "buy", float(amount), float(bid))

    book = maker.fetch_order_book(SYMBOL)
    assert book["nonce"] is not None and book["nonce"] > 0
    assert book["bids"][0] == [float(bid), float(amount)]
    assert all(b[0] > c[0] for b, c in zip(book["bids"], book["bids"][1:]))
    assert all(a[0] < c[0] for a, c in zip(book["asks"], book["asks"][1:]))

    ticker = maker.fetch_ticker(SYMBOL)
    assert D(ticker["last"]) == price
    assert D(ticker["bid"]) == bid and D(ticker["bidVolume"]) == amount
    assert ticker["timestamp"] is not None and ticker["baseVolume"] >= float(amount)
    assert ticker["high"] >= ticker["low"] > 0

    for method in (None, "publicGetTrades"):
        params = {"fetchTradesMethod": method} if method else {}
        trades = maker.fetch_trades(SYMBOL, params=params)
        last = trades[-1]
        assert D(last["price"]) == price and D(last["amount"]) == amount, (method, last)
        assert last["side"] == "buy" and last["timestamp"] >= before - 1000, (method, last)
        assert last["id"] is not None

    candles = maker.fetch_ohlcv(SYMBOL, "1m", limit=5)
    ts, o, h, low, c, v = candles[-1]
    assert D(c) == price and v >= float(amount) and low <= c <= h
    assert ts % 60_000 == 0 and ts <= int(time.time() * 1000)


def test_limit_order_lifecycle_and_balance(maker, grid, clean):
    price = grid.px(-5)
    amount = grid.amount(price)
    b0 = _bal(maker)
    order = maker.create_order(SYMBOL, "limit", "buy", float(amount), float(price))
    assert order["status"] == "open" and order["type"] == "limit" and order["side"] == "buy"
    assert D(order["price"]) == price and D(order["amount"]) == amount and order["filled"] == 0
    b1 = _bal(maker)
    held = b1["USDT"][1] - b0["USDT"][1]
    assert held >= price * amount, "a resting buy holds at least its notional"
    assert _total(b1, "USDT") == _total(b0, "USDT")

    fetched = maker.fetch_order(order["id"], SYMBOL)
    assert fetched["status"] == "open" and fetched["id"] == order["id"]
    assert fetched["clientOrderId"] == order["clientOrderId"]
    assert [o["id"] for o in maker.fetch_open_orders(SYMBOL)] == [order["id"]]

    canceled = maker.cancel_order(order["id"], SYMBOL)
    assert canceled["status"] == "canceled"
    assert maker.fetch_order(order["id"], SYMBOL)["status"] == "canceled"
    assert maker.fetch_open_orders(SYMBOL) == []
    assert _bal(maker) == b0


def test_market_orders_by_amount_and_by_cost_conserve_funds(maker, taker, grid, clean):
    price = grid.px(2)
    unit = grid.amount(price)
    m0, t0 = _bal(maker), _bal(taker)
    sell = maker.create_order(SYMBOL, "limit", "sell", float(unit * 20), float(price))

    by_amount = taker.create_order(SYMBOL, "market", "buy", float(unit))
    assert by_amount["status"] == "closed" and D(by_amount["filled"]) == unit
    assert D(by_amount["average"]) == price
    assert by_amount["fee"] is not None and by_amount["fee"]["currency"] is not None

    cost = price * unit * 3 + price * grid.step / 2     # half a lot over: that half cannot be spent
    by_cost = taker.create_market_buy_order_with_cost(SYMBOL, float(cost))
    assert by_cost["status"] == "closed", by_cost     # the unspendable dust does not make it "expired"
    filled_by_cost = D(by_cost["filled"])
    assert filled_by_cost == unit * 3 and D(by_cost["cost"]) == price * unit * 3, by_cost

    # create_order(..., 'market', 'buy', amount, price) is sent as quoteOrderQty = amount x price truncated
    # to the tick (binance-compat §8.2-3); it buys the whole lots that quote amount pays for.
    by_price = taker.create_order(SYMBOL, "market", "buy", float(unit * 2), float(price))
    quote = (unit * 2 * price / grid.tick).to_integral_value(rounding="ROUND_DOWN") * grid.tick
    expect = (quote / (price * grid.step)).to_integral_value(rounding="ROUND_DOWN") * grid.step
    assert D(by_price["filled"]) == expect and expect > 0, by_price

    for o in (by_amount, by_cost, by_price):
        again = taker.fetch_order(o["id"], SYMBOL)
        assert again["filled"] == o["filled"] and again["status"] == o["status"]

    _clean(maker)
    m1, t1 = _bal(maker), _bal(taker)
    bought = unit + filled_by_cost + expect
    assert _total(t1, "BTC") - _total(t0, "BTC") == bought
    assert _total(m0, "BTC") - _total(m1, "BTC") == bought
    # Quote: what the taker paid minus what the maker got is exactly the two sides' commissions.
    paid = _total(t0, "USDT") - _total(t1, "USDT")
    got = _total(m1, "USDT") - _total(m0, "USDT")
    assert paid >= price * bought >= got
    fees = sum(D(t["fee"]["cost"]) for t in taker.fetch_my_trades(SYMBOL, limit=1000)
               if t["order"] in (by_amount["id"], by_cost["id"], by_price["id"]))
    maker_fees = sum(D(t["fee"]["cost"]) for t in maker.fetch_my_trades(SYMBOL, limit=1000)
                     if t["order"] == sell["id"])
    assert paid - got == fees + maker_fees


def test_post_only(maker, taker, grid, clean):
    ask = grid.px(3)
    amount = grid.amount(ask)
    resting = maker.create_order(SYMBOL, "limit", "sell", float(amount), float(ask), {"postOnly": True})
    assert resting["status"] == "open" and resting["postOnly"] is True
    assert maker.fetch_order(resting["id"], SYMBOL)["postOnly"] is True
    with pytest.raises(ccxt.InvalidOrder):     # would take the resting ask
        taker.create_order(SYMBOL, "limit", "buy", float(amount), float(ask), {"postOnly": True})
    assert [o["id"] for o in taker.fetch_open_orders(SYMBOL)] == []


def test_my_trades_and_order_history(maker, taker, grid, clean):
    since = taker.milliseconds() - 1
    price = grid.px(4)
    amount = grid.amount(price)
    buy = _trade(maker, taker, grid, price, amount)
    canceled = taker.create_order(SYMBOL, "limit", "buy", float(amount), float(grid.px(-9)))
    taker.cancel_order(canceled["id"], SYMBOL)

    mine = [t for t in taker.fetch_my_trades(SYMBOL, since=since) if t["order"] == buy["id"]]
    assert len(mine) == 1
    t = mine[0]
    assert D(t["price"]) == price and D(t["amount"]) == amount and t["side"] == "buy"
    assert t["takerOrMaker"] == "taker" and t["fee"]["cost"] is not None and t["fee"]["currency"]
    theirs = [x for x in maker.fetch_my_trades(SYMBOL, since=since) if x["id"] == t["id"]]
    assert len(theirs) == 1 and theirs[0]["takerOrMaker"] == "maker" and theirs[0]["side"] == "sell"

    history = {o["id"]: o for o in taker.fetch_orders(SYMBOL, since=since)}
    assert history[buy["id"]]["status"] == "closed"
    assert history[canceled["id"]]["status"] == "canceled"


def test_error_mapping(gateway_server, maker, taker, grid, keys, clean):
    price = grid.px(-3)
    free_usdt = _bal(taker)["USDT"][0]
    too_much = ((free_usdt / price) * 2 / grid.step).to_integral_value(ROUND_UP) * grid.step
    with pytest.raises(ccxt.InsufficientFunds):
        taker.create_order(SYMBOL, "limit", "buy", float(too_much), float(price))

    with pytest.raises(ccxt.OrderNotFound):
        taker.fetch_order("987654321", SYMBOL)
    with pytest.raises(ccxt.OrderNotFound):
        taker.cancel_order("987654321", SYMBOL)

    bad_secret = type(keys[1])(keys[1].api_key, "0" * len(keys[1].secret), keys[1].account, ())
    with pytest.raises(ccxt.AuthenticationError):
        _sync(gateway_server, bad_secret).fetch_balance()
    unknown = type(keys[1])("A" * 64, keys[1].secret, None, ())
    with pytest.raises(ccxt.AuthenticationError):
        _sync(gateway_server, unknown).fetch_balance()

    # Off-tick: make this client believe the tick is ten times finer than published, so that its own
    # rounding lets an off-grid price through, and the gateway's PRICE_FILTER answers.
    off = _sync(gateway_server, keys[1])
    off.markets[SYMBOL]["precision"]["price"] = float(grid.tick / 10)
    with pytest.raises(ccxt.InvalidOrder):
        off.create_order(SYMBOL, "limit", "buy", float(grid.amount(price)), float(price + grid.tick / 10))
    assert taker.fetch_open_orders(SYMBOL) == []


def test_recipe_b_default_options(gateway_server, keys):
    """Every host rewritten, every option at its default: load_markets goes through the tolerant
    endpoints (fapi/dapi exchangeInfo, sapi capital config and margin pairs, signed)."""
    ex = ccxt.binance({"apiKey": keys[0].api_key, "secret": keys[0].secret, "enableRateLimit": False})

    def walk(node):
        for k, v in list(node.items()):
            if isinstance(v, dict):
                walk(v)
            elif isinstance(v, str) and "://" in v:
                u = urlsplit(v)
                node[k] = (gateway_server.ws_base if u.scheme in ("ws", "wss") else gateway_server.http_base) \
                    + u.path
    walk(ex.urls["api"])
    markets = ex.load_markets()
    assert SYMBOL in markets and markets[SYMBOL]["spot"]
    assert ex.fetch_balance()["BTC"]["total"] is not None


# ---------------------------------------------------------------------------------------------- ccxt.pro

def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def _until(predicate, what: str, timeout: float = WATCH_TIMEOUT, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


def _rest_book(server: GatewayServer) -> tuple[int, list, list]:
    d = server.get_json("/api/v3/depth?symbol=BTCUSDT&limit=1000")
    conv = lambda side: [[float(p), float(q)] for p, q in side]  # noqa: E731
    return d["lastUpdateId"], conv(d["bids"]), conv(d["asks"])


def test_watch_order_book_gap_and_resync(gateway_server, maker, taker, grid, keys, clean):
    def rest(side: str, ticks: int):
        price = grid.px(ticks)
        return asyncio.to_thread(maker.create_order, SYMBOL, "limit", side, float(grid.amount(price)),
                                 float(price))

    async def main():
        pro = _pro(gateway_server, keys[0])

        async def settled():
            nonce, _, _ = await asyncio.to_thread(_rest_book, gateway_server)
            ours = pro.orderbooks.get(SYMBOL)
            return ours is not None and ours["nonce"] == nonce

        async def watch():
            return await asyncio.wait_for(pro.watch_order_book(SYMBOL), WATCH_TIMEOUT)

        try:
            await pro.load_markets()
            await rest("buy", -2)
            book = await watch()
            assert book["nonce"] is not None and book["bids"]
            # A few live diffs, so the strict U == nonce + 1 rule is in force (binance-compat §7 step 4).
            for i in range(3):
                await rest("buy", -6 - i)
                book = await watch()
            await _until(settled, "ccxt's book to catch up with the server")
            assert book["timestamp"] is not None

            # Force a gap on the client side: the stored nonce now lags the stream by 3, so the next diff
            # (U = real nonce + 1) does not follow it.
            pro.orderbooks[SYMBOL]["nonce"] -= 3
            await rest("buy", -12)
            with pytest.raises(ccxt.ChecksumError):
                await watch()
            assert SYMBOL not in pro.orderbooks          # ccxt dropped the book ...
            # ... and the next call re-subscribes on the same socket, gets a new ack and a new snapshot.
            await rest("sell", 15)
            book = await watch()
            for i in range(2):
                await rest("sell", 16 + i)
                book = await watch()
            await _until(settled, "the resynced book to catch up with the server")
            nonce, bids, asks = await asyncio.to_thread(_rest_book, gateway_server)
            ours = pro.orderbooks[SYMBOL]
            assert ours["nonce"] == nonce
            assert [list(x) for x in ours["bids"]] == bids and [list(x) for x in ours["asks"]] == asks
            assert len(bids) == 5 and len(asks) == 3
        finally:
            await pro.close()

    _run(main())


def test_watch_trades_ticker_ohlcv(gateway_server, maker, taker, grid, keys, clean):
    async def main():
        pro = _pro(gateway_server, keys[1])
        try:
            await pro.load_markets()
            price = grid.px(5)
            amount = grid.amount(price)
            w_trades = asyncio.ensure_future(pro.watch_trades(SYMBOL))
            w_ticker = asyncio.ensure_future(pro.watch_ticker(SYMBOL))
            w_ohlcv = asyncio.ensure_future(pro.watch_ohlcv(SYMBOL, "1m"))
            # Updates are not replayed (binance-compat §6) and ccxt does not wait for these acks, so
            # trade (always at the same price) until every watcher has seen something.
            await _drive([w_trades, w_ticker, w_ohlcv], lambda: _trade(maker, taker, grid, price, amount))

            trades = w_trades.result()
            assert trades and D(trades[-1]["price"]) == price and D(trades[-1]["amount"]) == amount
            assert trades[-1]["symbol"] == SYMBOL and trades[-1]["side"] == "buy"
            assert trades[-1]["id"] is not None and trades[-1]["timestamp"] is not None
            ticker = w_ticker.result()
            assert ticker["symbol"] == SYMBOL and D(ticker["last"]) == price
            assert ticker["baseVolume"] >= float(amount) and ticker["timestamp"] is not None
            candles = w_ohlcv.result()
            ts, o, h, low, c, v = candles[-1]
            assert D(c) == price and ts % 60_000 == 0 and v >= float(amount) and low <= c <= h
        finally:
            await pro.close()

    _run(main())


async def _drive(futures, action, rounds: int = 15, wait: float = 1.0):
    """Run ``action`` (blocking, in a thread) until every future is done, at most ``rounds`` times."""
    for _ in range(rounds):
        await asyncio.to_thread(action)
        await asyncio.wait(futures, timeout=wait)
        if all(f.done() for f in futures):
            return
    pending = [f for f in futures if not f.done()]
    for f in pending:
        f.cancel()
    raise AssertionError(f"{len(pending)} watcher(s) saw nothing after {rounds} trades")


def test_watch_orders_balance_my_trades(gateway_server, maker, taker, grid, keys, clean):
    async def main():
        pro = _pro(gateway_server, keys[1])
        try:
            await pro.load_markets()
            await asyncio.wait_for(pro.ensure_user_data_stream_ws_subscribe_signature("spot"), WATCH_TIMEOUT)
            w_orders = asyncio.ensure_future(pro.watch_orders(SYMBOL))
            w_balance = asyncio.ensure_future(pro.watch_balance())
            w_trades = asyncio.ensure_future(pro.watch_my_trades(SYMBOL))
            await asyncio.sleep(0.2)
            price = grid.px(6)
            amount = grid.amount(price)
            buy = await asyncio.to_thread(_trade, maker, taker, grid, price, amount)

            orders = await asyncio.wait_for(w_orders, WATCH_TIMEOUT)
            while not any(o["id"] == buy["id"] and o["status"] == "closed" for o in orders):
                orders = await asyncio.wait_for(pro.watch_orders(SYMBOL), WATCH_TIMEOUT)
            mine = [o for o in orders if o["id"] == buy["id"]][-1]
            assert D(mine["filled"]) == amount and mine["side"] == "buy" and mine["symbol"] == SYMBOL

            trades = await asyncio.wait_for(w_trades, WATCH_TIMEOUT)
            t = [x for x in trades if x["order"] == buy["id"]][-1]
            assert D(t["price"]) == price and D(t["amount"]) == amount and t["fee"]["cost"] is not None

            balance = await asyncio.wait_for(w_balance, WATCH_TIMEOUT)
            rest = await asyncio.to_thread(taker.fetch_balance)
            while D(balance.get("BTC", {}).get("total") or 0) != D(rest["BTC"]["total"]):
                balance = await asyncio.wait_for(pro.watch_balance(), WATCH_TIMEOUT)
            assert D(balance["USDT"]["total"]) == D(rest["USDT"]["total"])
        finally:
            await pro.close()

    _run(main())


# ---------------------------------------------------------------------------------------------- crash

def test_sigkill_then_restart_keeps_every_acknowledged_order():
    """Orders acknowledged before a SIGKILL are all there after a restart on the same data dir, with
    the same status and fills, and every balance is what it was (nothing created or lost)."""
    with tempfile.TemporaryDirectory(prefix="bdax-crash-") as tmp:
        server = GatewayServer(Path(tmp) / "data", log_path=Path(tmp) / "server.log").start()
        try:
            keys = server.trading_keys()
            a, b = _sync(server, keys[0]), _sync(server, keys[1])
            g = Grid(a.market(SYMBOL))
            acked = []
            for i in range(6):
                acked.append(a.create_order(SYMBOL, "limit", "sell", float(g.amount(g.px(i + 1))),
                                            float(g.px(i + 1))))
                acked.append(b.create_order(SYMBOL, "limit", "buy", float(g.amount(g.px(-i - 1))),
                                            float(g.px(-i - 1))))
            # takes all of the first ask and half of the second, whose rest is then canceled
            acked.append(b.create_order(SYMBOL, "market", "buy", float(g.amount(g.px(1)) * 3 / 2)))
            assert a.cancel_order(acked[2]["id"], SYMBOL)["filled"] > 0
            before = {o["id"]: (who.fetch_order(o["id"], SYMBOL)) for who, o in
                      [(a if o["side"] == "sell" else b, o) for o in acked]}
            bal_before = [_bal(a), _bal(b)]
            book_before = server.get_json("/api/v3/depth?symbol=BTCUSDT&limit=1000")

            assert server.kill() == -9
            server.start()
            a, b = _sync(server, keys[0]), _sync(server, keys[1])
            for oid, old in before.items():
                who = a if old["side"] == "sell" else b
                new = who.fetch_order(oid, SYMBOL)
                for field in ("status", "filled", "remaining", "price", "amount", "side", "type",
                              "clientOrderId"):
                    assert new[field] == old[field], (oid, field, old[field], new[field])
            assert [_bal(a), _bal(b)] == bal_before
            assert server.get_json("/api/v3/depth?symbol=BTCUSDT&limit=1000") == book_before
            # and it trades on from there
            b.cancel_order(acked[1]["id"], SYMBOL)
        finally:
            server.stop()
