"""The on-disk format: the journal directory, record framing, segment files, and the checks on them.

A journal directory holds ``meta`` (the engine as created, in the snapshot format of ``snapshots.py``),
``snapshot-<seq>.snap`` files, ``LOCK`` (flock'ed by its one writer) and segment files
``journal-<first record seq, 12 digits>.seg``. Each segment file is::

    segment header (20 bytes)  "BDAXJNL2" | first_seq u64 | crc32 of the previous 16 bytes u32
    frame*                     length u32 | first_seq u64 | count u32 | crc32(payload) u32
                               | crc32 of these 20 bytes u32
                               | payload (``length`` bytes: ``count`` commands, ``codec.encode_batch``)

All integers little-endian. A frame is one group commit (an ``append_batch``, split every
``FRAME_COMMANDS``): it holds records ``first_seq .. first_seq + count - 1``. Record seqs are the journal's
own (not the engine's event seq): 1-based, gap-free across frames and segments, and a segment's name, its
header and its first frame agree on its first seq.

Why frames and not one frame per command: framing each command (encode, two CRCs, two header packs) costs
~340 ns per command in CPython, framing a batch ~95 ns (one msgspec call for the batch; measured on the
ec workload); against the compiled engine's ~1 us per command that is the difference between losing ~26%
and ~10% of throughput to the journal. A frame is also atomic: a crash never leaves half a batch.

Why two CRCs per frame: the header CRC protects ``length``. With one CRC over header and payload, a
flipped bit in the length of a frame in the middle of the last segment could point past the end of the
file and look exactly like a torn tail, and recovery would truncate acknowledged records. With it, a torn
tail is only (a) a header cut short, (b) a header whose CRC holds and whose payload runs past the end of
the file, or (c) a tail that is all zero bytes (a filesystem that extended the file before writing it);
anything else is corruption.
"""
from __future__ import annotations

import fcntl
import os
import re
import struct
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "META_NAME", "LOCK_NAME", "DirLock", "fsync_dir", "SEGMENT_MAGIC", "SEGMENT_HEADER_SIZE",
    "FRAME_HEADER_SIZE", "MAX_FRAME_BYTES", "FRAME_COMMANDS", "JournalError", "CorruptJournal",
    "SequenceGap", "SegmentInfo", "segment_name", "list_segments", "segment_header", "frame",
    "scan_segment", "frame_payload",
]

META_NAME = "meta"   # the engine as created (a snapshot at record 0): see snapshots.py
LOCK_NAME = "LOCK"   # flock'ed by the one writer
SEGMENT_MAGIC = b"BDAXJNL2"
_SEG_HEAD = struct.Struct("<8sQ")        # magic, first_seq
_FRAME_HEAD = struct.Struct("<IQII")     # length, first_seq, count, crc32(payload)
_CRC = struct.Struct("<I")
SEGMENT_HEADER_SIZE = _SEG_HEAD.size + 4     # 20
FRAME_HEADER_SIZE = _FRAME_HEAD.size + 4     # 24
FRAME_COMMANDS = 4096        # commands per frame at most: an append_batch of more writes several frames
MAX_FRAME_BYTES = 64 << 20   # a frame's payload limit (4096 commands of ~40 bytes are ~160 KB)
_SEGMENT_RE = re.compile(r"^journal-(\d{12})\.seg$")

_crc32 = zlib.crc32
_frame_pack = _FRAME_HEAD.pack
_crc_pack = _CRC.pack
_frame_unpack_from = _FRAME_HEAD.unpack_from
_crc_unpack_from = _CRC.unpack_from


class JournalError(Exception):
    """A journal directory that cannot be used as it is; the message says what to do."""


class CorruptJournal(JournalError):
    """Bytes that fail their checks somewhere other than the torn tail: refused, never skipped."""

    def __init__(self, path: Path | str, offset: int, reason: str, hint: str = "") -> None:
        self.path, self.offset, self.reason = Path(path), offset, reason
        hint = hint or (
            "Records after this point cannot be trusted, so nothing replays past it. Restore the directory "
            "from a backup or replica; `bdax journal dump DIR` shows the records before the damage.")
        super().__init__(f"{self.path.name} at byte {offset}: {reason}. {hint}")


class SequenceGap(JournalError):
    """Record seqs that do not follow on (a missing or misnamed segment, or a misplaced record)."""


class DirLock:
    """An exclusive ``flock`` on ``DIR/LOCK``: one writer per journal directory. The kernel drops it when
    the process dies, so a crash never leaves a stale lock."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise JournalError(f"{data_dir} is in use by another process (it holds {LOCK_NAME}); stop "
                               f"that process first, or use the read-only commands (verify, replay, dump)"
                               ) from None

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)   # closing drops the flock
            self._fd = -1


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a created, renamed or deleted file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:012d}.seg"


def list_segments(data_dir: Path) -> list[tuple[int, Path]]:
    """``(first_seq, path)`` of every segment file in ``data_dir``, by first seq."""
    found = []
    for path in data_dir.iterdir():
        m = _SEGMENT_RE.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    found.sort()
    return found


def segment_header(first_seq: int) -> bytes:
    head = _SEG_HEAD.pack(SEGMENT_MAGIC, first_seq)
    return head + _crc_pack(_crc32(head))


def frame(first_seq: int, count: int, payload: bytes) -> bytes:
    """One frame: header + ``payload`` (``count`` commands from ``codec.encode_batch``)."""
    head = _frame_pack(len(payload), first_seq, count, _crc32(payload))
    return head + _crc_pack(_crc32(head)) + payload


@dataclass
class SegmentInfo:
    """What :func:`scan_segment` found in one segment file.

    ``offsets[i]`` is where frame ``i`` starts and ``seqs[i]`` its first record seq; the segment's records
    are ``first_seq .. next_seq - 1``. ``valid_end`` is the end of the last good frame; bytes past it
    (``torn_bytes``) are a torn tail, described by ``torn_reason``.
    """

    path: Path
    first_seq: int
    next_seq: int
    offsets: array
    seqs: array
    valid_end: int
    size: int
    torn_reason: str | None = None

    @property
    def count(self) -> int:
        """Records in the segment."""
        return self.next_seq - self.first_seq

    @property
    def last_seq(self) -> int:
        """Seq of the last record (``first_seq - 1`` for a segment with none)."""
        return self.next_seq - 1

    @property
    def torn_bytes(self) -> int:
        return self.size - self.valid_end


def _all_zero(data: bytes, start: int) -> bool:
    return data.count(0, start) == len(data) - start


def _damaged(info: SegmentInfo, offset: int, seq: int, exc: JournalError) -> JournalError:
    """Attach what was good before the damage (``exc.partial``), so ``dump`` can still show it."""
    info.valid_end, info.next_seq = offset, seq
    exc.partial = info  # type: ignore[attr-defined]
    return exc


def scan_segment(path: Path, data: bytes, *, last: bool, expect_first: int | None = None) -> SegmentInfo:
    """Check every header and CRC of one segment's bytes. O(len(data)).

    Args:
        path: the file the bytes came from (named in errors; its name gives the expected first seq).
        data: the file's contents.
        last: True for the journal's newest segment, the only one allowed a torn tail.
        expect_first: the first seq this segment must start at (the previous segment's last + 1).

    Returns:
        SegmentInfo; ``torn_reason`` is set only if ``last`` (a torn tail, possibly of 0 bytes: a segment
        file created by a crashed writer before it wrote anything, which recovery removes).

    Raises:
        CorruptJournal: a bad header or CRC, or a cut-short frame that is not at the journal's end.
        SequenceGap: the segment does not start at ``expect_first`` or a frame's first seq skips.
    """
    m = _SEGMENT_RE.match(path.name)
    name_seq = int(m.group(1)) if m else -1
    size = len(data)
    if expect_first is not None and name_seq != expect_first:
        what = (f"records {expect_first}..{name_seq - 1} are missing (a segment file was deleted or moved)"
                if name_seq > expect_first else f"it overlaps the previous segment, which ends at "
                f"{expect_first - 1}")
        raise SequenceGap(f"{path.name} should start at record {expect_first}, but {what}. Put the missing "
                          f"segment back from a backup; a journal with a hole cannot be replayed.")
    info = SegmentInfo(path, name_seq, name_seq, array("Q"), array("Q"), SEGMENT_HEADER_SIZE, size)
    if size < SEGMENT_HEADER_SIZE or (last and _all_zero(data, 0)):
        if not last:
            raise CorruptJournal(path, 0, f"file is {size} bytes, shorter than a segment header")
        info.valid_end, info.torn_reason = 0, "segment header missing or cut short (crash while creating it)"
        return info
    magic, first_seq = _SEG_HEAD.unpack_from(data, 0)
    (crc,) = _crc_unpack_from(data, _SEG_HEAD.size)
    if magic != SEGMENT_MAGIC or crc != _crc32(data[:_SEG_HEAD.size]):
        raise CorruptJournal(path, 0, "bad segment header (magic or CRC)",
                             "This is not a bdax journal segment (of this format version) or its first bytes "
                             "are damaged.")
    if first_seq != name_seq:
        raise CorruptJournal(path, 0, f"header says first record {first_seq}, the file name {name_seq}",
                             "Rename the file to match its header, or restore it from a backup.")
    offsets, seqs = info.offsets, info.seqs
    offset, seq, view = SEGMENT_HEADER_SIZE, first_seq, memoryview(data)
    head_size = _FRAME_HEAD.size
    while offset < size:
        if size - offset < FRAME_HEADER_SIZE:
            reason = f"frame header cut short ({size - offset} of {FRAME_HEADER_SIZE} bytes)"
            break
        length, frame_seq, count, payload_crc = _frame_unpack_from(data, offset)
        (head_crc,) = _crc_unpack_from(data, offset + head_size)
        if head_crc != _crc32(view[offset:offset + head_size]):
            if last and _all_zero(data, offset):
                reason = "zero-filled tail"
                break
            raise _damaged(info, offset, seq, CorruptJournal(
                path, offset, f"frame header CRC mismatch (record {seq} expected next)"))
        if frame_seq != seq:
            raise _damaged(info, offset, seq, SequenceGap(
                f"{path.name} at byte {offset}: a frame starts at record {frame_seq} where {seq} was "
                f"expected. The segment was written out of order; restore it from a backup."))
        if length > MAX_FRAME_BYTES or count < 1:
            raise _damaged(info, offset, seq, CorruptJournal(
                path, offset, f"frame of records from {seq} claims {count} records in {length} bytes"))
        end = offset + FRAME_HEADER_SIZE + length
        if end > size:
            reason = (f"frame of records {seq}..{seq + count - 1} cut short ({size - offset} of "
                      f"{end - offset} bytes)")
            break
        if payload_crc != _crc32(view[offset + FRAME_HEADER_SIZE:end]):
            raise _damaged(info, offset, seq, CorruptJournal(
                path, offset, f"frame of records {seq}..{seq + count - 1}: payload CRC mismatch"))
        offsets.append(offset)
        seqs.append(seq)
        offset, seq = end, seq + count
    else:
        info.valid_end, info.next_seq = offset, seq
        return info
    info.next_seq = seq
    if not last:
        raise _damaged(info, offset, seq, CorruptJournal(
            path, offset, reason + " in a segment that is not the newest",
            "Only the newest segment can end mid-frame after a crash; restore this one from a backup."))
    info.valid_end, info.torn_reason = offset, reason
    return info


def frame_payload(data: bytes | memoryview, offset: int) -> memoryview | bytes:
    """The payload of the frame starting at ``offset`` (already checked by :func:`scan_segment`)."""
    (length,) = _crc_unpack_from(data, offset)
    start = offset + FRAME_HEADER_SIZE
    return data[start:start + length]
