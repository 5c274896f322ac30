"""Signed REST trading endpoints: orders, queries, cancels, amend, account, limits, admin, restart."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from exchange import RejectReason
from gateway.app import create_app
from gateway.config import parse_config
from gateway.errors import INSUFFICIENT_BALANCE_MSG, REJECT_ERRORS
from gw_helpers import ADMIN_TOKEN, KEYS, config_data, gateway_state, signed_request

LIMIT = {"symbol": "BTCKRW", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.0100",
         "price": "50000000"}


def snapshot(client):
    st = gateway_state(client)
    return st.pump.engine.state_hash(), st.journal.last_seq


def check_engine(client):
    engine = gateway_state(client).pump.engine
    engine._check()
    assert engine.totals() == engine.net_deposits()


def place(signed, key="trader", **params):
    r = signed("POST", "/api/v3/order", {**LIMIT, **params}, key)
    assert r.status_code == 200, r.text
    return r.json()


# ----------------------------------------------------------------------------- orders and fills
def test_limit_then_market_fill_full_result_ack(client, signed):
    buy = place(signed, newClientOrderId="my-order-1")
    assert buy["status"] == "NEW" and buy["fills"] == [] and buy["clientOrderId"] == "my-order-1"
    assert buy["price"] == "50000000" and buy["origQty"] == "0.0100" and buy["type"] == "LIMIT"
    r = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "SELL", "type": "MARKET",
                                         "quantity": "0.004"}, "trader2")
    sell = r.json()
    assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1" and "X-MBX-USED-WEIGHT-1M" in r.headers
    assert sell["status"] == "FILLED" and sell["executedQty"] == "0.0040"
    assert sell["cummulativeQuoteQty"] == "200000.0000"
    # Taker fee 20 bps of 200,000 KRW, in the quote asset.
    assert sell["fills"] == [{"price": "50000000", "qty": "0.0040", "commission": "400.0000",
                              "commissionAsset": "KRW", "tradeId": sell["fills"][0]["tradeId"]}]
    q = signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "orderId": buy["orderId"]}).json()
    assert q["status"] == "PARTIALLY_FILLED" and q["executedQty"] == "0.0040" and q["isWorking"] is True
    assert {"time", "updateTime", "stopPrice", "icebergQty", "origQuoteOrderQty"} <= set(q)
    by_cid = signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "origClientOrderId": "my-order-1"}).json()
    assert by_cid["orderId"] == buy["orderId"]
    trades = signed("GET", "/api/v3/myTrades", {"symbol": "BTCKRW"}).json()
    assert [(t["orderId"], t["isBuyer"], t["isMaker"], t["commission"]) for t in trades] == [
        (buy["orderId"], True, True, "200.0000")]
    result = signed("POST", "/api/v3/order", {**LIMIT, "price": "49000000", "newOrderRespType": "RESULT"}).json()
    assert "fills" not in result and result["status"] == "NEW"
    ack = signed("POST", "/api/v3/order", {**LIMIT, "price": "48000000", "newOrderRespType": "ACK"}).json()
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    opens = signed("GET", "/api/v3/openOrders", {"symbol": "BTCKRW"}).json()
    assert [o["orderId"] for o in opens] == [buy["orderId"], result["orderId"], ack["orderId"]]
    assert len(signed("GET", "/api/v3/openOrders").json()) == 3
    check_engine(client)


def test_market_by_quote_amount_buy_and_sell(client, signed):
    place(signed, key="trader2", side="SELL", price="50000000", quantity="1")
    r = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "BUY", "type": "MARKET",
                                         "quoteOrderQty": "100000"}).json()
    assert r["status"] == "FILLED" and r["executedQty"] == "0.0020" and r["cummulativeQuoteQty"] == "100000.0000"
    assert r["origQty"] == "0.0020" and r["origQuoteOrderQty"] == "100000.0000"
    place(signed, key="trader2", side="BUY", price="49000000", quantity="1")
    r = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "SELL", "type": "MARKET",
                                         "quoteOrderQty": "98000"}).json()
    assert r["status"] == "FILLED" and r["executedQty"] == "0.0020"
    # 100,001 KRW buys 0.0020 BTC (100,000) and the 1 KRW left cannot buy a lot: FILLED, as Binance
    # reports a quoteOrderQty order that leaves dust (the quote stays with the buyer).
    r = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "BUY", "type": "MARKET",
                                         "quoteOrderQty": "100001"}).json()
    assert r["status"] == "FILLED" and r["executedQty"] == "0.0020"
    assert r["cummulativeQuoteQty"] == "100000.0000"
    q = signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "orderId": r["orderId"]}).json()
    assert q["status"] == "FILLED"
    # When the book runs out with enough quote left for another lot, the order is EXPIRED.
    book = gateway_state(client).pump.engine.depth("BTC-KRW", 10)
    assert {p for p, _q in book.asks} == {50_000_000}          # 1 tick = 1 KRW here
    left_lots = sum(q for _p, q in book.asks)
    notional_left = left_lots * 50_000_000 // 10_000             # KRW for what is left (0.0001 BTC a lot)
    r = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "BUY", "type": "MARKET",
                                         "quoteOrderQty": str(notional_left + 200_000)}).json()
    assert r["status"] == "EXPIRED" and r["executedQty"] == f"{left_lots / 10_000:.4f}"
    check_engine(client)


def test_time_in_force_post_only_and_self_trade(client, signed):
    place(signed, key="trader2", side="SELL", price="50000000", quantity="0.01")
    ioc = place(signed, timeInForce="IOC", quantity="0.02")
    assert ioc["status"] == "EXPIRED" and ioc["executedQty"] == "0.0100"
    fok = place(signed, timeInForce="FOK", quantity="0.02")
    assert fok["status"] == "EXPIRED" and fok["executedQty"] == "0.0000"
    maker = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "SELL", "type": "LIMIT_MAKER",
                                             "quantity": "0.01", "price": "51000000"}).json()
    assert "orderId" in maker and "fills" not in maker     # LIMIT_MAKER defaults to ACK
    before = gateway_state(client).pump.engine.balances(1)
    r = signed("POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "BUY", "type": "LIMIT_MAKER",
                                         "quantity": "0.01", "price": "51000000"})
    assert r.status_code == 400 and r.json() == {"code": -2010, "msg": "Order would immediately match and take."}
    assert gateway_state(client).pump.engine.balances(1) == before
    stp = place(signed, price="51000000", quantity="0.01", selfTradePreventionMode="EXPIRE_TAKER")
    assert stp["status"] == "EXPIRED_IN_MATCH"
    check_engine(client)


def test_insufficient_funds_exact_message(client, signed):
    r = signed("POST", "/api/v3/order", {**LIMIT, "quantity": "100", "price": "500000000"})
    assert r.status_code == 400
    assert r.json() == {"code": -2010, "msg": INSUFFICIENT_BALANCE_MSG}
    assert INSUFFICIENT_BALANCE_MSG == "Account has insufficient balance for requested action."


def test_every_reject_reason_has_one_code():
    assert set(REJECT_ERRORS) == set(RejectReason)
    assert REJECT_ERRORS[RejectReason.INVALID_PRICE] == (-1013, "Filter failure: PRICE_FILTER")
    assert REJECT_ERRORS[RejectReason.INVALID_QUANTITY] == (-1013, "Filter failure: LOT_SIZE")
    assert REJECT_ERRORS[RejectReason.MIN_NOTIONAL] == (-1013, "Filter failure: NOTIONAL")
    assert REJECT_ERRORS[RejectReason.UNKNOWN_ORDER][0] == -2011


# ----------------------------------------------------------------------------- refused at the edge
EDGE_CASES = [
    ({"price": "50000003"}, -1013, "PRICE_FILTER"),           # off the 1000-KRW band tick
    ({"price": "1502"}, -1013, "PRICE_FILTER"),               # off the 5-KRW band tick
    ({"price": "0"}, -1013, "PRICE_FILTER"),
    ({"price": "2000000000"}, -1013, "PRICE_FILTER"),         # above maxPrice
    ({"quantity": "0.00001"}, -1013, "LOT_SIZE"),             # off the lot
    ({"quantity": "0.000000001"}, -1111, "precision"),        # finer than BTC's 8 decimals
    ({"quantity": "5000"}, -1013, "LOT_SIZE"),                # above maxQty
    ({"quantity": "0.0001", "price": "1000"}, -1013, "NOTIONAL"),
    ({"symbol": "DOGEKRW"}, -1121, "Invalid symbol"),
    ({"side": "HOLD"}, -1100, "side"),
    ({"type": "STOP_LOSS"}, -1116, "orderType"),
    ({"timeInForce": "GTX"}, -1100, "timeInForce"),
    ({"quantity": "-1"}, -1100, "quantity"),
    ({"quantity": "NaN"}, -1100, "quantity"),
    ({"quantity": "1e-3"}, -1100, "quantity"),
    ({"price": "9" * 30}, -1100, "price"),
    ({"newClientOrderId": "bad id!"}, -1100, "newClientOrderId"),
    ({"newClientOrderId": "x" * 37}, -1100, "newClientOrderId"),
    ({"newOrderRespType": "MAX"}, -1100, "newOrderRespType"),
    ({"selfTradePreventionMode": "DECREMENT"}, -1100, "selfTradePreventionMode"),
    ({"icebergQty": "1"}, -1104, "icebergQty"),
    ({"quoteOrderQty": "100000"}, -1106, "quoteOrderQty"),
]


@pytest.mark.parametrize("override, code, text", EDGE_CASES)
def test_edge_rejects_never_reach_the_journal(client, signed, override, code, text):
    before = snapshot(client)
    r = signed("POST", "/api/v3/order", {**LIMIT, **override})
    assert r.status_code == 400 and r.json()["code"] == code and text in r.json()["msg"], r.text
    assert snapshot(client) == before


@pytest.mark.parametrize("params, code", [
    ({"symbol": "BTCKRW", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "50000000"}, -1102),
    ({"symbol": "BTCKRW", "side": "BUY", "type": "MARKET"}, -1102),
    ({"symbol": "BTCKRW", "side": "BUY", "type": "MARKET", "quantity": "0.01", "quoteOrderQty": "5000"}, -1106),
    ({"symbol": "BTCKRW", "side": "BUY", "type": "MARKET", "quantity": "0.01", "price": "50000000"}, -1106),
    ({"symbol": "BTCKRW", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100"}, -1013),
    ({"symbol": "BTCKRW", "side": "BUY", "type": "MARKET", "quoteOrderQty": "5000.00001"}, -1111),
    ({"symbol": "BTCKRW", "side": "BUY", "type": "LIMIT_MAKER", "timeInForce": "GTC", "quantity": "0.01",
      "price": "50000000"}, -1106),
    ({"side": "BUY", "type": "LIMIT"}, -1102),
])
def test_order_parameter_combinations(client, signed, params, code):
    before = snapshot(client)
    r = signed("POST", "/api/v3/order", params)
    assert r.json()["code"] == code, r.text
    assert snapshot(client) == before


def test_order_test_endpoint_validates_without_placing(client, signed):
    before = snapshot(client)
    assert signed("POST", "/api/v3/order/test", LIMIT).json() == {}
    assert signed("POST", "/api/v3/order/test", {**LIMIT, "price": "1"}).json()["code"] == -1013
    assert snapshot(client) == before


# ----------------------------------------------------------------------------- cancel, query, lists
def test_cancel_query_and_unknown_orders(client, signed):
    o = place(signed, newClientOrderId="c1")
    r = signed("DELETE", "/api/v3/order", {"symbol": "BTCKRW", "origClientOrderId": "c1"}).json()
    assert r["status"] == "CANCELED" and r["origClientOrderId"] == "c1" and r["orderId"] == o["orderId"]
    again = signed("DELETE", "/api/v3/order", {"symbol": "BTCKRW", "orderId": o["orderId"]})
    assert again.status_code == 400 and again.json() == {"code": -2011, "msg": "Unknown order sent."}
    assert signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "orderId": o["orderId"]}).json()["status"] == "CANCELED"
    missing = signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "orderId": 999999})
    assert missing.json() == {"code": -2013, "msg": "Order does not exist."}
    assert signed("GET", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": o["orderId"]}).json()["code"] == -2013
    assert signed("GET", "/api/v3/order", {"symbol": "BTCKRW"}).json()["code"] == -1102
    other = place(signed, key="trader2")
    assert signed("DELETE", "/api/v3/order", {"symbol": "BTCKRW", "orderId": other["orderId"]}).json()["code"] == -2011
    assert signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "orderId": other["orderId"]}).json()["code"] == -2013
    check_engine(client)


def test_cancel_all_and_all_orders_paging(client, signed):
    ids = [place(signed, price=str(40000000 + i * 1000000))["orderId"] for i in range(5)]
    canceled = signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCKRW"}).json()
    assert sorted(c["orderId"] for c in canceled) == ids and all(c["status"] == "CANCELED" for c in canceled)
    assert signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCKRW"}).json()["code"] == -2011
    every = signed("GET", "/api/v3/allOrders", {"symbol": "BTCKRW"}).json()
    assert [o["orderId"] for o in every] == ids
    assert [o["orderId"] for o in signed("GET", "/api/v3/allOrders", {"symbol": "BTCKRW", "limit": 2}).json()] == ids[-2:]
    assert [o["orderId"] for o in signed("GET", "/api/v3/allOrders", {"symbol": "BTCKRW", "orderId": ids[3]}).json()] == ids[3:]
    start = every[0]["time"]
    assert len(signed("GET", "/api/v3/allOrders", {"symbol": "BTCKRW", "startTime": start}).json()) == 5
    assert signed("GET", "/api/v3/allOrders", {"symbol": "BTCKRW", "limit": 0}).json()["code"] == -1100
    assert signed("GET", "/api/v3/allOrders", {"symbol": "BTCKRW", "bogus": 1}).json()["code"] == -1104
    assert signed("GET", "/api/v3/myTrades", {"symbol": "BTCKRW"}).json() == []


def test_cancel_replace(client, signed):
    o = place(signed)
    new = {**LIMIT, "price": "51000000", "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": o["orderId"]}
    r = signed("POST", "/api/v3/order/cancelReplace", new).json()
    assert r["cancelResult"] == "SUCCESS" and r["newOrderResult"] == "SUCCESS"
    assert r["cancelResponse"]["orderId"] == o["orderId"] and r["newOrderResponse"]["price"] == "51000000"
    failed = signed("POST", "/api/v3/order/cancelReplace", new)
    body = failed.json()
    assert failed.status_code == 400 and body["code"] == -2021
    assert body["data"]["cancelResult"] == "FAILURE" and body["data"]["newOrderResult"] == "NOT_ATTEMPTED"
    assert body["data"]["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    allow = signed("POST", "/api/v3/order/cancelReplace", {**new, "cancelReplaceMode": "ALLOW_FAILURE"}).json()
    assert allow["code"] == -2021 and allow["data"]["newOrderResult"] == "SUCCESS"
    both = signed("POST", "/api/v3/order/cancelReplace", {**new, "cancelReplaceMode": "ALLOW_FAILURE",
                                                          "quantity": "1000", "price": "900000000"}).json()
    assert both["code"] == -2022 and both["data"]["newOrderResponse"]["code"] == -2010
    assert len(signed("GET", "/api/v3/openOrders", {"symbol": "BTCKRW"}).json()) == 2
    check_engine(client)


def test_amend_keep_priority(client, signed):
    first = place(signed, quantity="0.05")
    second = place(signed, key="trader2", quantity="0.05")
    r = signed("PUT", "/api/v3/order/amend/keepPriority", {"symbol": "BTCKRW", "orderId": first["orderId"],
                                                          "newQty": "0.03"})
    assert r.status_code == 200, r.text
    amended = r.json()["amendedOrder"]
    assert amended["qty"] == "0.0300" and amended["orderId"] == first["orderId"]
    bids, _ = gateway_state(client).pump.engine.l3("BTC-KRW")
    assert [(v.order_id, v.remaining_lots) for v in bids] == [(first["orderId"], 300), (second["orderId"], 500)]
    up = signed("PUT", "/api/v3/order/amend/keepPriority", {"symbol": "BTCKRW", "orderId": first["orderId"],
                                                           "newQty": "0.04"})
    assert up.json()["code"] == -2038
    gone = signed("PUT", "/api/v3/order/amend/keepPriority", {"symbol": "BTCKRW", "orderId": 99999, "newQty": "0.01"})
    assert gone.json()["code"] == -2013
    assert signed("GET", "/api/v3/order", {"symbol": "BTCKRW", "orderId": first["orderId"]}).json()["origQty"] == "0.0300"
    check_engine(client)


def test_account(client, signed):
    place(signed)
    acct = signed("GET", "/api/v3/account").json()
    bal = {b["asset"]: (b["free"], b["locked"]) for b in acct["balances"]}
    # 0.01 BTC at 50,000,000 = 500,000 KRW held, plus the larger of the fee rates (20 bps): 1,000 KRW.
    assert bal["KRW"] == ("999499000.0000", "501000.0000") and bal["BTC"] == ("100.00000000", "0.00000000")
    assert acct["makerCommission"] == 10 and acct["takerCommission"] == 20
    assert acct["commissionRates"]["taker"] == "0.00200000" and acct["canTrade"] is True
    assert signed("GET", "/api/v3/account", key="reader").json()["canTrade"] is False
    assert signed("GET", "/api/v3/account", {"omitZeroBalances": "maybe"}).json()["code"] == -1100


# ----------------------------------------------------------------------------- compatibility endpoints
def test_tolerant_endpoints_and_listen_keys(client, signed):
    assert client.get("/fapi/v1/exchangeInfo").json()["symbols"] == []
    assert client.get("/dapi/v1/exchangeInfo").json()["symbols"] == []
    coins = signed("GET", "/sapi/v1/capital/config/getall").json()
    assert {c["coin"] for c in coins} == {"BTC", "KRW", "ETH", "USDT"} and coins[0]["networkList"] == []
    for path in ("/sapi/v1/margin/allPairs", "/sapi/v1/margin/isolated/allPairs", "/sapi/v1/spot/delist-schedule"):
        assert signed("GET", path).json() == []
    assert client.get("/sapi/v1/margin/allPairs").json()["code"] == -2014
    hdr = {"X-MBX-APIKEY": KEYS["trader"][0]}
    lk = client.post("/api/v3/userDataStream", headers=hdr).json()["listenKey"]
    assert client.post("/api/v3/userDataStream", headers=hdr).json()["listenKey"] == lk
    form = {**hdr, "Content-Type": "application/x-www-form-urlencoded"}
    assert client.put("/api/v3/userDataStream", content=f"listenKey={lk}", headers=form).json() == {}
    assert client.put("/api/v3/userDataStream", content="listenKey=nope", headers=form).json()["code"] == -1125
    other = {"X-MBX-APIKEY": KEYS["trader2"][0]}
    assert client.delete(f"/api/v3/userDataStream?listenKey={lk}", headers=other).json()["code"] == -1125
    assert client.delete(f"/api/v3/userDataStream?listenKey={lk}", headers=hdr).json() == {}
    assert client.put("/api/v3/userDataStream", content=f"listenKey={lk}", headers=form).json()["code"] == -1125
    assert client.post("/api/v3/userDataStream").json()["code"] == -2014


def test_openapi_documents_signed_params(client):
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/api/v3/order"]["post"]
    props = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert {"symbol", "side", "quantity", "signature", "timestamp"} <= set(props)
    get = schema["paths"]["/api/v3/allOrders"]["get"]
    assert {"symbol", "limit", "signature"} <= {p["name"] for p in get["parameters"]}
    assert client.get("/docs").status_code == 200


def test_oversized_body_is_refused(client):
    r = client.post("/api/v3/order", content=b"a=" + b"x" * 70_000,
                    headers={"X-MBX-APIKEY": KEYS["trader"][0], "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and r.json()["code"] == -1100


# ----------------------------------------------------------------------------- limits and admin
def test_rate_limits(tmp_path):
    cfg = parse_config(config_data(rate_limits={"request_weight_per_minute": 30, "orders_per_10s": 2,
                                                "orders_per_day": 100}))
    with TestClient(create_app(cfg, tmp_path / "d")) as c:
        gateway_state(c).limiter.now_ms = lambda: 1_700_000_000_000   # one fixed window: no flake at :59
        for _ in range(2):
            assert signed_request(c, "POST", "/api/v3/order", LIMIT).status_code == 200
        before = snapshot(c)
        r = signed_request(c, "POST", "/api/v3/order", LIMIT)
        assert r.status_code == 429 and r.json()["code"] == -1015 and r.headers["Retry-After"]
        assert snapshot(c) == before
        # The refused order still weighed 1: 3 so far, + 20 for the account.
        r = signed_request(c, "GET", "/api/v3/account")
        assert r.status_code == 200 and int(r.headers["X-MBX-USED-WEIGHT-1M"]) == 23
        r = signed_request(c, "GET", "/api/v3/account")
        assert r.status_code == 429 and r.json()["code"] == -1003 and int(r.headers["Retry-After"]) >= 1


def test_admin_deposit_and_withdraw(client):
    hdr = {"X-BDAX-ADMIN-TOKEN": ADMIN_TOKEN}
    r = client.post("/admin/deposit", json={"account": 7, "asset": "USDT", "amount": "12.5"}, headers=hdr)
    assert r.status_code == 200 and r.json()["free"] == "12.50000000"
    r = client.post("/admin/withdraw", json={"account": 7, "asset": "USDT", "amount": "2.5"}, headers=hdr)
    assert r.json()["free"] == "10.00000000"
    before = snapshot(client)
    assert client.post("/admin/deposit", json={"account": 7, "asset": "USDT", "amount": "1"}).status_code == 401
    assert client.post("/admin/deposit", json={"account": 7, "asset": "USDT", "amount": "1"},
                       headers={"X-BDAX-ADMIN-TOKEN": "wrong"}).status_code == 401
    for bad in ({"account": 7, "asset": "DOGE", "amount": "1"}, {"account": 7, "asset": "USDT", "amount": 1},
                {"account": 0, "asset": "USDT", "amount": "1"}, {"account": 7, "asset": "USDT", "amount": "-1"},
                {"account": 7, "asset": "USDT", "amount": "0.000000001"}, {"account": 7, "asset": "USDT"}):
        assert client.post("/admin/deposit", json=bad, headers=hdr).status_code == 400, bad
    assert snapshot(client) == before
    r = client.post("/admin/withdraw", json={"account": 7, "asset": "USDT", "amount": "11"}, headers=hdr)
    assert r.json() == {"code": -2010, "msg": INSUFFICIENT_BALANCE_MSG}
    check_engine(client)


# ----------------------------------------------------------------------------- restart
def test_restart_recovers_orders_balances_and_history(gw_config, data_dir):
    with TestClient(create_app(gw_config, data_dir)) as c:
        resting = signed_request(c, "POST", "/api/v3/order", LIMIT).json()
        filled = signed_request(c, "POST", "/api/v3/order", {"symbol": "BTCKRW", "side": "SELL", "type": "MARKET",
                                                             "quantity": "0.01"}, "trader2").json()
        canceled = signed_request(c, "POST", "/api/v3/order", {**LIMIT, "price": "40000000"}).json()
        signed_request(c, "DELETE", "/api/v3/order", {"symbol": "BTCKRW", "orderId": canceled["orderId"]})
        live = signed_request(c, "POST", "/api/v3/order", {**LIMIT, "price": "41000000"}).json()
        st = gateway_state(c)
        hash_before, seq_before = st.pump.engine.state_hash(), st.journal.last_seq
        account_before = signed_request(c, "GET", "/api/v3/account").json()["balances"]
        all_before = signed_request(c, "GET", "/api/v3/allOrders", {"symbol": "BTCKRW"}).json()
        trades_before = signed_request(c, "GET", "/api/v3/myTrades", {"symbol": "BTCKRW"}, "trader2").json()
    with TestClient(create_app(gw_config, data_dir)) as c:
        st = gateway_state(c)
        assert st.pump.engine.state_hash() == hash_before and st.journal.last_seq == seq_before
        assert st.funded == []          # starting deposits are journaled once, not again
        assert signed_request(c, "GET", "/api/v3/account").json()["balances"] == account_before
        assert signed_request(c, "GET", "/api/v3/allOrders", {"symbol": "BTCKRW"}).json() == all_before
        assert signed_request(c, "GET", "/api/v3/myTrades", {"symbol": "BTCKRW"}, "trader2").json() == trades_before
        statuses = {o["orderId"]: o["status"] for o in all_before}
        assert statuses == {resting["orderId"]: "FILLED", canceled["orderId"]: "CANCELED", live["orderId"]: "NEW"}
        assert filled["status"] == "FILLED"
        assert signed_request(c, "DELETE", "/api/v3/order", {"symbol": "BTCKRW", "orderId": live["orderId"]}).json()["status"] == "CANCELED"
        check_engine(c)


def test_restart_with_another_config_is_refused(gw_config, data_dir):
    with TestClient(create_app(gw_config, data_dir)):
        pass
    data = config_data()
    data["instruments"][1]["tick_size"] = "0.1"
    with pytest.raises(RuntimeError, match="another configuration"):
        with TestClient(create_app(parse_config(data), data_dir)):
            pass

