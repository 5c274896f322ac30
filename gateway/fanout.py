"""Fan-out to websocket clients: one bounded send queue and one writer task per connection.

The pump publishes synchronously (DESIGN.md §1 "the engine never waits for a consumer"): publishing is
:meth:`Outbox.offer`, an O(1) append that never awaits. Each connection's writer task drains its queue
to the socket at the client's pace. A client whose queue is full has fallen behind: it is dropped, its
queue discarded and its socket closed with code 1008 and a reason saying why and what to do (resync
from a REST snapshot, as Binance's depth protocol intends), while every other client keeps receiving
every message. :class:`FanoutStats` counts what was sent and dropped, for tests and the benchmark.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Outbox", "FanoutStats", "SLOW_CLIENT_CODE", "CLOSE_TIMEOUT_S"]

log = logging.getLogger("bdax.gateway.fanout")
SLOW_CLIENT_CODE = 1008          # policy violation: the client did not keep up
CLOSE_TIMEOUT_S = 5.0            # how long a close handshake with a stalled client may take


@dataclass
class FanoutStats:
    """Counters shared by every outbox of one hub."""

    messages_offered: int = 0     # accepted into a queue
    messages_sent: int = 0        # handed to the socket
    clients_dropped: int = 0      # closed for a full queue
    connections: int = 0          # currently open


class Outbox:
    """The send side of one connection.

    Args:
        send: ``await send(text)`` writes one text frame (blocks while the client is slow).
        close: ``await close(code, reason)`` closes the socket.
        max_queue: messages that may wait; one more drops the client.
        stats: counters to update.
        on_drop: called (synchronously) when the client is dropped, e.g. to unsubscribe it.

    ``direct`` (set after construction, optional) is a :class:`gateway.wsdirect.DirectWriter`: then the
    messages offered in one loop step are written together, in order, at the end of that step, while the
    socket is writable; otherwise (and whenever something already waits in the queue) as described above.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Awaitable[None]],
                 max_queue: int, stats: FanoutStats, on_drop: Callable[[], None] | None = None) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        self._send = send
        self._close = close
        self.max_queue = max_queue
        self.stats = stats
        self.on_drop = on_drop
        self.queue: deque[str] = deque()
        self.closed = False
        self.close_reason: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None
        self._idle = False               # the writer waits for work (is not inside a send)
        self._held: tuple | None = None  # (coroutine, what it awaits): an eager send that had to wait
        self.direct = None               # a DirectWriter, or None: see the class docstring
        self._batch: list[str] = []      # offered this loop step, written by _flush_batch
        self._busy = False               # the writer task is inside a send (ordering: later ones queue)

    def start(self) -> None:
        """Start the writer task (in the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="bdax-ws-writer")

    def offer(self, text: str) -> bool:
        """Queue one message without waiting; False if the outbox is closed or was just dropped."""
        if self.closed:
            return False
        if len(self.queue) + len(self._batch) >= self.max_queue:
            self.drop(f"slow consumer: {self.max_queue} messages waiting to be sent; reconnect and resync "
                      f"from a REST snapshot")
            return False
        if self.direct is not None and not self.queue and self._held is None and not self._busy:
            # Perf (G6): the messages of one loop step (e.g. the answers to several requests of this
            # connection that one journal batch made durable) leave in one write() instead of one each
            # through the ASGI send chain: 54.1 -> 50.5 us of server CPU per request at 64 connections
            # (gateway/wsdirect.py).
            batch = self._batch
            batch.append(text)
            self.stats.messages_offered += 1
            if len(batch) == 1:
                asyncio.get_running_loop().call_soon(self._flush_batch)
            return True
        if self._idle and not self.queue and self._held is None:
            # Perf (G4): nothing is waiting, so send now, in the caller, without waking the writer task
            # (a task switch per message was ~10% of the WebSocket API's CPU). A send that cannot finish
            # at once (the transport is paused: a slow client) is handed to the writer, which finishes it
            # before anything queued after it, so order and backpressure are as before.
            coro = self._send(text)
            try:
                awaiting = coro.send(None)
            except StopIteration:
                self.stats.messages_offered += 1
                self.stats.messages_sent += 1
                return True
            except Exception:      # the socket went away: the reader side notices and cleans up
                self.closed = True
                return False
            self.stats.messages_offered += 1
            self._held = (coro, awaiting)
            self._wake.set()
            return True
        self.queue.append(text)
        self.stats.messages_offered += 1
        if len(self.queue) == 1:
            self._wake.set()
        return True

    def _flush_batch(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._batch = []
        if self.closed:
            return
        direct = self.direct
        if direct.ready():
            try:
                direct.write(batch)
            except Exception:      # the socket went away: the reader side notices and cleans up
                self.closed = True
                return
            self.stats.messages_sent += len(batch)
        else:
            # Paused (a slow client) or closing: the writer task sends them through the ASGI path, which
            # waits for the transport, so backpressure and the slow-client limit work as before.
            self.queue.extend(batch)
            self._wake.set()

    def drop(self, reason: str, code: int = SLOW_CLIENT_CODE) -> None:
        """Stop sending, discard the queue and close the socket with ``code`` and ``reason``."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.queue.clear()
        self._batch.clear()
        self.stats.clients_dropped += 1
        if self.on_drop is not None:
            self.on_drop()
        if self._task is not None:
            self._task.cancel()      # it may be stuck in a send to the stalled client
        self._closer = asyncio.get_running_loop().create_task(self._close_quietly(code, reason[:120]))

    async def _close_quietly(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self._close(code, reason), CLOSE_TIMEOUT_S)
        except Exception:      # the peer may already be gone; nothing more to do for it
            log.debug("closing a dropped client failed", exc_info=True)

    async def _run(self) -> None:
        queue, wake, stats = self.queue, self._wake, self.stats
        try:
            while not self.closed:
                if self._held is not None:
                    coro, awaiting = self._held
                    try:
                        await _finish(coro, awaiting)
                    finally:
                        self._held = None
                    stats.messages_sent += 1
                    continue
                if not queue:
                    wake.clear()
                    self._idle = True
                    try:
                        await wake.wait()
                    finally:
                        self._idle = False
                    continue
                self._busy = True
                try:
                    await self._send(queue.popleft())
                finally:
                    self._busy = False
                stats.messages_sent += 1
        except asyncio.CancelledError:
            pass
        except Exception:      # the socket went away: the reader side notices and cleans up
            self.closed = True
            self.queue.clear()

    async def aclose(self) -> None:
        """Stop the writer (the connection is ending); does not close the socket."""
        self.closed = True
        self.queue.clear()
        self._batch.clear()
        self._idle = False
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
        if self._closer is not None:
            try:
                await self._closer
            except BaseException:
                pass

    async def flush(self) -> None:
        """Wait until everything queued so far was sent (graceful close of a healthy client)."""
        while (self.queue or self._batch or self._busy or self._held is not None) and not self.closed:
            await asyncio.sleep(0.005)


async def _finish(coro, awaiting) -> None:
    """Run ``coro`` to its end as a task would: it was started by hand and is suspended on ``awaiting``
    (the future it yielded, or None for a bare yield). Cancelling the caller closes ``coro``."""
    try:
        while True:
            if awaiting is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait((awaiting,))    # done or failed: coro reads the outcome itself
            awaiting = coro.send(None)
    except StopIteration:
        return
    except asyncio.CancelledError:
        coro.close()
        raise
