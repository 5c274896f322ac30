"""Check a journal directory end to end without changing it (``bdax journal verify``).

Healthy means :func:`~exchange.journal.recovery.recover` would succeed from the newest snapshot without
falling back and without refusing anything: ``meta`` and every snapshot pass CRC and hash checks, every
segment passes its CRCs with gap-free seqs, every record decodes, and (with ``replay``) replaying the
records from the oldest usable base reproduces each snapshot's stored state hash. A torn tail is a
warning, not a failure: recovery truncates it and loses nothing that an ``every_batch`` journal
acknowledged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .reader import JournalReader
from .recovery import default_engine_cls, refused_mistyped
from .segments import META_NAME, JournalError
from .snapshots import SnapshotError, list_snapshots, load_engine, read_snapshot

__all__ = ["verify", "VerifyReport"]


@dataclass
class VerifyReport:
    data_dir: Path
    info: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    first_seq: int = 1
    last_seq: int = 0
    state_hash: str = ""

    @property
    def healthy(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"journal {self.data_dir}"]
        lines += [f"  {line}" for line in self.info]
        lines += [f"  WARNING: {line}" for line in self.warnings]
        lines += [f"  PROBLEM: {line}" for line in self.problems]
        lines.append("  healthy" if self.healthy else f"  NOT healthy: {len(self.problems)} problem(s)")
        return "\n".join(lines)


def verify(data_dir: str | Path, *, replay: bool = True, engine_cls=None) -> VerifyReport:
    """Check everything in ``data_dir`` (read-only). O(journal + snapshots); with ``replay`` also the cost
    of re-running every record through the engine."""
    data_dir = Path(data_dir)
    report = VerifyReport(data_dir)
    if not (data_dir / META_NAME).is_file():
        report.problems.append(f"no {META_NAME} file: not a journal directory, or its starting state is lost")
        return report
    engine_cls = engine_cls or default_engine_cls()
    loaded = {}   # record seq -> (Snapshot, engine) of each snapshot that passed
    for path in [data_dir / META_NAME] + [p for _seq, p in list_snapshots(data_dir)]:
        try:
            snap = read_snapshot(path)
            loaded[snap.record_seq] = (snap, load_engine(snap, engine_cls))
        except SnapshotError as exc:
            report.problems.append(str(exc))
    report.info.append(f"snapshots: {len(loaded) - (0 in loaded)} good (+ meta) of "
                       f"{len(list_snapshots(data_dir))}")
    reader = JournalReader(data_dir)
    try:
        reader.scan(1)
    except JournalError as exc:
        report.problems.append(str(exc))
        return report
    report.first_seq, report.last_seq = reader.first_seq, reader.last_seq
    size = sum(s.size for s in reader.segments)
    records = f"records {reader.first_seq}..{reader.last_seq}" if reader.last_seq else "no records"
    report.info.append(f"segments: {len(reader.segments)}, {size:,} bytes, {records}")
    if reader.torn is not None:
        report.warnings.append(f"{reader.torn.path.name} has a torn tail of {reader.torn.torn_bytes} bytes "
                               f"({reader.torn.torn_reason}); recovery will truncate it")
    for seq, (snap, _engine) in sorted(loaded.items()):
        if seq > reader.last_seq:
            report.problems.append(f"{snap.path.name} covers records up to {seq} but the journal ends at "
                                   f"{reader.last_seq}: segments are missing")
    bases = [seq for seq in loaded if seq + 1 >= reader.first_seq and seq <= reader.last_seq]
    if not bases:
        report.problems.append(f"records 1..{reader.first_seq - 1} are missing and no good snapshot covers "
                               f"them (oldest segment starts at {reader.first_seq})")
        return report
    if not replay:
        return report
    base = min(bases)
    engine = loaded[base][1]
    checked = refused = 0
    seq = base
    try:
        for seq, command in reader.commands(base + 1):
            try:
                engine.handle(command)
            except TypeError as exc:
                refused_mistyped(command, exc)
                refused += 1
            if seq in loaded:
                snap = loaded[seq][0]
                got = engine.state_hash()
                checked += 1
                if got != snap.state_hash:
                    report.problems.append(
                        f"replay to record {seq} gives state {got[:16]}..., {snap.path.name} stores "
                        f"{snap.state_hash[:16]}...: the journal and the snapshot disagree (a "
                        f"non-deterministic engine or a different version)")
    except JournalError as exc:
        report.problems.append(str(exc))
        return report
    except Exception as exc:  # noqa: BLE001 - an engine that raises on replay is a finding, not a crash
        report.problems.append(f"the engine raised replaying record {seq}: {type(exc).__name__}: {exc}")
        return report
    if refused:
        report.warnings.append(f"{refused} record(s) hold mistyped commands that the engine refuses "
                               f"(TypeError, no change), as it did live")
    report.state_hash = engine.state_hash()
    report.info.append(f"replayed records {base + 1}..{reader.last_seq} from "
                       f"{loaded[base][0].path.name}; {checked} snapshot hash(es) matched on the way")
    report.info.append(f"state hash at record {reader.last_seq}: {report.state_hash}")
    return report
