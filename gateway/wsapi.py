"""The WebSocket API (``/ws-api/v3``), user data events, and the legacy listenKey user stream.

WebSocket API (Binance "WebSocket API", request/response by ``id``): each text message is
``{"id", "method", "params"}``; the answer is ``{"id", "status": 200, "result", "rateLimits": []}`` or
``{"id", "status": 4xx, "error": {"code", "msg"}, "rateLimits": []}`` with the same codes as REST. A bad
message (invalid JSON, unknown method, bad params) gets an error answer and the socket stays open.
Methods: ping, time, order.place, order.test, order.cancel, order.cancelReplace, order.status,
order.amend.keepPriority, openOrders.status, openOrders.cancelAll, account.status,
userDataStream.subscribe.signature, userDataStream.unsubscribe.

Signed methods carry ``apiKey``, ``timestamp`` and ``signature`` in ``params`` (HMAC over the sorted,
unencoded params: :func:`gateway.auth.verify_ws`). JSON numbers are kept as the text the client sent,
so ``"quantity": 0.001`` signs and parses as ``0.001``.

User data: :class:`UserHub` receives order, trade and balance events from the order history projection
and delivers ``executionReport``, ``outboundAccountPosition`` and ``balanceUpdate`` to every
subscription of the account: wrapped as ``{"subscriptionId": N, "event": {...}}`` on the WebSocket API,
unwrapped on a legacy ``/ws/<listenKey>`` socket. ``userDataStream.subscribe.signature`` is answered
``{"id", "status": 200, "result": {"subscriptionId": N}, "rateLimits": []}`` as the very next message
on its socket: the reply is queued before the subscription exists (ccxt and hummingbot rely on it).

Legacy listenKey (binance-compat §6): ``POST /api/v3/userDataStream`` creates a key (REST, in
rest_trading.py); the market-stream route ``/ws/{path}`` (gateway/streams.py) hands a socket whose path is
a live listenKey to :func:`serve_listen_key`, which streams that account's events unwrapped.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import time
from collections.abc import Callable

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from exchange.decimals import from_units

from .auth import verify_ws
from .errors import BinanceError, bad_param
from .fanout import FanoutStats, Outbox
from .params import Params
from .wsdirect import DirectWriter

__all__ = ["router", "UserHub", "ListenKeys", "serve_listen_key", "user_stream_for_listen_key",
           "MAX_MESSAGE_BYTES", "OUTBOX_MESSAGES"]

log = logging.getLogger("bdax.gateway.wsapi")
MAX_MESSAGE_BYTES = 65_536
OUTBOX_MESSAGES = 10_000        # per connection; a client that lets more pile up is dropped
MAX_IN_FLIGHT = 256             # order requests awaiting the pump per connection; then stop reading
LISTEN_KEY_TTL_MS = 60 * 60_000  # Binance: a listenKey lives 60 minutes after its last keepalive
_encode = msgspec.json.Encoder().encode


class _RawInt(str):
    """A JSON integer kept as the text the client sent."""


class _RawNum(str):
    """A JSON number with a fraction or exponent, kept as its text."""


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _dumps(obj) -> str:
    return _encode(obj).decode()


# --------------------------------------------------------------------------- user data hub

class _Sub:
    __slots__ = ("account", "outbox", "sub_id", "wrap")

    def __init__(self, account: int, outbox: Outbox, sub_id: int, wrap: bool) -> None:
        self.account, self.outbox, self.sub_id, self.wrap = account, outbox, sub_id, wrap

    def deliver(self, payload: dict) -> None:
        self.outbox.offer(_dumps({"subscriptionId": self.sub_id, "event": payload} if self.wrap else payload))


class UserHub:
    """Delivers user data events to subscriptions (implements :class:`gateway.orders.UserSink`)."""

    def __init__(self, pump) -> None:
        self.pump = pump
        self._subs: dict[int, list[_Sub]] = {}
        self.stats = FanoutStats()

    def add(self, sub: _Sub) -> None:
        self._subs.setdefault(sub.account, []).append(sub)

    def remove(self, sub: _Sub) -> None:
        subs = self._subs.get(sub.account)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._subs[sub.account]

    def wants(self, account: int) -> bool:
        return account in self._subs

    def emit(self, account: int, payload: dict) -> None:
        for sub in list(self._subs.get(account, ())):
            sub.deliver(payload)

    def positions(self, touched: dict[int, set[str]], ts_ns: int) -> None:
        """One ``outboundAccountPosition`` per subscribed account with the balances a command changed."""
        engine = self.pump.engine
        ms = ts_ns // 1_000_000
        for account, assets in touched.items():
            if account not in self._subs:
                continue
            balances = engine.balances(account)
            rows = []
            for a in sorted(assets):
                unit = f"1e-{engine.assets[a]}"
                b = balances.get(a)
                free, held = (b.available, b.held) if b is not None else (0, 0)
                rows.append({"a": a, "f": from_units(free, unit), "l": from_units(held, unit)})
            self.emit(account, {"e": "outboundAccountPosition", "E": ms, "u": ms, "B": rows})


class ListenKeys:
    """Legacy user-stream keys: listenKey -> account, valid 60 minutes after the last keepalive."""

    def __init__(self, now_ms: Callable[[], int] | None = None) -> None:
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._keys: dict[str, list] = {}       # key -> [account, expires_ms, set of closers]

    def create(self, account: int) -> str:
        """The account's live key (Binance returns the existing one), else a new one."""
        now = self.now_ms()
        for key, (acct, expires, _c) in self._keys.items():
            if acct == account and expires > now:
                self._keys[key][1] = now + LISTEN_KEY_TTL_MS
                return key
        key = secrets.token_hex(32)[:60]
        self._keys[key] = [account, now + LISTEN_KEY_TTL_MS, set()]
        return key

    def account(self, key: str) -> int | None:
        entry = self._keys.get(key)
        if entry is None:
            return None
        if entry[1] <= self.now_ms():
            self.delete(key)
            return None
        return entry[0]

    def keepalive(self, key: str, account: int) -> bool:
        if self.account(key) != account:
            return False
        self._keys[key][1] = self.now_ms() + LISTEN_KEY_TTL_MS
        return True

    def delete(self, key: str, account: int | None = None) -> bool:
        entry = self._keys.get(key)
        if entry is None or (account is not None and entry[0] != account):
            return False
        del self._keys[key]
        for close in list(entry[2]):
            close()
        return True

    def on_delete(self, key: str, fn: Callable[[], None]) -> Callable[[], None]:
        self._keys[key][2].add(fn)
        return lambda: self._keys.get(key, [None, None, set()])[2].discard(fn)


# --------------------------------------------------------------------------- the WebSocket API

class _Connection:
    """One ``/ws-api/v3`` socket: its outbox, subscriptions and in-flight requests."""

    def __init__(self, state, websocket: WebSocket) -> None:
        self.state = state
        self.ws = websocket
        self.ip = websocket.client.host if websocket.client else "?"
        self.outbox = Outbox(websocket.send_text, self._close, OUTBOX_MESSAGES, state.user_hub.stats,
                             on_drop=self.unsubscribe_all)
        self.subs: dict[int, _Sub] = {}
        self.next_sub = 0
        self.tasks: set[asyncio.Task] = set()     # requests whose coroutine needed a task (see _step)
        self.in_flight = 0                        # requests started and not answered yet
        self._room: asyncio.Future | None = None  # resolved when in_flight drops below MAX_IN_FLIGHT

    def finished(self) -> None:
        """One request was answered."""
        self.in_flight -= 1
        room = self._room
        if room is not None and self.in_flight < MAX_IN_FLIGHT:
            self._room = None
            if not room.done():
                room.set_result(None)

    async def wait_for_room(self) -> None:
        """Return once fewer than MAX_IN_FLIGHT requests are in flight."""
        while self.in_flight >= MAX_IN_FLIGHT:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            await self._room

    async def _close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)

    def reply(self, req_id, result) -> None:
        self.outbox.offer(_dumps({"id": req_id, "status": 200, "result": result, "rateLimits": []}))

    def error(self, req_id, exc: BinanceError) -> None:
        status = exc.http_status if 400 <= exc.http_status < 600 else 400
        self.outbox.offer(_dumps({"id": req_id, "status": status, "error": exc.body(), "rateLimits": []}))

    def unsubscribe_all(self) -> None:
        for sub in self.subs.values():
            self.state.user_hub.remove(sub)
        self.subs.clear()


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    """The common, well-formed request: every param a JSON string or integer."""
    method: str
    id: int | str | None = None
    params: dict[str, str | int] = {}


_decode_request = msgspec.json.Decoder(_Request).decode
_INT_TEXT_LIMIT = 10 ** 30


def _parse_message(text: str) -> tuple[object, str, dict]:
    """(id, method, params) of one request; BinanceError (with the id when readable) otherwise."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise BinanceError(-1100, f"Message too large: at most {MAX_MESSAGE_BYTES} bytes.")
    # Perf (G4): msgspec decodes a typical request ~4x faster than json.loads with its number hooks. It
    # only takes messages whose every param is a string, the id an int, a short string or null, and the
    # method non-empty; the slow path below gives the same result for those and the errors for the rest.
    try:
        fast = _decode_request(text)
    except (msgspec.DecodeError, RecursionError):
        fast = None
    if fast is not None and fast.method and (type(fast.id) is not str or len(fast.id) <= 64):
        params = fast.params
        # Perf (G6): integer params (``timestamp``, ``orderId``: what ccxt and the benchmark send) stay on
        # this path; every request used to fall to json.loads below (5% of the server's samples at 64 clients).
        # An integer's digits are its JSON text except ``-0`` (and 0 itself) and huge ones: those go the
        # slow way, which keeps the text as sent.
        for k, v in params.items():
            if type(v) is not str:
                if not 0 < (v if v > 0 else -v) < _INT_TEXT_LIMIT:
                    break
                params[k] = str(v)
        else:
            return fast.id, fast.method, params
    try:
        msg = json.loads(text, parse_int=_RawInt, parse_float=_RawNum, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BinanceError(-1100, "Malformed request: the message is not valid JSON.") from None
    if not isinstance(msg, dict):
        raise BinanceError(-1100, "Malformed request: the message must be a JSON object with id, method "
                                  "and params.")
    req_id = msg.get("id")
    if isinstance(req_id, _RawInt):
        req_id = int(req_id)
    elif req_id is not None and (not isinstance(req_id, str) or len(req_id) > 64):
        raise BinanceError(-1100, "Illegal characters found in parameter 'id'; it must be a string of at "
                                  "most 64 characters, an integer or null.")
    method = msg.get("method")
    params = msg.get("params", {})
    extra = set(msg) - {"id", "method", "params"}
    if extra:
        raise _WithId(req_id, BinanceError(-1104, f"Not all sent parameters were read: unknown top-level "
                                                  f"field(s) {', '.join(sorted(extra))}."))
    if not isinstance(method, str) or not method:
        raise _WithId(req_id, BinanceError(-1102, "Mandatory parameter 'method' was not sent, was "
                                                  "empty/null, or malformed."))
    if not isinstance(params, dict):
        raise _WithId(req_id, bad_param("params", "it must be a JSON object."))
    for k, v in params.items():
        if not isinstance(v, (str, bool)):
            raise _WithId(req_id, bad_param(k, "values must be strings, numbers or booleans."))
    return req_id, method, params


class _WithId(Exception):
    def __init__(self, req_id, error: BinanceError) -> None:
        self.req_id, self.error = req_id, error


def _text_params(params: dict) -> Params:
    return Params({k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()})


class _Methods:
    """The WS API methods; sync ones answer inline, the ones that go through the pump run as tasks."""

    WEIGHTS = {"order.status": 4, "openOrders.status": 6, "account.status": 20, "time": 1, "ping": 1}

    def __init__(self, state) -> None:
        self.state = state
        t = state.trading
        self.sync: dict[str, tuple[str | None, Callable]] = {
            "ping": (None, lambda key, p: (p.done(), {})[1]),
            "time": (None, lambda key, p: (p.done(), {"serverTime": time.time_ns() // 1_000_000})[1]),
            "order.status": ("READ", t.query_order),
            "openOrders.status": ("READ", t.open_orders),
            "account.status": ("READ", t.account),
        }
        # Perf (G6): the two hot methods (one command each) answer from the pump future's callback (see
        # _answer): no Task, no coroutine frames through Pump.submit, no wake-up per request (measured
        # with the other G6 changes: see _start).
        self.begin: dict[str, tuple[str, Callable]] = {
            "order.place": ("TRADE", t.begin_new_order),
            "order.cancel": ("TRADE", t.begin_cancel_order),
        }
        self.async_: dict[str, tuple[str, Callable]] = {
            "order.test": ("TRADE", lambda key, p: t.new_order(key, p, test=True)),
            "order.cancelReplace": ("TRADE", t.cancel_replace),
            "order.amend.keepPriority": ("TRADE", t.amend_keep_priority),
            "openOrders.cancelAll": ("TRADE", t.cancel_open_orders),
        }


def _answer(conn: _Connection, req_id, finish, fut: asyncio.Future) -> None:
    """Answer a request whose one command the pump resolved ``fut`` for (durable and applied)."""
    conn.finished()
    if fut.cancelled():
        return
    try:
        conn.reply(req_id, finish(fut.result()[0]))
    except BinanceError as exc:
        conn.error(req_id, exc)
    except Exception:
        log.exception("WS API request failed")
        conn.error(req_id, BinanceError(-1000, "An unknown error occurred while processing the request.", 500))


def _start(conn: _Connection, req_id, coro) -> None:
    """Run the request coroutine ``coro`` (a trading operation) and answer with its outcome.

    Perf (G6): no task per request. The coroutine is stepped by hand, as a task would: it runs until it
    awaits the pump's future, and that future's done-callback resumes it (the answer goes out in the
    step after the pump resolved it, as before). order.place and order.cancel skip even the coroutine
    (:func:`_answer`); together with the other G6 changes: 64 connections, 68-78 -> 50-55 us of server
    CPU per request.
    """
    conn.in_flight += 1
    _step(conn, req_id, coro, None)


def _step(conn: _Connection, req_id, coro, _done=None) -> None:
    try:
        awaited = coro.send(None)
    except StopIteration as stop:
        conn.finished()
        conn.reply(req_id, stop.value)
        return
    except BinanceError as exc:
        conn.finished()
        conn.error(req_id, exc)
        return
    except asyncio.CancelledError:
        conn.finished()
        return
    except Exception:
        conn.finished()
        log.exception("WS API request failed")
        conn.error(req_id, BinanceError(-1000, "An unknown error occurred while processing the request.", 500))
        return
    if getattr(awaited, "_asyncio_future_blocking", False):     # an asyncio future, as Task checks
        awaited._asyncio_future_blocking = False
        awaited.add_done_callback(functools.partial(_step, conn, req_id, coro))
        return
    # Anything else (a bare yield): a task finishes the coroutine.
    task = asyncio.get_running_loop().create_task(_finish(conn, req_id, coro, awaited))
    conn.tasks.add(task)
    task.add_done_callback(conn.tasks.discard)


async def _finish(conn: _Connection, req_id, coro, awaited) -> None:
    try:
        while True:
            if awaited is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait((awaited,))
            try:
                awaited = coro.send(None)
            except StopIteration as stop:
                conn.reply(req_id, stop.value)
                return
    except BinanceError as exc:
        conn.error(req_id, exc)
    except asyncio.CancelledError:
        coro.close()
        raise
    except Exception:
        log.exception("WS API request failed")
        conn.error(req_id, BinanceError(-1000, "An unknown error occurred while processing the request.", 500))
    finally:
        conn.finished()


def _handle(conn: _Connection, methods: _Methods, text: str) -> None:
    """Answer (or start answering) one message. Never raises."""
    state = conn.state
    req_id = None
    try:
        req_id, method, params = _parse_message(text)
        state.limiter.add_weight(conn.ip, methods.WEIGHTS.get(method, 1))
        if method == "userDataStream.subscribe.signature":
            key, p = verify_ws(params, state.keys, "READ")
            Params(p).done()
            sub = _Sub(key.account, conn.outbox, conn.next_sub, True)
            conn.next_sub += 1
            conn.reply(req_id, {"subscriptionId": sub.sub_id})    # the very next message, then events
            conn.subs[sub.sub_id] = sub
            state.user_hub.add(sub)
            return
        if method == "userDataStream.unsubscribe":
            p = _text_params(params)
            from .params import parse_int
            sid = parse_int(p, "subscriptionId", lo=0)
            p.done()
            if sid is None:
                conn.unsubscribe_all()
            else:
                sub = conn.subs.pop(sid, None)
                if sub is None:
                    raise BinanceError(-1100, f"Illegal characters found in parameter 'subscriptionId'; no "
                                              f"subscription {sid} on this connection.")
                state.user_hub.remove(sub)
            conn.reply(req_id, {})
            return
        if method in methods.sync:
            need, fn = methods.sync[method]
            if need is None:
                conn.reply(req_id, fn(None, _text_params(params)))
                return
            key, p = verify_ws(params, state.keys, need)
            conn.reply(req_id, fn(key, Params(p)))
            return
        begin = methods.begin.get(method)
        if begin is not None:
            need, fn = begin
            key, p = verify_ws(params, state.keys, need)
            if method == "order.place":
                state.limiter.add_order(key.key)
            pending = fn(key, Params(p))
            fut = state.pump.submit_nowait(pending.command)
            conn.in_flight += 1
            fut.add_done_callback(functools.partial(_answer, conn, req_id, pending.finish))
            return
        if method in methods.async_:
            need, fn = methods.async_[method]
            key, p = verify_ws(params, state.keys, need)
            if method in ("order.place", "order.cancelReplace"):
                state.limiter.add_order(key.key)
            _start(conn, req_id, fn(key, Params(p)))
            return
        raise BinanceError(-1100, f"Illegal characters found in parameter 'method'; unknown method "
                                  f"{method!r:.60}.")
    except _WithId as exc:
        conn.error(exc.req_id, exc.error)
    except BinanceError as exc:
        conn.error(req_id, exc)
    except Exception:
        log.exception("WS API request failed")
        conn.error(req_id, BinanceError(-1000, "An unknown error occurred while processing the request.", 500))


def router(state) -> APIRouter:
    """The ``/ws-api/v3`` route. ``state`` is the app's GatewayState (trading, keys, limiter, user_hub)."""
    r = APIRouter()
    methods_box: list[_Methods] = []

    @r.websocket("/ws-api/v3")
    async def ws_api(websocket: WebSocket) -> None:
        if not methods_box:
            methods_box.append(_Methods(state))
        methods = methods_box[0]
        await websocket.accept()
        conn = _Connection(state, websocket)
        conn.outbox.direct = DirectWriter.attach(websocket)
        conn.outbox.start()
        state.user_hub.stats.connections += 1
        try:
            while True:
                msg = await websocket.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                text = msg.get("text")
                if text is None:
                    data = msg.get("bytes") or b""
                    try:
                        text = data.decode("utf-8")
                    except UnicodeDecodeError:
                        conn.error(None, BinanceError(-1100, "Malformed request: not UTF-8 text."))
                        continue
                _handle(conn, methods, text)
                if conn.outbox.closed:
                    break
                if conn.in_flight >= MAX_IN_FLIGHT:
                    # Backpressure: stop reading this socket until some answers are out.
                    await conn.wait_for_room()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            state.user_hub.stats.connections -= 1
            conn.unsubscribe_all()
            for task in list(conn.tasks):
                task.cancel()
            await conn.outbox.flush()
            await conn.outbox.aclose()

    return r


# --------------------------------------------------------------------------- legacy listenKey socket

def user_stream_for_listen_key(app, listen_key: str) -> int | None:
    """The account whose live listenKey is ``listen_key`` (None if it is not one). Cheap and
    synchronous: the ``/ws/{path}`` route may call it to decide whether a path is a user stream."""
    state = getattr(app.state, "bdax", None)
    return None if state is None else state.listen_keys.account(listen_key)


async def serve_listen_key(websocket: WebSocket, listen_key: str) -> bool:
    """Serve ``/ws/<listenKey>``: the account's user events, unwrapped, until the client leaves or the key
    is deleted or expires. Returns False, without touching the socket, if ``listen_key`` is not a live
    listenKey (the caller then serves it as a market stream path). Call before ``accept()``."""
    state = getattr(websocket.app.state, "bdax", None)
    account = None if state is None else state.listen_keys.account(listen_key)
    if account is None:
        return False
    await websocket.accept()

    async def close(code: int, reason: str) -> None:
        await websocket.close(code, reason)

    outbox = Outbox(websocket.send_text, close, OUTBOX_MESSAGES, state.user_hub.stats)
    sub = _Sub(account, outbox, 0, False)
    outbox.on_drop = lambda: state.user_hub.remove(sub)
    outbox.start()
    state.user_hub.add(sub)

    def terminated() -> None:
        outbox.drop("listenKey deleted or expired; create a new one", 1000)

    forget = state.listen_keys.on_delete(listen_key, terminated)
    try:
        while not outbox.closed:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                break
            if state.listen_keys.account(listen_key) is None:
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        forget()
        state.user_hub.remove(sub)
        await outbox.aclose()
    return True
