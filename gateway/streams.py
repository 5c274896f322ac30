"""Market streams over websockets, Binance spot style (binance-compat §6, §7).

Endpoints: ``/ws`` and ``/ws/{path}`` (raw payloads; ``path`` may be a stream name, several joined by
``/``, anything else such as ccxt's ``/ws/0``, or a legacy user-stream listenKey, which is handed to the
user-stream handler) and ``/stream?streams=a/b/c`` (combined ``{"stream": .., "data": ..}`` payloads).
Both also take ``?streams=``.

Control messages: ``SUBSCRIBE`` / ``UNSUBSCRIBE`` (``params``: stream names), ``LIST_SUBSCRIPTIONS``,
``SET_PROPERTY ["combined", bool]``, ``GET_PROPERTY ["combined"]``; replies ``{"result": .., "id": ..}``.
A repeated SUBSCRIBE is acknowledged and changes nothing (ccxt re-subscribes on the same socket to resync).
Errors are ``{"error": {"code", "msg"}, "id"}`` with Binance's codes: 0 unknown property, 1 bad value
type, 2 invalid request (unknown method, bad id, bad or unknown stream, more than ``max_streams``
streams, more than ``messages_per_second`` messages), 3 invalid JSON. A rejected message changes nothing.

Streams (``<s>`` = lower-case wire symbol): ``<s>@depth`` (1000 ms) and ``<s>@depth@100ms`` diffs,
``<s>@depth5|10|20[@100ms]`` partial books, ``<s>@trade``, ``<s>@aggTrade``, ``<s>@bookTicker``,
``<s>@miniTicker``, ``<s>@ticker``, ``<s>@kline_<interval>``, ``!miniTicker@arr``, ``!ticker@arr``.

Depth diffs: every BookUpdated of a subscribed symbol goes into the stream's pending batch (levels
merged, the last quantity per price wins, ``"0"`` deletes); each flush sends one ``depthUpdate`` with
``U`` = the first and ``u`` = the last engine update id in it, so consecutive messages satisfy
``U == previous u + 1`` and a client that keeps up loses nothing. Trades, aggregate trades and book tops
go out as they happen; tickers and klines once a second (single-symbol tickers and klines every second,
the ``@arr`` streams only the symbols that changed, as Binance). Delivery is through
:mod:`gateway.fanout`: the pump never waits for a client.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from . import market_wire as W
from .fanout import FanoutStats, Outbox
from .klines import INTERVALS, K_OPEN, open_time
from .marketdata import MarketBatch, MarketData
from .wsdirect import DirectWriter
from .wsdirect import frame as _frame

# msgspec is a dependency; its encoder is ~3x faster than json.dumps on these payloads
from msgspec.json import encode as _encode


def dumps(obj) -> str:
    return _encode(obj).decode()

__all__ = ["StreamLimits", "MarketHub", "router", "parse_stream"]

_KLINE = "|".join(re.escape(i) for i in INTERVALS)
_STREAM_RE = re.compile(
    r"^([a-z0-9\-_.]{1,20})@(trade|aggTrade|bookTicker|miniTicker|ticker|depth(5|10|20)?(@100ms)?|"
    rf"kline_({_KLINE}))$")
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
TICK_S = 0.1


@dataclass
class StreamLimits:
    """Per-connection limits. ``send_queue``: messages that may wait for a slow client before it is
    dropped; ``send_buffer_bytes``: bytes that may wait for it, the transport's write buffer included
    (on uvicorn's default protocol; see :mod:`gateway.fanout`); ``messages_per_second``: incoming
    control messages (Binance: 5); ``max_streams``: streams per connection (Binance: 1024)."""

    max_streams: int = 1024
    messages_per_second: int = 5
    send_queue: int = 4096
    send_buffer_bytes: int = 4 * 2**20


def parse_stream(name: str, symbols) -> tuple | None:
    """``(kind, wire, arg)`` for a valid stream name, None otherwise. Kinds: trade, aggTrade,
    bookTicker, miniTicker, ticker, diff (arg: 100 or 1000 ms), partial (arg: (levels, ms)), kline
    (arg: interval), allMini, allTicker."""
    if name == "!miniTicker@arr":
        return ("allMini", "", None)
    if name == "!ticker@arr":
        return ("allTicker", "", None)
    m = _STREAM_RE.match(name)
    if m is None:
        return None
    wire = m.group(1).upper()
    if wire not in symbols:
        return None
    kind = m.group(2)
    if kind.startswith("depth"):
        ms = 100 if m.group(4) else 1000
        return ("partial", wire, (int(m.group(3)), ms)) if m.group(3) else ("diff", wire, ms)
    if kind.startswith("kline_"):
        return ("kline", wire, m.group(5))
    return (kind, wire, None)


class _Conn:
    __slots__ = ("outbox", "streams", "combined", "recent", "rejected")

    def __init__(self, outbox: Outbox, combined: bool) -> None:
        self.outbox = outbox
        self.streams: dict[str, tuple] = {}     # name -> parsed, in subscription order
        self.combined = combined
        self.recent: list[float] = []           # arrival times of recent control messages
        self.rejected = 0


class _Diff:
    __slots__ = ("first", "last", "bids", "asks")

    def __init__(self) -> None:
        self.first = 0
        self.last = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}


class MarketHub:
    """Subscriptions, depth batching and periodic streams for all market-stream connections.

    Registered with :meth:`MarketData.add_listener`, so it sees each command's market changes right
    after the projection has them. ``clock`` (monotonic seconds) only times the incoming-message limit.
    """

    def __init__(self, pump, marketdata: MarketData, limits: StreamLimits | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pump = pump
        self.md = marketdata
        self.symbols = marketdata.symbols
        self.limits = limits or StreamLimits()
        self.clock = clock
        self.stats = FanoutStats()
        self.subs: dict[str, set[_Conn]] = {}
        self.conns: set[_Conn] = set()
        self.diffs: dict[str, _Diff] = {}            # diff stream name -> pending batch
        self._lower = {inst.symbol: wire.lower() for wire, inst in self.symbols.items()}
        self._inst = {wire: inst for wire, inst in self.symbols.items()}
        self._tops: dict[str, tuple] = {}             # engine symbol -> last book top sent
        self._dirty: set[str] = set()                 # engine symbols changed since the last 1 s tick
        self._kline_open: dict[str, int] = {}         # kline stream -> open time last sent
        self._task: asyncio.Task | None = None
        self._ticks = 0
        self.auto_tick = True       # tests drive tick() themselves with False
        # ``await handler(websocket, path)`` serves a legacy listenKey user stream and returns True, or
        # returns False without touching the socket; default: gateway.wsapi.serve_listen_key (G1).
        self.listen_key_handler: Callable[[WebSocket, str], Awaitable[bool]] | None = _default_listen_key
        marketdata.add_listener(self.on_batch)

    # ------------------------------------------------------------------ publishing
    def publish(self, name: str, data) -> None:
        """Queue ``data`` for every subscriber of stream ``name``.

        Serialized once per form (raw, combined) and, for connections written directly
        (:mod:`gateway.wsdirect`), framed once: each subscriber only appends the shared bytes."""
        conns = self.subs.get(name)
        if not conns:
            return
        body = _encode(data)
        forms: dict = {}            # (combined, direct) -> str or frame
        for c in tuple(conns):      # a drop unsubscribes, changing ``conns``
            ob = c.outbox
            key = (c.combined, ob.direct is not None)
            msg = forms.get(key)
            if msg is None:
                raw = (b'{"stream":"' + name.encode() + b'","data":' + body + b"}") if c.combined else body
                msg = forms[key] = _frame(raw) if key[1] else raw.decode()
            if key[1]:
                ob.offer_frame(msg)
            else:
                ob.offer(msg)

    def on_batch(self, batch: MarketBatch) -> None:
        """Market changes of one command (called synchronously by the projection)."""
        subs, lower, md = self.subs, self._lower, self.md
        if not subs:
            self._dirty.update(s for s, _t in batch.trades)
            return
        now = batch.time_ms
        for sym, tr in batch.trades:
            self._dirty.add(sym)
            name = lower[sym] + "@trade"
            if name in subs:
                wire = self.symbols.wire(sym)
                self.publish(name, W.trade_event(self._inst[wire], wire, tr, now))
        for sym, agg in batch.aggs:
            name = lower[sym] + "@aggTrade"
            if name in subs:
                wire = self.symbols.wire(sym)
                self.publish(name, W.agg_event(self._inst[wire], wire, agg, now))
        for ev in batch.books:
            sym = ev.symbol
            self._dirty.add(sym)
            base = lower[sym] + "@depth"
            for name in (base, base + "@100ms"):
                d = self.diffs.get(name)
                if d is not None:
                    if not d.first:
                        d.first = ev.update_id
                    d.last = ev.update_id
                    bids, asks = d.bids, d.asks
                    for p, q in ev.bids:
                        bids[p] = q
                    for p, q in ev.asks:
                        asks[p] = q
            name = lower[sym] + "@bookTicker"
            if name in subs:
                top = md.book_ticker(sym)
                key = top[1:]
                if self._tops.get(sym) != key:
                    self._tops[sym] = key
                    wire = self.symbols.wire(sym)
                    self.publish(name, W.book_ticker_event(self._inst[wire], wire, top))

    def flush_diffs(self, ms: int) -> None:
        """Send and reset the pending diff batch of every ``@depth`` (1000) or ``@depth@100ms`` stream."""
        now = self.md.now_ms()
        suffix = "@depth@100ms" if ms == 100 else "@depth"
        for name, d in list(self.diffs.items()):
            if not d.first or not name.endswith(suffix) or (ms == 1000 and name.endswith("@100ms")):
                continue
            wire = name.split("@", 1)[0].upper()
            inst = self._inst[wire]
            data = {"e": "depthUpdate", "E": now, "s": wire, "U": d.first, "u": d.last,
                    "b": W.depth_levels(inst, sorted(d.bids.items(), reverse=True)),
                    "a": W.depth_levels(inst, sorted(d.asks.items()))}
            d.first = d.last = 0
            d.bids, d.asks = {}, {}
            self.publish(name, data)

    def send_partials(self, ms: int) -> None:
        engine = self.pump.engine
        if engine is None:
            return
        books: dict[str, object] = {}
        for name, conns in list(self.subs.items()):
            if not conns or "@depth" not in name:
                continue
            parsed = next(iter(conns)).streams.get(name)
            if parsed is None or parsed[0] != "partial" or parsed[2][1] != ms:
                continue
            wire, levels = parsed[1], parsed[2][0]
            inst = self._inst[wire]
            d = books.get(wire)
            if d is None:
                d = books[wire] = engine.depth(inst.symbol, 20)
            self.publish(name, {"lastUpdateId": d.update_id, "bids": W.depth_levels(inst, d.bids[:levels]),
                                "asks": W.depth_levels(inst, d.asks[:levels])})

    def send_second(self) -> None:
        """The 1 s streams: tickers, mini tickers, their arrays, klines."""
        md, now = self.md, self.md.now_ms()
        dirty, self._dirty = self._dirty, set()
        want_all_mini = bool(self.subs.get("!miniTicker@arr"))
        want_all = bool(self.subs.get("!ticker@arr"))
        minis, fulls = [], []
        for wire, inst in self._inst.items():
            lw = wire.lower()
            mini_name, full_name = lw + "@miniTicker", lw + "@ticker"
            changed = inst.symbol in dirty
            need_mini = bool(self.subs.get(mini_name)) or (want_all_mini and changed)
            need_full = bool(self.subs.get(full_name)) or (want_all and changed)
            if need_mini or need_full:
                r = md.rolling(inst.symbol, 86_400_000, now)
                if need_mini:
                    ev = W.mini_ticker_event(inst, wire, r, now)
                    self.publish(mini_name, ev)
                    if want_all_mini and changed:
                        minis.append(ev)
                if need_full:
                    ev = W.ticker_event(inst, wire, r, md.book_ticker(inst.symbol), now)
                    self.publish(full_name, ev)
                    if want_all and changed:
                        fulls.append(ev)
        if minis:
            self.publish("!miniTicker@arr", minis)
        if fulls:
            self.publish("!ticker@arr", fulls)
        for name, conns in list(self.subs.items()):
            if not conns or "@kline_" not in name:
                continue
            wire, interval = name.split("@kline_")[0].upper(), name.split("@kline_")[1]
            self._send_kline(name, self._inst[wire], wire, interval, now)

    def _send_kline(self, name: str, inst, wire: str, interval: str, now: int) -> None:
        md = self.md
        current = open_time(now, interval)
        sent = self._kline_open.get(name)
        if sent is not None and sent < current:
            closed = md.klines(inst.symbol, interval, start=sent, end=sent, limit=1)
            if closed:
                self.publish(name, W.kline_event(inst, wire, closed[0], interval, now, True))
        rows = md.klines(inst.symbol, interval, start=current, end=current, limit=1)
        if rows and rows[0][K_OPEN] == current:
            self._kline_open[name] = current
            self.publish(name, W.kline_event(inst, wire, rows[0], interval, now, False))

    def tick(self) -> None:
        """One 100 ms step: 100 ms diffs and partial books every time, the 1 s streams every tenth."""
        self._ticks += 1
        self.flush_diffs(100)
        self.send_partials(100)
        if self._ticks % 10 == 0:
            self.flush_diffs(1000)
            self.send_partials(1000)
            self.send_second()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while self.conns:
            next_at += TICK_S
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                self.tick()
            except Exception:   # a formatting bug must not silence every stream
                import logging
                logging.getLogger("bdax.gateway.streams").exception("market stream tick failed")
        self._task = None

    def _ensure_running(self) -> None:
        if self.auto_tick and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="bdax-market-streams")

    # ------------------------------------------------------------------ subscriptions
    def _subscribe(self, conn: _Conn, name: str, parsed: tuple) -> None:
        if name in conn.streams:
            return
        conn.streams[name] = parsed
        conns = self.subs.setdefault(name, set())
        conns.add(conn)
        if parsed[0] == "diff" and name not in self.diffs:
            self.diffs[name] = _Diff()

    def _unsubscribe(self, conn: _Conn, name: str) -> None:
        if conn.streams.pop(name, None) is None:
            return
        conns = self.subs.get(name)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.subs[name]
                self.diffs.pop(name, None)
                self._kline_open.pop(name, None)

    def _remove(self, conn: _Conn) -> None:
        for name in list(conn.streams):
            self._unsubscribe(conn, name)
        if conn in self.conns:
            self.conns.discard(conn)
            self.stats.connections = len(self.conns)

    # ------------------------------------------------------------------ one connection
    def _reply(self, conn: _Conn, body: dict) -> None:
        conn.outbox.offer(dumps(body))

    def _error(self, conn: _Conn, code: int, msg: str, req_id=None) -> None:
        self._reply(conn, {"error": {"code": code, "msg": msg}, "id": req_id})

    def _names(self, conn: _Conn, params, req_id) -> list[tuple[str, tuple]] | None:
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            self._error(conn, 2, "Invalid request: 'params' must be a list of stream names (strings).", req_id)
            return None
        out = []
        for name in params:
            parsed = parse_stream(name, self.symbols)
            if parsed is None:
                self._error(conn, 2, f"Invalid request: unknown stream '{name[:60]}'. Streams look like "
                                     f"<symbol>@trade, <symbol>@depth@100ms, <symbol>@kline_1m or "
                                     f"!miniTicker@arr, with a lower-case listed symbol.", req_id)
                return None
            out.append((name, parsed))
        return out

    def handle_message(self, conn: _Conn, text: str) -> None:
        """One control message: validate, apply and queue the reply (all synchronously)."""
        now = self.clock()
        conn.recent = [t for t in conn.recent if now - t < 1.0]
        if len(conn.recent) >= self.limits.messages_per_second:
            conn.rejected += 1
            if conn.rejected > 10 * self.limits.messages_per_second:
                conn.outbox.drop("too many messages; the limit is "
                                 f"{self.limits.messages_per_second} per second")
                return
            self._error(conn, 2, f"Invalid request: too many messages; the limit is "
                                 f"{self.limits.messages_per_second} per second. This one was ignored.")
            return
        conn.recent.append(now)
        conn.rejected = 0
        try:
            msg = json.loads(text)
        except ValueError as exc:
            line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
            self._error(conn, 3, f"Invalid JSON: {getattr(exc, 'msg', 'expected value')} at line {line} "
                                 f"column {col}")
            return
        if not isinstance(msg, dict):
            self._error(conn, 2, "Invalid request: expected a JSON object with 'method', 'params' and 'id'.")
            return
        req_id = msg.get("id")
        if not (req_id is None or (type(req_id) is int and 0 <= req_id < 2**64)
                or (isinstance(req_id, str) and len(req_id) <= 64)):
            self._error(conn, 2, "Invalid request: request ID must be an unsigned integer")
            return
        method = msg.get("method")
        if method is None:
            self._error(conn, 2, "Invalid request: missing field `method`", req_id)
            return
        if method not in METHODS:
            self._error(conn, 2, f"Invalid request: unknown variant `{str(method)[:40]}`, expected one of "
                                 + ", ".join(f"`{m}`" for m in METHODS), req_id)
            return
        params = msg.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = self._names(conn, params, req_id)
            if names is None:
                return
            if method == "SUBSCRIBE":
                new = {n for n, _p in names if n not in conn.streams}
                if len(conn.streams) + len(new) > self.limits.max_streams:
                    self._error(conn, 2, f"Invalid request: too many streams; a connection can listen to at "
                                         f"most {self.limits.max_streams}.", req_id)
                    return
                for name, parsed in names:
                    self._subscribe(conn, name, parsed)
            else:
                for name, _parsed in names:
                    self._unsubscribe(conn, name)
            self._reply(conn, {"result": None, "id": req_id})
        elif method == "LIST_SUBSCRIPTIONS":
            self._reply(conn, {"result": list(conn.streams), "id": req_id})
        elif method == "SET_PROPERTY":
            if not isinstance(params, list) or len(params) != 2 or not isinstance(params[0], str):
                self._error(conn, 2, "Invalid request: SET_PROPERTY takes [\"combined\", true|false].", req_id)
            elif params[0] != "combined":
                self._error(conn, 0, "Unknown property", req_id)
            elif not isinstance(params[1], bool):
                self._error(conn, 1, "Invalid value type: expected Boolean", req_id)
            else:
                conn.combined = params[1]
                self._reply(conn, {"result": None, "id": req_id})
        else:  # GET_PROPERTY
            if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], str):
                self._error(conn, 2, "Invalid request: GET_PROPERTY takes [\"combined\"].", req_id)
            elif params[0] != "combined":
                self._error(conn, 0, "Unknown property", req_id)
            else:
                self._reply(conn, {"result": conn.combined, "id": req_id})

    async def serve(self, ws: WebSocket, initial: list[str], combined: bool) -> None:
        """Run one market-stream connection until the client leaves or is dropped."""
        await ws.accept()
        conn_box: list[_Conn] = []
        outbox = Outbox(ws.send_text, lambda code, reason: ws.close(code, reason), self.limits.send_queue,
                        self.stats, on_drop=lambda: self._remove(conn_box[0]),
                        max_bytes=self.limits.send_buffer_bytes)
        outbox.direct = DirectWriter.attach(ws)
        conn = _Conn(outbox, combined)
        conn_box.append(conn)
        parsed = []
        for name in initial:
            p = parse_stream(name, self.symbols)
            if p is None:
                await ws.send_text(dumps({"error": {"code": 2, "msg": f"Invalid request: unknown stream "
                                                                      f"'{name[:60]}'"}, "id": None}))
                await ws.close(1008, "unknown stream in the URL")
                return
            parsed.append((name, p))
        if len(parsed) > self.limits.max_streams:
            await ws.close(1008, f"too many streams; at most {self.limits.max_streams}")
            return
        self.conns.add(conn)
        self.stats.connections = len(self.conns)
        for name, p in parsed:
            self._subscribe(conn, name, p)
        outbox.start()
        self._ensure_running()
        try:
            while not outbox.closed:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                text = msg.get("text")
                if text is None and msg.get("bytes") is not None:
                    text = msg["bytes"].decode("utf-8", "replace")
                if text is not None:
                    self.handle_message(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._remove(conn)
            await outbox.aclose()

    async def aclose(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.conns):
            conn.outbox.drop("server shutting down", code=1001)
        task = self._task
        if task is not None:
            task.cancel()


async def _default_listen_key(websocket: WebSocket, path: str) -> bool:
    try:
        from .wsapi import serve_listen_key
    except ImportError:      # the WebSocket API module is not there: no legacy user streams
        return False
    return await serve_listen_key(websocket, path)


def _split(streams: str | None) -> list[str]:
    return [s for s in (streams or "").split("/") if s]


def router(pump, marketdata: MarketData, limits: StreamLimits | None = None, *,
           clock: Callable[[], float] = time.monotonic) -> APIRouter:
    """The market-stream websocket routes; the hub is ``router.hub`` (stats, listen-key hook)."""
    marketdata.attach(pump)
    hub = MarketHub(pump, marketdata, limits if isinstance(limits, StreamLimits) else _limits_from(limits),
                    clock=clock)
    r = APIRouter()

    @r.websocket("/ws")
    async def ws_root(websocket: WebSocket) -> None:
        await hub.serve(websocket, _split(websocket.query_params.get("streams")), False)

    @r.websocket("/stream")
    async def ws_combined(websocket: WebSocket) -> None:
        await hub.serve(websocket, _split(websocket.query_params.get("streams")), True)

    @r.websocket("/ws/{path:path}")
    async def ws_path(websocket: WebSocket, path: str) -> None:
        handler = hub.listen_key_handler
        if handler is not None and "@" not in path and await handler(websocket, path):
            return
        names = _split(path)
        if not names or not all(parse_stream(n, hub.symbols) for n in names):
            names = []          # ccxt's /ws/<n>: a plain socket that subscribes by message
        await hub.serve(websocket, names + _split(websocket.query_params.get("streams")), False)

    r.hub = hub  # type: ignore[attr-defined]
    return r


def _limits_from(obj) -> StreamLimits:
    """StreamLimits from a config object with the same attribute names (missing ones default)."""
    base = StreamLimits()
    if obj is None:
        return base
    return StreamLimits(**{k: getattr(obj, k, getattr(base, k)) for k in ("max_streams", "messages_per_second",
                                                                             "send_queue", "send_buffer_bytes")})
