"""Signed requests: Binance's published HMAC examples, every auth error, permissions, no state change."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from gateway.auth import KeyStore, sign, verify_rest, verify_ws, ws_payload
from gateway.config import parse_config
from gateway.errors import BinanceError
from gw_helpers import KEYS, config_data, gateway_state, now_ms, signed_request, ws_signed_params

# Binance's documentation example key (developers.binance.com, "SIGNED Endpoint Examples for POST
# /api/v3/order - HMAC Keys").
EX_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
EX_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
EX_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
            "&timestamp=1499827319559")
EX_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
EX_TS = 1499827319559


def example_keys() -> KeyStore:
    data = config_data()
    data["accounts"][0]["api_keys"].append({"key": EX_KEY, "secret": EX_SECRET, "permissions": ["READ", "TRADE"]})
    return KeyStore(parse_config(data))


def test_binance_hmac_example_reproduces():
    assert sign(EX_SECRET, EX_QUERY) == EX_SIG


def test_verify_rest_accepts_the_example_as_query_as_body_and_mixed():
    keys = example_keys()
    clock = lambda: EX_TS + 100  # noqa: E731
    key, params = verify_rest(EX_KEY, f"{EX_QUERY}&signature={EX_SIG}", b"", keys, "TRADE", clock)
    assert key.account == 1 and params["symbol"] == "LTCBTC" and "signature" not in params
    key, params = verify_rest(EX_KEY, "", f"{EX_QUERY}&signature={EX_SIG}".encode(), keys, "TRADE", clock)
    assert params["price"] == "0.1"
    # Mixed: totalParams = query + body with no separator (Binance's third example).
    query, body = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC", "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    sig = sign(EX_SECRET, query + body)
    key, params = verify_rest(EX_KEY, query, f"{body}&signature={sig}".encode(), keys, "TRADE", clock)
    assert params["quantity"] == "1" and params["symbol"] == "LTCBTC"
    with pytest.raises(BinanceError) as err:   # the same params signed with a separator are a different string
        verify_rest(EX_KEY, query, f"{body}&signature={sign(EX_SECRET, query + '&' + body)}".encode(), keys,
                    "TRADE", clock)
    assert err.value.code == -1022


def test_verify_rest_time_window():
    keys = example_keys()
    q = f"{EX_QUERY}&signature={EX_SIG}"
    for now, ok in ((EX_TS + 5000, True), (EX_TS + 5001, False), (EX_TS - 1000, True), (EX_TS - 1001, False)):
        if ok:
            verify_rest(EX_KEY, q, b"", keys, "TRADE", lambda: now)
        else:
            with pytest.raises(BinanceError) as err:
                verify_rest(EX_KEY, q, b"", keys, "TRADE", lambda: now)
            assert err.value.code == -1021


def test_ws_signature_is_over_sorted_unencoded_params():
    keys = example_keys()
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
              "price": "52000.00", "newOrderRespType": "ACK", "recvWindow": 100, "timestamp": EX_TS,
              "apiKey": EX_KEY}
    payload = ws_payload(params)
    assert payload == ("apiKey=" + EX_KEY + "&newOrderRespType=ACK&price=52000.00&quantity=0.01000000"
                       "&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1499827319559&type=LIMIT")
    params["signature"] = sign(EX_SECRET, payload)
    key, text = verify_ws(params, keys, "TRADE", lambda: EX_TS + 50)
    assert key.key == EX_KEY and text["recvWindow"] == "100" and "apiKey" not in text
    params["signature"] = sign(EX_SECRET, payload.replace("&", "%26"))
    with pytest.raises(BinanceError) as err:
        verify_ws(params, keys, "TRADE", lambda: EX_TS + 50)
    assert err.value.code == -1022


def _state(client):
    st = gateway_state(client)
    return st.pump.engine.state_hash(), st.journal.last_seq


ORDER = {"symbol": "BTCKRW", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "50000000"}


@pytest.mark.parametrize("case, code, status", [
    ("no key header", -2014, 401), ("malformed key", -2014, 401), ("unknown key", -2015, 401),
    ("wrong secret", -1022, 400), ("garbage signature", -1022, 400), ("stale timestamp", -1021, 400),
    ("future timestamp", -1021, 400), ("recvWindow too big", -1131, 400), ("reader places order", -2015, 401),
    ("noperm places order", -2015, 401),
])
def test_auth_errors_change_nothing(client, case, code, status):
    before = _state(client)
    kw: dict = {}
    key = "trader"
    if case == "no key header":
        kw["api_key"] = ""
    elif case == "malformed key":
        kw["api_key"] = "not a key!"
    elif case == "unknown key":
        kw["api_key"] = "Unknown" + "x" * 57
    elif case == "wrong secret":
        kw["secret"] = "wrong"
    elif case == "stale timestamp":
        kw.update(timestamp=now_ms() - 20_000, recv_window=5000)
    elif case == "future timestamp":
        kw["timestamp"] = now_ms() + 5_000
    elif case == "recvWindow too big":
        kw["recv_window"] = 60_001
    elif case == "reader places order":
        key = "reader"
    elif case == "noperm places order":
        key = "noperm"
    if case == "garbage signature":
        k = KEYS["trader"][0]
        r = client.post("/api/v3/order", content=f"timestamp={now_ms()}&symbol=BTCKRW&signature=zz",
                        headers={"X-MBX-APIKEY": k, "Content-Type": "application/x-www-form-urlencoded"})
    else:
        r = signed_request(client, "POST", "/api/v3/order", ORDER, key, **kw)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    for _name, (_k, secret, _a, _p) in KEYS.items():
        assert secret not in r.text
    assert _state(client) == before


def test_missing_and_duplicate_signing_params(client):
    k, s, _a, _p = KEYS["trader"]
    ts = now_ms()
    hdr = {"X-MBX-APIKEY": k}
    r = client.get(f"/api/v3/account?timestamp={ts}", headers=hdr)
    assert r.json()["code"] == -1102 and "signature" in r.json()["msg"]
    q = "recvWindow=5000"
    r = client.get(f"/api/v3/account?{q}&signature={sign(s, q)}", headers=hdr)
    assert r.json()["code"] == -1102 and "timestamp" in r.json()["msg"]
    q = f"timestamp={ts}&timestamp={ts}"
    r = client.get(f"/api/v3/account?{q}&signature={sign(s, q)}", headers=hdr)
    assert r.json()["code"] == -1101
    q = "timestamp=12x4"
    r = client.get(f"/api/v3/account?{q}&signature={sign(s, q)}", headers=hdr)
    assert r.json()["code"] == -1100
    q = f"timestamp={ts}"
    r = client.request("DELETE", f"/api/v3/openOrders?{q}&signature={sign(s, q)}",
                       content=f"signature={sign(s, q)}", headers=hdr)
    assert r.json()["code"] == -1101


def test_signature_covers_the_raw_bytes_in_order(client):
    k, s, _a, _p = KEYS["trader"]
    ts = now_ms()
    q = f"timestamp={ts}&omitZeroBalances=true&recvWindow=10000"
    sig = sign(s, q)
    assert client.get(f"/api/v3/account?{q}&signature={sig}", headers={"X-MBX-APIKEY": k}).status_code == 200
    reordered = f"omitZeroBalances=true&timestamp={ts}&recvWindow=10000"
    r = client.get(f"/api/v3/account?{reordered}&signature={sig}", headers={"X-MBX-APIKEY": k})
    assert r.json()["code"] == -1022
    # Percent-encoded values are signed as sent and decoded after: a client id with ':' and '/'.
    cid = "x-TKT5PX2F:a/b.c_d-e"
    q = f"timestamp={ts}&symbol=BTCKRW&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=50000000" \
        f"&newClientOrderId={quote(cid, safe='')}&recvWindow=10000"
    r = client.post("/api/v3/order", content=f"{q}&signature={sign(s, q)}",
                    headers={"X-MBX-APIKEY": k, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert r.json()["clientOrderId"] == cid


def test_read_only_key_reads_and_user_streams(client, signed):
    assert signed("GET", "/api/v3/account", key="reader").status_code == 200
    r = signed("GET", "/api/v3/account", key="noperm")
    assert r.status_code == 401 and r.json()["code"] == -2015 and "READ" in r.json()["msg"]
    r = client.post("/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEYS["reader"][0]})
    assert r.status_code == 200 and len(r.json()["listenKey"]) == 60


def test_ws_api_auth_errors(client):
    with client.websocket_connect("/ws-api/v3") as ws:
        ws.send_json({"id": 1, "method": "account.status", "params": ws_signed_params(key="trader", secret="bad")})
        assert ws.receive_json()["error"]["code"] == -1022
        ws.send_json({"id": 2, "method": "account.status",
                       "params": ws_signed_params(key="trader", timestamp=now_ms() - 60_000)})
        assert ws.receive_json()["error"]["code"] == -1021
        ws.send_json({"id": 3, "method": "order.place", "params": ws_signed_params(dict(ORDER), key="reader")})
        reply = ws.receive_json()
        assert reply["status"] == 401 and reply["error"]["code"] == -2015
        ws.send_json({"id": 4, "method": "account.status", "params": ws_signed_params(key="reader")})
        assert ws.receive_json()["status"] == 200
