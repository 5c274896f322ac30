"""Reading a journal directory's records back, checked: :class:`JournalReader`."""
from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

from ..commands import Command
from .codec import CodecError, decode_batch
from .segments import (JournalError, SegmentInfo, SequenceGap, fsync_dir, frame_payload, list_segments,
                       scan_segment)

__all__ = ["JournalReader"]


class JournalReader:
    """Reads and checks the segments of a journal directory.

    :meth:`scan` checks structure (headers, CRCs, seq continuity) without decoding; :meth:`frames`
    yields each frame's ``(first_seq, count, payload)`` and :meth:`commands` each ``(seq, command)``,
    checking each segment as it reads it. A torn tail on the newest segment ends the records; with
    ``repair=True`` :meth:`scan` also truncates it (deleting the file if not even its header is whole).
    Never skips anything else.

    After :meth:`scan`: ``first_seq`` (oldest record on disk), ``last_seq`` (0 if none), ``segments``
    (the SegmentInfo of each segment read) and ``torn`` (the newest segment's SegmentInfo if it had a torn
    tail, else None).
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.segments: list[SegmentInfo] = []
        self.torn: SegmentInfo | None = None
        self.first_seq = 1
        self.last_seq = 0

    def _read(self, from_seq: int, partial: bool = False) -> Iterator[tuple[SegmentInfo, bytes]]:
        """Each segment that can hold records >= from_seq, read and checked. With ``partial``, a damaged
        segment first yields its records before the damage, then raises."""
        found = list_segments(self.data_dir)
        self.first_seq = found[0][0] if found else 1
        expect = None
        for i, (_first, path) in enumerate(found):
            last = i + 1 == len(found)
            if not last and found[i + 1][0] <= from_seq:
                continue   # wholly before from_seq
            data = path.read_bytes()
            try:
                info = scan_segment(path, data, last=last, expect_first=expect)
            except JournalError as exc:
                if partial and getattr(exc, "partial", None) is not None:
                    yield exc.partial, data   # the good records before the damage, then the error
                raise
            expect = info.last_seq + 1
            yield info, data

    def scan(self, from_seq: int = 1, *, repair: bool = False) -> JournalReader:
        """Check every segment that holds records >= ``from_seq`` (all of them by default).

        Raises:
            CorruptJournal, SequenceGap: damage anywhere but the newest segment's tail.
        """
        self.segments, self.torn, self.last_seq = [], None, 0
        for info, _data in self._read(from_seq):
            self.segments.append(info)
            self.last_seq = info.last_seq
            if info.torn_reason is not None:   # an empty segment file too (0 bytes to drop)
                self.torn = info
        if not self.segments:
            self.first_seq, self.last_seq = 1, 0
        if repair and self.torn is not None:
            self._truncate(self.torn)
        return self

    def _truncate(self, info: SegmentInfo) -> None:
        if info.valid_end == 0:
            info.path.unlink()
        else:
            fd = os.open(info.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, info.valid_end)
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(self.data_dir)

    def frames(self, from_seq: int = 1) -> Iterator[tuple[int, int, memoryview | bytes]]:
        """``(first_seq, count, payload)`` of each frame holding records >= ``from_seq``, in order. Damage
        raises only after the good frames before it were yielded (so ``dump`` shows them; ``recover``
        scans first).

        Raises:
            SequenceGap: the oldest segment starts after ``from_seq`` (it was pruned or lost).
            CorruptJournal: as :meth:`scan`.
        """
        first = True
        for info, data in self._read(from_seq, partial=True):
            if first and info.first_seq > from_seq and info.count:
                raise SequenceGap(
                    f"{self.data_dir}: record {from_seq} is not in the journal; its oldest segment "
                    f"{info.path.name} starts at {info.first_seq} (older segments were pruned or lost)")
            first = False
            seqs, offsets = info.seqs, info.offsets
            start = max(bisect_right(seqs, from_seq) - 1, 0)
            for i in range(start, len(seqs)):
                end_seq = seqs[i + 1] if i + 1 < len(seqs) else info.next_seq
                yield seqs[i], end_seq - seqs[i], frame_payload(data, offsets[i])

    def commands(self, from_seq: int = 1, until_seq: int | None = None) -> Iterator[tuple[int, Command]]:
        """``(seq, command)`` for records ``from_seq..until_seq``; raises as :meth:`frames`, and
        JournalError naming the records if a payload (whose CRC holds) does not decode."""
        for first, count, payload in self.frames(from_seq):
            try:
                commands = decode_batch(payload)
                if len(commands) != count:
                    raise CodecError(f"{len(commands)} commands where the frame header says {count}")
            except CodecError as exc:
                raise JournalError(
                    f"{self.data_dir}: the frame of records {first}..{first + count - 1} passes its CRC but "
                    f"does not decode ({exc}); it was written by a different command schema. Use the bdax "
                    f"version that wrote it.") from None
            seq = first
            for command in commands:
                if until_seq is not None and seq > until_seq:
                    return
                if seq >= from_seq:
                    yield seq, command
                seq += 1
