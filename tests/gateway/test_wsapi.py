"""The WebSocket API: request/response by id, errors that keep the socket open, user data events, and the
legacy listenKey stream hook."""
from __future__ import annotations

import contextlib
import json

from fastapi import WebSocket
from fastapi.testclient import TestClient

from gateway import wsapi
from gateway.app import create_app
from gw_helpers import ADMIN_TOKEN, KEYS, gateway_state, signed_request, ws_signed_params

ORDER = {"symbol": "BTCKRW", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "50000000"}


def state_of(client):
    st = gateway_state(client)
    return st.pump.engine.state_hash(), st.journal.last_seq


def test_ping_time_and_bad_messages_keep_the_socket_open(client):
    before = state_of(client)
    with client.websocket_connect("/ws-api/v3") as ws:
        ws.send_json({"id": 7, "method": "ping"})
        assert ws.receive_json() == {"id": 7, "status": 200, "result": {}, "rateLimits": []}
        ws.send_json({"id": "t", "method": "time", "params": {}})
        reply = ws.receive_json()
        assert reply["id"] == "t" and reply["result"]["serverTime"] > 1_600_000_000_000
        for bad, code in (("{not json", -1100), ("[1, 2]", -1100), ('{"id": 1}', -1102),
                          ('{"id": 2, "method": "order.explode", "params": {}}', -1100),
                          ('{"id": 3, "method": "ping", "params": [1]}', -1100),
                          ('{"id": 4, "method": "ping", "params": {"x": {"y": 1}}}', -1100),
                          ('{"id": 5, "method": "ping", "extra": true}', -1104),
                          ('{"id": 6, "method": "ping", "params": {"n": NaN}}', -1100),
                          ('{"id": {"a": 1}, "method": "ping"}', -1100),
                          ('{"id": 8, "method": "ping", "params": {"unexpected": "1"}}', -1104),
                          ('{"id": 9, "method": "order.place", "params": {"symbol": "BTCKRW"}}', -2014)):
            ws.send_text(bad)
            reply = ws.receive_json()
            assert reply["status"] >= 400 and reply["error"]["code"] == code, (bad, reply)
        ws.send_json({"id": 10, "method": "order.place", "params": ws_signed_params({**ORDER, "price": "50000001"})})
        assert ws.receive_json()["error"] == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
        ws.send_json({"id": 11, "method": "ping"})
        assert ws.receive_json()["id"] == 11
    assert state_of(client) == before


def test_order_methods(client):
    with client.websocket_connect("/ws-api/v3") as ws:
        def call(method, params=None, key="trader", signed=True):
            ws.send_json({"id": method, "method": method,
                          "params": ws_signed_params(params, key) if signed else (params or {})})
            reply = ws.receive_json()
            assert reply["id"] == method
            return reply
        placed = call("order.place", {**ORDER, "newClientOrderId": "ws-1", "quantity": 0.01})["result"]
        assert placed["status"] == "NEW" and placed["origQty"] == "0.0100" and placed["fills"] == []
        status = call("order.status", {"symbol": "BTCKRW", "orderId": placed["orderId"]})["result"]
        assert status["clientOrderId"] == "ws-1" and status["isWorking"] is True
        assert [o["orderId"] for o in call("openOrders.status", {"symbol": "BTCKRW"})["result"]] == [placed["orderId"]]
        replaced = call("order.cancelReplace", {**ORDER, "price": "49000000", "cancelReplaceMode": "STOP_ON_FAILURE",
                                                "cancelOrigClientOrderId": "ws-1"})["result"]
        assert replaced["cancelResult"] == "SUCCESS" and replaced["newOrderResponse"]["price"] == "49000000"
        new_id = replaced["newOrderResponse"]["orderId"]
        amended = call("order.amend.keepPriority", {"symbol": "BTCKRW", "orderId": new_id, "newQty": "0.005"})
        assert amended["result"]["amendedOrder"]["qty"] == "0.0050"
        canceled = call("order.cancel", {"symbol": "BTCKRW", "orderId": new_id})["result"]
        assert canceled["status"] == "CANCELED"
        missing = call("order.cancel", {"symbol": "BTCKRW", "orderId": new_id})
        assert missing["status"] == 400 and missing["error"] == {"code": -2011, "msg": "Unknown order sent."}
        assert call("order.status", {"symbol": "BTCKRW", "orderId": 424242})["error"]["code"] == -2013
        call("order.place", ORDER)
        call("order.place", {**ORDER, "price": "48000000"})
        assert len(call("openOrders.cancelAll", {"symbol": "BTCKRW"})["result"]) == 2
        assert call("openOrders.cancelAll", {"symbol": "BTCKRW"})["error"]["code"] == -2011
        assert call("order.test", ORDER)["result"] == {}
        balances = {b["asset"]: b for b in call("account.status")["result"]["balances"]}
        assert balances["KRW"]["locked"] == "0.0000"
        assert call("order.place", {**ORDER, "quantity": "500", "price": "900000000"})["error"] == {
            "code": -2010, "msg": "Account has insufficient balance for requested action."}
    engine = gateway_state(client).pump.engine
    engine._check()


def test_user_data_stream_subscription(client):
    with client.websocket_connect("/ws-api/v3") as ws:
        params = {"apiKey": KEYS["trader"][0], "recvWindow": 10000}
        ws.send_json({"id": "1", "method": "userDataStream.subscribe.signature",
                      "params": ws_signed_params({"recvWindow": 10000})})
        # The very next message is exactly this reply (ccxt and hummingbot rely on it).
        assert json.loads(ws.receive_text()) == {"id": "1", "status": 200, "result": {"subscriptionId": 0},
                                                 "rateLimits": []}
        assert params["apiKey"]
        order = signed_request(client, "POST", "/api/v3/order", ORDER).json()
        report = ws.receive_json()
        assert report["subscriptionId"] == 0
        ev = report["event"]
        assert ev["e"] == "executionReport" and ev["x"] == "NEW" and ev["X"] == "NEW" and ev["i"] == order["orderId"]
        assert ev["s"] == "BTCKRW" and ev["q"] == "0.0100" and ev["p"] == "50000000" and ev["C"] == ""
        pos = ws.receive_json()["event"]
        assert pos["e"] == "outboundAccountPosition"
        assert pos["B"] == [{"a": "KRW", "f": "999499000.0000", "l": "501000.0000"}]
        signed_request(client, "POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "SELL", "type": "MARKET",
                                                         "quantity": "0.004"}, "trader2")
        trade = ws.receive_json()["event"]
        assert trade["x"] == "TRADE" and trade["X"] == "PARTIALLY_FILLED" and trade["l"] == "0.0040"
        assert trade["L"] == "50000000" and trade["z"] == "0.0040" and trade["m"] is True
        assert trade["n"] == "200.0000" and trade["N"] == "KRW" and trade["t"] > 0 and trade["Y"] == "200000.0000"
        pos = ws.receive_json()["event"]
        assert {b["a"] for b in pos["B"]} == {"BTC", "KRW"}
        signed_request(client, "DELETE", "/api/v3/order", {"symbol": "BTCKRW", "orderId": order["orderId"]})
        cancel = ws.receive_json()["event"]
        assert cancel["x"] == "CANCELED" and cancel["X"] == "CANCELED" and cancel["C"] == order["clientOrderId"]
        ws.receive_json()   # position
        client.post("/admin/deposit", json={"account": 1, "asset": "ETH", "amount": "1.5"},
                    headers={"X-BDAX-ADMIN-TOKEN": ADMIN_TOKEN})
        update = ws.receive_json()["event"]
        assert update == {"e": "balanceUpdate", "E": update["E"], "a": "ETH", "d": "1.50000000", "T": update["T"]}
        assert ws.receive_json()["event"]["B"] == [{"a": "ETH", "f": "101.50000000", "l": "0.00000000"}]
        # A second subscription on the same socket gets id 1; unsubscribing 0 leaves only 1.
        ws.send_json({"id": 2, "method": "userDataStream.subscribe.signature", "params": ws_signed_params()})
        assert ws.receive_json()["result"] == {"subscriptionId": 1}
        ws.send_json({"id": 3, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}})
        assert ws.receive_json() == {"id": 3, "status": 200, "result": {}, "rateLimits": []}
        ws.send_json({"id": 4, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}})
        assert ws.receive_json()["error"]["code"] == -1100
        signed_request(client, "POST", "/api/v3/order", ORDER)
        assert ws.receive_json()["subscriptionId"] == 1
        ws.receive_json()
        ws.send_json({"id": 5, "method": "userDataStream.unsubscribe"})
        assert ws.receive_json()["id"] == 5
        signed_request(client, "POST", "/api/v3/order", ORDER)
        ws.send_json({"id": 6, "method": "ping"})
        assert ws.receive_json()["id"] == 6          # no events in between: nothing is subscribed


def test_failed_subscription_subscribes_nothing(client):
    with client.websocket_connect("/ws-api/v3") as ws:
        ws.send_json({"id": "s", "method": "userDataStream.subscribe.signature",
                      "params": ws_signed_params(secret="wrong")})
        assert ws.receive_json()["error"]["code"] == -1022
        signed_request(client, "POST", "/api/v3/order", ORDER)
        ws.send_json({"id": "p", "method": "ping"})
        assert ws.receive_json()["id"] == "p"
    assert not gateway_state(client).user_hub.wants(1)


def test_listen_key_stream_hook(gw_config, data_dir):
    app = create_app(gw_config, data_dir)

    async def user_socket(websocket: WebSocket, key: str):
        if not await wsapi.serve_listen_key(websocket, key):
            await websocket.close(4000, "not a listenKey")

    app.add_api_websocket_route("/test-user/{key}", user_socket)
    with TestClient(app) as client:
        hdr = {"X-MBX-APIKEY": KEYS["trader"][0]}
        lk = client.post("/api/v3/userDataStream", headers=hdr).json()["listenKey"]
        assert wsapi.user_stream_for_listen_key(client.app, lk) == 1
        assert wsapi.user_stream_for_listen_key(client.app, "0") is None
        with client.websocket_connect(f"/test-user/{lk}") as ws:
            signed_request(client, "POST", "/api/v3/order", ORDER)
            ev = ws.receive_json()
            assert ev["e"] == "executionReport" and ev["X"] == "NEW"      # unwrapped
            assert ws.receive_json()["e"] == "outboundAccountPosition"
            client.delete(f"/api/v3/userDataStream?listenKey={lk}", headers=hdr)
            msg = ws.receive()
            assert msg["type"] == "websocket.close"


def test_listen_key_on_the_market_stream_path(client):
    """``/ws/<listenKey>`` (gateway/streams.py's route) hands the socket to wsapi.serve_listen_key."""
    lk = client.post("/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEYS["trader"][0]}).json()["listenKey"]
    with client.websocket_connect(f"/ws/{lk}") as ws:
        signed_request(client, "POST", "/api/v3/order", ORDER)
        assert ws.receive_json()["e"] == "executionReport"


def test_pipelined_orders_are_all_answered(client):
    """More requests in flight than MAX_IN_FLIGHT: the socket is read more slowly, nothing is refused."""
    n = wsapi.MAX_IN_FLIGHT + 44
    with client.websocket_connect("/ws-api/v3") as ws:
        for i in range(n):
            ws.send_json({"id": i, "method": "order.place",
                          "params": ws_signed_params({**ORDER, "price": str(40_000_000 + i * 1000),
                                                      "newOrderRespType": "ACK"})})
        replies = [ws.receive_json() for _ in range(n)]
    assert sorted(r["id"] for r in replies) == list(range(n)) and {r["status"] for r in replies} == {200}
    assert len(gateway_state(client).pump.engine.open_orders(1)) == n


# --------------------------------------------------------------------------- under a real uvicorn (G6)

@contextlib.contextmanager
def _uvicorn(app):
    """``app`` served by uvicorn (its default websockets-sansio protocol) on a loopback port, in a thread."""
    import socket
    import threading
    import time

    import uvicorn
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                          ws="websockets-sansio", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _burst(url: str, n: int, compression) -> list[dict]:
    """n pipelined ACK orders, then a ping, a bad message and a binary ping, all sent before reading."""
    from websockets.sync.client import connect
    with connect(url + "/ws-api/v3", compression=compression, max_size=None) as ws:
        for i in range(n):
            ws.send(json.dumps({"id": i, "method": "order.place",
                                "params": ws_signed_params({**ORDER, "price": str(40_000_000 + i * 1000),
                                                            "newOrderRespType": "ACK"})}))
        ws.send(json.dumps({"id": "p", "method": "ping"}))
        ws.send("{not json")
        ws.send(json.dumps({"id": "b", "method": "ping"}).encode())
        return [json.loads(ws.recv(timeout=30)) for _ in range(n + 3)]


def test_real_uvicorn_direct_path_answers_everything_in_order(gw_config, data_dir, monkeypatch):
    """Under uvicorn, replies leave through DirectWriter (several frames per write); with more requests in
    flight than MAX_IN_FLIGHT nothing is lost or reordered, and a client that negotiated
    permessage-deflate gets the ordinary ASGI path with the same answers."""
    from gateway import wsdirect
    writes: list[int] = []
    real_write = wsdirect.DirectWriter.write
    monkeypatch.setattr(wsdirect.DirectWriter, "write", lambda self, texts: (writes.append(len(texts)),
                                                                              real_write(self, texts))[1])
    n = wsapi.MAX_IN_FLIGHT + 44
    app = create_app(gw_config, data_dir)
    with _uvicorn(app) as url:
        plain = _burst(url, n, None)
        frames_plain = sum(writes)
        deflated = _burst(url, n, "deflate")
    for replies in (plain, deflated):
        orders = [r for r in replies if isinstance(r["id"], int)]
        assert sorted(r["id"] for r in orders) == list(range(n)) and {r["status"] for r in orders} == {200}
        assert [r["id"] for r in orders] == sorted(r["id"] for r in orders)   # one journal order per socket
        others = {r["id"]: r for r in replies if not isinstance(r["id"], int)}
        assert others["p"]["result"] == {} and others["b"]["result"] == {}
        assert others[None]["error"]["code"] == -1100
    assert frames_plain == n + 3 and len(writes) < frames_plain     # coalesced, every frame through it
    assert sum(writes) == frames_plain                              # the deflate client: never direct
    assert len(app.state.bdax.pump.engine.open_orders(1)) == 2 * n


def test_direct_writer_frames_match_rfc6455():
    """Unmasked server text frames with 7-bit, 16-bit and 64-bit lengths, several in one write."""
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    from gateway.wsdirect import DirectWriter

    class _Transport:
        def __init__(self):
            self.chunks = []

        def write(self, data):
            self.chunks.append(data)

    writer = DirectWriter.__new__(DirectWriter)
    writer.transport = _Transport()
    texts = ["é" * 2, "x" * 125, "y" * 126, "z" * 65_535, "w" * 65_536, ""]
    writer.write(texts)
    assert len(writer.transport.chunks) == 1
    reader = StreamReader()
    reader.feed_data(writer.transport.chunks[0])
    reader.feed_eof()
    got = []
    for _ in texts:
        gen = Frame.parse(reader.read_exact, mask=False)
        try:
            next(gen)
        except StopIteration as stop:
            frame = stop.value
        assert frame.opcode is Opcode.TEXT and frame.fin
        got.append(frame.data.decode())
    assert got == texts


def test_integer_params_take_the_fast_parser_with_the_same_result():
    """Integer params (ccxt sends timestamp and orderId as numbers) give their exact digits, as the slow
    parser does; -0, 0 and huge integers go the slow way and keep the text as sent."""
    for text in ['{"id":1,"method":"order.cancel","params":{"orderId":12345,"timestamp":1700000000000,'
                 '"symbol":"BTCKRW"}}',
                 '{"id":2,"method":"m","params":{"a":-0,"b":0,"c":-17}}',
                 '{"id":3,"method":"m","params":{"a":' + "9" * 40 + '}}',
                 '{"id":4,"method":"m","params":{"a":1.50,"b":1e3,"c":true}}']:
        fast = wsapi._parse_message(text)
        slow = json.loads(text, parse_int=wsapi._RawInt, parse_float=wsapi._RawNum)
        assert fast[0] == int(slow["id"]) and fast[1] == slow["method"]
        assert {k: (v if isinstance(v, bool) else str(v)) for k, v in fast[2].items()} == \
               {k: (v if isinstance(v, bool) else str(v)) for k, v in slow["params"].items()}
    assert wsapi._parse_message('{"method":"m","params":{"a":-0}}')[2]["a"] == "-0"
