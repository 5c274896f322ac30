"""The on-disk format: the journal directory, record framing, segment files, and the checks on them.

A journal directory holds ``meta`` (the engine as created, in the snapshot format of ``snapshots.py``),
``snapshot-<seq>.snap`` files, ``LOCK`` (flock'ed by its one writer) and segment files
``journal-<first record seq, 12 digits>.seg``. Each segment file is::

    segment header (20 bytes)  "BDAXJNL1" | first_seq u64 | crc32 of the previous 16 bytes u32
    record*                    length u32 | seq u64 | crc32(payload) u32 | crc32 of these 16 bytes u32
                               | payload (``length`` bytes: a command encoded by ``codec``)

All integers little-endian. Record seqs are the journal's own (not the engine's event seq): 1-based,
gap-free across segments, and a segment's name, its header and its first record agree on its first seq.

Why two CRCs per record: the header CRC protects ``length``. With one CRC over header and payload, a
flipped bit in the length of a record in the middle of the last segment would point past the end of the
file and look exactly like a torn tail, and recovery would truncate acknowledged records. With it, a torn
tail is only (a) a header cut short, (b) a header whose CRC holds and whose payload runs past the end of
the file, or (c) a tail that is all zero bytes (a filesystem that extended the file before writing it);
anything else is corruption. (Measured on the dev VM: framing a record costs ~255 ns with both CRCs,
~245 ns with one.)
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
    "RECORD_HEADER_SIZE", "MAX_PAYLOAD", "JournalError",
    "CorruptJournal", "SequenceGap", "SegmentInfo", "segment_name", "list_segments", "segment_header",
    "frame", "scan_segment", "record_payload",
]

META_NAME = "meta"   # the engine as created (a snapshot at record 0): see snapshots.py
LOCK_NAME = "LOCK"   # flock'ed by the one writer
SEGMENT_MAGIC = b"BDAXJNL1"
_SEG_HEAD = struct.Struct("<8sQ")       # magic, first_seq
_REC_HEAD = struct.Struct("<IQI")       # length, seq, crc32(payload)
_CRC = struct.Struct("<I")
SEGMENT_HEADER_SIZE = _SEG_HEAD.size + 4   # 20
RECORD_HEADER_SIZE = _REC_HEAD.size + 4    # 20
MAX_PAYLOAD = 1 << 20   # far above any command (~40 bytes); a larger length means a bug, not data
_SEGMENT_RE = re.compile(r"^journal-(\d{12})\.seg$")

_crc32 = zlib.crc32
_rec_pack = _REC_HEAD.pack
_crc_pack = _CRC.pack
_rec_unpack_from = _REC_HEAD.unpack_from
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


def frame(seq: int, payload: bytes) -> bytes:
    """One record: header + payload. The hot loop in ``journal`` inlines this."""
    head = _rec_pack(len(payload), seq, _crc32(payload))
    return head + _crc_pack(_crc32(head)) + payload


@dataclass
class SegmentInfo:
    """What :func:`scan_segment` found in one segment file.

    ``offsets[i]`` is where record ``first_seq + i`` starts. ``valid_end`` is the end of the last good
    record; bytes past it (``torn_bytes``) are a torn tail, described by ``torn_reason``.
    """

    path: Path
    first_seq: int
    offsets: array
    valid_end: int
    size: int
    torn_reason: str | None = None

    @property
    def count(self) -> int:
        return len(self.offsets)

    @property
    def last_seq(self) -> int:
        """Seq of the last record (``first_seq - 1`` for a segment with none)."""
        return self.first_seq + len(self.offsets) - 1

    @property
    def torn_bytes(self) -> int:
        return self.size - self.valid_end


def _all_zero(data: bytes, start: int) -> bool:
    return data.count(0, start) == len(data) - start


def _damaged(info: SegmentInfo, offset: int, exc: JournalError) -> JournalError:
    """Attach what was good before the damage (``exc.partial``), so ``dump`` can still show it."""
    info.valid_end = offset
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
        CorruptJournal: a bad header or CRC, or a cut-short record that is not at the journal's end.
        SequenceGap: the segment does not start at ``expect_first`` or a record seq skips.
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
    info = SegmentInfo(path, name_seq, array("Q"), SEGMENT_HEADER_SIZE, size)
    if size < SEGMENT_HEADER_SIZE or (last and _all_zero(data, 0)):
        if not last:
            raise CorruptJournal(path, 0, f"file is {size} bytes, shorter than a segment header")
        info.valid_end, info.torn_reason = 0, "segment header missing or cut short (crash while creating it)"
        return info
    magic, first_seq = _SEG_HEAD.unpack_from(data, 0)
    (crc,) = _crc_unpack_from(data, _SEG_HEAD.size)
    if magic != SEGMENT_MAGIC or crc != _crc32(data[:_SEG_HEAD.size]):
        raise CorruptJournal(path, 0, "bad segment header (magic or CRC)",
                             "This is not a bdax journal segment or its first bytes are damaged.")
    if first_seq != name_seq:
        raise CorruptJournal(path, 0, f"header says first record {first_seq}, the file name {name_seq}",
                             "Rename the file to match its header, or restore it from a backup.")
    offsets = info.offsets
    offset, seq, view = SEGMENT_HEADER_SIZE, first_seq, memoryview(data)
    while offset < size:
        if size - offset < RECORD_HEADER_SIZE:
            reason = f"record header cut short ({size - offset} of {RECORD_HEADER_SIZE} bytes)"
            break
        length, rec_seq, payload_crc = _rec_unpack_from(data, offset)
        (head_crc,) = _crc_unpack_from(data, offset + 16)
        if head_crc != _crc32(view[offset:offset + 16]):
            if last and _all_zero(data, offset):
                reason = "zero-filled tail"
                break
            raise _damaged(info, offset, CorruptJournal(
                path, offset, f"record header CRC mismatch (record {seq} expected here)"))
        if rec_seq != seq:
            raise _damaged(info, offset, SequenceGap(
                f"{path.name} at byte {offset}: record seq {rec_seq} where {seq} was expected. The segment "
                f"was written out of order; restore it from a backup."))
        if length > MAX_PAYLOAD:
            raise _damaged(info, offset, CorruptJournal(
                path, offset, f"record {seq} claims {length} bytes (max {MAX_PAYLOAD})"))
        end = offset + RECORD_HEADER_SIZE + length
        if end > size:
            reason = f"record {seq} cut short ({size - offset} of {end - offset} bytes)"
            break
        if payload_crc != _crc32(view[offset + RECORD_HEADER_SIZE:end]):
            raise _damaged(info, offset, CorruptJournal(path, offset, f"record {seq}: payload CRC mismatch"))
        offsets.append(offset)
        offset, seq = end, seq + 1
    else:
        info.valid_end = offset
        return info
    if not last:
        raise _damaged(info, offset, CorruptJournal(
            path, offset, reason + " in a segment that is not the newest",
            "Only the newest segment can end mid-record after a crash; restore this one from a backup."))
    info.valid_end, info.torn_reason = offset, reason
    return info


def record_payload(data: bytes | memoryview, offset: int) -> memoryview | bytes:
    """The payload of the record starting at ``offset`` (already checked by :func:`scan_segment`)."""
    (length,) = _crc_unpack_from(data, offset)
    start = offset + RECORD_HEADER_SIZE
    return data[start:start + length]
