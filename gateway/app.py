"""The FastAPI application: :func:`create_app` assembles the gateway; its lifespan owns pump and journal.

Start-up (the lifespan): recover the engine from ``<data_dir>/journal`` with
:func:`exchange.journal.recover` (a new directory starts from ``config.make_engine()``), replaying every
record through the projections (order history, market data) so they are rebuilt from the journal alone;
check that the journal was made for this config's instruments and fees; ``gc.freeze()`` after a large
replay (the restored objects live forever: the collector need not scan them again); open the journal as a
``FileJournal(background=True)`` with the configured fsync policy; start the pump; then journal the
starting deposits (and fee tiers) of config accounts the engine has not seen yet; then start the live
market, if one is given (``sim.live.LiveMarket``: the scenario's agents trading through the pump).
Shutdown: stop the market, stop the pump (it finishes what is queued) and close the journal (a final
fsync).

The engine's kind (a plain Engine, or a config ``[market]``'s liquidity hub with its sharing config) is
recorded in ``<data_dir>/engine_kind`` when the journal is created; a journal made by another kind is
refused (:func:`check_journal_matches`). A data directory made before the file existed holds a plain
Engine's journal.

Every REST answer carries ``X-MBX-USED-WEIGHT-1M``; an IP over its weight gets 429 / -1003 before the
request is looked at (binance-compat §8.10, :mod:`gateway.ratelimit`).
"""
from __future__ import annotations

import gc
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request

from exchange import Deposit, SetFeeTier
from exchange.journal import FileJournal, RecoveryReport, recover

from .auth import KeyStore
from .config import GatewayConfig
from .errors import BinanceError, install_handlers
from .orders import OrderHistory
from .pump import Pump
from .ratelimit import RateLimiter, request_weight
from .symbols import SymbolTable
from .trading import Trading
from .wsapi import ListenKeys, UserHub

__all__ = ["create_app", "GatewayState", "JOURNAL_SUBDIR", "ENGINE_KIND_FILE", "check_journal_matches",
           "engine_kind"]

log = logging.getLogger("bdax.gateway")
JOURNAL_SUBDIR = "journal"
ENGINE_KIND_FILE = "engine_kind"   # beside the journal: which engine kind it replays into
GC_FREEZE_AFTER = 50_000     # replayed records after which the restored heap is frozen


@dataclass
class GatewayState:
    """Everything the routes share; ``app.state.bdax``."""

    config: GatewayConfig
    data_dir: Path
    symbols: SymbolTable
    pump: Pump
    history: OrderHistory
    trading: Trading
    keys: KeyStore
    limiter: RateLimiter
    user_hub: UserHub
    listen_keys: ListenKeys
    marketdata: object = None
    market_hub: object = None      # gateway.streams' hub (closed on shutdown)
    journal: object = None
    recovery: RecoveryReport | None = None
    funded: list[int] = field(default_factory=list)
    # The factory the journal was recovered with (config.make_engine: a plain Engine or the [market]'s
    # hub); replaying the journal into make_engine() rebuilds this exchange (LOAD's audit does).
    make_engine: Callable[[], object] | None = None
    market: object = None          # the running sim.live.LiveMarket, if any


def engine_kind(engine) -> str:
    """``Engine`` or the liquidity hub's class and a digest of its sharing config."""
    if type(engine).__name__ == "Engine" and type(engine).__module__.startswith("exchange"):
        return "Engine"
    from sim.live.engine import engine_kind as kind
    return kind(engine)


def check_journal_matches(engine, config: GatewayConfig, recorded_kind: str | None = None) -> None:
    """Refuse a journal made for other instruments or fees than ``config`` describes, or (``recorded_kind``,
    from :data:`ENGINE_KIND_FILE`) by another engine kind: replaying it under a different spec would be a
    different exchange. Raises RuntimeError saying what differs."""
    from exchange.state import _instrument
    fresh = config.make_engine()
    problems = []
    have = {s: _instrument(i) for s, i in engine.instruments.items()}
    want = {s: _instrument(i) for s, i in fresh.instruments.items()}
    for sym in sorted(set(have) | set(want)):
        if have.get(sym) != want.get(sym):
            problems.append(f"instrument {sym}: journal has {have.get(sym)}, config has {want.get(sym)}")
    if dict(engine.fee_tiers) != dict(fresh.fee_tiers):
        problems.append(f"fee tiers: journal has {dict(engine.fee_tiers)}, config has {dict(fresh.fee_tiers)}")
    if engine.default_stp != fresh.default_stp or engine.fee_account != fresh.fee_account:
        problems.append("server.default_stp or server.fee_account differ from the journal's")
    if recorded_kind is not None and recorded_kind != engine_kind(fresh):
        problems.insert(0, f"engine: the journal was made by {_kind_text(recorded_kind)}, this configuration "
                           f"builds {_kind_text(engine_kind(fresh))} ([market] "
                           f"{config.market.scenario if config.market else 'absent'})")
    if problems:
        raise RuntimeError("the data directory's journal was created with another configuration; use that "
                           "configuration or a new --data-dir. " + "; ".join(problems[:3]))


def _kind_text(kind: str) -> str:
    if kind == "Engine":
        return "a plain Engine"
    name, _, digest = kind.partition(":")
    return f"a {name} hub (sharing config {digest})"


def _recorded_kind(data_dir: Path, engine, report: RecoveryReport) -> str | None:
    """The engine kind the data dir's journal was made by: the file's, else a plain Engine's for a journal
    that has records (made before the file existed), else None (a new journal: nothing to check)."""
    path = data_dir / ENGINE_KIND_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    return "Engine" if report.last_seq > 0 else None


def _record_kind(data_dir: Path, engine) -> None:
    path = data_dir / ENGINE_KIND_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(engine_kind(engine) + "\n", encoding="utf-8")
        tmp.replace(path)


def _starting_commands(engine, config: GatewayConfig) -> list:
    """Deposits for config accounts the engine has never seen, and fee tiers that differ from config."""
    known = set(engine.accounts())
    commands: list = []
    for acct in config.accounts:
        if acct.id not in known:
            for asset, amount in acct.balances.items():
                units = _units(engine, asset, amount)
                commands.append(Deposit(0, acct.id, asset, units))
        if acct.balances or acct.id in known:
            if (engine.fee_tier(acct.id) or 0) != acct.fee_tier:
                commands.append(SetFeeTier(0, acct.id, acct.fee_tier))
    return commands


def _units(engine, asset: str, amount: str) -> int:
    from exchange.decimals import to_units
    return to_units(amount, f"1e-{engine.assets[asset]}", what=f"{asset} balance")


def create_app(config: GatewayConfig, data_dir: Path | str, *, clock: Callable[[], int] | None = None,
               market: Callable[[Pump], object] | None = None) -> FastAPI:
    """The gateway app for ``config`` with its journal under ``data_dir/journal``.

    Args:
        clock: wall clock in ns used to stamp commands (default ``time.time_ns``). Signed-request
            timestamps and rate limits always use the real wall clock.
        market: called with the started pump to make the live market (an object with ``async start()``
            and ``async stop()``, e.g. ``lambda pump: sim.live.LiveMarket(scenario, pump, speed=10)``);
            started after the starting deposits, stopped before the pump.
    """
    data_dir = Path(data_dir)
    clock = clock or time.time_ns
    symbols = SymbolTable(config.instruments)
    pump = Pump(symbols, clock=clock)
    history = OrderHistory(symbols, order_cap=config.order_history_per_account,
                           trade_cap=config.trade_history_per_account)
    pump.add_listener(history.on_events, replay=True)
    state = GatewayState(config=config, data_dir=data_dir, symbols=symbols, pump=pump, history=history,
                         trading=Trading(pump, history), keys=KeyStore(config),
                         limiter=RateLimiter(config.rate_limits), user_hub=UserHub(pump),
                         listen_keys=ListenKeys())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        journal_dir = data_dir / JOURNAL_SUBDIR
        t0 = time.perf_counter()
        if config.market is not None:     # the scenario's engine: a hub recovers by replay (sim.live.engine)
            from sim.live.engine import check_scenario_matches, load_market_scenario, recover_market
            problem = check_scenario_matches(config, load_market_scenario(config.market.scenario))
            if problem:
                raise RuntimeError(f"config [market] {config.market.scenario!r}: {problem}; use a new "
                                   f"--data-dir or --market none")
            engine, report = recover_market(journal_dir, config, pump.replay_listener)
        else:
            engine, report = recover(journal_dir, config.make_engine, on_record=pump.replay_listener)
        check_journal_matches(engine, config, _recorded_kind(data_dir, engine, report))
        _record_kind(data_dir, engine)
        state.make_engine = config.make_engine
        if report.snapshot_seq:
            history.seed_open_orders(engine)
        if report.replayed >= GC_FREEZE_AFTER:
            gc.collect()
            gc.freeze()
        state.recovery = report
        log.info("%s (%.2f s)", report.summary(), time.perf_counter() - t0)
        journal = FileJournal(journal_dir, fsync=config.fsync, background=True)
        state.journal = journal
        pump.start(engine, journal)
        history.sink = state.user_hub
        try:
            commands = _starting_commands(engine, config)
            if commands:
                await pump.submit_many(commands)
                state.funded = sorted({c.account for c in commands if type(c) is Deposit})
            if market is not None:
                state.market = market(pump)
                await state.market.start()
            yield
        finally:
            if state.market is not None:
                await state.market.stop()
            history.sink = None
            if state.market_hub is not None:
                await state.market_hub.aclose()
            await pump.stop()
            journal.close()

    app = FastAPI(title="bdax gateway", version="0.1.0", lifespan=lifespan,
                  description="A Binance-spot-compatible gateway to the bdax exchange simulator. Signed "
                              "endpoints take X-MBX-APIKEY and an HMAC-SHA256 signature over the raw query "
                              "string + body.")
    app.state.bdax = state
    install_handlers(app)

    @app.middleware("http")
    async def weigh(request: Request, call_next):
        path = request.url.path
        if not path.startswith(("/api/", "/sapi/", "/fapi/", "/dapi/")):
            return await call_next(request)
        ip = request.client.host if request.client else "?"
        try:
            used = state.limiter.add_weight(ip, request_weight(request.method, path,
                                                               dict(request.query_params)))
        except BinanceError as exc:
            from .rest_trading import json_response
            return json_response(exc.body(), exc.http_status, exc.headers)
        response = await call_next(request)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response

    from . import admin, rest_market, rest_trading, streams, wsapi
    app.include_router(rest_market.router(pump, _marketdata(state, clock), rate_limits=config.rate_limits))
    app.include_router(rest_trading.router(state))
    app.include_router(wsapi.router(state))
    app.include_router(admin.router(state))
    market_streams = streams.router(pump, state.marketdata, config.rate_limits)
    state.market_hub = market_streams.hub
    app.include_router(market_streams)
    return app


def _marketdata(state: GatewayState, clock: Callable[[], int]):
    from .marketdata import MarketData
    state.marketdata = MarketData(state.symbols, lambda: clock() // 1_000_000)
    return state.marketdata
