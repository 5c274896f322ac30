"""Public market-data REST (gateway/rest_market.py) against the engine and a naive recomputation."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from exchange import HaltInstrument, Side, TimeInForce, TradeExecuted
from market_helpers import T0_MS, MarketHarness

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
DAY = 86_400_000


@pytest.fixture
def h():
    return MarketHarness()


@pytest.fixture
def client(h):
    with h.client() as c:
        yield c


def err(resp) -> tuple[int, int]:
    return resp.status_code, resp.json()["code"]


# ----------------------------------------------------------------------------- basics
def test_ping_time_exchange_info(h, client):
    assert client.get("/api/v3/ping").json() == {}
    assert client.get("/api/v3/time").json() == {"serverTime": T0_MS}
    info = client.get("/api/v3/exchangeInfo").json()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCKRW", "ETHUSDT"]
    assert {r["rateLimitType"] for r in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    eth = info["symbols"][1]
    assert eth["status"] == "TRADING" and eth["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET"]
    assert eth["permissionSets"] == [["SPOT"]]
    filters = {f["filterType"]: f for f in eth["filters"]}
    assert set(filters) == {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL"}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01" and filters["LOT_SIZE"]["stepSize"] == "0.001"
    for key in ("contractType", "underlying", "deliveryDate", "tradability"):
        assert key not in eth
    one = client.get("/api/v3/exchangeInfo", params={"symbols": '["ETHUSDT"]'}).json()["symbols"]
    assert [s["symbol"] for s in one] == ["ETHUSDT"]
    assert client.get("/api/v3/exchangeInfo", params={"permissions": "MARGIN"}).json()["symbols"] == []
    no_sets = client.get("/api/v3/exchangeInfo?symbol=ETHUSDT&showPermissionSets=false").json()
    assert no_sets["symbols"][0]["permissionSets"] == []
    # A halted instrument is published as HALT and selectable by status.
    h.pump.apply(HaltInstrument(0, "ETH-USDT"))
    halted = client.get("/api/v3/exchangeInfo", params={"symbolStatus": "HALT"}).json()["symbols"]
    assert [(s["symbol"], s["status"]) for s in halted] == [("ETHUSDT", "HALT")]


def test_exchange_info_krw_tick_follows_the_price(h, client):
    def tick():
        info = client.get("/api/v3/exchangeInfo?symbol=BTCKRW").json()["symbols"][0]
        return next(f for f in info["filters"] if f["filterType"] == "PRICE_FILTER")["tickSize"]
    assert tick() == "1"                      # no price yet: the lowest band
    h.order(1, "BTC-KRW", Side.BUY, "5000", "2")
    assert tick() == "5"                      # the best bid is in the 1,000.. band
    h.order(2, "BTC-KRW", Side.SELL, "95000000", "0.01")
    h.order(1, "BTC-KRW", Side.BUY, "95000000", "0.01")
    assert tick() == "1000"                   # the last trade is in the top band


def test_depth_matches_engine_and_has_no_timestamp(h, client):
    for i in range(5):
        h.order(1, "ETH-USDT", Side.BUY, f"{100 - i}.00", "1.5")
        h.order(2, "ETH-USDT", Side.SELL, f"{101 + i}.00", "0.25")
    h.order(3, "ETH-USDT", Side.BUY, "100.00", "0.5")
    body = client.get("/api/v3/depth", params={"symbol": "ETHUSDT", "limit": 3}).json()
    eng = h.engine.depth("ETH-USDT", 3)
    assert set(body) == {"lastUpdateId", "bids", "asks"}
    assert body["lastUpdateId"] == eng.update_id == 11
    assert body["bids"] == [["100.00", "2.000"], ["99.00", "1.500"], ["98.00", "1.500"]]
    assert body["asks"] == [["101.00", "0.250"], ["102.00", "0.250"], ["103.00", "0.250"]]
    assert len(client.get("/api/v3/depth?symbol=ETHUSDT").json()["bids"]) == 5


@pytest.mark.parametrize("query, status_code", [
    ("", (400, -1102)),
    ("symbol=", (400, -1102)),
    ("symbol=btckrw", (400, -1100)),
    ("symbol=XRPKRW", (400, -1121)),
    ("symbol=BTCKRW&limit=0", (400, -1100)),
    ("symbol=BTCKRW&limit=5001", (400, -1100)),
    ("symbol=BTCKRW&limit=abc", (400, -1100)),
    ("symbol=BTCKRW&limit=-5", (400, -1100)),
    ("symbol=BTCKRW&limit=1e3", (400, -1100)),
    ("symbol=BTCKRW&limit=", (400, -1105)),
    ("symbol=BTCKRW&symbol=BTCKRW", (400, -1101)),
    ("symbol=BTCKRW&timestamp=1", (400, -1104)),
])
def test_depth_bad_params(client, query, status_code):
    assert err(client.get("/api/v3/depth?" + query)) == status_code


@pytest.mark.parametrize("path", [
    "/api/v3/klines?symbol=BTCKRW&interval=2m",
    "/api/v3/klines?symbol=BTCKRW",
    "/api/v3/klines?symbol=BTCKRW&interval=1m&startTime=5&endTime=4",
    "/api/v3/klines?symbol=BTCKRW&interval=1m&timeZone=15",
    "/api/v3/klines?symbol=BTCKRW&interval=1m&timeZone=5:75",
    "/api/v3/klines?symbol=BTCKRW&interval=1m&limit=1001",
    "/api/v3/uiKlines?symbol=BTCKRW&interval=1M&limit=0",
    "/api/v3/aggTrades?symbol=BTCKRW&fromId=1&startTime=1",
    "/api/v3/aggTrades?symbol=BTCKRW&startTime=0&endTime=3600001",
    "/api/v3/trades?symbol=BTCKRW&limit=1001",
    "/api/v3/historicalTrades?symbol=BTCKRW&fromId=x",
    "/api/v3/ticker/24hr?symbol=BTCKRW&symbols=[\"BTCKRW\"]",
    "/api/v3/ticker/24hr?symbols=BTCKRW",
    "/api/v3/ticker/24hr?symbols=[]",
    "/api/v3/ticker/24hr?symbols=[\"BTCKRW\",\"BTCKRW\"]",
    "/api/v3/ticker/24hr?symbols=[\"BTCKRW\",\"NOPE\"]",
    "/api/v3/ticker/24hr?type=HUGE",
    "/api/v3/ticker",
    "/api/v3/ticker?symbol=BTCKRW&windowSize=8d",
    "/api/v3/ticker?symbol=BTCKRW&windowSize=60m",
    "/api/v3/ticker/price?symbol=",
    "/api/v3/ticker/bookTicker?symbol=BTC-KRW",
    "/api/v3/avgPrice",
    "/api/v3/exchangeInfo?symbolStatus=OPEN",
    "/api/v3/exchangeInfo?permissions=[1]",
    "/api/v3/ping?x=1",
])
def test_bad_params_are_binance_errors_and_change_nothing(h, client, path):
    before = h.engine.state_hash(), h.md.last_seq
    resp = client.get(path)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"code", "msg"} and body["code"] < 0 and body["msg"]
    assert (h.engine.state_hash(), h.md.last_seq) == before


# ----------------------------------------------------------------------------- trades
def test_trades_and_agg_trades(h, client):
    for px in ("100.00", "100.00", "101.00"):
        h.order(1, "ETH-USDT", Side.SELL, px, "1")
    events = h.order(2, "ETH-USDT", Side.BUY, None, "2.5")            # sweeps 3 makers at 2 prices
    fills = [e for e in events if type(e) is TradeExecuted]
    assert len(fills) == 3
    trades = client.get("/api/v3/trades?symbol=ETHUSDT").json()
    assert [t["id"] for t in trades] == [f.seq for f in fills]
    assert trades[0] == {"id": fills[0].seq, "price": "100.00", "qty": "1.000", "quoteQty": "100.00000000",
                         "time": T0_MS, "isBuyerMaker": False, "isBestMatch": True}
    aggs = client.get("/api/v3/aggTrades?symbol=ETHUSDT").json()
    assert aggs == [
        {"a": fills[0].seq, "p": "100.00", "q": "2.000", "f": fills[0].seq, "l": fills[1].seq, "T": T0_MS,
         "m": False, "M": True},
        {"a": fills[2].seq, "p": "101.00", "q": "0.500", "f": fills[2].seq, "l": fills[2].seq, "T": T0_MS,
         "m": False, "M": True}]
    h.clock.ms += 60_000
    h.order(3, "ETH-USDT", Side.BUY, "50.00", "1")
    h.order(2, "ETH-USDT", Side.SELL, "50.00", "1")                   # a sell taker: buyer is maker
    last = client.get("/api/v3/aggTrades?symbol=ETHUSDT&limit=1").json()
    assert last[0]["m"] is True and last[0]["T"] == T0_MS + 60_000
    assert [a["a"] for a in client.get(f"/api/v3/aggTrades?symbol=ETHUSDT&fromId={fills[2].seq}").json()] \
        == [fills[2].seq, last[0]["a"]]
    by_time = client.get("/api/v3/aggTrades", params={"symbol": "ETHUSDT", "startTime": T0_MS + 1,
                                                      "endTime": T0_MS + 3_600_000}).json()
    assert [a["a"] for a in by_time] == [last[0]["a"]]
    assert client.get(f"/api/v3/aggTrades?symbol=ETHUSDT&endTime={T0_MS}&limit=1").json() == [aggs[1]]
    hist = client.get(f"/api/v3/historicalTrades?symbol=ETHUSDT&fromId={fills[1].seq}&limit=2").json()
    assert [t["id"] for t in hist] == [fills[1].seq, fills[2].seq]
    assert len(client.get("/api/v3/trades?symbol=ETHUSDT&limit=2").json()) == 2


# ----------------------------------------------------------------------------- naive recomputation
def _naive_open(t: int, interval: str, tz_ms: int = 0) -> int:
    dt = datetime.fromtimestamp((t + tz_ms) / 1000, timezone.utc)
    if interval == "1M":
        start = dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif interval == "1w":
        start = (dt - timedelta(days=dt.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        n, unit = int(interval[:-1]), interval[-1]
        step = n * {"s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY}[unit]
        return (t + tz_ms) // step * step - tz_ms
    return int(start.timestamp()) * 1000 - tz_ms


def _trading_session(h, rng: random.Random, n: int = 160) -> list[TradeExecuted]:
    """Random order flow on ETH-USDT with the clock jumping between seconds and days."""
    fills = []
    mid = 10_000
    for _ in range(n):
        h.clock.ms += rng.choice([0, 1, 250, 999, 1000, 61_000, 3_600_000, 5 * 3_600_000, DAY + 7])
        mid = max(100, mid + rng.randint(-40, 40))
        side = rng.choice([Side.BUY, Side.SELL])
        px = mid + (rng.randint(1, 30) if side == Side.SELL else -rng.randint(1, 30))
        events = h.order(rng.randint(1, 3), "ETH-USDT", side, f"{px / 100:.2f}",
                         f"{rng.randint(1, 3000) / 1000:.3f}")
        taker = Side.BUY if side == Side.SELL else Side.SELL
        events += h.order(rng.randint(1, 3), "ETH-USDT", taker, None, f"{rng.randint(1, 4000) / 1000:.3f}")
        fills += [e for e in events if type(e) is TradeExecuted]
    return fills


def _naive_candles(fills, interval, tz_ms=0):
    out: dict[int, list] = {}
    for f in fills:
        t = f.ts_ns // 1_000_000
        k = _naive_open(t, interval, tz_ms)
        c = out.get(k)
        buy = f.aggressor == Side.BUY
        if c is None:
            out[k] = [k, f.price_ticks, f.price_ticks, f.price_ticks, f.price_ticks, f.qty_lots,
                      f.quote_amount, 1, f.qty_lots if buy else 0, f.quote_amount if buy else 0]
        else:
            c[2], c[3], c[4] = max(c[2], f.price_ticks), min(c[3], f.price_ticks), f.price_ticks
            c[5] += f.qty_lots
            c[6] += f.quote_amount
            c[7] += 1
            c[8] += f.qty_lots if buy else 0
            c[9] += f.quote_amount if buy else 0
    return out


def _as_ints(h, row):
    inst = h.insts["ETH-USDT"]
    return [row[0], inst.price_to_ticks(row[1]), inst.price_to_ticks(row[2]), inst.price_to_ticks(row[3]),
            inst.price_to_ticks(row[4]), inst.qty_to_lots(row[5]), inst.quote.to_units(row[7]), row[8],
            inst.qty_to_lots(row[9]), inst.quote.to_units(row[10])]


@pytest.mark.parametrize("interval, tz", [("1s", None), ("1m", None), ("5m", None), ("1h", None),
                                          ("1d", None), ("3d", None), ("1w", None), ("1M", None),
                                          ("1d", "9"), ("4h", "-3:30"), ("1w", "5:45"), ("1M", "-1")])
def test_klines_match_naive_recomputation(h, client, interval, tz):
    fills = _trading_session(h, random.Random(7))
    tz_ms = 0
    if tz:
        sign = -1 if tz.startswith("-") else 1
        hh, _, mm = tz.lstrip("-").partition(":")
        tz_ms = sign * (int(hh) * 60 + int(mm or 0)) * 60_000
    naive = _naive_candles(fills, interval, tz_ms)
    params = {"symbol": "ETHUSDT", "interval": interval, "limit": 1000, "startTime": 0}
    if tz:
        params["timeZone"] = tz
    rows = client.get("/api/v3/klines", params=params).json()
    assert rows, "no klines"
    first_open = min(naive)
    assert rows[0][0] == first_open
    prev_close = None
    for i, row in enumerate(rows):
        assert len(row) == 12 and row[11] == "0"
        if i:
            assert row[0] == rows[i - 1][6] + 1, "candles must be contiguous"
        got = _as_ints(h, row)
        if row[0] in naive:
            assert got == naive[row[0]]
        else:   # a quiet interval: flat at the previous close
            assert got == [row[0], prev_close, prev_close, prev_close, prev_close, 0, 0, 0, 0, 0]
        prev_close = got[4]
    if len(rows) < 1000:
        assert rows[-1][0] == _naive_open(h.clock.ms, interval, tz_ms)   # up to the current interval
        assert set(naive) <= {r[0] for r in rows}
    # Without startTime: the newest `limit`, ending at the current interval.
    newest = client.get("/api/v3/klines", params={k: v for k, v in params.items() if k != "startTime"}
                        | {"limit": 3}).json()
    assert len(newest) == min(3, len(rows)) and newest[-1][0] == _naive_open(h.clock.ms, interval, tz_ms)
    again = client.get("/api/v3/klines", params=params | {"startTime": newest[0][0]}).json()
    assert again == newest
    ui = client.get("/api/v3/uiKlines", params=params).json()
    assert ui == rows


def test_klines_start_end_window(h, client):
    _trading_session(h, random.Random(3), 40)
    all_rows = client.get("/api/v3/klines?symbol=ETHUSDT&interval=1h&startTime=0&limit=1000").json()
    mid = all_rows[len(all_rows) // 2]
    sel = client.get("/api/v3/klines", params={"symbol": "ETHUSDT", "interval": "1h",
                                               "startTime": mid[0] - 1, "endTime": mid[0] + 5 * 3_600_000,
                                               "limit": 4}).json()
    assert sel == [r for r in all_rows if mid[0] <= r[0] <= mid[0] + 5 * 3_600_000][:4]
    assert client.get("/api/v3/klines?symbol=BTCKRW&interval=1m").json() == []   # never traded


def _naive_rolling(fills, now, window):
    start = (now - window) // 60_000 * 60_000
    win = [f for f in fills if f.ts_ns // 1_000_000 >= start]
    before = [f for f in fills if f.ts_ns // 1_000_000 < start]
    return start, win, before


def test_tickers_match_naive_recomputation(h, client):
    fills = _trading_session(h, random.Random(11), 200)
    h.order(1, "ETH-USDT", Side.BUY, "1.00", "1.5")           # both sides resting, no trade
    h.order(2, "ETH-USDT", Side.SELL, "999.00", "2")
    h.clock.ms += 12_345
    now = h.clock.ms
    inst = h.insts["ETH-USDT"]
    for window, path in ((DAY, "/api/v3/ticker/24hr?symbol=ETHUSDT"),
                         (7 * DAY, "/api/v3/ticker?symbol=ETHUSDT&windowSize=7d"),
                         (2 * 3_600_000, "/api/v3/ticker?symbol=ETHUSDT&windowSize=2h"),
                         (DAY, "/api/v3/ticker?symbol=ETHUSDT")):
        start, win, before = _naive_rolling(fills, now, window)
        t = client.get(path).json()
        assert t["openTime"] == start and t["closeTime"] == now
        if not win:
            assert t["count"] == 0 and t["firstId"] == -1
            continue
        px = [f.price_ticks for f in win]
        vol, quote = sum(f.qty_lots for f in win), sum(f.quote_amount for f in win)
        assert t["openPrice"] == inst.format_price(px[0])
        assert t["highPrice"] == inst.format_price(max(px)) and t["lowPrice"] == inst.format_price(min(px))
        assert t["lastPrice"] == inst.format_price(px[-1])
        assert t["priceChange"] == inst.format_price(px[-1] - px[0])
        pct = (Decimal(px[-1] - px[0]) * 100 / Decimal(px[0])).quantize(Decimal("0.001"), "ROUND_HALF_UP")
        assert t["priceChangePercent"] == f"{pct:.3f}"
        wavg = (Decimal(quote) / Decimal(10**8)) / (Decimal(vol) * inst.lot_size)
        assert Decimal(t["weightedAvgPrice"]) == wavg.quantize(Decimal("1e-8"), "ROUND_HALF_UP")
        assert t["volume"] == inst.format_qty(vol) and t["quoteVolume"] == inst.quote.format(quote)
        assert (t["count"], t["firstId"], t["lastId"]) == (len(win), win[0].seq, win[-1].seq)
        if "prevClosePrice" in t:
            assert t["prevClosePrice"] == inst.format_price(before[-1].price_ticks if before else px[0])
            assert t["lastQty"] == inst.format_qty(fills[-1].qty_lots)
            top = h.engine.depth("ETH-USDT", 1)
            assert [t["bidPrice"], t["bidQty"]] == [inst.format_price(top.bids[0][0]),
                                                    inst.format_qty(top.bids[0][1])]
            assert [t["askPrice"], t["askQty"]] == [inst.format_price(top.asks[0][0]),
                                                    inst.format_qty(top.asks[0][1])]
            assert "time" not in t
    mini = client.get("/api/v3/ticker/24hr?symbol=ETHUSDT&type=MINI").json()
    assert set(mini) == {"symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume",
                         "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count"}
    both = client.get("/api/v3/ticker/24hr", params={"symbols": json.dumps(["ETHUSDT", "BTCKRW"])}).json()
    assert [t["symbol"] for t in both] == ["ETHUSDT", "BTCKRW"]
    assert both[1]["count"] == 0 and both[1]["lastPrice"] == "0"
    assert len(client.get("/api/v3/ticker/24hr").json()) == 2
    price = client.get("/api/v3/ticker/price?symbol=ETHUSDT").json()
    assert price == {"symbol": "ETHUSDT", "price": inst.format_price(fills[-1].price_ticks)}
    book = client.get("/api/v3/ticker/bookTicker?symbol=ETHUSDT").json()
    top = h.engine.depth("ETH-USDT", 1)
    assert book == {"symbol": "ETHUSDT", "bidPrice": inst.format_price(top.bids[0][0]),
                    "bidQty": inst.format_qty(top.bids[0][1]), "askPrice": inst.format_price(top.asks[0][0]),
                    "askQty": inst.format_qty(top.asks[0][1])}


def test_avg_price(h, client):
    inst = h.insts["ETH-USDT"]
    assert client.get("/api/v3/avgPrice?symbol=ETHUSDT").json() == {"mins": 5, "price": "0.00000000",
                                                                    "closeTime": 0}
    h.order(1, "ETH-USDT", Side.SELL, "100.00", "1")
    h.order(2, "ETH-USDT", Side.BUY, "100.00", "1")
    h.clock.ms += 200_000
    h.order(1, "ETH-USDT", Side.SELL, "103.00", "2", TimeInForce.GTC)
    h.order(2, "ETH-USDT", Side.BUY, "103.00", "2")
    t_last = h.clock.ms
    h.clock.ms += 10_000
    # (100*1 + 103*2) / 3 = 102
    assert client.get("/api/v3/avgPrice?symbol=ETHUSDT").json() == {"mins": 5, "price": "102.00000000",
                                                                    "closeTime": t_last}
    h.clock.ms += 100_000          # the first trade is now older than 5 minutes
    assert client.get("/api/v3/avgPrice?symbol=ETHUSDT").json()["price"] == "103.00000000"
    h.clock.ms += 10 * 60_000      # no trade in the window: the last price
    assert client.get("/api/v3/avgPrice?symbol=ETHUSDT").json()["price"] == "103.00000000"
    assert inst.symbol == "ETH-USDT"
