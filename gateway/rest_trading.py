"""Signed REST endpoints (Binance spot ``/api/v3``), the legacy userDataStream, and tolerant stubs.

Every signed route reads the raw query string and body and verifies the signature over those bytes
(:func:`gateway.auth.verify_rest`); the parameters are declared in the OpenAPI schema (``/docs``) for
documentation and fuzzing only, never parsed by FastAPI. Order routes count against the key's order
limits and answer with ``X-MBX-ORDER-COUNT-10S`` / ``-1D``.

Tolerant endpoints (binance-compat §3) let ccxt run with its default options: ``/fapi/v1/exchangeInfo``
and ``/dapi/v1/exchangeInfo`` (no derivatives: empty), signed ``/sapi/v1/capital/config/getall`` (the
assets), ``/sapi/v1/margin/allPairs``, ``/sapi/v1/margin/isolated/allPairs`` and
``/sapi/v1/spot/delist-schedule`` (empty lists).
"""
from __future__ import annotations

import msgspec

from exchange.decimals import from_units
from fastapi import APIRouter, Request, Response

from .auth import check_key, parse_params, verify_rest
from .errors import BinanceError
from .params import Params
from .trading import Trading

__all__ = ["router", "read_body", "json_response"]

_encode = msgspec.json.Encoder().encode

# name -> (OpenAPI type, description); the documentation of every parameter the signed routes take.
_DOC = {
    "symbol": ("string", "Wire symbol, e.g. BTCKRW"),
    "side": ("string", "BUY or SELL"), "type": ("string", "LIMIT, MARKET or LIMIT_MAKER"),
    "timeInForce": ("string", "GTC, IOC or FOK (LIMIT only)"),
    "quantity": ("string", "Base quantity, a decimal on the LOT_SIZE grid"),
    "quoteOrderQty": ("string", "MARKET only: quote amount to spend or receive"),
    "price": ("string", "Limit price, a decimal on the PRICE_FILTER grid"),
    "newClientOrderId": ("string", "Up to 36 characters of [.A-Za-z0-9:/_-]"),
    "newOrderRespType": ("string", "ACK, RESULT or FULL"),
    "selfTradePreventionMode": ("string", "NONE, EXPIRE_TAKER, EXPIRE_MAKER or EXPIRE_BOTH"),
    "orderId": ("integer", "Order id"), "origClientOrderId": ("string", "Client order id of the order"),
    "cancelRestrictions": ("string", "Accepted and ignored"),
    "cancelReplaceMode": ("string", "STOP_ON_FAILURE or ALLOW_FAILURE"),
    "cancelOrderId": ("integer", "Order to cancel"), "cancelOrigClientOrderId": ("string", "Order to cancel"),
    "cancelNewClientOrderId": ("string", "Client id of the cancel"),
    "orderRateLimitExceededMode": ("string", "Accepted and ignored"),
    "newQty": ("string", "New total quantity, below the current one"),
    "startTime": ("integer", "Epoch ms"), "endTime": ("integer", "Epoch ms"),
    "limit": ("integer", "1..1000, default 500"), "fromId": ("integer", "Trade id to start from"),
    "omitZeroBalances": ("string", "true or false"), "computeCommissionRates": ("string", "Ignored"),
    "recvWindow": ("integer", "Milliseconds the request stays valid, default 5000, at most 60000"),
    "timestamp": ("integer", "Epoch ms of the client's clock (required)"),
    "signature": ("string", "Hex HMAC-SHA256 of the query string + body (required, last)"),
    "listenKey": ("string", "The listenKey"),
}
_ORDER = ["symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "newClientOrderId",
          "newOrderRespType", "selfTradePreventionMode"]
_SIGNING = ["recvWindow", "timestamp", "signature"]
_APIKEY_HEADER = {"name": "X-MBX-APIKEY", "in": "header", "required": True, "schema": {"type": "string"},
                  "description": "API key"}


def _schema(name: str) -> dict:
    kind, desc = _DOC[name]
    return {"type": kind, "description": desc}


def _doc(names: list[str], *, body: bool, required: tuple[str, ...] = (), signed: bool = True) -> dict:
    """openapi_extra for a route whose params are in the query string (GET/DELETE) or a form body."""
    names = names + (_SIGNING if signed else [])
    req = set(required) | ({"timestamp", "signature"} if signed else set())
    header = [_APIKEY_HEADER]
    if body:
        return {"parameters": header, "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": {n: _schema(n) for n in names},
                "required": [n for n in names if n in req]}}}}}
    return {"parameters": header + [{"name": n, "in": "query", "required": n in req, "schema": _schema(n)}
                                    for n in names]}


def json_response(obj, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(obj), status_code=status, media_type="application/json", headers=headers)


async def read_body(request: Request, cap: int) -> bytes:
    """The raw body, refusing more than ``cap`` bytes (HTTP 413, -1100) without reading it all."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > cap):
        raise BinanceError(-1100, f"Request body too large: at most {cap} bytes.", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BinanceError(-1100, f"Request body too large: at most {cap} bytes.", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def router(state) -> APIRouter:
    """Signed trading routes, userDataStream and tolerant stubs over ``state`` (the app's GatewayState:
    trading, keys, limiter, listen_keys, config)."""
    r = APIRouter()
    trading: Trading = state.trading
    cap = state.config.max_body_bytes

    async def signed(request: Request, need: str):
        body = await read_body(request, cap)
        key, params = verify_rest(request.headers.get("x-mbx-apikey"), request.url.query, body, state.keys,
                                  need)
        return key, Params(params)

    def counted(key) -> dict[str, str]:
        return state.limiter.order_headers(state.limiter.add_order(key.key))

    # ------------------------------------------------------------------ orders
    @r.post("/api/v3/order", tags=["trading"], summary="New order (TRADE)",
            openapi_extra=_doc(_ORDER, body=True, required=("symbol", "side", "type")))
    async def new_order(request: Request) -> Response:
        key, p = await signed(request, "TRADE")
        headers = counted(key)
        return json_response(await trading.new_order(key, p), headers=headers)

    @r.post("/api/v3/order/test", tags=["trading"], summary="Test new order: validated, never placed",
            openapi_extra=_doc(_ORDER + ["computeCommissionRates"], body=True,
                               required=("symbol", "side", "type")))
    async def test_order(request: Request) -> Response:
        key, p = await signed(request, "TRADE")
        return json_response(await trading.new_order(key, p, test=True))

    @r.get("/api/v3/order", tags=["trading"], summary="Query order (READ)",
           openapi_extra=_doc(["symbol", "orderId", "origClientOrderId"], body=False, required=("symbol",)))
    async def query_order(request: Request) -> Response:
        key, p = await signed(request, "READ")
        return json_response(trading.query_order(key, p))

    @r.delete("/api/v3/order", tags=["trading"], summary="Cancel order (TRADE)",
              openapi_extra=_doc(["symbol", "orderId", "origClientOrderId", "newClientOrderId",
                                  "cancelRestrictions"], body=False, required=("symbol",)))
    async def cancel_order(request: Request) -> Response:
        key, p = await signed(request, "TRADE")
        return json_response(await trading.cancel_order(key, p))

    @r.post("/api/v3/order/cancelReplace", tags=["trading"], summary="Cancel an order and place a new one",
            openapi_extra=_doc(_ORDER + ["cancelReplaceMode", "cancelOrderId", "cancelOrigClientOrderId",
                                         "cancelNewClientOrderId", "cancelRestrictions",
                                         "orderRateLimitExceededMode"], body=True,
                               required=("symbol", "side", "type", "cancelReplaceMode")))
    async def cancel_replace(request: Request) -> Response:
        key, p = await signed(request, "TRADE")
        headers = counted(key)
        try:
            return json_response(await trading.cancel_replace(key, p), headers=headers)
        except BinanceError as exc:
            if hasattr(exc, "data"):
                return json_response(exc.body(), 400, headers)
            raise

    @r.put("/api/v3/order/amend/keepPriority", tags=["trading"],
           summary="Reduce an order's quantity keeping its queue priority",
           openapi_extra=_doc(["symbol", "orderId", "origClientOrderId", "newClientOrderId", "newQty"],
                              body=True, required=("symbol", "newQty")))
    async def amend(request: Request) -> Response:
        key, p = await signed(request, "TRADE")
        return json_response(await trading.amend_keep_priority(key, p))

    @r.get("/api/v3/openOrders", tags=["trading"], summary="Open orders, one symbol or all (READ)",
           openapi_extra=_doc(["symbol"], body=False))
    async def open_orders(request: Request) -> Response:
        key, p = await signed(request, "READ")
        return json_response(trading.open_orders(key, p))

    @r.delete("/api/v3/openOrders", tags=["trading"], summary="Cancel all open orders on a symbol",
              openapi_extra=_doc(["symbol"], body=False, required=("symbol",)))
    async def cancel_open_orders(request: Request) -> Response:
        key, p = await signed(request, "TRADE")
        return json_response(await trading.cancel_open_orders(key, p))

    @r.get("/api/v3/allOrders", tags=["trading"], summary="All orders of a symbol (READ)",
           openapi_extra=_doc(["symbol", "orderId", "startTime", "endTime", "limit"], body=False,
                              required=("symbol",)))
    async def all_orders(request: Request) -> Response:
        key, p = await signed(request, "READ")
        return json_response(trading.all_orders(key, p))

    @r.get("/api/v3/myTrades", tags=["trading"], summary="Own trades of a symbol (READ)",
           openapi_extra=_doc(["symbol", "orderId", "startTime", "endTime", "fromId", "limit"], body=False,
                              required=("symbol",)))
    async def my_trades(request: Request) -> Response:
        key, p = await signed(request, "READ")
        return json_response(trading.my_trades(key, p))

    @r.get("/api/v3/account", tags=["trading"], summary="Balances and permissions (READ)",
           openapi_extra=_doc(["omitZeroBalances"], body=False))
    async def account(request: Request) -> Response:
        key, p = await signed(request, "READ")
        return json_response(trading.account(key, p))

    # ------------------------------------------------------------------ legacy user data stream
    async def key_only(request: Request, need: str = "READ"):
        body = await read_body(request, cap)
        key = check_key(request.headers.get("x-mbx-apikey"), state.keys, need)
        params = parse_params(request.url.query)
        parse_params(body.decode("latin-1"), params)
        return key, Params(params)

    def listen_key_param(p: Params, key) -> str:
        lk = p.req("listenKey")
        p.done()
        if state.listen_keys.account(lk) != key.account:
            raise BinanceError(-1125, "This listenKey does not exist.")
        return lk

    uds_doc = {"parameters": [_APIKEY_HEADER]}
    lk_doc = {"parameters": [_APIKEY_HEADER, {"name": "listenKey", "in": "query", "required": True,
                                              "schema": _schema("listenKey")}]}

    @r.post("/api/v3/userDataStream", tags=["user data stream"], summary="Create a listenKey (API key only)",
            openapi_extra=uds_doc)
    async def uds_create(request: Request) -> Response:
        key, p = await key_only(request)
        p.done()
        return json_response({"listenKey": state.listen_keys.create(key.account)})

    @r.put("/api/v3/userDataStream", tags=["user data stream"], summary="Keep a listenKey alive",
           openapi_extra=lk_doc)
    async def uds_keepalive(request: Request) -> Response:
        key, p = await key_only(request)
        state.listen_keys.keepalive(listen_key_param(p, key), key.account)
        return json_response({})

    @r.delete("/api/v3/userDataStream", tags=["user data stream"], summary="Close a listenKey",
              openapi_extra=lk_doc)
    async def uds_delete(request: Request) -> Response:
        key, p = await key_only(request)
        state.listen_keys.delete(listen_key_param(p, key), key.account)
        return json_response({})

    # ------------------------------------------------------------------ tolerant stubs (binance-compat §3)
    def no_derivatives() -> Response:
        return json_response({"timezone": "UTC", "serverTime": state.pump.clock() // 1_000_000,
                              "rateLimits": [], "exchangeFilters": [], "assets": [], "symbols": []})

    r.add_api_route("/fapi/v1/exchangeInfo", no_derivatives, methods=["GET"], tags=["compatibility"],
                    summary="No USD-M futures here: empty")
    r.add_api_route("/dapi/v1/exchangeInfo", no_derivatives, methods=["GET"], tags=["compatibility"],
                    summary="No COIN-M futures here: empty")

    @r.get("/sapi/v1/capital/config/getall", tags=["compatibility"], summary="Assets (signed)",
           openapi_extra=_doc([], body=False))
    async def capital_config(request: Request) -> Response:
        key, p = await signed(request, "READ")
        p.done()
        engine = state.pump.engine
        balances = engine.balances(key.account)
        rows = []
        for name, decimals in engine.assets.items():
            b = balances.get(name)
            unit = f"1e-{decimals}"
            rows.append({"coin": name, "name": name, "depositAllEnable": False, "withdrawAllEnable": False,
                         "free": from_units(b.available if b else 0, unit),
                         "locked": from_units(b.held if b else 0, unit), "freeze": "0", "withdrawing": "0",
                         "ipoing": "0", "ipoable": "0", "storage": "0", "isLegalMoney": False,
                         "trading": True, "networkList": []})
        return json_response(rows)

    async def empty_signed(request: Request) -> Response:
        key, p = await signed(request, "READ")
        for name in ("symbol", "symbols"):
            p.get(name)
        p.done()
        return json_response([])

    for path, summary in (("/sapi/v1/margin/allPairs", "No margin here: empty (signed)"),
                          ("/sapi/v1/margin/isolated/allPairs", "No isolated margin here: empty (signed)"),
                          ("/sapi/v1/spot/delist-schedule", "Nothing is being delisted: empty (signed)")):
        r.add_api_route(path, empty_signed, methods=["GET"], tags=["compatibility"], summary=summary,
                        openapi_extra=_doc([], body=False))
    return r

