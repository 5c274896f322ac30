"""Fan-out to websocket clients: one bounded send queue and one writer task per connection.

The pump publishes synchronously (DESIGN.md §1 "the engine never waits for a consumer"): publishing is
:meth:`Outbox.offer`, an O(1) append that never awaits. Each connection's writer task drains its queue
to the socket at the client's pace. A client whose queue is full has fallen behind: it is dropped, its
queue discarded and its socket closed with code 1008 and a reason saying why and what to do (resync
from a REST snapshot, as Binance's depth protocol intends), while every other client keeps receiving
every message. :class:`FanoutStats` counts what was sent and dropped, for tests and the benchmark.

With a :class:`gateway.wsdirect.DirectWriter` (uvicorn's default websocket protocol) the outbox holds
ready-made frames, writes each loop step's frames in one ``transport.write`` and bounds the connection's
whole backlog in bytes, the transport's write buffer included: a client that stops reading fills the
kernel's socket buffers, then the transport's buffer (which pauses writing at its high-water mark), then
the outbox; past ``max_bytes`` (or ``max_queue`` frames) it is dropped, a close frame is appended and the
connection is aborted if it is still there :data:`CLOSE_TIMEOUT_S` later. Nothing waits for it.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .wsdirect import frame as _frame

__all__ = ["Outbox", "FanoutStats", "SLOW_CLIENT_CODE", "CLOSE_TIMEOUT_S", "MAX_BACKLOG_BYTES"]

log = logging.getLogger("bdax.gateway.fanout")
SLOW_CLIENT_CODE = 1008          # policy violation: the client did not keep up
CLOSE_TIMEOUT_S = 5.0            # how long a close handshake with a stalled client may take
MAX_BACKLOG_BYTES = 8 * 2**20    # default bound on one connection's unsent bytes (direct mode)


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
        max_bytes: direct mode only: unsent bytes (queued frames + the transport's write buffer) past
            which the client is dropped.

    ``direct`` (set after construction and before :meth:`start`, optional) is a
    :class:`gateway.wsdirect.DirectWriter`: then messages become frames (:meth:`offer_frame` takes one
    shared by many connections), the frames offered in one loop step are written together, in order, at
    the end of that step while the transport is writable, and while it is paused (the client reads slower
    than we write) they wait here, bounded by ``max_queue`` and ``max_bytes``; ``send`` and ``close`` are
    then not used.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]], close: Callable[[int, str], Awaitable[None]],
                 max_queue: int, stats: FanoutStats, on_drop: Callable[[], None] | None = None, *,
                 max_bytes: int = MAX_BACKLOG_BYTES) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.max_bytes = max_bytes
        self._frames: list[bytes] = []   # direct mode: offered, not yet written
        self._frame_bytes = 0            # their total size
        self._buffered = 0               # the transport's write buffer when last looked at
        self._parked = False             # direct mode: waiting for a paused transport to resume
        self._loop: asyncio.AbstractEventLoop | None = None
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
        self._busy = False               # the writer task is inside a send (ordering: later ones queue)

    def start(self) -> None:
        """Start the writer task (in the running loop)."""
        self._loop = loop = asyncio.get_running_loop()
        run = self._run_direct() if self.direct is not None else self._run()
        self._task = loop.create_task(run, name="bdax-ws-writer")

    def offer(self, text: str) -> bool:
        """Queue one message without waiting; False if the outbox is closed or was just dropped."""
        if self.direct is not None:
            return self.offer_frame(_frame(text.encode()))
        if self.closed:
            return False
        if len(self.queue) >= self.max_queue:
            self.drop(f"slow consumer: {self.max_queue} messages waiting to be sent; reconnect and resync "
                      f"from a REST snapshot")
            return False
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

    # ------------------------------------------------------------------ direct mode
    def offer_frame(self, frame: bytes) -> bool:
        """Direct mode: queue one ready-made frame (:func:`gateway.wsdirect.frame`, possibly shared with
        other connections) without waiting; False if the outbox is closed or this dropped it."""
        if self.closed:
            return False
        frames = self._frames
        size = self._frame_bytes + len(frame)
        if len(frames) >= self.max_queue or size + self._buffered > self.max_bytes:
            self._drop_slow(size + self._buffered)
            return False
        frames.append(frame)
        self._frame_bytes = size
        self.stats.messages_offered += 1
        if len(frames) == 1 and not self._parked:
            # Perf (G6): everything offered in one loop step (the answers one journal batch made durable,
            # a burst of market events) leaves in one write(): see gateway/wsdirect.py.
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self._flush_frames)
        return True

    def backlog_bytes(self) -> int:
        """Direct mode: bytes offered and not yet taken by the kernel (queued + transport buffer)."""
        direct = self.direct
        return self._frame_bytes + (direct.buffered() if direct is not None and direct.usable() else 0)

    def _drop_slow(self, backlog: int) -> None:
        self.drop(f"slow consumer: {backlog:,} bytes / {len(self._frames)} messages waiting to be sent; "
                  f"reconnect and resync from a REST snapshot")

    def _flush_frames(self) -> None:
        frames = self._frames
        if self.closed or self._parked or not frames:
            return
        direct = self.direct
        if direct.ready():
            self._frames = []
            self._frame_bytes = 0
            try:
                direct.write(frames)
                self._buffered = buffered = direct.buffered()
            except Exception:      # the socket went away: the reader side notices and cleans up
                self.closed = True
                return
            self.stats.messages_sent += len(frames)
            if buffered > self.max_bytes:    # one burst larger than the whole allowance
                self._drop_slow(buffered)
        elif direct.usable():
            # Paused: the client reads slower than we write. Frames wait here (bounded in offer_frame)
            # and the writer task writes them when the transport resumes.
            self._buffered = direct.buffered()
            self._parked = True
            self._wake.set()
            if self._frame_bytes + self._buffered > self.max_bytes:
                self._drop_slow(self._frame_bytes + self._buffered)
        else:                      # closing or gone: the reader side notices and cleans up
            self.closed = True
            self._frames = []
            self._frame_bytes = 0

    async def _run_direct(self) -> None:
        wake, writable = self._wake, self.direct.writable
        try:
            while not self.closed:
                await wake.wait()
                wake.clear()
                if self._parked:
                    await writable.wait()     # set again by resume_writing or connection_lost
                    self._parked = False
                    self._flush_frames()
        except asyncio.CancelledError:
            pass

    def drop(self, reason: str, code: int = SLOW_CLIENT_CODE) -> None:
        """Stop sending, discard the queue and close the socket with ``code`` and ``reason``."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self.queue.clear()
        self._frames = []
        self._frame_bytes = 0
        self.stats.clients_dropped += 1
        if self.on_drop is not None:
            self.on_drop()
        if self._task is not None:
            self._task.cancel()      # it may be stuck in a send to the stalled client
        if self.direct is not None:
            self.direct.close(code, reason[:120], CLOSE_TIMEOUT_S)
            return
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
        self._frames = []
        self._frame_bytes = 0
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
        while ((self.queue or self._frames or self._busy or self._held is not None)
               and not self.closed):
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
