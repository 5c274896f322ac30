"""The in-memory journal: :class:`~exchange.journal.journal.FileJournal`'s interface without files."""
from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator

from ..commands import Command
from .codec import decode_batch
from .journal import _frame_batch
from .segments import FRAME_HEADER_SIZE, frame_payload, segment_header

__all__ = ["InMemoryJournal"]


class InMemoryJournal:
    """:class:`~exchange.journal.journal.FileJournal`'s interface without files, for the simulator and tests.

    Keeps the frames, byte-identical to a segment's, in one growing buffer (~40 bytes per order), so
    :meth:`to_bytes` lets a simulation check that a seed gives a byte-identical journal. Each batch's
    first seq and offset are indexed; :meth:`records` walks the frames from the batch that holds
    ``from_seq``. Everything appended is "durable": ``durable_seq == last_seq``.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._batch_seqs = array("Q")      # first seq of each batch
        self._batch_offsets = array("Q")   # where it starts in _buf
        self._last_seq = 0
        self.fsyncs = 0

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def durable_seq(self) -> int:
        return self._last_seq

    def append(self, command: Command) -> int:
        return self.append_batch((command,))

    def append_batch(self, commands: Iterable[Command]) -> int:
        """As :meth:`FileJournal.append_batch`, in memory. O(batch)."""
        parts: list = []
        if not isinstance(commands, (list, tuple)):
            commands = list(commands)
        last = _frame_batch(commands, self._last_seq, parts)
        if last > self._last_seq:
            self._batch_seqs.append(self._last_seq + 1)
            self._batch_offsets.append(len(self._buf))
            self._buf += b"".join(parts)
            self._last_seq = last
        return last

    def wait_durable(self, seq: int | None = None, timeout: float | None = None) -> bool:
        return True

    def flush(self) -> None:
        pass

    def sync_if_due(self) -> None:
        pass

    def close(self) -> None:
        pass

    def records(self, from_seq: int = 1, until_seq: int | None = None) -> Iterator[tuple[int, Command]]:
        """``(seq, command)`` for records ``from_seq..until_seq``. O(records read + one batch)."""
        stop = self._last_seq if until_seq is None else min(until_seq, self._last_seq)
        from_seq = max(from_seq, 1)
        if from_seq > stop:
            return
        i = bisect_right(self._batch_seqs, from_seq) - 1
        seq, offset, buf = self._batch_seqs[i], self._batch_offsets[i], self._buf
        while seq <= stop:
            payload = frame_payload(buf, offset)
            for command in decode_batch(payload):
                if from_seq <= seq <= stop:
                    yield seq, command
                seq += 1
            offset += FRAME_HEADER_SIZE + len(payload)

    def to_bytes(self) -> bytes:
        """The frames exactly as a segment file holds them after its header."""
        return bytes(self._buf)

    def segment_bytes(self) -> bytes:
        """A complete segment file (header + every frame) holding this journal."""
        return segment_header(1) + bytes(self._buf)

    def __enter__(self) -> InMemoryJournal:
        return self

    def __exit__(self, *exc) -> None:
        pass
