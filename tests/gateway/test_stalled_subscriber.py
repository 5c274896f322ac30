"""A market-stream client that subscribes and then never reads its socket (issue 7).

Under a real uvicorn (its default websockets-sansio protocol, so the direct writer of gateway/wsdirect.py
is in use), in-process so that the test can watch the server's own buffers: a raw socket with a small
``SO_RCVBUF`` does the websocket handshake and a SUBSCRIBE, then stops reading, while orders trade through
the pump and a normal subscriber reads the same streams. The stalled client must be disconnected (1008
"resync from a REST snapshot", or a hard abort when that close frame cannot be delivered), the bytes the
server held for it must stay within ``send_buffer_bytes`` (transport buffer included), trading must go on
and the normal subscriber must see every depth diff (0 gaps). No wall-clock assertions: the throughput
comparison is the opt-in ``slow`` test at the end and ``bdax bench gateway --stalled``.
"""
from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time

import pytest

from benchmarks.gateway_load import stalled_end, stalled_subscribers
from exchange import OrderType, Side, SubmitOrder, TimeInForce
from gateway.app import create_app
from gateway.config import parse_config
from gateway.streams import StreamLimits
from gw_helpers import config_data

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SYMBOL = "ETH-USDT"
WIRE = "ethusdt"
STREAMS = [f"{WIRE}@depth@100ms", f"{WIRE}@trade", f"{WIRE}@aggTrade", f"{WIRE}@bookTicker"]
LIMIT_BYTES = 256 * 1024


# ----------------------------------------------------------------------------- a server in a thread

class _Server:
    """The gateway app under uvicorn on a loopback port, in a thread with its own event loop."""

    def __init__(self, data_dir) -> None:
        import uvicorn
        cfg = parse_config(config_data(server={"fsync": "off"}))
        self.app = create_app(cfg, data_dir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", ws="websockets-sansio",
                                                    lifespan="on"))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def serve():
            self.loop = asyncio.get_running_loop()
            await self.server.serve()
        asyncio.run(serve())

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def state(self):
        return self.app.state.bdax

    def call(self, coro, timeout: float = 120):
        """Run ``coro`` in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


async def _trade(pump, pairs: int, *, batch: int = 100, stop=None) -> int:
    """``pairs`` x two crossing orders on ETH-USDT between accounts 1 and 2 (a trade, book updates and
    a top-of-book change each time, balances unchanged after every pair); returns commands applied."""
    done = 0
    cmds = []
    for i in range(pairs):
        price = 200_000 + (i % 7) * 10            # 2000.00 .. 2000.60 USDT: the depth moves
        maker, taker = (1, 2) if i % 2 == 0 else (2, 1)
        cmds.append(SubmitOrder(0, maker, SYMBOL, Side.SELL, OrderType.LIMIT, TimeInForce.GTC, price, 10))
        cmds.append(SubmitOrder(0, taker, SYMBOL, Side.BUY, OrderType.LIMIT, TimeInForce.GTC, price, 10))
        if len(cmds) >= batch:
            await pump.submit_many(cmds)
            done += len(cmds)
            cmds = []
            if stop is not None and stop():
                return done
    if cmds:
        await pump.submit_many(cmds)
        done += len(cmds)
    return done


# ----------------------------------------------------------------------------- raw websocket clients

class _Reader(threading.Thread):
    """A subscriber that keeps up: reads every message, checks depth diffs follow on (U == u + 1)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.messages = self.depth = self.trades = self.gaps = 0
        self.subscribed = threading.Event()
        self.stop = threading.Event()
        self.closed_by_server: str | None = None

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect
        with connect(f"ws://127.0.0.1:{self.port}/ws", compression=None, max_size=None) as ws:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": STREAMS, "id": 1}))
            prev_u = None
            try:
                while not self.stop.is_set():
                    try:
                        msg = json.loads(ws.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if msg.get("id") == 1:
                        self.subscribed.set()
                        continue
                    self.messages += 1
                    if msg.get("e") == "depthUpdate":
                        self.depth += 1
                        if prev_u is not None and msg["U"] != prev_u + 1:
                            self.gaps += 1
                        prev_u = msg["u"]
                    elif msg.get("e") == "trade":
                        self.trades += 1
            except ConnectionClosed as exc:
                self.closed_by_server = repr(exc)


# ----------------------------------------------------------------------------- the tests

def _peak_watch(hub, conn_box: list, peak: list, stop: asyncio.Event):
    """Sample (in the server's loop) the stalled connection's backlog: queued + transport bytes."""
    async def watch():
        while not stop.is_set():
            for conn in conn_box:
                peak[0] = max(peak[0], conn.outbox.backlog_bytes())
            await asyncio.sleep(0.002)
    return watch()


def test_a_stalled_subscriber_is_disconnected_with_bounded_buffers_while_trading_goes_on(tmp_path):
    with _Server(tmp_path / "data") as srv:
        hub = srv.state.market_hub
        hub.limits = StreamLimits(send_queue=1_000_000, send_buffer_bytes=LIMIT_BYTES)  # bytes decide
        stalled = stalled_subscribers(srv.port, WIRE, 1)[0]
        deadline = time.monotonic() + 30
        while not any(c.streams for c in hub.conns):
            assert time.monotonic() < deadline, "the stalled client's SUBSCRIBE was not applied"
            time.sleep(0.01)
        stalled_conns = list(hub.conns)
        assert stalled_conns[0].outbox.direct is not None, "expected the direct writer under uvicorn"
        reader = _Reader(srv.port)
        reader.start()
        assert reader.subscribed.wait(30)

        peak = [0]

        async def run():
            stop = asyncio.Event()
            watcher = asyncio.get_running_loop().create_task(_peak_watch(hub, stalled_conns, peak, stop))
            pump = srv.state.pump
            applied = await _trade(pump, 40_000, stop=lambda: hub.stats.clients_dropped > 0)
            dropped_after = applied
            applied += await _trade(pump, 500)          # trading goes on after the drop
            await asyncio.sleep(0.3)                    # the last 100 ms depth flush reaches the reader
            stop.set()
            await watcher
            return dropped_after, applied

        dropped_after, applied = srv.call(run())
        reader.stop.set()
        reader.join(10)
        how = stalled_end(stalled, 60)
        stalled.close()
        stats = hub.stats

    assert stats.clients_dropped == 1, f"the stalled client was not dropped after {dropped_after} commands"
    assert stalled_conns[0].outbox.closed and stalled_conns[0] not in hub.conns
    assert "resync from a REST snapshot" in (stalled_conns[0].outbox.close_reason or "")
    assert how == "reset" or how.startswith("close 1008") or how == "eof", how
    # Everything the server held for it, transport buffer included, stayed within the bound.
    assert 0 < peak[0] <= LIMIT_BYTES, peak[0]
    assert applied == dropped_after + 1000
    assert reader.closed_by_server is None and reader.gaps == 0
    assert reader.depth > 0 and reader.trades > 0


def _throughput(tmp_path, tag: str, with_stalled: bool, pairs: int = 4000) -> float:
    with _Server(tmp_path / tag) as srv:
        sock = stalled_subscribers(srv.port, WIRE, 1)[0] if with_stalled else None
        reader = _Reader(srv.port)
        reader.start()
        assert reader.subscribed.wait(30)

        async def run():
            await _trade(srv.state.pump, 500)          # warm-up
            t0 = time.perf_counter()
            n = await _trade(srv.state.pump, pairs)
            return n / (time.perf_counter() - t0)
        rate = srv.call(run())
        reader.stop.set()
        reader.join(10)
        if sock is not None:
            sock.close()
    return rate


@pytest.mark.slow
def test_a_stalled_subscriber_does_not_slow_matching(tmp_path):
    """Opt-in (timing): commands/s through the pump with a stalled subscriber is within 5% of without
    (medians of 5 alternating runs)."""
    with_, without = [], []
    for k in range(5):
        without.append(_throughput(tmp_path, f"a{k}", False))
        with_.append(_throughput(tmp_path, f"b{k}", True))
    ratio = statistics.median(with_) / statistics.median(without)
    assert ratio >= 0.95, (ratio, with_, without)
