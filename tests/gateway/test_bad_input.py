"""The bad-input table: malformed requests and messages, each with the answer Binance gives, and proof
that none of them changed anything.

Every row sends one request (REST), one WebSocket API message or one market-stream message to one
in-process app (``create_app`` + ``TestClient``, shared by the module) and checks the HTTP (or WS API)
status, the Binance error code and a fragment of the message. After every row the engine's
``state_hash()`` and the journal's ``last_seq`` must be what they were before: a rejected input never
reaches the journal. Rows marked ``engine`` are the few whose rejection needs the engine's state (an
unknown order id, funds): those are journaled and answered from the engine's reject, so there the
journal grows by exactly one record and the engine state is unchanged except its event counter.

Codes (Binance spot "Error Codes"): -1100 illegal characters, -1101 too many / duplicate parameters,
-1102 mandatory parameter missing or empty, -1104 not all parameters read, -1106 parameter not required,
-1111 precision over the asset's maximum, -1013 filter failure, -1116 invalid order type, -1121 invalid
symbol, -1131 recvWindow over 60000, -1021 timestamp outside recvWindow, -1022 invalid signature, -2010
order rejected, -2011 unknown order, -2014 API-key format invalid, -2015 invalid key/IP/permissions.
Market streams answer ``{"error": {"code", "msg"}, "id"}`` with their own codes: 0 unknown property,
1 invalid value type, 2 invalid request, 3 invalid JSON.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gateway.app import create_app  # noqa: E402
from gateway.config import parse_config  # noqa: E402
from gw_helpers import ADMIN_TOKEN, KEYS, config_data, now_ms, sign, ws_signed_params  # noqa: E402

MAX_STREAMS = 8   # streams per market-stream connection in this module's app (Binance: 1024)

# A valid LIMIT order on ETHUSDT (tick 0.01, lot 0.001, min notional 10): rows change one thing.
ORDER = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.100",
         "price": "1000.00"}


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int | str | None     # HTTP / WS API status; "close" for a closed socket; None: stream error
    code: int | None
    msg: str


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    send: Callable[[TestClient], Answer]
    status: int | str | None
    code: int
    fragment: str
    engine: bool = False          # rejected by the engine (journaled) rather than at the edge


# ---------------------------------------------------------------------------------------------- senders

def _rest_answer(r) -> Answer:
    try:
        body = r.json()
    except ValueError:
        return Answer(r.status_code, None, r.text[:200])
    assert isinstance(body, dict) and set(body) == {"code", "msg"}, f"not Binance's error shape: {body!r}"
    assert isinstance(body["code"], int) and body["code"] < 0 and isinstance(body["msg"], str), body
    return Answer(r.status_code, body["code"], body["msg"])


def signed(method: str, path: str, params: dict | list | None = None, *, key: str = "trader",
           ts_offset_ms: int = 0, recv_window: int | str | None = 10000, secret: str | None = None,
           api_key: str | None = None, sig: str | None = None, raw: str | None = None,
           no_key: bool = False):
    """A SIGNED request the way ccxt builds it, with every part overridable; the timestamp is taken
    when the row runs (plus ``ts_offset_ms``). ``raw``: the exact unsigned query/body text, ``{now}``
    standing for the timestamp (``signature`` is appended to it)."""
    k, s, _acct, _perms = KEYS[key]

    def send(client: TestClient) -> Answer:
        now = now_ms() + ts_offset_ms
        if raw is None:
            items = [("timestamp", now)]
            items += list(params.items()) if isinstance(params, dict) else list(params or [])
            if recv_window is not None:
                items.append(("recvWindow", recv_window))
            text = urlencode(items)
        else:
            text = raw.replace("{now}", str(now))
        signature = sign(secret or s, text) if sig is None else sig
        if signature != "":
            text = f"{text}&signature={signature}"
        hdrs = {} if no_key else {"X-MBX-APIKEY": api_key if api_key is not None else k}
        if method in ("GET", "DELETE"):
            return _rest_answer(client.request(method, f"{path}?{text}", headers=hdrs))
        h = {"Content-Type": "application/x-www-form-urlencoded", **hdrs}
        return _rest_answer(client.request(method, path, content=text, headers=h))
    return send


def order(**changes) -> Callable[[TestClient], Answer]:
    """POST /api/v3/order with ORDER changed: a value of None removes that parameter."""
    p = {**ORDER, **changes}
    return signed("POST", "/api/v3/order", {k: v for k, v in p.items() if v is not None})


def public(path: str) -> Callable[[TestClient], Answer]:
    return lambda client: _rest_answer(client.get(path))


def admin(body, token: str = ADMIN_TOKEN) -> Callable[[TestClient], Answer]:
    def send(client: TestClient) -> Answer:
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return _rest_answer(client.post("/admin/deposit", content=content,
                                        headers={"X-BDAX-ADMIN-TOKEN": token,
                                                 "Content-Type": "application/json"}))
    return send


def wsapi(message: str | dict) -> Callable[[TestClient], Answer]:
    """One WebSocket API message on a fresh connection; the answer to it."""
    def send(client: TestClient) -> Answer:
        with client.websocket_connect("/ws-api/v3") as ws:
            ws.send_text(message if isinstance(message, str) else json.dumps(message))
            reply = ws.receive_json()
        assert set(reply) >= {"id", "status", "error"}, reply
        assert isinstance(reply["error"]["code"], int) and reply["error"]["code"] < 0, reply
        return Answer(reply["status"], reply["error"]["code"], reply["error"]["msg"])
    return send


def ws_order(key: str = "trader", secret: str | None = None, **changes) -> Callable[[TestClient], Answer]:
    p = {k: v for k, v in {**ORDER, **changes}.items() if v is not None}

    def send(client: TestClient) -> Answer:   # signed when the row runs
        msg = {"id": "r1", "method": "order.place", "params": ws_signed_params(p, key, secret=secret)}
        return wsapi(msg)(client)
    return send


def stream(*messages: str | dict, path: str = "/ws") -> Callable[[TestClient], Answer]:
    """Market-stream messages on a fresh connection; the answer to the last one."""
    def send(client: TestClient) -> Answer:
        with client.websocket_connect(path) as ws:
            for m in messages:
                ws.send_text(m if isinstance(m, str) else json.dumps(m))
                reply = ws.receive_json()
        assert set(reply) == {"error", "id"}, f"not a stream error: {reply!r}"
        return Answer(None, reply["error"]["code"], reply["error"]["msg"])
    return send


def stream_url(path: str) -> Callable[[TestClient], Answer]:
    """Connect to ``path``; the server must close the socket (code and reason)."""
    from starlette.websockets import WebSocketDisconnect

    def send(client: TestClient) -> Answer:
        try:
            with client.websocket_connect(path) as ws:
                while True:
                    ws.receive_text()
        except WebSocketDisconnect as exc:
            return Answer("close", exc.code, exc.reason or "")
        raise AssertionError("the socket was not closed")
    return send


def _many_params(n: int) -> list:
    return list(ORDER.items()) + [(f"p{i}", "1") for i in range(n)]


def _signature_not_last(client: TestClient) -> Answer:
    # A client that signed "timestamp=..&symbol=ETHUSDT", put the signature there and then added more
    # parameters: what follows the signature is not covered by it.
    k, s, _a, _p = KEYS["trader"]
    head = urlencode([("timestamp", now_ms()), ("symbol", "ETHUSDT")])
    tail = urlencode([(k2, v) for k2, v in ORDER.items() if k2 != "symbol"] + [("recvWindow", 10000)])
    body = f"{head}&signature={sign(s, head)}&{tail}"
    return _rest_answer(client.post("/api/v3/order", content=body, headers={
        "X-MBX-APIKEY": k, "Content-Type": "application/x-www-form-urlencoded"}))


def _oversized(client: TestClient) -> Answer:
    k, s, _a, _p = KEYS["trader"]
    raw = urlencode([("timestamp", now_ms())] + list(ORDER.items()) + [("newClientOrderId", "x" * 30),
                                                                      ("pad", "y" * 70_000)])
    body = f"{raw}&signature={sign(s, raw)}"
    return _rest_answer(client.post("/api/v3/order", content=body, headers={
        "X-MBX-APIKEY": k, "Content-Type": "application/x-www-form-urlencoded"}))


_STREAM_NAMES = ["ethusdt@trade", "ethusdt@aggTrade", "ethusdt@bookTicker", "ethusdt@miniTicker",
                 "ethusdt@ticker", "ethusdt@depth", "ethusdt@depth@100ms", "ethusdt@depth5",
                 "ethusdt@kline_1m", "btckrw@trade"]
assert len(_STREAM_NAMES) > MAX_STREAMS


# ---------------------------------------------------------------------------------------------- the table

ROWS: list[Row] = [
    # missing parameters
    Row("missing symbol", order(symbol=None), 400, -1102, "'symbol'"),
    Row("missing side", order(side=None), 400, -1102, "'side'"),
    Row("missing type", order(type=None), 400, -1102, "'type'"),
    Row("LIMIT missing price", order(price=None), 400, -1102, "'price'"),
    Row("LIMIT missing quantity", order(quantity=None), 400, -1102, "'quantity'"),
    Row("LIMIT missing timeInForce", order(timeInForce=None), 400, -1102, "'timeInForce'"),
    Row("MARKET without quantity or quoteOrderQty",
        order(type="MARKET", price=None, timeInForce=None, quantity=None), 400, -1102, "quoteOrderQty"),
    Row("empty price", order(price=""), 400, -1102, "'price'"),
    Row("cancel without orderId or origClientOrderId",
        signed("DELETE", "/api/v3/order", {"symbol": "ETHUSDT"}), 400, -1102, "orderId"),
    # extra, unknown, duplicate and not-required parameters
    Row("unknown parameter", order(icebergQty="0.01", foo="bar"), 400, -1104, "'foo'"),
    Row("price on a MARKET order", order(type="MARKET", timeInForce=None), 400, -1106, "'price'"),
    Row("quoteOrderQty on a LIMIT order", order(quoteOrderQty="100"), 400, -1106, "'quoteOrderQty'"),
    Row("timeInForce on LIMIT_MAKER", order(type="LIMIT_MAKER"), 400, -1106, "'timeInForce'"),
    Row("MARKET with quantity and quoteOrderQty",
        order(type="MARKET", price=None, timeInForce=None, quoteOrderQty="100"), 400, -1106, "quoteOrderQty"),
    Row("duplicate parameter", signed("POST", "/api/v3/order", list(ORDER.items()) + [("symbol", "ETHUSDT")]),
        400, -1101, "'symbol'"),
    Row("too many parameters", signed("POST", "/api/v3/order", _many_params(250)), 400, -1101, "parameters"),
    # invalid values
    Row("side HOLD", order(side="HOLD"), 400, -1100, "'side'"),
    Row("type STOP_LOSS", order(type="STOP_LOSS"), 400, -1116, "orderType"),
    Row("timeInForce GTX", order(timeInForce="GTX"), 400, -1100, "'timeInForce'"),
    Row("newOrderRespType XML", order(newOrderRespType="XML"), 400, -1100, "'newOrderRespType'"),
    Row("selfTradePreventionMode FOO", order(selfTradePreventionMode="FOO"), 400, -1100,
        "'selfTradePreventionMode'"),
    Row("newClientOrderId of 37 characters", order(newClientOrderId="c" * 37), 400, -1100, "'newClientOrderId'"),
    Row("newClientOrderId with a space", order(newClientOrderId="a b"), 400, -1100, "'newClientOrderId'"),
    Row("non-numeric quantity", order(quantity="abc"), 400, -1100, "'quantity'"),
    Row("negative quantity", order(quantity="-0.100"), 400, -1100, "'quantity'"),
    Row("NaN price", order(price="NaN"), 400, -1100, "'price'"),
    Row("Infinity price", order(price="Infinity"), 400, -1100, "'price'"),
    Row("exponent notation quantity", order(quantity="1e-1"), 400, -1100, "'quantity'"),
    Row("thousands separator in price", order(price="1,000.00"), 400, -1100, "'price'"),
    Row("21-digit quantity", order(quantity="1" * 21), 400, -1100, "'quantity'"),
    Row("huge quantity over LOT_SIZE max", order(quantity="9" * 20), 400, -1013, "LOT_SIZE"),
    Row("huge price over PRICE_FILTER max", order(price="99999999999.00"), 400, -1013, "PRICE_FILTER"),
    Row("zero quantity", order(quantity="0"), 400, -1013, "LOT_SIZE"),
    Row("zero price", order(price="0"), 400, -1013, "PRICE_FILTER"),
    Row("off-tick price", order(price="1000.005"), 400, -1013, "PRICE_FILTER"),
    Row("off-tick price in a KRW band", order(symbol="BTCKRW", price="1000500", quantity="0.0100"),
        400, -1013, "PRICE_FILTER"),
    Row("off-lot quantity", order(quantity="0.1005"), 400, -1013, "LOT_SIZE"),
    Row("notional under the minimum", order(quantity="0.001", price="100.00"), 400, -1013, "NOTIONAL"),
    Row("quantity finer than the asset (9 decimals)", order(quantity="0.100000001"), 400, -1111, "precision"),
    Row("quoteOrderQty finer than the asset", order(type="MARKET", price=None, timeInForce=None,
                                                    quantity=None, quoteOrderQty="100.000000001"),
        400, -1111, "precision"),
    Row("orderId not a number", signed("GET", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": "12a"}),
        400, -1100, "'orderId'"),
    Row("limit not a number", public("/api/v3/depth?symbol=ETHUSDT&limit=ten"), 400, -1100, "limit"),
    # symbols
    Row("unknown symbol", order(symbol="DOGEUSDT"), 400, -1121, "Invalid symbol"),
    Row("unknown symbol on public depth", public("/api/v3/depth?symbol=DOGEUSDT"), 400, -1121, "Invalid symbol"),
    # keys, signatures, timestamps
    Row("no API key", signed("GET", "/api/v3/account", no_key=True), 401, -2014, "API-key format"),
    Row("malformed API key", signed("GET", "/api/v3/account", api_key="bad key!"), 401, -2014, "API-key format"),
    Row("unknown API key", signed("GET", "/api/v3/account", api_key="Z" * 64), 401, -2015, "Invalid API-key"),
    Row("wrong secret", signed("POST", "/api/v3/order", ORDER, secret="not-the-secret"), 400, -1022, "Signature"),
    Row("signature not hex", signed("POST", "/api/v3/order", ORDER, sig="zz" * 32), 400, -1022, "Signature"),
    Row("signature missing", signed("POST", "/api/v3/order", ORDER, sig=""), 400, -1102, "'signature'"),
    Row("signature not last (unsigned parameters after it)", _signature_not_last, 400, -1022, "Signature"),
    Row("timestamp missing", signed("GET", "/api/v3/account", raw="recvWindow=10000"), 400, -1102, "'timestamp'"),
    Row("timestamp not a number", signed("GET", "/api/v3/account", raw="timestamp=now&recvWindow=10000"),
        400, -1100, "'timestamp'"),
    Row("stale timestamp", signed("POST", "/api/v3/order", ORDER, ts_offset_ms=-30_000), 400, -1021,
        "recvWindow"),
    Row("timestamp in the future", signed("POST", "/api/v3/order", ORDER, ts_offset_ms=60_000), 400,
        -1021, "ahead"),
    Row("recvWindow over 60000", signed("POST", "/api/v3/order", ORDER, recv_window=60001), 400, -1131,
        "recvWindow"),
    Row("recvWindow not a number", signed("POST", "/api/v3/order", ORDER, recv_window="10s"), 400, -1100,
        "'recvWindow'"),
    Row("READ-only key places an order", signed("POST", "/api/v3/order", ORDER, key="reader"), 401, -2015,
        "permissions"),
    Row("key without permissions reads the account", signed("GET", "/api/v3/account", key="noperm"), 401,
        -2015, "permissions"),
    Row("parameter name not UTF-8", signed("POST", "/api/v3/order", raw="timestamp={now}&sym%FFbol=ETHUSDT"),
        400, -1100, "Illegal characters"),
    Row("oversized body", _oversized, 413, -1100, "too large"),
    # state-dependent: journaled, rejected by the engine, nothing changes
    Row("cancel an unknown order", signed("DELETE", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": 999999}),
        400, -2011, "Unknown order", engine=True),
    Row("buy beyond the balance", order(quantity="9000.000", price="1000.00"), 400, -2010,
        "insufficient balance", engine=True),
    # admin
    Row("admin: wrong token", admin({"account": 1, "asset": "USDT", "amount": "1"}, token="nope"), 401, -2015,
        "admin token"),
    Row("admin: negative amount", admin({"account": 1, "asset": "USDT", "amount": "-1"}), 400, -1111, "amount"),
    Row("admin: invalid JSON", admin(b"{account: 1"), 400, -1100, "JSON"),
    # WebSocket API
    Row("ws-api: invalid JSON", wsapi('{"id": 1, "method": "ping", '), 400, -1100, "JSON"),
    Row("ws-api: unknown method", wsapi({"id": "u1", "method": "order.teleport", "params": {}}), 400, -1100,
        "method"),
    Row("ws-api: method missing", wsapi({"id": "u2", "params": {}}), 400, -1102, "'method'"),
    Row("ws-api: unknown top-level field", wsapi({"id": "u3", "method": "ping", "foo": 1}), 400, -1104, "foo"),
    Row("ws-api: params not an object", wsapi({"id": "u4", "method": "order.place", "params": [1, 2]}), 400,
        -1100, "params"),
    Row("ws-api: order.place bad signature", ws_order(secret="wrong"), 400, -1022, "Signature"),
    Row("ws-api: order.place off-tick", ws_order(price="1000.001"), 400, -1013, "PRICE_FILTER"),
    Row("ws-api: order.place READ-only key", ws_order(key="reader"), 401, -2015, "permissions"),
    Row("ws-api: order.place unknown parameter", ws_order(foo="bar"), 400, -1104, "'foo'"),
    Row("ws-api: order.place NaN quantity", ws_order(quantity="NaN"), 400, -1100, "'quantity'"),
    # market streams
    Row("stream: invalid JSON", stream('{"method": "SUBSCRIBE", '), None, 3, "Invalid JSON"),
    Row("stream: unknown method", stream({"method": "SUBSCRIBE_ALL", "params": [], "id": 1}), None, 2,
        "unknown variant"),
    Row("stream: unknown stream", stream({"method": "SUBSCRIBE", "params": ["dogeusdt@trade"], "id": 2}),
        None, 2, "unknown stream"),
    Row("stream: params not a list", stream({"method": "SUBSCRIBE", "params": "ethusdt@trade", "id": 3}),
        None, 2, "params"),
    Row("stream: negative id", stream({"method": "LIST_SUBSCRIPTIONS", "id": -1}), None, 2, "request ID"),
    Row("stream: unknown property", stream({"method": "SET_PROPERTY", "params": ["colour", True], "id": 4}),
        None, 0, "Unknown property"),
    Row("stream: property value not a boolean",
        stream({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 5}), None, 1, "Boolean"),
    Row("stream: too many subscriptions",
        stream({"method": "SUBSCRIBE", "params": _STREAM_NAMES[:4], "id": 6},
               {"method": "SUBSCRIBE", "params": _STREAM_NAMES[4:], "id": 7}), None, 2, "too many streams"),
    Row("stream: too many streams in the URL", stream_url("/stream?streams=" + "/".join(_STREAM_NAMES)),
        "close", 1008, "too many streams"),
]


# ---------------------------------------------------------------------------------------------- the test

@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    # A low max_streams lets a row reach the limit with the few streams that exist.
    cfg = parse_config(config_data(rate_limits={"max_streams": MAX_STREAMS, "messages_per_second": 50}))
    with TestClient(create_app(cfg, tmp_path_factory.mktemp("bad-input") / "data")) as client:
        # some state to protect: a resting order and a trade
        k, sec, _a, _p = KEYS["trader"]
        raw = urlencode([("timestamp", now_ms())] + list({**ORDER, "price": "990.00"}.items()))
        ok = client.post("/api/v3/order", content=f"{raw}&signature={sign(sec, raw)}",
                         headers={"X-MBX-APIKEY": k, "Content-Type": "application/x-www-form-urlencoded"})
        assert ok.status_code == 200 and ok.json()["status"] == "NEW", ok.text
        yield client


def _snapshot(client: TestClient) -> tuple[str, int, dict]:
    st = client.app.state.bdax
    engine = st.pump.engine
    state = engine.state()
    state.pop("seq")
    return engine.state_hash(), st.journal.last_seq, state


def test_the_table_has_enough_rows():
    assert len(ROWS) >= 40
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(app_client, row: Row):
    h0, seq0, state0 = _snapshot(app_client)
    answer = row.send(app_client)
    assert (answer.status, answer.code) == (row.status, row.code), answer
    assert row.fragment.lower() in answer.msg.lower(), answer
    h1, seq1, state1 = _snapshot(app_client)
    if row.engine:
        assert seq1 == seq0 + 1, "an engine reject is one journaled command"
        assert state1 == state0, "an engine reject changes nothing but the event counter"
    else:
        assert (h1, seq1) == (h0, seq0), "a rejected input changed the engine or reached the journal"


def test_rate_limits_answer_429_and_change_nothing(tmp_path):
    """Over the per-IP request weight: 429 / -1003 before the request is looked at; over the per-key
    order count: 429 / -1015 and the order is not placed. Neither reaches the journal."""
    data = config_data(rate_limits={"request_weight_per_minute": 60, "orders_per_10s": 2})
    with TestClient(create_app(parse_config(data), tmp_path / "data")) as client:
        k, sec, _a, _p = KEYS["trader"]

        def place(price: str):
            raw = urlencode([("timestamp", now_ms())] + list({**ORDER, "price": price}.items()))
            return client.post("/api/v3/order", content=f"{raw}&signature={sign(sec, raw)}",
                               headers={"X-MBX-APIKEY": k, "Content-Type": "application/x-www-form-urlencoded"})

        assert place("990.00").status_code == 200 and place("989.00").status_code == 200
        h0, seq0, _ = _snapshot(client)
        third = _rest_answer(place("988.00"))
        assert (third.status, third.code) == (429, -1015) and "orders" in third.msg, third
        assert _snapshot(client)[:2] == (h0, seq0)

        answers = [client.get("/api/v3/depth?symbol=ETHUSDT&limit=5") for _ in range(70)]
        first = next(i for i, r in enumerate(answers) if r.status_code == 429)
        assert first <= 60 and all(r.status_code == 429 for r in answers[first:])
        assert all(_rest_answer(r).code == -1003 for r in answers[first:]), answers[first].text
        assert _snapshot(client)[:2] == (h0, seq0)
