"""The command journal, snapshots and crash recovery: the one place in ``exchange/`` that touches files.

The shells (gateway, simulator) call it; the engine never does (DESIGN.md §1: journal before effect;
commands are journaled, events are re-derived by replay). Pieces:

- :mod:`.codec`: commands <-> compact msgpack bytes (one command, or a batch).
- :mod:`.segments`: the directory layout, frames (a batch of records with length + CRC32) in segment
  files, and the checks on them.
- :mod:`.journal`: :class:`FileJournal` (group commit, fsync policies, optional background fsync).
- :mod:`.memory`: :class:`InMemoryJournal`, the same interface without files (simulator, tests).
- :mod:`.reader`: :class:`JournalReader`, the records of a directory, checked.
- :mod:`.snapshots`: engine snapshots written atomically, checked by CRC and state hash, pruned.
- :mod:`.recovery`: :func:`recover` = newest good snapshot + replay; torn tails truncated, damage refused.
- :mod:`.verify`: :func:`verify`, everything checked, nothing changed (``bdax journal verify``).
"""
from .codec import CodecError, decode, encode
from .journal import FileJournal, FsyncPolicy
from .memory import InMemoryJournal
from .reader import JournalReader
from .recovery import RecoveryReport, create_journal_dir, recover
from .segments import CorruptJournal, JournalError, SequenceGap
from .snapshots import SnapshotError, list_snapshots, prune, read_snapshot, write_snapshot
from .verify import VerifyReport, verify

__all__ = [
    "CodecError", "decode", "encode", "FileJournal", "FsyncPolicy", "InMemoryJournal", "JournalReader",
    "RecoveryReport", "create_journal_dir", "recover", "CorruptJournal", "JournalError", "SequenceGap",
    "SnapshotError", "list_snapshots", "prune", "read_snapshot", "write_snapshot", "VerifyReport", "verify",
]
