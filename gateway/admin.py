"""Admin routes: deposits and withdrawals for simulated accounts, load-test provisioning, the audit.

``POST /admin/deposit`` and ``POST /admin/withdraw`` take a JSON body ``{"account": 1, "asset": "KRW",
"amount": "1000000"}`` and the header ``X-BDAX-ADMIN-TOKEN: <server.admin_token>``. They go through the
pump (journaled like any command) and answer ``{"account", "asset", "amount", "free", "locked"}``.
With no admin token configured the routes answer 403. Errors use Binance's shape.

``POST /admin/accounts`` (load-test provisioning, ``bdax load``): body ``{"count": N, "balances":
{"KRW": "2000000000", "BTC": "20"}, "name": "load"}`` (count 1..1000; balances asset -> positive decimal
string, may be empty; name optional, up to 32 of ``[A-Za-z0-9_-]``) creates N new accounts, numbered from
1,000,000,000 up (the next free id: the simulator's agents use 10,000,000..~200,000,000, config accounts
are small), each with one fresh READ+TRADE key, and answers ``{"accounts": [{"account", "apiKey",
"secret"}, ...]}``. The keys are persisted (:class:`gateway.auth.RuntimeKeys`) before the deposits are
journaled (one ``submit_many``), and loaded back when the router is built, so they survive a restart.
A rejected body creates and journals nothing.

``POST /admin/audit``: see :mod:`gateway.audit`.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import re

from fastapi import APIRouter, Request, Response

from exchange import CommandRejected, Deposit, Withdraw
from exchange.decimals import DecimalError, from_units, to_units

from .auth import ApiKey, RuntimeKeys
from .config import new_api_key
from .errors import BinanceError, bad_param, missing_param, reject_error
from .rest_trading import json_response, read_body

__all__ = ["router", "FIRST_RUNTIME_ACCOUNT", "MAX_NEW_ACCOUNTS"]

FIRST_RUNTIME_ACCOUNT = 1_000_000_000
MAX_NEW_ACCOUNTS = 1000
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

_BODY_DOC = {"parameters": [{"name": "X-BDAX-ADMIN-TOKEN", "in": "header", "required": True,
                             "schema": {"type": "string"}}],
             "requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["account", "asset", "amount"],
                 "properties": {"account": {"type": "integer", "minimum": 1},
                                "asset": {"type": "string"},
                                "amount": {"type": "string", "description": "decimal, e.g. \"1.5\""}}}}}}}


def router(state) -> APIRouter:
    r = APIRouter(prefix="/admin", tags=["admin"])
    runtime = RuntimeKeys(state.data_dir)
    runtime.load(state.keys)     # before the app serves: a restarted server knows its load accounts
    state.runtime_keys = runtime
    create_lock = asyncio.Lock()

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

    def parse_accounts(raw: bytes) -> tuple[int, dict[str, int], str]:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise BinanceError(-1100, "Malformed request: the body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise BinanceError(-1100, 'The body must be a JSON object {"count", "balances", "name"}.')
        extra = set(body) - {"count", "balances", "name"}
        if extra:
            raise BinanceError(-1104, f"Unknown field(s): {', '.join(sorted(extra))}; allowed: count, "
                                      f"balances, name.")
        if body.get("count") is None:
            raise missing_param("count")
        count = body["count"]
        if type(count) is not int or not 1 <= count <= MAX_NEW_ACCOUNTS:
            raise bad_param("count", f"it must be an integer from 1 to {MAX_NEW_ACCOUNTS}.")
        balances = body.get("balances", {})
        if not isinstance(balances, dict):
            raise bad_param("balances", 'it must be an object such as {"KRW": "1000000", "BTC": "1.5"}.')
        name = body.get("name", "")
        if not isinstance(name, str) or (name and not _NAME_RE.match(name)):
            raise bad_param("name", "it must be up to 32 letters, digits, '_' or '-'.")
        assets = state.pump.engine.assets
        units: dict[str, int] = {}
        for asset, amount in balances.items():
            if asset not in assets:
                raise bad_param("balances", f"unknown asset {asset[:20]!r}; known assets: {', '.join(assets)}.")
            if not isinstance(amount, str):
                raise bad_param("balances", f'{asset}: the amount must be a decimal string such as "1.5".')
            try:
                u = to_units(amount, f"1e-{assets[asset]}", what=f"{asset} amount")
            except DecimalError as exc:
                raise BinanceError(-1111, f"Parameter 'balances': {exc}.") from None
            if u <= 0:
                raise BinanceError(-1111, f"Parameter 'balances': {asset} must be positive.")
            units[asset] = u
        return count, units, name

    @r.post("/accounts", summary="Create funded accounts with fresh API keys (admin token)",
            openapi_extra={"parameters": _BODY_DOC["parameters"], "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "required": ["count"], "properties": {
                    "count": {"type": "integer", "minimum": 1, "maximum": MAX_NEW_ACCOUNTS},
                    "balances": {"type": "object", "additionalProperties": {"type": "string"}},
                    "name": {"type": "string"}}}}}}})
    async def create_accounts(request: Request) -> Response:
        authorize(request)
        count, units, name = parse_accounts(await read_body(request, 16_384))
        async with create_lock:   # two concurrent calls must not hand out the same ids
            engine = state.pump.engine
            used = [a for a in engine.accounts() if a >= FIRST_RUNTIME_ACCOUNT]
            used.extend(a for a in runtime.accounts() if a >= FIRST_RUNTIME_ACCOUNT)
            first = max(used) + 1 if used else FIRST_RUNTIME_ACCOUNT
            entries = []
            for i in range(count):
                k = new_api_key()
                entries.append({"account": first + i, "apiKey": k.key, "secret": k.secret,
                                "permissions": sorted(k.permissions), "name": name})
            # Durable keys first: a journaled account must never lose its key to a crash.
            await asyncio.to_thread(runtime.persist, entries)
            for e in entries:
                state.keys.add(ApiKey(e["apiKey"], e["secret"].encode(), e["account"],
                                      frozenset(e["permissions"])))
            commands = [Deposit(0, e["account"], asset, u) for e in entries for asset, u in units.items()]
            if commands:
                results = await state.pump.submit_many(commands)
                for events in results:
                    if type(events[0]) is CommandRejected:
                        raise reject_error(events[0].reason)
        return json_response({"accounts": [{"account": e["account"], "apiKey": e["apiKey"],
                                            "secret": e["secret"]} for e in entries]})

    from . import audit
    r.include_router(audit.router(state, authorize))
    return r
