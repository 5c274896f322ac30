"""Crash recovery: the newest valid snapshot plus a replay of every later record.

A journal directory holds ``meta`` (the engine as created: a snapshot at record 0), the segment files and
the snapshots. :func:`recover` rebuilds the engine from it:

1. Load the newest snapshot (at or before ``until_seq``) and check it: CRC, then restore and compare the
   restored engine's ``state_hash()`` with the stored one. A snapshot that fails is reported and the
   previous one is tried, down to ``meta``.
2. Check every segment from the snapshot on: a torn tail (the newest segment ends mid-record, as after
   a crash during a write) is truncated and the report says how many bytes went; damage anywhere else
   (:class:`CorruptJournal`, naming segment and byte offset) and holes in the record seqs
   (:class:`SequenceGap`) are refused.
3. Replay the records after the snapshot through ``engine.handle``.

Rules: never skip a record; never invent one. A directory whose snapshot covers records the journal no
longer has, or whose oldest segment starts after the snapshot, is refused.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .reader import JournalReader
from .segments import META_NAME, DirLock, JournalError, SequenceGap, list_segments
from .snapshots import (SnapshotError, list_snapshots, load_engine, read_snapshot, remove_temp_files,
                        write_meta)

__all__ = ["recover", "create_journal_dir", "RecoveryReport", "default_engine_cls"]


def default_engine_cls():
    """``exchange.engine.Engine``, imported when first needed."""
    from ..engine import Engine
    return Engine


@dataclass
class RecoveryReport:
    """What :func:`recover` did. ``snapshot_seq`` 0 means it started from ``meta``."""

    data_dir: Path
    created: bool = False
    base: str = META_NAME
    snapshot_seq: int = 0
    fallbacks: list[str] = field(default_factory=list)
    replayed: int = 0
    last_seq: int = 0
    torn_bytes: int = 0
    torn_segment: str | None = None
    torn_reason: str | None = None
    truncated: bool = False
    removed_temp_files: int = 0
    refused: list[str] = field(default_factory=list)
    state_hash: str = ""

    def summary(self) -> str:
        if self.created:
            return f"{self.data_dir}: new journal directory (meta written), state {self.state_hash[:16]}"
        lines = [f"{self.data_dir}: recovered to record {self.last_seq} from {self.base} "
                 f"(record {self.snapshot_seq}) + {self.replayed} replayed; state {self.state_hash}"]
        for why in self.fallbacks:
            lines.append(f"  fell back past a bad snapshot: {why}")
        if self.torn_segment:
            verb = "dropped" if self.truncated else "not read (read-only; recovery will drop them)"
            lines.append(f"  torn tail: {self.torn_bytes} bytes at the end of {self.torn_segment} {verb} "
                         f"({self.torn_reason})")
        if self.refused:
            lines.append(f"  {len(self.refused)} record(s) hold mistyped commands, which the engine refused "
                         f"(TypeError, no change) as it did when they were first applied; first: "
                         f"{self.refused[0]}")
        if self.removed_temp_files:
            lines.append(f"  removed {self.removed_temp_files} unfinished snapshot temp file(s)")
        return "\n".join(lines)


def refused_mistyped(command, exc: TypeError) -> None:
    """Let a replay go on past a record the engine refuses with TypeError, as it did live, but only if the
    command is mistyped (CONTRACT.md "Typed commands": the engine raises and changes nothing, so the record
    changed nothing when it was first applied either). Any other TypeError is an engine bug: re-raised."""
    from .. import commands
    check_types = getattr(commands, "check_types", None)
    if check_types is not None:
        try:
            check_types(command)
        except TypeError:
            return
    raise exc


def create_journal_dir(data_dir: str | Path, engine) -> Path:
    """Make ``data_dir`` a journal directory whose records start from ``engine`` (fresh: no commands
    applied yet). Writes ``meta``; refuses a directory that already has journal files."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if list_segments(data_dir) or list_snapshots(data_dir):
        raise JournalError(f"{data_dir} already has segments or snapshots but no {META_NAME}")
    write_meta(data_dir, engine)
    return data_dir


def recover(data_dir: str | Path, make_engine: Callable[[], object] | None = None, *, repair: bool = True,
            until_seq: int | None = None, engine_cls=None, use_snapshots: bool = True,
            on_record: Callable[[int, object, list], None] | None = None):
    """Rebuild the engine of a journal directory (creating the directory if it has no journal yet).

    Args:
        data_dir: the journal directory.
        make_engine: builds a fresh engine, used only when ``data_dir`` has no ``meta`` yet (a new
            journal): the result is written as ``meta`` and returned.
        repair: truncate a torn tail and delete leftover snapshot temp files (takes the directory lock).
            False leaves every file as it is (the read-only CLI commands): the torn tail is just not read.
        until_seq: stop after this record (the base is then the newest snapshot at or before it).
        engine_cls: the engine class (its ``restore``); default ``exchange.engine.Engine``.
        use_snapshots: False replays every record from ``meta`` (a clean replay; needs unpruned segments).
        on_record: called as ``on_record(seq, command, events)`` after each replayed record.

    Returns:
        ``(engine, RecoveryReport)``; the engine has applied records 1..``report.last_seq``.

    Raises:
        CorruptJournal, SequenceGap: damage that is not a torn tail, or missing records.
        JournalError: no ``meta`` and no ``make_engine``; ``meta`` itself unusable; the lock is held.
    """
    data_dir = Path(data_dir)
    if not (data_dir / META_NAME).is_file():
        if data_dir.is_dir() and (list_segments(data_dir) or list_snapshots(data_dir)):
            raise JournalError(f"{data_dir} has journal files but no {META_NAME}: the starting state is "
                               f"lost. Restore {META_NAME} from a backup of this directory.")
        if make_engine is None:
            raise JournalError(f"{data_dir} is not a journal directory (no {META_NAME} file). Check the "
                               f"path; a new journal is created by the exchange or simulator that writes it.")
        engine = make_engine()
        create_journal_dir(data_dir, engine)
        return engine, RecoveryReport(data_dir, created=True, state_hash=engine.state_hash())
    engine_cls = engine_cls or default_engine_cls()
    lock = DirLock(data_dir) if repair else None
    try:
        return _recover(data_dir, repair, until_seq, engine_cls, use_snapshots, on_record)
    finally:
        if lock is not None:
            lock.release()


def _load_base(data_dir: Path, until_seq: int | None, engine_cls, use_snapshots: bool,
               report: RecoveryReport):
    """The newest snapshot (<= until_seq) that passes its checks, else ``meta``."""
    candidates = [p for seq, p in reversed(list_snapshots(data_dir)) if until_seq is None or seq <= until_seq]
    for path in candidates if use_snapshots else ():
        try:
            snap = read_snapshot(path)
            return load_engine(snap, engine_cls), snap
        except SnapshotError as exc:
            report.fallbacks.append(str(exc))
    try:
        snap = read_snapshot(data_dir / META_NAME)
        return load_engine(snap, engine_cls), snap
    except SnapshotError as exc:
        raise JournalError(f"{data_dir}: no usable starting state: {exc}. Restore {META_NAME} from a backup "
                           f"of this directory.") from None


def _recover(data_dir: Path, repair: bool, until_seq: int | None, engine_cls, use_snapshots: bool,
             on_record):
    report = RecoveryReport(data_dir)
    engine, snap = _load_base(data_dir, until_seq, engine_cls, use_snapshots, report)
    report.base, report.snapshot_seq = snap.path.name, snap.record_seq
    base = snap.record_seq
    reader = JournalReader(data_dir).scan(base + 1, repair=repair)
    if reader.torn is not None:
        report.torn_bytes, report.torn_segment = reader.torn.torn_bytes, reader.torn.path.name
        report.torn_reason, report.truncated = reader.torn.torn_reason, repair
    if reader.last_seq < base:
        raise SequenceGap(
            f"{data_dir}: {snap.path.name} covers records up to {base}, but the journal ends at record "
            f"{reader.last_seq}: the segment(s) holding {reader.last_seq + 1}..{base} are missing. Put them "
            f"back from a backup; starting from the snapshot would reuse record seqs the snapshot includes.")
    if reader.last_seq > base and reader.first_seq > base + 1:
        if report.fallbacks:
            why = "the newer snapshots failed their checks: " + "; ".join(report.fallbacks)
        elif not use_snapshots:
            why = "snapshots were not used (a replay from meta needs every segment)"
        elif until_seq is not None and list_snapshots(data_dir):
            why = f"every snapshot is after record {until_seq}"
        else:
            why = "no snapshot covers them"
        raise SequenceGap(
            f"{data_dir}: replaying from {snap.path.name} (record {base}) needs records {base + 1}.."
            f"{reader.first_seq - 1}, but the oldest segment starts at {reader.first_seq} (older ones were "
            f"pruned or lost), and {why}. Replay from the newest snapshot instead, or restore the missing "
            f"segments or snapshots from a backup.")
    replayed = 0
    handle = engine.handle
    for seq, command in reader.commands(base + 1, until_seq):
        try:
            events = handle(command)
        except TypeError as exc:
            refused_mistyped(command, exc)
            report.refused.append(f"record {seq}: {exc}")
            events = []
        if on_record is not None:
            on_record(seq, command, events)
        replayed += 1
    report.replayed = replayed
    report.last_seq = base + replayed
    report.state_hash = engine.state_hash()
    if repair:
        report.removed_temp_files = len(remove_temp_files(data_dir))
    return engine, report
