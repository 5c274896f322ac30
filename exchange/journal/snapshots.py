"""Engine snapshots on disk: written atomically, checked when read, pruned by policy.

A snapshot file ``snapshot-<record seq, 12 digits>.snap`` holds the engine's ``snapshot()`` bytes as of
record ``seq`` (every record up to it applied, none after), with the engine's ``state_hash()`` then::

    "BDAXSNP1" | record_seq u64 | body_len u64 | hash_len u16 | state_hash (ascii) | body | crc32 u32

The CRC (little-endian, over everything before it) catches a damaged file; the stored hash catches a
restore that does not rebuild the same state: :func:`load_engine` restores, hashes and compares. The
directory's ``meta`` file has the same layout at record 0: the engine as created, so a journal directory
replays with nothing else (no instruments config needed).
"""
from __future__ import annotations

import hashlib

import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .segments import META_NAME, JournalError, fsync_dir, list_segments

__all__ = ["Snapshot", "SnapshotError", "write_snapshot", "write_meta", "read_snapshot", "list_snapshots",
           "load_engine", "prune", "PruneResult", "snapshot_name", "remove_temp_files"]

SNAPSHOT_MAGIC = b"BDAXSNP1"
_HEAD = struct.Struct("<8sQQH")
_SNAPSHOT_RE = re.compile(r"^snapshot-(\d{12})\.snap$")
_TEMP_PREFIX = ".tmp-"


class SnapshotError(JournalError):
    """A snapshot file that fails its checks (recovery then falls back to an older one)."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    record_seq: int
    state_hash: str
    body: bytes = field(repr=False)


def snapshot_name(record_seq: int) -> str:
    return f"snapshot-{record_seq:012d}.snap"


def _encode_engine(record_seq: int, engine) -> bytes:
    # state_hash() is defined as the sha256 of snapshot(): hash the bytes in hand instead of serialising
    # the whole state a second time.
    body = engine.snapshot()
    return _encode(record_seq, hashlib.sha256(body).hexdigest(), body)


def _encode(record_seq: int, state_hash: str, body: bytes) -> bytes:
    hash_bytes = state_hash.encode("ascii")
    blob = _HEAD.pack(SNAPSHOT_MAGIC, record_seq, len(body), len(hash_bytes)) + hash_bytes + body
    return blob + struct.pack("<I", zlib.crc32(blob))


def _write_atomic(data_dir: Path, name: str, blob: bytes) -> Path:
    """Temp file, fsync, rename over ``name``, fsync the directory: a reader sees all of it or none."""
    final, temp = data_dir / name, data_dir / f"{_TEMP_PREFIX}{name}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view, written = memoryview(blob), 0
        while written < len(blob):
            written += os.write(fd, view[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    fsync_dir(data_dir)
    return final


def write_snapshot(data_dir: str | Path, engine, record_seq: int) -> Path:
    """Write ``engine``'s state as of record ``record_seq`` to ``snapshot-<seq>.snap``, atomically.
    O(engine state). Returns the file's path."""
    return _write_atomic(Path(data_dir), snapshot_name(record_seq),
                         _encode_engine(record_seq, engine))


def write_meta(data_dir: str | Path, engine) -> Path:
    """Write the directory's ``meta``: ``engine`` as created (record 0). Refuses to overwrite one."""
    data_dir = Path(data_dir)
    if (data_dir / META_NAME).exists():
        raise JournalError(f"{data_dir / META_NAME} exists already; a journal's starting state never changes")
    return _write_atomic(data_dir, META_NAME, _encode_engine(0, engine))


def read_snapshot(path: str | Path) -> Snapshot:
    """Read and CRC-check one snapshot (or ``meta``) file. O(file size).

    Raises:
        SnapshotError: unreadable, truncated, bad magic or CRC, or a name that disagrees with its seq.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"{path.name}: cannot read: {exc}") from None
    if len(blob) < _HEAD.size + 4:
        raise SnapshotError(f"{path.name}: {len(blob)} bytes, too short for a snapshot")
    magic, record_seq, body_len, hash_len = _HEAD.unpack_from(blob, 0)
    (crc,) = struct.unpack_from("<I", blob, len(blob) - 4)
    if magic != SNAPSHOT_MAGIC:
        raise SnapshotError(f"{path.name}: not a bdax snapshot (bad magic)")
    if _HEAD.size + hash_len + body_len + 4 != len(blob):
        raise SnapshotError(f"{path.name}: header says {_HEAD.size + hash_len + body_len + 4} bytes, file "
                            f"has {len(blob)} (truncated or damaged)")
    if crc != zlib.crc32(memoryview(blob)[:-4]):
        raise SnapshotError(f"{path.name}: CRC mismatch (the file is damaged)")
    m = _SNAPSHOT_RE.match(path.name)
    expected = int(m.group(1)) if m else (0 if path.name == META_NAME else record_seq)
    if record_seq != expected:
        raise SnapshotError(f"{path.name}: covers record {record_seq}, its name says {expected}")
    start = _HEAD.size + hash_len
    state_hash = blob[_HEAD.size:start].decode("ascii", "replace")
    return Snapshot(path, record_seq, state_hash, blob[start:start + body_len])


def list_snapshots(data_dir: str | Path) -> list[tuple[int, Path]]:
    """``(record_seq, path)`` of every snapshot file (not ``meta``), oldest first."""
    found = []
    for path in Path(data_dir).iterdir():
        m = _SNAPSHOT_RE.match(path.name)
        if m:
            found.append((int(m.group(1)), path))
    found.sort()
    return found


def load_engine(snapshot: Snapshot, engine_cls):
    """``engine_cls.restore(body)``, checked: its ``state_hash()`` must equal the stored hash.

    Raises:
        SnapshotError: restore raised, or the restored engine hashes differently.
    """
    try:
        engine = engine_cls.restore(snapshot.body)
    except Exception as exc:  # noqa: BLE001 - any failure to restore makes this snapshot unusable
        raise SnapshotError(f"{snapshot.path.name}: restore failed: {type(exc).__name__}: {exc}") from None
    got = engine.state_hash()
    if got != snapshot.state_hash:
        raise SnapshotError(f"{snapshot.path.name}: restored state hash {got[:16]}... differs from the "
                            f"stored {snapshot.state_hash[:16]}... (written by a different engine version?)")
    return engine


def remove_temp_files(data_dir: Path, *, sync: bool = True) -> list[Path]:
    """Delete snapshot temp files left by a crash during :func:`write_snapshot`."""
    removed = sorted(data_dir.glob(f"{_TEMP_PREFIX}*"))
    for path in removed:
        path.unlink()
    if removed and sync:
        fsync_dir(data_dir)
    return removed


@dataclass
class PruneResult:
    snapshots: list[Path]
    segments: list[Path]
    temp_files: list[Path]


def prune(data_dir: str | Path, keep: int) -> PruneResult:
    """Keep the newest ``keep`` snapshots; delete older ones, then every segment whose records all lie at
    or before the oldest kept snapshot (never the newest segment), and leftover temp files.

    The oldest kept snapshot, not the newest, bounds the segments: if newer snapshots turn out damaged,
    recovery falls back to it and still finds every record after it.
    """
    if keep < 1:
        raise ValueError("keep must be >= 1: pruning to no snapshot would need the whole journal")
    data_dir = Path(data_dir)
    snaps = list_snapshots(data_dir)
    result = PruneResult([], [], [])
    for _seq, path in snaps[:-keep]:
        path.unlink()
        result.snapshots.append(path)
    kept = snaps[-keep:]
    if kept:
        covered = kept[0][0]
        segments = list_segments(data_dir)
        for (_first, path), (next_first, _next) in zip(segments, segments[1:]):
            if next_first - 1 <= covered:
                path.unlink()
                result.segments.append(path)
    result.temp_files = remove_temp_files(data_dir, sync=False)
    if result.snapshots or result.segments or result.temp_files:
        fsync_dir(data_dir)
    return result
