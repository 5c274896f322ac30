"""Admin routes: deposits and withdrawals for simulated accounts.

``POST /admin/deposit`` and ``POST /admin/withdraw`` take a JSON body ``{"account": 1, "asset": "KRW",
"amount": "1000000"}`` and the header ``X-BDAX-ADMIN-TOKEN: <server.admin_token>``. They go through the
pump (journaled like any command) and answer ``{"account", "asset", "amount", "free", "locked"}``.
With no admin token configured the routes answer 403. Errors use Binance's shape.
"""
from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Request, Response

from exchange import CommandRejected, Deposit, Withdraw
from exchange.decimals import DecimalError, from_units, to_units

from .errors import BinanceError, bad_param, missing_param, reject_error
from .rest_trading import json_response, read_body

__all__ = ["router"]

_BODY_DOC = {"parameters": [{"name": "X-BDAX-ADMIN-TOKEN", "in": "header", "required": True,
                             "schema": {"type": "string"}}],
             "requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["account", "asset", "amount"],
                 "properties": {"account": {"type": "integer", "minimum": 1},
                                "asset": {"type": "string"},
                                "amount": {"type": "string", "description": "decimal, e.g. \"1.5\""}}}}}}}


def router(state) -> APIRouter:
    r = APIRouter(prefix="/admin", tags=["admin"])

    def authorize(request: Request) -> None:
        token = state.config.admin_token
        if not token:
            raise BinanceError(-2015, "Admin routes are disabled: set server.admin_token in the config.", 403)
        given = request.headers.get("x-bdax-admin-token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise BinanceError(-2015, "Invalid admin token.", 401)

    async def parse(request: Request):
        authorize(request)
        raw = await read_body(request, 4096)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise BinanceError(-1100, "Malformed request: the body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise BinanceError(-1100, 'The body must be a JSON object {"account", "asset", "amount"}.')
        extra = set(body) - {"account", "asset", "amount"}
        if extra:
            raise BinanceError(-1104, f"Unknown field(s): {', '.join(sorted(extra))}.")
        for name in ("account", "asset", "amount"):
            if body.get(name) in (None, ""):
                raise missing_param(name)
        account, asset, amount = body["account"], body["asset"], body["amount"]
        if type(account) is not int or not 1 <= account <= 2**62:
            raise bad_param("account", "it must be a positive integer.")
        decimals = state.pump.engine.assets.get(asset) if isinstance(asset, str) else None
        if decimals is None:
            raise bad_param("asset", f"known assets: {', '.join(state.pump.engine.assets)}.")
        if not isinstance(amount, str):
            raise bad_param("amount", 'it must be a decimal string such as "1.5".')
        try:
            units = to_units(amount, f"1e-{decimals}", what="amount")
        except DecimalError as exc:
            raise BinanceError(-1111, f"Parameter 'amount': {exc}.") from None
        if units <= 0:
            raise BinanceError(-1111, "Parameter 'amount' must be positive.")
        return account, asset, units, amount

    async def run(command, amount_text: str) -> Response:
        events = await state.pump.submit(command)
        if type(events[0]) is CommandRejected:
            raise reject_error(events[0].reason)
        b = state.pump.engine.balances(command.account)[command.asset]
        unit = f"1e-{state.pump.engine.assets[command.asset]}"
        return json_response({"account": command.account, "asset": command.asset, "amount": amount_text,
                              "free": from_units(b.available, unit), "locked": from_units(b.held, unit)})

    @r.post("/deposit", summary="Credit an account (admin token)", openapi_extra=_BODY_DOC)
    async def deposit(request: Request) -> Response:
        account, asset, units, text = await parse(request)
        return await run(Deposit(0, account, asset, units), text)

    @r.post("/withdraw", summary="Debit an account's available balance (admin token)", openapi_extra=_BODY_DOC)
    async def withdraw(request: Request) -> Response:
        account, asset, units, text = await parse(request)
        return await run(Withdraw(0, account, asset, units), text)

    return r
