"""Signing helpers and the test config for the gateway tests (fixtures in conftest.py)."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

# name -> (api key, secret, account, permissions)
KEYS = {
    "trader": ("TraderKey1" + "a" * 54, "TraderSecret1" + "s" * 51, 1, ["READ", "TRADE"]),
    "trader2": ("TraderKey2" + "b" * 54, "TraderSecret2" + "t" * 51, 2, ["READ", "TRADE"]),
    "reader": ("ReaderKey2" + "c" * 54, "ReaderSecret2" + "u" * 51, 2, ["READ"]),
    "noperm": ("NoPermKey3" + "d" * 54, "NoPermSecret3" + "v" * 51, 3, []),
}
START_BALANCES = {"KRW": "1000000000", "BTC": "100", "ETH": "100", "USDT": "1000000"}
ADMIN_TOKEN = "admin-token-for-tests-0123456789"


def config_data(**overrides) -> dict:
    """The test config as TOML-shaped data (tests tweak it and call ``parse_config``)."""
    accounts = {}
    for _name, (key, secret, acct, perms) in KEYS.items():
        a = accounts.setdefault(acct, {"id": acct, "name": f"acct-{acct}", "balances": dict(START_BALANCES),
                                       "api_keys": []})
        a["api_keys"].append({"key": key, "secret": secret, "permissions": perms})
    data = {
        "server": {"fsync": "every_batch", "admin_token": ADMIN_TOKEN},
        "rate_limits": {"request_weight_per_minute": 1_000_000, "orders_per_10s": 100_000,
                        "orders_per_day": 10_000_000},
        "assets": {"BTC": 8, "KRW": 4, "ETH": 8, "USDT": 8},
        "fee_tiers": [{"tier": 0, "maker_bps": 10, "taker_bps": 20}],
        "instruments": [
            {"symbol": "BTC-KRW", "base": "BTC", "quote": "KRW",
             "tick_table": [["0", "1"], ["1000", "5"], ["10000", "10"], ["1000000", "1000"]],
             "lot_size": "0.0001", "min_notional": "5000", "max_price": "1000000000", "max_qty": "1000"},
            {"symbol": "ETH-USDT", "base": "ETH", "quote": "USDT", "tick_size": "0.01", "lot_size": "0.001",
             "min_notional": "10", "max_price": "1000000", "max_qty": "10000"},
        ],
        "accounts": sorted(accounts.values(), key=lambda a: a["id"]),
    }
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    return data


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_request(client, method: str, path: str, params: dict | None = None, key: str = "trader", *,
                   recv_window: int | None = 10000, timestamp: int | None = None, secret: str | None = None,
                   api_key: str | None = None, headers: dict | None = None):
    """One SIGNED request the way ccxt builds it (binance-compat §5)."""
    k, s, _acct, _perms = KEYS[key]
    items = [("timestamp", now_ms() if timestamp is None else timestamp)] + list((params or {}).items())
    if recv_window is not None:
        items.append(("recvWindow", recv_window))
    query = urlencode(items)
    signature = sign(secret or s, query)
    hdrs = {"X-MBX-APIKEY": api_key if api_key is not None else k, **(headers or {})}
    if method in ("GET", "DELETE"):
        return client.request(method, f"{path}?{query}&signature={signature}", headers=hdrs)
    hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    return client.request(method, path, content=f"{query}&signature={signature}", headers=hdrs)


def ws_signed_params(params: dict | None = None, key: str = "trader", *, timestamp: int | None = None,
                     secret: str | None = None) -> dict:
    """WebSocket API params signed over the sorted, unencoded ``k=v`` pairs."""
    k, s, _acct, _perms = KEYS[key]
    out = {**(params or {}), "apiKey": k, "timestamp": now_ms() if timestamp is None else timestamp}
    payload = "&".join(f"{name}={out[name]}" for name in sorted(out))
    out["signature"] = sign(secret or s, payload)
    return out


def gateway_state(client):
    """The app's GatewayState (engine: ``.pump.engine``, journal: ``.journal``)."""
    return client.app.state.bdax
