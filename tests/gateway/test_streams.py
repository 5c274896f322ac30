"""Market streams (gateway/streams.py): protocol, every stream kind, and the depth-sync invariant."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from exchange import CancelAll, Side
from gateway.streams import StreamLimits
from market_helpers import MarketHarness, call, nothing_pending, recv, recv_raw

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def h():
    return MarketHarness()


@pytest.fixture
def client(h):
    with h.client() as c:
        yield c


def send(ws, h, msg) -> dict:
    """Send one control message in a fresh rate-limit second and return the reply."""
    h.clock.ms += 1000
    ws.send_json(msg) if not isinstance(msg, str) else ws.send_text(msg)
    return recv(ws)


def ticks(client, h, n: int = 1) -> None:
    for _ in range(n):
        call(client, h.hub.tick)


def drain(ws) -> list[dict]:
    out = []
    while True:
        try:
            out.append(recv(ws, 0.05))
        except TimeoutError:
            return out


# ----------------------------------------------------------------------------- protocol
def test_subscribe_list_unsubscribe_and_properties(h, client):
    with client.websocket_connect("/ws/0") as ws:
        assert send(ws, h, {"method": "SUBSCRIBE", "params": ["ethusdt@trade", "ethusdt@depth@100ms"],
                            "id": 1}) == {"result": None, "id": 1}
        # A repeated SUBSCRIBE (ccxt's resync) is acknowledged and not duplicated.
        assert send(ws, h, {"method": "SUBSCRIBE", "params": ["ethusdt@depth@100ms"], "id": 2}) == \
            {"result": None, "id": 2}
        assert send(ws, h, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == \
            {"result": ["ethusdt@trade", "ethusdt@depth@100ms"], "id": 3}
        assert len(h.hub.subs["ethusdt@depth@100ms"]) == 1
        assert send(ws, h, {"method": "UNSUBSCRIBE", "params": ["ethusdt@trade"], "id": 4}) == \
            {"result": None, "id": 4}
        assert send(ws, h, {"method": "LIST_SUBSCRIPTIONS", "id": "five"}) == \
            {"result": ["ethusdt@depth@100ms"], "id": "five"}
        assert send(ws, h, {"method": "GET_PROPERTY", "params": ["combined"], "id": 6}) == \
            {"result": False, "id": 6}
        assert send(ws, h, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 7}) == \
            {"result": None, "id": 7}
        assert send(ws, h, {"method": "GET_PROPERTY", "params": ["combined"], "id": 8}) == \
            {"result": True, "id": 8}
    assert h.hub.subs == {} and h.hub.conns == set()


@pytest.mark.parametrize("msg, code", [
    ("{not json", 3),
    ("[1, 2]", 2),
    ({"params": ["ethusdt@trade"], "id": 1}, 2),
    ({"method": "PING", "id": 1}, 2),
    ({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": -1}, 2),
    ({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 1.5}, 2),
    ({"method": "SUBSCRIBE", "params": "ethusdt@trade", "id": 1}, 2),
    ({"method": "SUBSCRIBE", "params": ["ethusdt@trade", "ETHUSDT@trade"], "id": 1}, 2),
    ({"method": "SUBSCRIBE", "params": ["xrpusdt@trade"], "id": 1}, 2),
    ({"method": "SUBSCRIBE", "params": ["ethusdt@kline_2m"], "id": 1}, 2),
    ({"method": "SUBSCRIBE", "params": ["ethusdt@depth7"], "id": 1}, 2),
    ({"method": "SUBSCRIBE", "params": [3], "id": 1}, 2),
    ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 1}, 1),
    ({"method": "SET_PROPERTY", "params": ["speed", True], "id": 1}, 0),
    ({"method": "GET_PROPERTY", "params": ["speed"], "id": 1}, 0),
])
def test_bad_messages_get_binance_errors_and_change_nothing(h, client, msg, code):
    with client.websocket_connect("/ws") as ws:
        reply = send(ws, h, msg)
        assert set(reply) == {"error", "id"} and reply["error"]["code"] == code, reply
        assert reply["error"]["msg"]
        assert send(ws, h, {"method": "LIST_SUBSCRIPTIONS", "id": 9}) == {"result": [], "id": 9}
        assert send(ws, h, {"method": "GET_PROPERTY", "params": ["combined"], "id": 10})["result"] is False


def test_too_many_streams_and_messages():
    h = MarketHarness(StreamLimits(max_streams=3, messages_per_second=5))
    with h.client() as client, client.websocket_connect("/ws") as ws:
        names = ["ethusdt@trade", "ethusdt@aggTrade", "ethusdt@ticker", "ethusdt@miniTicker"]
        reply = send(ws, h, {"method": "SUBSCRIBE", "params": names, "id": 1})
        assert reply["error"]["code"] == 2 and "too many streams" in reply["error"]["msg"]
        assert send(ws, h, {"method": "SUBSCRIBE", "params": names[:3], "id": 2}) == {"result": None, "id": 2}
        assert send(ws, h, {"method": "SUBSCRIBE", "params": names[3:], "id": 3})["error"]["code"] == 2
        # Five messages in one second are fine, the sixth is refused (and ignored).
        h.clock.ms += 1000
        for i in range(5):
            ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 10 + i})
        for i in range(5):
            assert recv(ws)["id"] == 10 + i
        ws.send_json({"method": "UNSUBSCRIBE", "params": names[:3], "id": 20})
        reply = recv(ws)
        assert reply["error"]["code"] == 2 and "too many messages" in reply["error"]["msg"]
        assert send(ws, h, {"method": "LIST_SUBSCRIPTIONS", "id": 21})["result"] == names[:3]


def test_unknown_stream_in_url_is_refused(client):
    with client.websocket_connect("/stream?streams=nope@trade") as ws:
        assert recv(ws)["error"]["code"] == 2
        msg = recv_raw(ws)
        assert msg["type"] == "websocket.close" and msg["code"] == 1008


# ----------------------------------------------------------------------------- event streams
def test_trade_agg_trade_and_book_ticker(h, client):
    with client.websocket_connect("/ws/ethusdt@trade/ethusdt@aggTrade") as ws:
        assert send(ws, h, {"method": "SUBSCRIBE", "params": ["ethusdt@bookTicker"], "id": 1})["id"] == 1
        call(client, h.order, 1, "ETH-USDT", Side.SELL, "100.00", "1")
        call(client, h.order, 1, "ETH-USDT", Side.SELL, "100.00", "1")
        bt = [recv(ws), recv(ws)]
        assert bt[0] == {"u": 1, "s": "ETHUSDT", "b": "0.00", "B": "0.000", "a": "100.00", "A": "1.000"}
        assert bt[1]["u"] == 2 and bt[1]["A"] == "2.000"
        events = call(client, h.order, 2, "ETH-USDT", Side.BUY, None, "1.5")
        fills = [e for e in events if type(e).__name__ == "TradeExecuted"]
        got = [recv(ws) for _ in range(4)]
        assert [m.get("e") for m in got] == ["trade", "trade", "aggTrade", None]
        assert got[0] == {"e": "trade", "E": h.clock.ms, "s": "ETHUSDT", "t": fills[0].seq, "p": "100.00",
                          "q": "1.000", "T": h.clock.ms, "m": False, "M": True}
        assert got[2] == {"e": "aggTrade", "E": h.clock.ms, "s": "ETHUSDT", "a": fills[0].seq, "p": "100.00",
                          "q": "1.500", "f": fills[0].seq, "l": fills[1].seq, "T": h.clock.ms, "m": False,
                          "M": True}
        assert got[3]["A"] == "0.500"
        # A book change that leaves the top alone sends no bookTicker.
        call(client, h.order, 3, "ETH-USDT", Side.BUY, "50.00", "1")
        assert recv(ws)["b"] == "50.00"
        call(client, h.order, 3, "ETH-USDT", Side.BUY, "40.00", "1")
        assert nothing_pending(ws)


def test_combined_stream_wraps_payloads(h, client):
    with client.websocket_connect("/stream?streams=ethusdt@trade") as ws:
        call(client, h.order, 1, "ETH-USDT", Side.SELL, "100.00", "1")
        call(client, h.order, 2, "ETH-USDT", Side.BUY, "100.00", "1")
        msg = recv(ws)
        assert set(msg) == {"stream", "data"} and msg["stream"] == "ethusdt@trade"
        assert msg["data"]["e"] == "trade"
        assert send(ws, h, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 1})["id"] == 1
        call(client, h.order, 1, "ETH-USDT", Side.SELL, "100.00", "1")
        call(client, h.order, 2, "ETH-USDT", Side.BUY, "100.00", "1")
        assert recv(ws)["e"] == "trade"


def test_partial_books_tickers_and_klines(h, client):
    streams = ["ethusdt@depth5@100ms", "ethusdt@depth10", "ethusdt@miniTicker", "ethusdt@ticker",
               "!miniTicker@arr", "!ticker@arr", "ethusdt@kline_1m", "btckrw@ticker"]
    for i in range(12):
        h.order(1, "ETH-USDT", Side.BUY, f"{90 - i}.00", "1")
        h.order(2, "ETH-USDT", Side.SELL, f"{110 + i}.00", "1")
    with client.websocket_connect("/stream?streams=" + "/".join(streams)) as ws:
        call(client, h.order, 3, "ETH-USDT", Side.BUY, None, "0.5")
        ticks(client, h, 10)
        by: dict[str, list] = {}
        for m in drain(ws):
            by.setdefault(m["stream"], []).append(m["data"])
        assert len(by["ethusdt@depth5@100ms"]) == 10 and len(by["ethusdt@depth10"]) == 1
        snap = by["ethusdt@depth10"][0]
        assert snap["lastUpdateId"] == h.engine.depth("ETH-USDT").update_id
        assert snap["bids"][0] == ["90.00", "1.000"] and len(snap["bids"]) == 10
        assert snap["asks"][0] == ["110.00", "0.500"] and len(by["ethusdt@depth5@100ms"][-1]["asks"]) == 5
        rest = client.get("/api/v3/ticker/24hr?symbol=ETHUSDT").json()
        t = by["ethusdt@ticker"][0]
        assert (t["e"], t["s"], t["c"], t["o"], t["v"], t["q"], t["n"], t["b"], t["B"], t["a"], t["A"]) == (
            "24hrTicker", "ETHUSDT", rest["lastPrice"], rest["openPrice"], rest["volume"],
            rest["quoteVolume"], rest["count"], rest["bidPrice"], rest["bidQty"], rest["askPrice"],
            rest["askQty"])
        mini = by["ethusdt@miniTicker"][0]
        assert (mini["e"], mini["c"], mini["h"], mini["l"]) == ("24hrMiniTicker", "110.00", "110.00", "110.00")
        assert [x["s"] for x in by["!miniTicker@arr"][0]] == ["ETHUSDT"]   # only changed symbols
        assert [x["s"] for x in by["!ticker@arr"][0]] == ["ETHUSDT"]
        assert by["btckrw@ticker"][0]["n"] == 0                             # single streams: every second
        k = by["ethusdt@kline_1m"][0]["k"]
        assert (k["i"], k["o"], k["c"], k["v"], k["n"], k["x"]) == ("1m", "110.00", "110.00", "0.500", 1, False)
        # The minute ends: the closed candle (x true), then the new, flat one.
        h.clock.ms += 60_000
        ticks(client, h, 10)
        kl = [m["data"]["k"] for m in drain(ws) if m["stream"] == "ethusdt@kline_1m"]
        assert [(x["t"], x["x"], x["v"]) for x in kl] == [(k["t"], True, "0.500"), (k["t"] + 60_000, False,
                                                                                    "0.000")]


def test_listen_key_path_goes_to_the_user_stream_hook(h, client):
    async def fake(websocket, path):
        if path != "userkey123":
            return False
        await websocket.accept()
        await websocket.send_json({"user": path})
        await websocket.close()
        return True
    h.hub.listen_key_handler = fake
    with client.websocket_connect("/ws/userkey123") as ws:
        assert recv(ws) == {"user": "userkey123"}
    with client.websocket_connect("/ws/somethingelse") as ws:
        assert send(ws, h, {"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": [], "id": 1}


# ----------------------------------------------------------------------------- depth sync
def _ccxt_sync(snapshot: dict, diffs: list[dict]) -> tuple[dict, dict]:
    """ccxt's watch_order_book rules (binance-compat §7) applied to a snapshot and later diffs."""
    nonce = snapshot["lastUpdateId"]
    book = {"b": {p: q for p, q in snapshot["bids"]}, "a": {p: q for p, q in snapshot["asks"]}}
    applied_any = False
    for d in diffs:
        if d["u"] <= nonce:
            continue
        if not applied_any:
            assert d["U"] <= nonce + 1 <= d["u"], (nonce, d["U"], d["u"])
        else:
            assert d["U"] == nonce + 1, (nonce, d["U"])
        assert "E" in d
        for side in ("b", "a"):
            for p, q in d[side]:
                if float(q) == 0:
                    book[side].pop(p, None)
                else:
                    book[side][p] = q
        nonce = d["u"]
        applied_any = True
    return book, {"nonce": nonce}


step = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 3), st.sampled_from([Side.BUY, Side.SELL]),
              st.integers(95, 105), st.integers(1, 5), st.booleans()),
    st.tuples(st.just("cancel_all"), st.integers(1, 3)),
    st.tuples(st.just("tick")),
    st.tuples(st.just("snapshot")),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(step, min_size=5, max_size=60))
def test_depth_diffs_resync_with_any_snapshot(steps):
    h = MarketHarness()
    with h.client() as client, client.websocket_connect(
            "/stream?streams=ethusdt@depth@100ms/ethusdt@depth") as ws:
        snapshots: list[tuple[dict, int]] = []
        fast: list[dict] = []
        slow: list[dict] = []

        def collect():
            for m in drain(ws):
                (fast if m["stream"].endswith("@100ms") else slow).append(m["data"])

        for s in steps:
            if s[0] == "order":
                _, acct, side, px, qty, market = s
                call(client, h.order, acct, "ETH-USDT", side, None if market else f"{px}.00", str(qty))
            elif s[0] == "cancel_all":
                call(client, h.pump.apply, CancelAll(0, s[1], "ETH-USDT"))
            elif s[0] == "tick":
                ticks(client, h)
            else:
                collect()
                snapshots.append((client.get("/api/v3/depth?symbol=ETHUSDT&limit=5000").json(), len(fast)))
        ticks(client, h, 10)       # flush both speeds
        collect()
        final = h.engine.depth("ETH-USDT", 5000)
        want = {"b": {h.insts["ETH-USDT"].format_price(p): h.insts["ETH-USDT"].format_qty(q)
                      for p, q in final.bids},
                "a": {h.insts["ETH-USDT"].format_price(p): h.insts["ETH-USDT"].format_qty(q)
                      for p, q in final.asks}}
        for diffs in (fast, slow):
            for a, b in zip(diffs, diffs[1:]):
                assert b["U"] == a["u"] + 1
            if diffs:
                assert diffs[-1]["u"] == final.update_id
        snapshots.append(({"lastUpdateId": 0, "bids": [], "asks": []}, 0))   # a client from the start
        for snap, _seen in snapshots:
            for diffs in (fast, slow):
                book, _ = _ccxt_sync(snap, diffs)
                assert book == want
