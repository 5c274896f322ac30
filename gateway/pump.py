"""The pump: the one task that owns the engine (DESIGN.md §1, §6).

Every change to the exchange goes through :meth:`Pump.submit`: the command joins the inbox; the pump
task takes everything waiting (group commit), stamps each command with the wall clock (non-decreasing
``ts_ns``), appends the batch to the journal in one write, waits until the journal says it is durable
under the configured fsync policy (``every_batch``: fsynced; ``interval_ms=N``: written, fsynced
within N ms), then applies each command to the engine, calls the listeners with its
events, and resolves the submitters' futures. Under ``every_batch`` the next batch is written while
the previous one's fsync runs (pipelined); batches are still applied only once durable, in order. A request is therefore answered only once its command is
durable, and listeners see commands in journal order.

Listeners run in the event-loop thread right after each command, before any other coroutine runs, so a
request handler that reads ``pump.engine`` and a listener's projection synchronously (no await between)
sees one consistent state. Listeners must not block or await (they ``put_nowait`` into queues).

Failure is fail-stop: if the journal cannot write or fsync, every waiting and later submitter gets a
-1001 error and the gateway must be restarted (recovery decides what reached the disk).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from exchange import Engine
from exchange.commands import COMMAND_TYPES, check_types
from exchange.liquidity.commands import LIQUIDITY_COMMAND_TYPES

from .errors import BinanceError
from .symbols import SymbolTable

__all__ = ["Pump", "Listener"]

log = logging.getLogger("bdax.gateway.pump")
Listener = Callable[[Sequence], None]
MAX_BATCH = 4096    # commands per journal batch; bounds one pass's latency
_new_tuple = tuple.__new__
_LIQUIDITY_TYPES = frozenset(LIQUIDITY_COMMAND_TYPES.values())
if any(cls._fields[0] != "ts_ns" for cls in (*COMMAND_TYPES.values(), *_LIQUIDITY_TYPES)):   # Pump._append
    raise ImportError("gateway.pump: every command must have ts_ns as its first field")


class Pump:
    """Inbox -> stamp -> journal (group commit) -> durable -> apply -> publish -> resolve.

    Args:
        symbols: the wire name table of the engine's instruments.
        clock: wall clock in ns (``time.time_ns``); tests inject a fake one.

    The engine and journal are attached by :meth:`start` (the app's lifespan recovers them first).
    ``engine`` may be read by anyone, synchronously, never across an await.
    """

    def __init__(self, symbols: SymbolTable, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.symbols = symbols
        self.clock = clock
        self.engine: Engine = None  # type: ignore[assignment]   # set by start()
        self.journal = None
        self.last_ts_ns = 0
        self._listeners: list[Listener] = []
        self._replay_listeners: list[Listener] = []
        self._inbox: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._failed: str | None = None
        self._sync_each_batch = False
        self._takes_liquidity = False      # the engine is a shared-liquidity hub (exchange.liquidity)
        self._pending: deque = deque()     # (last seq, batch, items) written, waiting to be durable
        self._waiter: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0        # counters for tests and benchmarks
        self.commands = 0

    # ------------------------------------------------------------------ listeners
    def add_listener(self, fn: Listener, *, replay: bool = False) -> None:
        """Call ``fn(events)`` after each applied command (see the module docstring). With ``replay``,
        ``fn`` also receives the events of the journal records replayed at start-up (projections such
        as order history and market data); without it, only live events (fan-out to clients)."""
        self._listeners.append(fn)
        if replay:
            self._replay_listeners.append(fn)

    def replay_listener(self, seq: int, command, events: list) -> None:
        """``on_record`` callback for :func:`exchange.journal.recover`: feeds replayed records to the
        replay listeners and keeps ``last_ts_ns`` (so stamps never go back in time across restarts)."""
        ts = command.ts_ns
        if ts > self.last_ts_ns:
            self.last_ts_ns = ts
        for fn in self._replay_listeners:
            fn(events)

    # ------------------------------------------------------------------ lifecycle
    def start(self, engine: Engine, journal) -> None:
        """Attach the recovered engine and the open journal and start the pump task."""
        self.engine, self.journal = engine, journal
        self._takes_liquidity = type(engine) is not Engine
        # Only ``every_batch`` promises durability before the answer; ``interval_ms=N`` acknowledges
        # before its next fsync (a power loss may take up to N ms of answered commands) and ``off`` never
        # fsyncs on its own (exchange.journal.FsyncPolicy).
        policy = getattr(journal, "policy", None)
        self._sync_each_batch = policy is not None and policy.mode == "every_batch"
        self._inbox = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="bdax-pump")

    async def stop(self) -> None:
        """Finish what is in the inbox, then stop the task (the caller closes the journal)."""
        if self._task is None:
            return
        await self._inbox.put(None)
        try:
            await self._task
        finally:
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ------------------------------------------------------------------ submitting
    async def submit(self, command) -> list:
        """Journal, apply and publish ``command`` (its ``ts_ns`` is replaced by the pump's stamp);
        return its events once it is durable.

        Raises:
            BinanceError: -1001 if the pump has failed or is not running.
            TypeError: a mistyped command (a gateway bug); nothing is journaled.
        """
        fut = self._enqueue((command,))
        return (await fut)[0]

    def submit_nowait(self, command) -> asyncio.Future:
        """As :meth:`submit` without a coroutine: a future of ``[events]`` (a list of one), resolved once
        durable and applied; raises as :meth:`submit` does. Perf (G6): the WebSocket API answers from the
        future's callback instead of a task per request."""
        return self._enqueue((command,))

    async def submit_many(self, commands: Sequence) -> list[list]:
        """As :meth:`submit` for several commands, journaled in one batch, applied in order."""
        if not commands:
            return []
        return await self._enqueue(tuple(commands))

    def _enqueue(self, commands: tuple) -> asyncio.Future:
        if self._failed:
            raise BinanceError(-1001, f"Internal error; the journal failed ({self._failed}). Restart the "
                                      f"server.", 503)
        if self._inbox is None or not self.running:
            raise BinanceError(-1001, "Internal error; the exchange is not running.", 503)
        for c in commands:
            # A mistyped command must never reach the journal. Liquidity commands (a live market's partner
            # links, when the engine is a shared-liquidity hub) are built by the simulator's own shells and
            # checked by the hub; an engine that is not a hub refuses them in handle() like any unknown type.
            if type(c) not in _LIQUIDITY_TYPES:
                check_types(c)
            elif not self._takes_liquidity:
                raise TypeError(f"{type(c).__name__} needs a shared-liquidity hub; the engine is a plain Engine")
        fut = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((commands, fut))
        return fut

    # ------------------------------------------------------------------ the task
    # Perf (G4): the journal write of batch k+1 no longer waits for batch k's fsync. A batch is written as
    # soon as the pump takes it and then waits in ``_pending`` (in journal order) for the syncer thread;
    # one waiter task applies every batch the last fsync covered. So the syncer fsyncs back to back under
    # load instead of idling while the loop applies and answers, and a batch waits for at most the fsync
    # running when it was written plus its own. Apply order and "durable before applied, applied before
    # answered" are unchanged.
    async def _run(self) -> None:
        inbox = self._inbox
        stopping = False
        try:
            while not stopping:
                item = await inbox.get()
                items = []
                n = 0
                while True:
                    if item is None:
                        stopping = True
                    else:
                        items.append(item)
                        n += len(item[0])
                    if n >= MAX_BATCH or inbox.empty():
                        break
                    item = inbox.get_nowait()
                if items:
                    self._append(items)
            while self._waiter is not None:     # the last batches' fsync
                await asyncio.shield(self._waiter)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None

    def _append(self, items: list) -> None:
        # Stamp: wall clock, never earlier than the previous command's stamp.
        now = self.clock()
        ts = now if now > self.last_ts_ns else self.last_ts_ns
        self.last_ts_ns = ts
        batch = []
        stamp = (ts,)
        for commands, _fut in items:
            for c in commands:
                # Perf (G6): the same as c._replace(ts_ns=ts) (ts_ns is every command's first field, checked
                # at import below) at a fifth of its cost (~0.5 us of ~50 us per request).
                batch.append(_new_tuple(type(c), stamp + c[1:]))
        journal = self.journal
        try:
            if self._failed:
                raise RuntimeError(self._failed)
            last = journal.append_batch(batch)
        except Exception as exc:   # JournalError, CodecError, OSError: fail-stop
            self._fail(exc, [items])
            return
        if self._pending or (self._sync_each_batch and journal.durable_seq < last):
            # Not durable yet (or an earlier batch is not): the syncer thread fsyncs; the waiter applies it.
            self._pending.append((last, batch, items))
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_task(self._wait_durable(), name="bdax-durable")
        else:
            self._apply(batch, items)

    async def _wait_durable(self) -> None:
        """Apply pending batches, oldest first, as the syncer makes them durable; fail them all if it
        fails."""
        journal, pending = self.journal, self._pending
        loop = asyncio.get_running_loop()
        try:
            while pending:
                first = pending[0][0]
                if journal.durable_seq < first:
                    if self._executor is None:
                        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bdax-durable")
                    # Off the event loop: requests keep arriving and being written meanwhile.
                    await loop.run_in_executor(self._executor, journal.wait_durable, first)
                durable = journal.durable_seq
                while pending and pending[0][0] <= durable:
                    _last, batch, items = pending.popleft()
                    self._apply(batch, items)
        except Exception as exc:   # JournalError from the syncer's fsync: fail-stop
            waiting = [items for _l, _b, items in pending]
            pending.clear()
            self._fail(exc, waiting)
        finally:
            self._waiter = None

    def _fail(self, exc: Exception, batches: list) -> None:
        self._failed = self._failed or f"{type(exc).__name__}: {exc}"
        log.error("journal failed, refusing all further commands: %s", self._failed)
        err = BinanceError(-1001, "Internal error; the journal failed. Restart the server.", 503)
        for items in batches:
            for _c, fut in items:
                if not fut.done():
                    fut.set_exception(err)

    def _apply(self, batch: list, items: list) -> None:
        handle = self.engine.handle
        listeners = self._listeners
        i = 0
        for commands, fut in items:
            results = []
            for _ in commands:
                events = handle(batch[i])
                i += 1
                for fn in listeners:
                    try:
                        fn(events)
                    except Exception:   # a projection bug must not stop the exchange
                        log.exception("listener %r failed", fn)
                results.append(events)
            if not fut.done():      # the submitter may have gone away (cancelled)
                fut.set_result(results)
        self.batches += 1
        self.commands += len(batch)
