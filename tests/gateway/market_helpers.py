"""Test harness for the market-data side of the gateway (G2): an engine fed directly, a fake wall clock,
and a FastAPI app with only the market routers, so REST and streams are tested without the pump's journal.

``MarketHarness.apply(cmd)`` stamps the command with the fake clock, applies it to the engine and calls
the listeners, exactly as the pump does; inside a TestClient it must run on the app's event loop
(``h.run(client, cmd)`` does that through the client's portal).
"""
from __future__ import annotations

import anyio
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exchange import (Asset, Deposit, Engine, FeeTier, Instrument, OrderType, Side, SubmitOrder,
                      TimeInForce)
from gateway import rest_market, streams
from gateway.errors import install_handlers
from gateway.marketdata import MarketData
from gateway.symbols import SymbolTable

T0_MS = 1_700_000_000_000      # a fixed wall-clock start (2023-11-14)


def instruments() -> list[Instrument]:
    btc, krw, eth, usdt = Asset("BTC", 8), Asset("KRW", 4), Asset("ETH", 8), Asset("USDT", 8)
    return [
        Instrument.define("BTC-KRW", btc, krw, lot_size="0.0001", min_notional="5000",
                          tick_table=[("0", "1"), ("1000", "5"), ("10000", "10"), ("100000", "50"),
                                      ("1000000", "1000")]),
        Instrument.define("ETH-USDT", eth, usdt, tick_size="0.01", lot_size="0.001", min_notional="1"),
    ]


class Clock:
    def __init__(self, ms: int = T0_MS) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms

    def now_ns(self) -> int:
        return self.ms * 1_000_000


class FakePump:
    """The pump's reading surface (engine, symbols, add_listener) with a synchronous apply."""

    def __init__(self, engine: Engine, symbols: SymbolTable, clock: Clock) -> None:
        self.engine = engine
        self.symbols = symbols
        self.clock = clock
        self.listeners: list = []

    def add_listener(self, fn, *, replay: bool = False) -> None:
        self.listeners.append(fn)

    def apply(self, cmd) -> list:
        events = self.engine.handle(cmd._replace(ts_ns=self.clock.now_ns()))
        for fn in self.listeners:
            fn(events)
        return events


class MarketHarness:
    def __init__(self, limits: streams.StreamLimits | None = None) -> None:
        self.clock = Clock()
        self.insts = {i.symbol: i for i in instruments()}
        self.engine = Engine(list(self.insts.values()), fee_tiers={0: FeeTier(10, 10)})
        self.symbols = SymbolTable(self.insts.values())
        self.pump = FakePump(self.engine, self.symbols, self.clock)
        self.md = MarketData(self.symbols, self.clock.now_ms)
        self.app = FastAPI()
        install_handlers(self.app)
        self.app.include_router(rest_market.router(self.pump, self.md))
        self.stream_router = streams.router(self.pump, self.md, limits or streams.StreamLimits(),
                                            clock=lambda: self.clock.ms / 1000)
        self.hub: streams.MarketHub = self.stream_router.hub
        self.hub.auto_tick = False
        self.app.include_router(self.stream_router)
        for acct in (1, 2, 3):
            for asset, amount in (("BTC", 10**12), ("KRW", 10**18), ("ETH", 10**13), ("USDT", 10**16)):
                self.pump.apply(Deposit(0, acct, asset, amount))

    # -------------------------------------------------------------- order helpers (integers)
    def order(self, acct: int, symbol: str, side: Side, price: str | None, qty: str,
              tif: TimeInForce = TimeInForce.GTC) -> list:
        inst = self.insts[symbol]
        if price is None:
            cmd = SubmitOrder(0, acct, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0,
                              inst.qty_to_lots(qty))
        else:
            cmd = SubmitOrder(0, acct, symbol, side, OrderType.LIMIT, tif, inst.price_to_ticks(price),
                              inst.qty_to_lots(qty))
        return self.pump.apply(cmd)

    def client(self) -> TestClient:
        return TestClient(self.app)


def call(client: TestClient, fn, *args):
    """Run ``fn(*args)`` on the app's event loop (listeners and the hub live there)."""
    return client.portal.call(fn, *args)


def recv(ws, timeout: float = 5.0) -> dict:
    """The next JSON message of a TestClient websocket, failing instead of hanging."""
    import json

    async def get():
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()
    msg = ws.portal.call(get)
    if msg["type"] == "websocket.close":
        raise ConnectionError(f"closed {msg.get('code')} {msg.get('reason')}")
    return json.loads(msg["text"])


def recv_raw(ws, timeout: float = 5.0) -> dict:
    async def get():
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()
    return ws.portal.call(get)


def nothing_pending(ws, timeout: float = 0.05) -> bool:
    try:
        recv_raw(ws, timeout)
    except TimeoutError:
        return True
    return False
