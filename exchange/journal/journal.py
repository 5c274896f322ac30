"""The append-only command journal on files: :class:`FileJournal`, group commit and fsync policies.

:class:`FileJournal` and :class:`~exchange.journal.memory.InMemoryJournal` share one interface, so the
gateway and the simulator are written once::

    last = journal.append_batch(commands)  # journal before effect (DESIGN.md §1) ...
    for command in commands:
        engine.handle(command)             # ... then apply
    journal.wait_durable(last)             # ... and acknowledge once the batch is durable
    journal.records(from_seq)              # (seq, command) pairs, for replay

Group commit: ``append_batch`` frames the whole batch (one frame per ``FRAME_COMMANDS`` commands, see
``segments``) into one buffer and hands it to the kernel in one ``write()``; from then on the records
survive a crash of the process (they are in the page cache). The :class:`FsyncPolicy` says when they are
made durable against a power loss, with one ``fdatasync()``:

- ``every_batch``: every batch is fsynced before it is acknowledged;
- ``interval_ms=N``: an fsync at most every N ms (a power loss can take up to N ms of acknowledged
  commands); ``flush()`` and ``close()`` always fsync;
- ``off``: only ``flush()`` and ``close()`` (simulations).

By default the fsync runs inside ``append_batch``, so when it returns the batch is durable. With
``background=True`` a syncer thread runs the fsyncs while the engine applies the next commands
(``os.fdatasync`` releases the GIL), covering every batch written while the previous fsync ran with the
next one; ``durable_seq`` and ``wait_durable()`` tell the shell what it may acknowledge.

Measured with ``bdax bench journal --runs 5`` (ec workload, batches of 512, compiled engine at ~970k cmd/s
with the journal off, 2-core VM, ext4): fsync off -9%; fsync per batch -37% inline, -24% in the
background; at most every 1 ms -29% inline, -19% in the background.
"""
from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..commands import Command
from .codec import CodecError, encode_batch
from .reader import JournalReader
from .segments import (FRAME_COMMANDS, MAX_FRAME_BYTES, META_NAME, DirLock, JournalError, _crc_pack,
                       _frame_pack, fsync_dir, list_segments, segment_header, segment_name)

__all__ = ["FsyncPolicy", "FileJournal", "DEFAULT_SEGMENT_BYTES"]

DEFAULT_SEGMENT_BYTES = 64 << 20   # ~1.2M SubmitOrder records; rolling is rare and pruning is per segment
_crc32 = zlib.crc32


@dataclass(frozen=True)
class FsyncPolicy:
    """When the journal fsyncs: ``every_batch``, ``interval_ms=N`` (when the last fsync is N ms old or
    older; ``flush()`` and ``close()`` always do) or ``off`` (only ``flush()`` and ``close()``)."""

    mode: str = "every_batch"
    interval_ms: float = 0.0

    @classmethod
    def parse(cls, text: str | FsyncPolicy) -> FsyncPolicy:
        """``"every_batch"``, ``"interval_ms=5"`` or ``"off"``."""
        if isinstance(text, FsyncPolicy):
            return text
        if text in ("every_batch", "off"):
            return cls(text)
        if text.startswith("interval_ms="):
            try:
                ms = float(text.split("=", 1)[1])
            except ValueError:
                ms = -1.0
            if ms >= 0:
                return cls("interval", ms)
        raise ValueError(f"fsync policy {text!r}: use every_batch, interval_ms=N (N >= 0) or off")

    def __str__(self) -> str:
        return f"interval_ms={self.interval_ms:g}" if self.mode == "interval" else self.mode


def _frame_batch(commands: Sequence[Command], seq: int, parts: list) -> int:
    """Append the frames of ``commands`` (records ``seq + 1 ...``, ``FRAME_COMMANDS`` per frame) to
    ``parts``; return the last seq. The hot path of journaling: ~95 ns per command, most of it the one
    msgspec call per frame (``segments.frame`` inlined).

    Raises:
        CodecError: a command cannot be encoded, or a frame would exceed ``MAX_FRAME_BYTES``.
    """
    append, pack, crc_pack, crc32 = parts.append, _frame_pack, _crc_pack, _crc32
    for start in range(0, len(commands), FRAME_COMMANDS):
        chunk = commands[start:start + FRAME_COMMANDS]
        payload = encode_batch(chunk)
        size = len(payload)
        if size > MAX_FRAME_BYTES:   # never write a frame that reading would refuse
            raise CodecError(f"{len(chunk)} commands encode to {size:,} bytes, over the "
                             f"{MAX_FRAME_BYTES:,}-byte frame limit")
        head = pack(size, seq + 1, len(chunk), crc32(payload))
        append(head)
        append(crc_pack(crc32(head)))
        append(payload)
        seq += len(chunk)
    return seq


class FileJournal:
    """The journal of a directory created by ``recovery.create_journal_dir`` (or ``recover``).

    Opening scans the newest segment and refuses one with a torn tail: run ``recover()`` first, which
    truncates it and reports how much it dropped. Holds the directory's lock until :meth:`close`.

    Args:
        data_dir: the journal directory.
        fsync: an :class:`FsyncPolicy` or its text (``every_batch``, ``interval_ms=N``, ``off``).
        segment_bytes: start a new segment file once the current one is at least this big.
        background: run the policy's fsyncs on a syncer thread (see the module docstring).
    """

    def __init__(self, data_dir: str | Path, *, fsync: str | FsyncPolicy = "every_batch",
                 segment_bytes: int = DEFAULT_SEGMENT_BYTES, background: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.policy = FsyncPolicy.parse(fsync)
        self.segment_bytes = segment_bytes
        if not (self.data_dir / META_NAME).is_file():
            raise JournalError(f"{self.data_dir} is not a journal directory (no {META_NAME} file); create it "
                               f"with exchange.journal.recover(DIR, make_engine)")
        self._lock = DirLock(self.data_dir)
        try:
            segments = list_segments(self.data_dir)
            reader = JournalReader(self.data_dir).scan(segments[-1][0] if segments else 1)
            if reader.torn is not None:
                raise JournalError(f"{reader.torn.path.name} ends with {reader.torn.torn_bytes} torn bytes "
                                   f"({reader.torn.torn_reason}); run recover() on {self.data_dir} first")
        except BaseException:
            self._lock.release()
            raise
        self._last_seq = self._durable_seq = reader.last_seq
        self._fd = -1
        self._path: Path | None = None
        self._size = 0
        if reader.segments and reader.segments[-1].size < segment_bytes:
            info = reader.segments[-1]
            self._path, self._size = info.path, info.size
            self._fd = os.open(info.path, os.O_WRONLY | os.O_APPEND)
        self._last_sync_ns = time.monotonic_ns()
        self._interval_ns = int(self.policy.interval_ms * 1_000_000)
        self._failed: str | None = None
        self.fsyncs = 0              # count, for benchmarks and tests
        # Shared with the syncer thread: _fd, _last_seq, _durable_seq, _failed, fsyncs, _closing.
        self._cond = threading.Condition()
        self._closing = False
        self._syncer: threading.Thread | None = None
        if background and self.policy.mode != "off":
            self._syncer = threading.Thread(target=self._sync_loop, name=f"journal-sync:{self.data_dir}",
                                            daemon=True)
            self._syncer.start()

    @property
    def last_seq(self) -> int:
        """Seq of the last appended record (0 if none)."""
        return self._last_seq

    @property
    def durable_seq(self) -> int:
        """Every record up to this seq has been fsynced."""
        return self._durable_seq

    def append(self, command: Command) -> int:
        """Append one command; returns its record seq. Same as ``append_batch([command])``."""
        return self.append_batch((command,))

    def append_batch(self, commands: Iterable[Command]) -> int:
        """Append ``commands`` as records ``last_seq + 1 ...``: one write(), at most one fsync. O(batch).

        Returns:
            the seq of the batch's last record (``last_seq`` unchanged for an empty batch). Inline (not
            ``background``) under ``every_batch``, the batch is durable when this returns.

        Raises:
            CodecError: a command cannot be encoded (nothing of the batch was written).
            JournalError: a write or fsync failed; the journal refuses every later append (fail-stop: the
                shell must stop, and the next start's recovery decides what reached the disk).
        """
        if self._failed:
            raise JournalError(f"journal {self.data_dir} failed earlier ({self._failed}); restart to recover")
        parts: list = []
        first = self._last_seq + 1
        if not isinstance(commands, (list, tuple)):
            commands = list(commands)
        last = _frame_batch(commands, self._last_seq, parts)
        if last == self._last_seq:
            return last
        try:
            if self._fd < 0 or self._size >= self.segment_bytes:
                self._roll(first)
                parts.insert(0, segment_header(first))
            buf = b"".join(parts)
            view, written = memoryview(buf), 0
            while written < len(buf):   # a regular file takes it in one go unless the disk is full
                written += os.write(self._fd, view[written:])
            self._size += written
        except OSError as exc:
            self._fail(f"writing {self._path} failed: {exc}")
            raise JournalError(f"journal {self.data_dir}: {self._failed}") from exc
        if self._syncer is not None:
            with self._cond:
                self._last_seq = last
                self._cond.notify()
        else:
            self._last_seq = last
            mode = self.policy.mode
            if mode == "every_batch" or (
                    mode == "interval" and time.monotonic_ns() - self._last_sync_ns >= self._interval_ns):
                self._sync()
        return last

    def _roll(self, first_seq: int) -> None:
        """Close the current segment and create ``journal-<first_seq>.seg``; its header goes out with the
        batch in the same write, so a crash leaves at worst a torn or empty file, which recovery removes."""
        if self._fd >= 0:
            self._sync()             # the whole old segment is durable before a record goes elsewhere
            with self._cond:         # the syncer dup()s the fd under the lock: closing here is safe
                os.close(self._fd)
                self._fd = -1
        path = self.data_dir / segment_name(first_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        with self._cond:
            self._fd, self._path, self._size = fd, path, 0
        if self.policy.mode != "off":
            fsync_dir(self.data_dir)   # the new file's directory entry survives a power loss

    def _sync(self) -> None:
        """fdatasync now, on this thread, if anything is not durable yet."""
        with self._cond:
            target, fd = self._last_seq, self._fd
            if target <= self._durable_seq or fd < 0:
                return
            fd = os.dup(fd)
        try:
            os.fdatasync(fd)
        except OSError as exc:
            # After a failed fsync the page cache may have dropped the data (Linux): never retry.
            self._fail(f"fsync of {self._path} failed: {exc}")
            raise JournalError(f"journal {self.data_dir}: {self._failed}") from exc
        finally:
            os.close(fd)
        self._synced(target)

    def _synced(self, target: int) -> None:
        with self._cond:
            if target > self._durable_seq:
                self._durable_seq = target
            self._last_sync_ns = time.monotonic_ns()
            self.fsyncs += 1
            self._cond.notify_all()

    def _sync_loop(self) -> None:
        """The syncer thread: fsync whatever was written since the last fsync, by the policy."""
        cond = self._cond
        while True:
            with cond:
                while True:
                    if self._closing or self._failed:
                        return
                    if self._last_seq > self._durable_seq and self._fd >= 0:
                        due = self._last_sync_ns + self._interval_ns - time.monotonic_ns()
                        if self.policy.mode == "every_batch" or due <= 0:
                            break
                        cond.wait(due / 1e9)
                    else:
                        cond.wait()
                target, fd = self._last_seq, os.dup(self._fd)
            try:
                os.fdatasync(fd)
            except OSError as exc:
                self._fail(f"fsync of {self._path} failed: {exc}")
                return
            finally:
                os.close(fd)
            self._synced(target)

    def _fail(self, why: str) -> None:
        with self._cond:
            self._failed = why
            self._cond.notify_all()

    def wait_durable(self, seq: int | None = None, timeout: float | None = None) -> bool:
        """Block until records up to ``seq`` (default: all appended) are durable. Returns False on timeout.
        Inline, this fsyncs itself if needed; in the background, it waits for the syncer.

        Raises:
            JournalError: an fsync failed.
        """
        seq = self._last_seq if seq is None else seq
        if self._syncer is None or self.policy.mode == "off":
            if seq > self._durable_seq:
                self._sync()
            return True
        with self._cond:
            ok = self._cond.wait_for(lambda: self._durable_seq >= seq or self._failed, timeout)
        if self._failed:
            raise JournalError(f"journal {self.data_dir}: {self._failed}")
        return bool(ok)

    def sync_if_due(self) -> None:
        """Inline under ``interval_ms``: fsync if records are waiting and the last fsync is old enough. A
        shell calls this when idle so the last batch before a quiet spell does not wait for the next one.
        (The background syncer does this by itself.)"""
        if self._syncer is None and time.monotonic_ns() - self._last_sync_ns >= self._interval_ns:
            self._sync()

    def flush(self) -> None:
        """Make every appended record durable now (fsync if anything is waiting), whatever the policy."""
        if self._failed:
            raise JournalError(f"journal {self.data_dir}: {self._failed}")
        self._sync()

    def close(self) -> None:
        """Flush, stop the syncer, close the segment and release the directory lock. Idempotent."""
        try:
            if self._fd >= 0 and not self._failed:
                self.flush()
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            if self._syncer is not None:
                self._syncer.join()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            self._lock.release()

    def records(self, from_seq: int = 1, until_seq: int | None = None) -> Iterator[tuple[int, Command]]:
        """``(seq, command)`` from the files (everything appended so far, durable or not)."""
        return JournalReader(self.data_dir).commands(from_seq, until_seq)

    def take_snapshot(self, engine, keep: int | None = None) -> Path:
        """Flush, then write ``engine``'s snapshot as of :attr:`last_seq` (the engine must have applied
        every appended record) and, with ``keep``, prune to the newest ``keep`` snapshots."""
        from .snapshots import prune, write_snapshot
        self.flush()
        path = write_snapshot(self.data_dir, engine, self._last_seq)
        if keep is not None:
            prune(self.data_dir, keep)
        return path

    def __enter__(self) -> FileJournal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
