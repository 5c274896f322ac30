"""The gateway's configuration: a TOML file, validated field by field, and the demo config writer.

Layout (every table but ``[[instruments]]`` and ``[assets]`` is optional)::

    [server]
    fsync = "every_batch"              # every_batch | interval_ms=N | off (exchange.journal.FsyncPolicy)
    admin_token = "..."                # "" disables the admin routes
    default_stp = "EXPIRE_MAKER"       # NONE | EXPIRE_TAKER | EXPIRE_MAKER | EXPIRE_BOTH
    fee_account = 0                    # receives every fee; not a trading account
    order_history_per_account = 10000  # finished orders kept per account (open ones always are)
    trade_history_per_account = 10000  # own trades kept per account
    max_body_bytes = 65536

    [rate_limits]
    request_weight_per_minute = 6000   # per client IP (X-MBX-USED-WEIGHT-1M)
    orders_per_10s = 100               # per API key (X-MBX-ORDER-COUNT-10S)
    orders_per_day = 200000            # per API key (X-MBX-ORDER-COUNT-1D)
    max_streams = 1024                 # market streams per websocket connection
    messages_per_second = 5            # incoming SUBSCRIBE/... messages per connection
    send_queue = 4096                  # messages queued for a slow client before it is disconnected

    [assets]                           # name = decimals of its ledger unit
    BTC = 8
    KRW = 4

    [[fee_tiers]]
    tier = 0
    maker_bps = 10
    taker_bps = 10

    [[instruments]]
    symbol = "BTC-KRW"                 # on the wire: BTCKRW
    base = "BTC"
    quote = "KRW"
    tick_table = [["0", "1"], ["1000000", "1000"]]   # or tick_size = "0.01"
    lot_size = "0.0001"
    min_qty = "0.0001"                 # optional, default one lot
    min_notional = "5000"
    max_price = "1000000000"           # optional
    max_qty = "1000"                   # optional

    [[accounts]]
    id = 1
    name = "alice"
    fee_tier = 0
    balances = { KRW = "100000000", BTC = "1" }     # deposited when the account is first seen
    [[accounts.api_keys]]
    key = "..."                        # 1..128 letters and digits
    secret = "..."
    permissions = ["READ", "TRADE"]    # READ: queries and user streams; TRADE: place and cancel

    [market]                           # optional: the simulator scenario this exchange is the home venue of
    scenario = "busan"                 # a shipped scenario's name or a scenario file's path
    seed = 1                           # optional, default the scenario's own seed

Without ``[market]`` the engine is a plain :class:`exchange.Engine` and ``bdax serve`` runs no agents. With
it, the scenario decides the engine (a shared-liquidity hub for its mirrored / pooled sharing models, see
:mod:`sim.live.engine`), the instruments and fee tiers must be exactly the scenario's home venue's, and
``bdax serve`` runs the scenario's agents inside the server (``sim.live``).

Errors name the field: ``bdax.toml: accounts[1].api_keys[0].secret: missing``.
"""
from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange import STP, Asset, Engine, FeeTier, Instrument, InstrumentError
from exchange.decimals import DecimalError
from exchange.journal import FsyncPolicy

__all__ = ["ConfigError", "GatewayConfig", "AccountConfig", "ApiKeyConfig", "MarketConfig", "RateLimits", "load_config",
           "parse_config", "demo_config", "dump_toml", "write_config", "new_api_key", "PERMISSIONS"]

PERMISSIONS = ("READ", "TRADE")
_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_SECRET_RE = re.compile(r"^[\x21-\x7e]{1,256}$")   # printable ASCII without spaces


class ConfigError(ValueError):
    """A config value that is missing or wrong; the message names the field and what is expected."""


@dataclass(frozen=True)
class ApiKeyConfig:
    key: str
    secret: str = field(repr=False)
    permissions: frozenset[str] = frozenset(PERMISSIONS)


@dataclass(frozen=True)
class AccountConfig:
    id: int
    name: str = ""
    fee_tier: int = 0
    balances: dict[str, str] = field(default_factory=dict)     # asset -> decimal string
    api_keys: tuple[ApiKeyConfig, ...] = ()


@dataclass(frozen=True)
class RateLimits:
    request_weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    # Market-stream connections (gateway/streams.py): Binance's limits by default.
    max_streams: int = 1024            # streams per connection
    messages_per_second: int = 5       # incoming control messages per connection
    send_queue: int = 4096             # messages waiting for a slow client before it is disconnected


@dataclass(frozen=True)
class InstrumentConfig:
    """The instrument as written in the file (kept to write the file back unchanged)."""

    symbol: str
    base: str
    quote: str
    lot_size: str
    tick_size: str | None = None
    tick_table: tuple[tuple[str, str], ...] | None = None
    min_qty: str | None = None
    min_notional: str = "0"
    max_price: str | None = None
    max_qty: str | None = None


@dataclass(frozen=True)
class MarketConfig:
    """``[market]``: the scenario whose home venue this exchange is (its engine kind, its agents)."""

    scenario: str                      # a shipped scenario's name or a file path
    seed: int | None = None            # None: the scenario's own seed


@dataclass(frozen=True)
class GatewayConfig:
    """A validated configuration. Build with :func:`load_config` or :func:`parse_config`."""

    assets: dict[str, int]
    instrument_specs: tuple[InstrumentConfig, ...]
    instruments: tuple[Instrument, ...]
    accounts: tuple[AccountConfig, ...] = ()
    fee_tiers: dict[int, FeeTier] = field(default_factory=lambda: {0: FeeTier(10, 10)})
    rate_limits: RateLimits = RateLimits()
    fsync: str = "every_batch"
    admin_token: str = field(default="", repr=False)
    default_stp: STP = STP.EXPIRE_MAKER
    fee_account: int = 0
    order_history_per_account: int = 10_000
    trade_history_per_account: int = 10_000
    max_body_bytes: int = 65_536
    market: MarketConfig | None = None

    def make_engine(self) -> Engine:
        """A fresh engine for this config (no deposits yet): a plain :class:`Engine`, or, with a
        ``[market]`` whose scenario shares liquidity (mirrored / pooled), that scenario's hub."""
        if self.market is not None:
            from sim.live.engine import make_market_engine
            return make_market_engine(self)
        return Engine(self.instruments, self.fee_tiers, self.default_stp, self.fee_account)

    def account(self, account_id: int) -> AccountConfig | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def with_accounts(self, accounts: tuple[AccountConfig, ...]) -> GatewayConfig:
        """A copy with other accounts, validated again."""
        return parse_config(_to_data(self, accounts))


# --------------------------------------------------------------------------- reading

def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: unreadable file, TOML syntax error, or an invalid field (the message names it).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


class _Table:
    """Typed reads from one TOML table with its path for messages; unknown keys are refused."""

    def __init__(self, data: Any, path: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: must be a table, got {type(data).__name__}")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(f"{path + '.' if path else ''}{unknown[0]}: unknown key (known: "
                              f"{', '.join(allowed)})")
        self.data, self.path = data, path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., what: str = "") -> Any:
        if key not in self.data:
            if default is ...:
                raise ConfigError(f"{self._name(key)}: missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = what or " or ".join(k.__name__.replace("str", "a string").replace("int", "an integer")
                                        .replace("list", "an array").replace("dict", "a table")
                                        for k in kinds)
            raise ConfigError(f"{self._name(key)}: must be {names}, got {value!r:.60}")
        return value

    def decimal(self, key: str, default: Any = ...) -> Any:
        value = self.get(key, (str, int), default, what='a decimal string such as "0.01"')
        return str(value) if isinstance(value, int) else value

    def int_range(self, key: str, lo: int, hi: int, default: Any = ...) -> int:
        value = self.get(key, int, default)
        if not lo <= value <= hi:
            raise ConfigError(f"{self._name(key)}: must be in {lo}..{hi}, got {value}")
        return value


def parse_config(data: dict) -> GatewayConfig:
    """Validate parsed TOML data (see the module docstring) into a :class:`GatewayConfig`."""
    top = _Table(data, "", ("server", "rate_limits", "assets", "fee_tiers", "instruments", "accounts", "market"))
    server = _Table(top.get("server", dict, {}), "server",
                    ("fsync", "admin_token", "default_stp", "fee_account", "order_history_per_account",
                     "trade_history_per_account", "max_body_bytes"))
    fsync = server.get("fsync", str, "every_batch")
    try:
        FsyncPolicy.parse(fsync)
    except ValueError as exc:
        raise ConfigError(f"server.fsync: {exc}") from None
    stp_name = server.get("default_stp", str, "EXPIRE_MAKER")
    if stp_name not in STP.__members__:
        raise ConfigError(f"server.default_stp: must be one of {', '.join(STP.__members__)}, got {stp_name!r}")
    admin_token = server.get("admin_token", str, "")
    if admin_token and len(admin_token) < 16:
        raise ConfigError("server.admin_token: use at least 16 characters (or \"\" to disable admin routes)")
    fee_account = server.int_range("fee_account", 0, 2**62, 0)

    rl = _Table(top.get("rate_limits", dict, {}), "rate_limits",
                ("request_weight_per_minute", "orders_per_10s", "orders_per_day", "max_streams",
                 "messages_per_second", "send_queue"))
    limits = RateLimits(rl.int_range("request_weight_per_minute", 1, 10**9, 6000),
                        rl.int_range("orders_per_10s", 1, 10**9, 100),
                        rl.int_range("orders_per_day", 1, 10**12, 200_000),
                        rl.int_range("max_streams", 1, 65536, 1024),
                        rl.int_range("messages_per_second", 1, 10**6, 5),
                        rl.int_range("send_queue", 16, 10**7, 4096))

    assets_tbl = top.get("assets", dict)
    assets: dict[str, Asset] = {}
    for name, decimals in assets_tbl.items():
        if not isinstance(decimals, int) or isinstance(decimals, bool):
            raise ConfigError(f"assets.{name}: must be an integer number of decimals, got {decimals!r:.40}")
        try:
            assets[name] = Asset(name, decimals)
        except InstrumentError as exc:
            raise ConfigError(f"assets.{name}: {exc}") from None

    tiers: dict[int, FeeTier] = {}
    for i, raw in enumerate(top.get("fee_tiers", list, [{"tier": 0, "maker_bps": 10, "taker_bps": 10}])):
        t = _Table(raw, f"fee_tiers[{i}]", ("tier", "maker_bps", "taker_bps"))
        tier = t.int_range("tier", 0, 10**6)
        if tier in tiers:
            raise ConfigError(f"fee_tiers[{i}].tier: tier {tier} is defined twice")
        tiers[tier] = FeeTier(t.int_range("maker_bps", 0, 10000), t.int_range("taker_bps", 0, 10000))
    if 0 not in tiers:
        raise ConfigError("fee_tiers: tier 0 (every new account's tier) must be defined")

    specs, instruments = _parse_instruments(top.get("instruments", list), assets)
    accounts = _parse_accounts(top.get("accounts", list, []), assets, tiers, fee_account)
    cfg = GatewayConfig(
        assets={n: a.decimals for n, a in assets.items()}, instrument_specs=tuple(specs),
        instruments=tuple(instruments), accounts=tuple(accounts), fee_tiers=tiers, rate_limits=limits,
        fsync=fsync, admin_token=admin_token, default_stp=STP[stp_name], fee_account=fee_account,
        order_history_per_account=server.int_range("order_history_per_account", 1, 10**7, 10_000),
        trade_history_per_account=server.int_range("trade_history_per_account", 1, 10**7, 10_000),
        max_body_bytes=server.int_range("max_body_bytes", 1024, 16 << 20, 65_536),
        market=_parse_market(top.get("market", dict, None)))
    from .symbols import SymbolTable
    try:
        SymbolTable(cfg.instruments)
    except ValueError as exc:
        raise ConfigError(f"instruments: {exc}") from None
    return cfg


def _parse_market(raw: dict | None) -> MarketConfig | None:
    """``[market]``: its fields' types only; whether the scenario exists and matches the instruments is
    checked where the scenario is loaded (:func:`sim.live.engine.load_market_scenario`)."""
    if raw is None:
        return None
    t = _Table(raw, "market", ("scenario", "seed"))
    scenario = t.get("scenario", str)
    if not scenario.strip():
        raise ConfigError('market.scenario: must name a scenario, e.g. "busan" (or remove [market])')
    return MarketConfig(scenario, t.int_range("seed", 0, 2**63 - 1, None) if "seed" in raw else None)


def _parse_instruments(items: list, assets: dict[str, Asset]) -> tuple[list, list]:
    if not items:
        raise ConfigError("instruments: define at least one [[instruments]]")
    specs, out, seen = [], [], set()
    for i, raw in enumerate(items):
        path = f"instruments[{i}]"
        t = _Table(raw, path, ("symbol", "base", "quote", "tick_size", "tick_table", "lot_size", "min_qty",
                               "min_notional", "max_price", "max_qty"))
        symbol = t.get("symbol", str)
        if symbol in seen:
            raise ConfigError(f"{path}.symbol: {symbol} is defined twice")
        seen.add(symbol)
        base, quote = t.get("base", str), t.get("quote", str)
        for key, name in (("base", base), ("quote", quote)):
            if name not in assets:
                raise ConfigError(f"{path}.{key}: asset {name!r} is not in [assets] (known: "
                                  f"{', '.join(assets) or 'none'})")
        table = t.get("tick_table", list, None)
        tick_table = None
        if table is not None:
            tick_table = []
            for j, row in enumerate(table):
                if (not isinstance(row, list) or len(row) != 2
                        or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in row)):
                    raise ConfigError(f"{path}.tick_table[{j}]: must be [\"price floor\", \"tick\"], "
                                      f"got {row!r:.60}")
                tick_table.append((str(row[0]), str(row[1])))
        spec = InstrumentConfig(symbol, base, quote, t.decimal("lot_size"), t.decimal("tick_size", None),
                                tuple(tick_table) if tick_table is not None else None,
                                t.decimal("min_qty", None), t.decimal("min_notional", "0"),
                                t.decimal("max_price", None), t.decimal("max_qty", None))
        try:
            inst = Instrument.define(symbol, assets[base], assets[quote], tick_size=spec.tick_size,
                                     tick_table=tick_table, lot_size=spec.lot_size, min_qty=spec.min_qty,
                                     min_notional=spec.min_notional, max_price=spec.max_price,
                                     max_qty=spec.max_qty)
        except (InstrumentError, DecimalError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        specs.append(spec)
        out.append(inst)
    return specs, out


def _parse_accounts(items: list, assets: dict[str, Asset], tiers: dict, fee_account: int) -> list:
    accounts, ids, keys = [], set(), {}
    for i, raw in enumerate(items):
        path = f"accounts[{i}]"
        t = _Table(raw, path, ("id", "name", "fee_tier", "balances", "api_keys"))
        acct_id = t.int_range("id", 1, 2**62)
        if acct_id in ids:
            raise ConfigError(f"{path}.id: account {acct_id} is defined twice")
        if acct_id == fee_account:
            raise ConfigError(f"{path}.id: {acct_id} is the fee account (server.fee_account); pick another id")
        ids.add(acct_id)
        tier = t.get("fee_tier", int, 0)
        if tier not in tiers:
            raise ConfigError(f"{path}.fee_tier: tier {tier} is not in [[fee_tiers]] "
                              f"(known: {', '.join(map(str, tiers))})")
        balances = {}
        for asset, amount in t.get("balances", dict, {}).items():
            bpath = f"{path}.balances.{asset}"
            if asset not in assets:
                raise ConfigError(f"{bpath}: unknown asset (known: {', '.join(assets)})")
            if not isinstance(amount, (str, int)) or isinstance(amount, bool):
                raise ConfigError(f'{bpath}: must be a decimal string such as "1.5", got {amount!r:.40}')
            try:
                units = assets[asset].to_units(str(amount))
            except DecimalError as exc:
                raise ConfigError(f"{bpath}: {exc}") from None
            if units <= 0 or units > 2**62:
                raise ConfigError(f"{bpath}: must be positive and at most the ledger maximum")
            balances[asset] = str(amount)
        api_keys = []
        for j, kraw in enumerate(t.get("api_keys", list, [])):
            kpath = f"{path}.api_keys[{j}]"
            k = _Table(kraw, kpath, ("key", "secret", "permissions"))
            key = k.get("key", str)
            if not _KEY_RE.match(key):
                raise ConfigError(f"{kpath}.key: must be 1..128 letters and digits")
            if key in keys:
                raise ConfigError(f"{kpath}.key: already used by {keys[key]}")
            keys[key] = kpath
            secret = k.get("secret", str)
            if not _SECRET_RE.match(secret):
                raise ConfigError(f"{kpath}.secret: must be 1..256 printable ASCII characters without spaces")
            perms = k.get("permissions", list, list(PERMISSIONS))
            for p in perms:
                if p not in PERMISSIONS:
                    raise ConfigError(f"{kpath}.permissions: {p!r} is not one of {', '.join(PERMISSIONS)}")
            api_keys.append(ApiKeyConfig(key, secret, frozenset(perms)))
        accounts.append(AccountConfig(acct_id, t.get("name", str, ""), tier, balances, tuple(api_keys)))
    return accounts


# --------------------------------------------------------------------------- writing

def new_api_key(permissions: frozenset[str] = frozenset(PERMISSIONS)) -> ApiKeyConfig:
    """A random key (64 letters and digits, like Binance's) and secret."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    def rand(n: int) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(n))
    return ApiKeyConfig(rand(64), rand(64), frozenset(permissions))


_KRW_BANDS = [["0", "1"], ["10000", "5"], ["100000", "10"], ["500000", "50"], ["1000000", "100"],
              ["2000000", "500"], ["10000000", "1000"]]


def demo_config(n_accounts: int = 3) -> GatewayConfig:
    """A ready-to-run config: BTCKRW and ETHKRW (Korean tick bands), BTCUSDT and ETHUSDT, and
    ``n_accounts`` funded accounts with one fresh READ+TRADE key each, plus an admin token."""
    data = {
        "server": {"fsync": "every_batch", "admin_token": secrets.token_urlsafe(24)},
        "assets": {"BTC": 8, "ETH": 8, "KRW": 4, "USDT": 8},
        "fee_tiers": [{"tier": 0, "maker_bps": 10, "taker_bps": 10}, {"tier": 1, "maker_bps": 2, "taker_bps": 5}],
        "instruments": [
            {"symbol": "BTC-KRW", "base": "BTC", "quote": "KRW", "tick_table": _KRW_BANDS, "lot_size": "0.0001",
             "min_notional": "5000", "max_price": "10000000000", "max_qty": "1000"},
            {"symbol": "ETH-KRW", "base": "ETH", "quote": "KRW", "tick_table": _KRW_BANDS, "lot_size": "0.001",
             "min_notional": "5000", "max_price": "1000000000", "max_qty": "10000"},
            {"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01", "lot_size": "0.00001",
             "min_notional": "5", "max_price": "10000000", "max_qty": "1000"},
            {"symbol": "ETH-USDT", "base": "ETH", "quote": "USDT", "tick_size": "0.01", "lot_size": "0.0001",
             "min_notional": "5", "max_price": "1000000", "max_qty": "10000"},
        ],
        "accounts": [],
    }
    for i in range(1, n_accounts + 1):
        key = new_api_key()
        data["accounts"].append({
            "id": i, "name": f"demo-{i}",
            "balances": {"KRW": "1000000000", "USDT": "1000000", "BTC": "10", "ETH": "100"},
            "api_keys": [{"key": key.key, "secret": key.secret, "permissions": sorted(key.permissions)}]})
    return parse_config(data)


def _to_data(cfg: GatewayConfig, accounts: tuple[AccountConfig, ...] | None = None) -> dict:
    accounts = cfg.accounts if accounts is None else accounts
    insts = []
    for s in cfg.instrument_specs:
        d: dict[str, Any] = {"symbol": s.symbol, "base": s.base, "quote": s.quote}
        if s.tick_table is not None:
            d["tick_table"] = [list(r) for r in s.tick_table]
        else:
            d["tick_size"] = s.tick_size
        d["lot_size"] = s.lot_size
        for k in ("min_qty", "min_notional", "max_price", "max_qty"):
            if getattr(s, k) is not None:
                d[k] = getattr(s, k)
        insts.append(d)
    market: dict[str, Any] = {}
    if cfg.market is not None:
        market["market"] = {"scenario": cfg.market.scenario}
        if cfg.market.seed is not None:
            market["market"]["seed"] = cfg.market.seed
    return {
        **market,
        "server": {"fsync": cfg.fsync, "admin_token": cfg.admin_token, "default_stp": cfg.default_stp.name,
                   "fee_account": cfg.fee_account, "order_history_per_account": cfg.order_history_per_account,
                   "trade_history_per_account": cfg.trade_history_per_account,
                   "max_body_bytes": cfg.max_body_bytes},
        "rate_limits": {"request_weight_per_minute": cfg.rate_limits.request_weight_per_minute,
                        "orders_per_10s": cfg.rate_limits.orders_per_10s,
                        "orders_per_day": cfg.rate_limits.orders_per_day,
                        "max_streams": cfg.rate_limits.max_streams,
                        "messages_per_second": cfg.rate_limits.messages_per_second,
                        "send_queue": cfg.rate_limits.send_queue},
        "assets": dict(cfg.assets),
        "fee_tiers": [{"tier": t, "maker_bps": f.maker_bps, "taker_bps": f.taker_bps}
                      for t, f in cfg.fee_tiers.items()],
        "instruments": insts,
        "accounts": [{"id": a.id, "name": a.name, "fee_tier": a.fee_tier, "balances": dict(a.balances),
                      "api_keys": [{"key": k.key, "secret": k.secret, "permissions": sorted(k.permissions)}
                                   for k in a.api_keys]} for a in accounts],
    }


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def dump_toml(cfg: GatewayConfig) -> str:
    """The config as TOML text that :func:`load_config` reads back to an equal config."""
    d = _to_data(cfg)
    out = ["# bdax gateway configuration (see gateway/config.py for every field).",
           "# It holds API secrets and the admin token: keep it private.", ""]
    for name in ("market", "server", "rate_limits", "assets"):
        if name not in d:
            continue
        out.append(f"[{name}]")
        out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in d[name].items()]
        out.append("")
    for name in ("fee_tiers", "instruments"):
        for item in d[name]:
            out.append(f"[[{name}]]")
            out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items()]
            out.append("")
    for acct in d["accounts"]:
        out.append("[[accounts]]")
        out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in acct.items() if k != "api_keys"]
        out.append("")
        for key in acct["api_keys"]:
            out.append("[[accounts.api_keys]]")
            out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in key.items()]
            out.append("")
    return "\n".join(out)


def write_config(cfg: GatewayConfig, path: str | Path) -> Path:
    """Write ``cfg`` to ``path`` atomically, readable by the owner only (it holds secrets)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dump_toml(cfg))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
