"""Load generators for ``bdax bench gateway``: WebSocket API traders, market-data subscribers and a
minimal keep-alive HTTP/1.1 client (for the REST baselines). Every figure they produce comes from
``time.perf_counter_ns`` around one request, on the client.

- :func:`trade_ws`: ``clients`` connections to ``/ws-api/v3``, one funded account and API key each; every
  connection runs ``lanes`` request loops (so up to ``lanes`` requests are in flight per connection): place a
  signed LIMIT order (``order.place``, ``newOrderRespType=RESULT``), and if it rests, cancel it
  (``order.cancel``). Prices are seeded: mostly passive (1..20 ticks off the mid), ``cross_pct`` % priced to
  cross the other side by 1..3 ticks, so trades, book updates and fills happen all the time.
- :func:`subscribe_md`: ``subscribers`` connections to ``/ws``, each SUBSCRIBEd to ``<sym>@depth@100ms``
  and ``<sym>@trade``; counts messages and checks every depth diff follows the previous one
  (``U == previous u + 1``, binance-compat §7): a mismatch is a gap.
- :func:`trade_http`: the same place-then-cancel loop over HTTP for the ``matching-engine`` baseline.
- :func:`stalled_subscribers` / :func:`stalled_end`: market-stream clients that subscribe and never read
  (raw sockets with a small receive buffer), and how the server ended each one.

The functions are async and return plain dicts (JSON-able); :func:`subscriber_process` runs
:func:`subscribe_md` in a child process so that subscribers and traders do not share one interpreter.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

import msgspec

__all__ = ["Market", "Account", "Stats", "trade_ws", "subscribe_md", "subscriber_process", "trade_http",
           "stalled_subscribers", "stalled_end"]

_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()
_now_ns = time.perf_counter_ns


@dataclass(frozen=True)
class Market:
    """What a load generator needs to know about a symbol: its wire name and its grid."""

    symbol: str            # wire name, BTCUSDT
    tick: Decimal
    step: Decimal
    mid: Decimal
    qty: Decimal           # per order: on the step grid, over the minimum notional

    def price(self, ticks: int) -> str:
        return str(self.mid + ticks * self.tick)


@dataclass(frozen=True)
class Account:
    api_key: str
    secret: str


@dataclass
class Stats:
    """What one phase measured, on the client. Latencies in ns, of requests *completed* in the window."""

    window_s: float = 0.0
    placed: int = 0
    canceled: int = 0
    cancel_too_late: int = 0      # the order filled (or was expired by self-trade prevention) first
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ns: list[int] = field(default_factory=list)

    def error(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1


class _Window:
    """[start, end) of the measured part of a run (after the warm-up)."""

    def __init__(self, warmup_s: float, duration_s: float) -> None:
        self.start = _now_ns() + int(warmup_s * 1e9)
        self.end = self.start + int(duration_s * 1e9)

    def counts(self, sent: int) -> bool:
        return self.start <= sent < self.end


def _sign(secret: bytes, params: dict) -> str:
    # WebSocket API signature: HMAC-SHA256 over the params sorted by key, k=v joined by '&', not encoded.
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------- traders

async def _ws_trader(url: str, acct: Account, market: Market, lanes: int, cross_pct: int, seed: int,
                     window: _Window, stats: Stats, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    secret = acct.secret.encode()
    pending: dict[int, asyncio.Future] = {}
    ids = iter(range(1, 1 << 62))
    rng = random.Random(seed)
    async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:

        async def reader() -> None:
            async for raw in ws:
                msg = _dec.decode(raw)
                fut = pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)

        async def call(method: str, params: dict) -> tuple[dict, int]:
            params["apiKey"] = acct.api_key
            params["timestamp"] = time.time_ns() // 1_000_000
            params["signature"] = _sign(secret, params)
            rid = next(ids)
            fut = asyncio.get_running_loop().create_future()
            pending[rid] = fut
            sent = _now_ns()
            await ws.send(_enc.encode({"id": rid, "method": method, "params": params}).decode())
            msg = await fut
            done = _now_ns()
            if window.counts(sent):
                stats.latencies_ns.append(done - sent)
                stats.requests += 1
                if msg.get("status") != 200:
                    err = msg.get("error") or {}
                    if method == "order.cancel" and err.get("code") == -2011:
                        stats.cancel_too_late += 1
                    else:
                        stats.error(f"{method} {err.get('code')} {err.get('msg', '')[:40]}")
            return msg, sent

        async def lane(k: int) -> None:
            r = random.Random(rng.random())
            while not stop.is_set():
                side = "BUY" if r.random() < 0.5 else "SELL"
                off = r.randint(1, 20)
                if r.randrange(100) < cross_pct:
                    off = -r.randint(1, 3)
                ticks = -off if side == "BUY" else off
                msg, sent = await call("order.place", {
                    "symbol": market.symbol, "side": side, "type": "LIMIT", "timeInForce": "GTC",
                    "price": market.price(ticks), "quantity": str(market.qty), "newOrderRespType": "RESULT"})
                res = msg.get("result")
                if res is None:
                    continue
                if window.counts(sent):
                    stats.placed += 1
                if res.get("status") in ("NEW", "PARTIALLY_FILLED"):
                    msg, sent = await call("order.cancel", {"symbol": market.symbol,
                                                            "orderId": res["orderId"]})
                    if window.counts(sent) and msg.get("status") == 200:
                        stats.canceled += 1

        read = asyncio.create_task(reader())
        try:
            await asyncio.gather(*(lane(k) for k in range(lanes)))
        finally:
            read.cancel()


async def trade_ws(ws_base: str, accounts: list[Account], market: Market, *, lanes: int, duration_s: float,
                   warmup_s: float, cross_pct: int = 10, seed: int = 1) -> Stats:
    """Run ``len(accounts)`` WebSocket API traders for ``warmup_s + duration_s``; see the module doc."""
    stats = Stats(window_s=duration_s)
    window = _Window(warmup_s, duration_s)
    stop = asyncio.Event()
    url = ws_base + "/ws-api/v3"
    tasks = [asyncio.create_task(_ws_trader(url, a, market, lanes, cross_pct, seed * 1000 + i, window,
                                            stats, stop))
             for i, a in enumerate(accounts)]
    await _run_until(tasks, stop, warmup_s + duration_s)
    return stats


async def _run_until(tasks: list[asyncio.Task], stop: asyncio.Event, seconds: float) -> None:
    """Let ``tasks`` run for ``seconds``, then stop them; a task that failed early fails the run."""
    done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
    stop.set()
    if done:
        for t in done:
            if t.exception() is not None:
                for other in tasks:
                    other.cancel()
                raise t.exception()
    # Lanes finish the request in flight, then leave; give them a moment, then cancel stragglers.
    _, pending = await asyncio.wait(tasks, timeout=5)
    for t in pending:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------------------------------------- market data

async def subscribe_md(ws_base: str, symbol: str, *, subscribers: int, duration_s: float,
                       ready: asyncio.Event | None = None, kinds: tuple[str, ...] = ("depth@100ms", "trade"),
                       first: int = 0) -> dict:
    """``subscribers`` connections to ``/ws`` subscribed to ``<symbol>@<kind>`` for each of ``kinds``
    (default depth@100ms and trade) for ``duration_s`` (counted from when all are subscribed). Returns
    counts, gaps and trade delivery delays. ``first`` numbers the connections (``/ws/<n>``)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    streams = [f"{symbol.lower()}@{k}" for k in kinds]
    out = {"subscribers": subscribers, "messages": 0, "depth": 0, "trades": 0, "bytes": 0, "gaps": 0,
           "acks": 0, "closed_by_server": 0, "close_reasons": {}, "trade_delay_ms": []}
    subscribed = 0
    all_in = asyncio.Event()
    stop = asyncio.Event()

    async def one(i: int) -> None:
        nonlocal subscribed
        async with connect(f"{ws_base}/ws/{first + i}", compression=None, max_size=None, ping_interval=None,
                           open_timeout=60) as ws:
            await ws.send(_enc.encode({"method": "SUBSCRIBE", "params": streams, "id": 1}).decode())
            prev_u = None
            try:
                # No timeout per message (a timer per recv costs as much as the parsing at 1,000
                # subscribers): the task is cancelled when the window ends.
                while not stop.is_set():
                    raw = await ws.recv(decode=False)
                    msg = _dec.decode(raw)
                    if "id" in msg and "result" in msg:
                        out["acks"] += 1
                        subscribed += 1
                        if subscribed == subscribers:
                            all_in.set()
                        continue
                    if not all_in.is_set():
                        continue
                    out["messages"] += 1
                    out["bytes"] += len(raw)
                    e = msg.get("e")
                    if e == "depthUpdate":
                        out["depth"] += 1
                        if prev_u is not None and msg["U"] != prev_u + 1:
                            out["gaps"] += 1
                        prev_u = msg["u"]
                    elif e == "trade":
                        out["trades"] += 1
                        if len(out["trade_delay_ms"]) < 200_000:
                            out["trade_delay_ms"].append(time.time_ns() // 1_000_000 - msg["T"])
            except ConnectionClosed as exc:
                if not stop.is_set():
                    out["closed_by_server"] += 1
                    reason = f"{exc.rcvd.code} {exc.rcvd.reason}" if exc.rcvd else "no close frame"
                    out["close_reasons"][reason] = out["close_reasons"].get(reason, 0) + 1

    tasks = [asyncio.create_task(one(i)) for i in range(subscribers)]
    try:
        await asyncio.wait_for(all_in.wait(), 30)
    except asyncio.TimeoutError:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise RuntimeError(f"only {subscribed} of {subscribers} subscriptions acknowledged in 30 s") from None
    if ready is not None:
        ready.set()
    started = _now_ns()
    await asyncio.sleep(duration_s)
    out["window_s"] = (_now_ns() - started) / 1e9
    stop.set()
    for t in tasks:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    out["client_errors"] = [repr(f)[:120] for f in failures[:5]]
    return out


def subscriber_process(ws_base: str, symbol: str, subscribers: int, duration_s: float, conn,
                       kinds: tuple[str, ...] = ("depth@100ms", "trade"), first: int = 0) -> None:
    """Child-process entry: run :func:`subscribe_md`, send ``("ready", None)`` once every subscription
    is acknowledged, then ``("done", result)`` (or ``("error", text)``) over the pipe ``conn``."""
    async def main() -> dict:
        ready = asyncio.Event()
        task = asyncio.create_task(subscribe_md(ws_base, symbol, subscribers=subscribers,
                                                duration_s=duration_s, ready=ready, kinds=kinds, first=first))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            conn.send(("ready", None))
        waiter.cancel()
        return await task

    try:
        conn.send(("done", asyncio.run(main())))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def stalled_subscribers(port: int, symbol: str, count: int, rcvbuf: int = 4096) -> list:
    """``count`` raw sockets to ``/ws`` (receive buffer ``rcvbuf``) that do the websocket handshake and a
    SUBSCRIBE to ``<symbol>``'s depth@100ms, trade, aggTrade and bookTicker, then never read again."""
    import base64
    import json
    import os
    import socket
    streams = [f"{symbol.lower()}@{k}" for k in ("depth@100ms", "trade", "aggTrade", "bookTicker")]
    payload = json.dumps({"method": "SUBSCRIBE", "params": streams, "id": 1}).encode()
    out = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)    # before connect: sets the window
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                   ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            if not chunk:
                raise RuntimeError("the server closed a stalled subscriber during its handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"websocket handshake refused: {head[:80]!r}")
        mask = os.urandom(4)
        n = len(payload)
        frame = (bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big"))
        s.sendall(frame + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        out.append(s)
    return out


def stalled_end(sock, timeout: float = 30.0) -> str:
    """Read what a stalled subscriber was sent until the server ends it: ``"close <code>"`` (a close frame
    arrived), ``"reset"`` (aborted), ``"eof"`` (closed without a close frame) or ``"open"`` (still open
    after ``timeout`` s: the server never disconnected it)."""
    import socket
    sock.settimeout(timeout)
    buf = bytearray()
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "open"
    i = 0
    while i + 2 <= len(buf):
        op, n, j = buf[i] & 0x0F, buf[i + 1] & 0x7F, i + 2
        if n == 126:
            n, j = int.from_bytes(buf[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(buf[j:j + 8], "big"), j + 8
        if op == 0x8 and j + 2 <= len(buf):
            return f"close {int.from_bytes(buf[j:j + 2], 'big')}"
        i = j + n
    return "eof"


# ---------------------------------------------------------------------------------------------- HTTP

class _Http:
    """One keep-alive HTTP/1.1 connection: request, read the status line, headers and a
    Content-Length (or chunked) body. Enough for uvicorn; not a general client."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, target: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        parts = []
        while True:
            size = int((await self.reader.readline()).strip(), 16)
            if size == 0:
                await self.reader.readline()
                return status, b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


async def trade_http(base: str, place, cancel, *, clients: int, lanes: int, duration_s: float,
                     warmup_s: float, seed: int = 1) -> Stats:
    """``clients * lanes`` keep-alive connections, each a place-then-cancel loop.

    ``place(rng, client) -> (method, target, body, headers)`` builds an order request;
    ``cancel(client, status, body) -> request | None`` builds the cancel for a placed order's answer
    (None: nothing to cancel). A 2xx answer to ``place`` counts as a placed order.
    """
    u = urlsplit(base)
    stats = Stats(window_s=duration_s)
    window = _Window(warmup_s, duration_s)
    stop = asyncio.Event()

    async def timed(conn: _Http, req) -> tuple[int, bytes, bool]:
        sent = _now_ns()
        status, body = await conn.request(*req)
        counted = window.counts(sent)
        if counted:
            stats.latencies_ns.append(_now_ns() - sent)
            stats.requests += 1
            if status >= 300:
                stats.error(f"HTTP {status} {body[:60]!r}")
        return status, body, counted

    async def lane(client: int, k: int) -> None:
        rng = random.Random(seed * 1_000_003 + client * 1000 + k)
        conn = _Http(u.hostname, u.port)
        await conn.open()
        try:
            while not stop.is_set():
                status, body, counted = await timed(conn, place(rng, client))
                if status < 300 and counted:
                    stats.placed += 1
                req = cancel(client, status, body)
                if req is not None:
                    status, body, counted = await timed(conn, req)
                    if status < 300 and counted:
                        stats.canceled += 1
        finally:
            await conn.close()

    tasks = [asyncio.create_task(lane(c, k)) for c in range(clients) for k in range(lanes)]
    await _run_until(tasks, stop, warmup_s + duration_s)
    return stats
