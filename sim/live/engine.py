"""A live market's exchange side: the scenario behind a gateway config's ``[market]``, the engine it needs,
and the gateway config a scenario's home venue gives on a first run.

The data directory's config alone says which engine the journal replays into (:func:`make_market_engine`):
a plain :class:`exchange.Engine`, or the scenario's shared-liquidity hub (``MirroredVenue`` / ``PooledVenue``
with the scenario's sharing config), exactly as :class:`sim.build.Simulation` builds the home venue's.
:func:`engine_kind` names an engine's kind and sharing config, so a journal made by one kind is not replayed
into another (``gateway.app.check_journal_matches``).
"""
from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal
from typing import Any

from exchange import Engine
from exchange.state import _instrument

from ..build import ACCOUNT_BLOCK
from ..scenario import Scenario, ScenarioError, list_scenarios, load_scenario

__all__ = ["load_market_scenario", "make_market_engine", "engine_kind", "market_config", "check_scenario_matches",
           "demo_account_ids", "DEMO_ACCOUNTS", "GatewayHub", "recover_market"]

DEMO_ACCOUNTS = 3          # funded accounts with keys a first run writes for a human's bots
_cache: dict[str, Scenario] = {}


def load_market_scenario(name: str) -> Scenario:
    """The scenario ``name`` (shipped name or path), loaded once per process.

    Raises:
        ScenarioError: unknown name (the message lists the shipped ones) or an invalid file.
    """
    sc = _cache.get(name)
    if sc is None:
        try:
            sc = load_scenario(name)
        except ScenarioError as exc:
            if "shipped scenario" in str(exc):
                raise
            raise ScenarioError(f"market {name!r}: {exc} (shipped scenarios: {', '.join(list_scenarios())})") \
                from None
        _cache[name] = sc
    return sc


def _hub_class(sc: Scenario) -> Any:
    liq = sc.liquidity
    if liq is None or liq.model == "isolated":
        return None
    if liq.model == "mirrored":
        from exchange.liquidity.mirrored import MirroredVenue
        return MirroredVenue
    from exchange.liquidity.pooled import PooledVenue
    return PooledVenue


def make_market_engine(config: Any) -> Any:
    """A fresh engine for a gateway config with ``[market]``: the scenario's hub (as a :class:`GatewayHub`)
    when it shares liquidity (mirrored / pooled), else a plain Engine; the config's instruments, fee tiers,
    STP and fee account."""
    sc = load_market_scenario(config.market.scenario)
    hub = _hub_class(sc)
    if hub is None:
        return Engine(config.instruments, config.fee_tiers, config.default_stp, config.fee_account)
    return GatewayHub(hub(list(config.instruments), sc.liquidity.config, fee_tiers=dict(config.fee_tiers),
                          default_stp=config.default_stp, fee_account=config.fee_account))


def engine_kind(engine: Any) -> str:
    """``Engine``, or the hub's class and a digest of its sharing config (two hubs with different partners,
    fees or limits replay the same journal differently)."""
    if type(engine) is Engine:
        return "Engine"
    engine = getattr(engine, "hub", engine)
    cfg = getattr(engine, "config", None)
    digest = hashlib.sha256(repr(cfg).encode()).hexdigest()[:16]
    return f"{type(engine).__name__}:{digest}"


def demo_account_ids(sc: Scenario) -> list[int]:
    """Accounts for a human's bots: the account block after the scenario's last agent group, so they are
    never an agent's and (pooled) lie in the home venue's customer range."""
    block = (len(sc.groups) + 1) * ACCOUNT_BLOCK
    return [block + i for i in range(1, DEMO_ACCOUNTS + 1)]


def _instrument_data(sc: Scenario, symbol: str) -> dict:
    raw = sc.raw.get("instruments", {}).get(symbol, {})
    d: dict[str, Any] = {"symbol": symbol, "base": raw["base"], "quote": raw["quote"]}
    if raw.get("tick_table") is not None:
        d["tick_table"] = [[str(a), str(b)] for a, b in raw["tick_table"]]
    else:
        d["tick_size"] = str(raw["tick_size"])
    d["lot_size"] = str(raw["lot_size"])
    d["min_notional"] = str(raw.get("min_notional", "0"))
    return d


def market_config(name: str, seed: int | None = None) -> Any:
    """A ready-to-run gateway config for scenario ``name``'s home venue: its instruments exactly as the
    scenario defines them, its fee tier, a ``[market]`` table, an admin token and :data:`DEMO_ACCOUNTS`
    accounts with a fresh key each, funded with 10 of each base asset and 10 times its start price of the
    quote asset.

    Raises:
        ScenarioError: unknown or invalid scenario; ConfigError if the scenario's home venue cannot be
            described by a gateway config (the message says why).
    """
    from gateway.config import ConfigError, new_api_key, parse_config
    sc = load_market_scenario(name)
    home = sc.home_venue
    insts = sc.instruments_at(home)
    data_insts, assets, funds = [], {}, {}
    for sym, inst in insts.items():
        data_insts.append(_instrument_data(sc, sym))
        for a in (inst.base, inst.quote):
            assets[a.name] = a.decimals
        price = Decimal(str(sc.raw["instruments"][sym]["start_price"]))
        funds[inst.base.name] = max(funds.get(inst.base.name, Decimal(0)), Decimal(10))
        funds[inst.quote.name] = max(funds.get(inst.quote.name, Decimal(0)), price * 10)
    tier = sc.fee_tiers(home)[0]
    data: dict[str, Any] = {
        "market": {"scenario": name, **({"seed": seed} if seed is not None else {})},
        "server": {"fsync": "every_batch", "admin_token": secrets.token_urlsafe(24)},
        "assets": assets,
        "fee_tiers": [{"tier": 0, "maker_bps": tier.maker_bps, "taker_bps": tier.taker_bps}],
        "instruments": data_insts, "accounts": []}
    for i, acct in enumerate(demo_account_ids(sc), 1):
        key = new_api_key()
        data["accounts"].append({
            "id": acct, "name": f"demo-{i}", "balances": {a: _plain(v) for a, v in funds.items()},
            "api_keys": [{"key": key.key, "secret": key.secret, "permissions": sorted(key.permissions)}]})
    cfg = parse_config(data)
    problem = check_scenario_matches(cfg, sc)
    if problem:
        raise ConfigError(f"scenario {name!r}: its home venue {home!r} cannot be served as defined: {problem}")
    return cfg


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


def check_scenario_matches(cfg: Any, sc: Scenario) -> str:
    """'' if ``cfg``'s instruments and fee tier 0 are exactly the scenario's home venue's, else what differs
    (the first symbol that does, or the fees)."""
    want = {s: _instrument(i) for s, i in sc.instruments_at(sc.home_venue).items()}
    have = {i.symbol: _instrument(i) for i in cfg.instruments}
    for sym in sorted(set(want) | set(have)):
        if sym not in have:
            return f"the scenario trades {sym}, the config does not list it"
        if sym not in want:
            return f"the config lists {sym}, the scenario's home venue does not trade it"
        if have[sym] != want[sym]:
            diff = sorted(k for k in want[sym] if want[sym][k] != have[sym][k])
            return f"instrument {sym} differs in {', '.join(diff)}"
    tier = sc.fee_tiers(sc.home_venue)[0]
    if cfg.fee_tiers.get(0) != tier:
        return (f"fee tier 0 is {cfg.fee_tiers.get(0)} in the config, the scenario's home venue charges "
                f"{tier}")
    return ""


class GatewayHub:
    """A liquidity hub as the gateway's pump engine. ``handle`` returns the engine's events only (every one
    has a ``seq``, which the gateway's projections key on); the hub's own events of the same command
    (ChildRouted, PartnerStateChanged, settlements...) are kept in :attr:`last_events` with the others, for
    the live market's listener, which runs right after each command. Every other attribute is the hub's.
    """

    def __init__(self, hub: Any) -> None:
        from exchange.liquidity.events import __all__ as names
        from exchange.liquidity import events as liq_events
        self.hub = hub
        self.last_events: list[Any] = []
        self._hub_handle = hub.handle
        self._own = frozenset(getattr(liq_events, n) for n in names if isinstance(getattr(liq_events, n), type))
        self.best_bid_ask = hub.best_bid_ask
        self.depth = hub.depth
        self.instruments = hub.instruments

    def handle(self, command: Any) -> list[Any]:
        events = self._hub_handle(command)
        self.last_events = events
        own = self._own
        return [e for e in events if type(e) not in own]

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self.hub, name)
        except AttributeError:
            # Engine reads a hub does not pass through (PooledVenue: fee_tiers, default_stp, ...) are its
            # inner engine's: the gateway reads them to check the journal and answer exchangeInfo.
            return getattr(self.hub.engine, name)


class _HubReplay:
    """What :func:`exchange.journal.recover` needs of an engine, for a hub: the hubs have no
    ``snapshot``/``restore``, so a hub journal's ``meta`` holds the hub's inner Engine as created, and
    recovery replays every record into a fresh hub. ``state_hash`` is the inner engine's until the replay
    starts (what ``meta``'s check compares), then the hub's."""

    def __init__(self, gateway_hub: GatewayHub) -> None:
        self.hub = gateway_hub.hub
        self.handle = gateway_hub.handle     # the projections see what they will see live
        self._checked = False

    def state_hash(self) -> str:
        if not self._checked:
            self._checked = True
            return hashlib.sha256(self.hub.engine.snapshot()).hexdigest()
        return self.hub.state_hash()


def recover_market(journal_dir: Any, config: Any, on_record: Any = None, *, repair: bool = True) -> tuple[Any, Any]:
    """:func:`exchange.journal.recover` for a gateway config with ``[market]``: a plain engine recovers as
    always; a hub (mirrored / pooled) is rebuilt by replaying every record from ``meta`` (a hub journal has
    no snapshots) and returned as a :class:`GatewayHub`. Returns ``(engine, RecoveryReport)``.

    ``repair=False`` reads without taking the directory's lock or truncating a torn tail (an audit of a
    running server's journal).

    Raises:
        JournalError etc. as ``recover``; SnapshotError-derived JournalError if ``meta`` is not a fresh
        engine for this config's instruments and fees.
    """
    from pathlib import Path

    from exchange.journal import RecoveryReport, create_journal_dir, recover
    journal_dir = Path(journal_dir)
    fresh = make_market_engine(config)
    if type(fresh) is Engine:
        return recover(journal_dir, config.make_engine, on_record=on_record, repair=repair)
    if not (journal_dir / "meta").is_file():
        create_journal_dir(journal_dir, fresh.hub.engine)
        return fresh, RecoveryReport(journal_dir, created=True, state_hash=fresh.state_hash())

    class _Restore:
        @staticmethod
        def restore(body: bytes) -> _HubReplay:
            if body != fresh.hub.engine.snapshot():
                raise ValueError("meta is not a fresh engine for this configuration's instruments and fees")
            return _HubReplay(fresh)

    replay, report = recover(journal_dir, engine_cls=_Restore, use_snapshots=False, on_record=on_record,
                             repair=repair)
    report.state_hash = fresh.state_hash()
    return fresh, report
