"""Replay is a test (STYLE.md habit 5): journal -> replay gives identical events and state hash.

- random command streams through a FileJournal and an InMemoryJournal, replayed;
- golden journals in ``tests/data/golden`` (written by ``tests/data/make_golden.py``) replay to their
  recorded state hash and events digest, and re-encode to the same bytes: a change of the record format,
  the codec or the engine's behaviour fails here, and is accepted only by regenerating them on purpose;
- Hypothesis: a snapshot at any point plus a replay of the rest equals the uninterrupted run.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from enum import IntEnum
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given

from exchange import Engine
from exchange.journal import FileJournal, InMemoryJournal, JournalReader, recover, verify
from exchange.journal.codec import decode_batch, encode_batch
from exchange.journal.segments import SEGMENT_HEADER_SIZE, list_segments
from exchange.journal.snapshots import list_snapshots, read_snapshot, write_snapshot
from test_journal_streams import CommandStream, make_engine, random_commands, run

GOLDEN = Path(__file__).parent / "data" / "golden"


def events_digest(events) -> str:
    """sha256 over the events' types and fields, enums as their ints (their repr varies by Python)."""
    h = hashlib.sha256()
    for e in events:
        fields = tuple(int(x) if isinstance(x, IntEnum) else x for x in e)
        h.update(f"{type(e).__name__}{fields!r}\n".encode())
    return h.hexdigest()


def journal_run(data_dir: Path, commands, *, batch: int = 7, snapshot_every: int | None = None,
                segment_bytes: int = 4096, fsync: str = "off"):
    """Journal ``commands`` in batches (journal before effect) into a new directory; return (engine,
    events)."""
    engine, _ = recover(data_dir, make_engine)
    events = []
    with FileJournal(data_dir, fsync=fsync, segment_bytes=segment_bytes) as journal:
        for i in range(0, len(commands), batch):
            chunk = commands[i:i + batch]
            journal.append_batch(chunk)
            for command in chunk:
                events.extend(engine.handle(command))
            if snapshot_every and (i // batch) % snapshot_every == snapshot_every - 1:
                journal.take_snapshot(engine)
    return engine, events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_file_journal_replays_to_identical_events_and_hash(tmp_path, seed):
    commands = random_commands(seed, 700)
    engine, events = journal_run(tmp_path / "j", commands, snapshot_every=25)
    assert len(list_segments(tmp_path / "j")) > 3 and len(list_snapshots(tmp_path / "j")) >= 3
    replayed = []
    clean, report = recover(tmp_path / "j", use_snapshots=False, repair=False,
                            on_record=lambda seq, cmd, evs: replayed.extend(evs))
    assert report.last_seq == len(commands) and report.replayed == len(commands)
    assert replayed == events and events_digest(replayed) == events_digest(events)
    assert clean.state_hash() == engine.state_hash()
    assert [c for _, c in JournalReader(tmp_path / "j").commands()] == commands
    fast, report = recover(tmp_path / "j")   # from the newest snapshot
    assert report.snapshot_seq > 0 and fast.state_hash() == engine.state_hash()
    fast._check()


def test_in_memory_journal_matches_the_file_journal_byte_for_byte(tmp_path):
    commands = random_commands(4, 400)
    journal_run(tmp_path / "j", commands, segment_bytes=1 << 30)
    memory = InMemoryJournal()
    for i in range(0, len(commands), 7):      # the batches journal_run wrote: the same frames
        memory.append_batch(commands[i:i + 7])
    (seg,) = list_segments(tmp_path / "j")
    assert memory.segment_bytes() == seg[1].read_bytes()
    assert memory.last_seq == len(commands)
    assert [c for _, c in memory.records()] == commands
    assert [s for s, _ in memory.records(398)] == [398, 399, 400]
    for start, stop in [(1, 1), (13, 14), (14, 26), (27, 27), (390, 500), (401, None), (0, 3)]:
        got = [s for s, _ in memory.records(start, stop)]
        assert got == list(range(max(start, 1), min(stop or 400, 400) + 1))
    assert [c for _, c in memory.records(100, 120)] == commands[99:120]
    engine = make_engine()
    assert run(engine, [c for _, c in memory.records()]) == run(make_engine(), commands)


def test_same_stream_gives_a_byte_identical_journal():
    a, b = InMemoryJournal(), InMemoryJournal()
    a.append_batch(random_commands(9, 300))
    b.append_batch(random_commands(9, 300))
    assert a.to_bytes() == b.to_bytes()


# ------------------------------------------------------------------------------------------- golden

def _golden_cases() -> list[str]:
    manifest = GOLDEN / "expected.json"
    return sorted(json.loads(manifest.read_text())) if manifest.exists() else []


def test_golden_journals_exist():
    assert _golden_cases(), "tests/data/golden is missing: run python tests/data/make_golden.py"


@pytest.mark.parametrize("name", _golden_cases())
def test_golden_journal_replays_to_its_recorded_hash(tmp_path, name):
    expected = json.loads((GOLDEN / "expected.json").read_text())[name]
    data_dir = tmp_path / name
    shutil.copytree(GOLDEN / name, data_dir)
    events = []
    engine, report = recover(data_dir, use_snapshots=False, repair=False,
                             on_record=lambda seq, cmd, evs: events.extend(evs))
    hint = " (a deliberate format or engine change? regenerate: python tests/data/make_golden.py)"
    assert report.last_seq == expected["records"], hint
    assert engine.state_hash() == expected["state_hash"], "replayed state differs" + hint
    assert events_digest(events) == expected["events_sha256"], "replayed events differ" + hint
    assert engine.last_seq == expected["event_seq"], hint
    # Snapshots written then still load, and verify finds nothing wrong.
    for _seq, path in list_snapshots(data_dir):
        snap = read_snapshot(path)
        restored = Engine.restore(snap.body)
        assert restored.state_hash() == snap.state_hash, f"{path.name} no longer restores" + hint
    assert verify(data_dir).healthy
    # Today's codec and framing write exactly the stored bytes, frame for frame.
    memory = InMemoryJournal()
    for first, count, payload in JournalReader(data_dir).frames():
        batch = decode_batch(payload)
        assert len(batch) == count and encode_batch(batch) == bytes(payload), (
            f"the frame of records {first}.. re-encodes differently" + hint)
        memory.append_batch(batch)
    stored = b"".join(p.read_bytes()[SEGMENT_HEADER_SIZE:] for _, p in list_segments(data_dir))
    assert memory.to_bytes() == stored, "framing changed" + hint


# --------------------------------------------------------------------------- snapshot at any point

@given(seed=st.integers(0, 10**6), n=st.integers(1, 160), data=st.data())
def test_snapshot_at_any_point_plus_replay_equals_the_uninterrupted_run(seed, n, data):
    commands = random_commands(seed, n)
    cut = data.draw(st.integers(0, n), label="cut")
    whole = make_engine()
    whole_events = run(whole, commands)

    first = make_engine()
    events = run(first, commands[:cut])
    with tempfile.TemporaryDirectory() as tmp:   # through the snapshot file, as recovery reads it
        path = write_snapshot(tmp, first, cut)
        snap = read_snapshot(path)
    assert snap.record_seq == cut and snap.state_hash == first.state_hash()
    second = Engine.restore(snap.body)
    assert second.state_hash() == first.state_hash()
    events += run(second, commands[cut:])
    assert events == whole_events
    assert second.state_hash() == whole.state_hash()
    second._check()


def test_recovery_continues_a_journal_exactly(tmp_path):
    """Stop, recover, go on appending: the result equals one uninterrupted run."""
    stream, engine = CommandStream(21), make_engine()
    commands = []
    for _ in range(500):
        commands.append(stream.next(engine))
        engine.handle(commands[-1])
    journal_run(tmp_path / "j", commands[:230], snapshot_every=5)
    resumed, report = recover(tmp_path / "j")
    assert report.last_seq == 230
    with FileJournal(tmp_path / "j", segment_bytes=4096) as journal:
        journal.append_batch(commands[230:])
        run(resumed, commands[230:])
        assert journal.last_seq == 500
    assert resumed.state_hash() == engine.state_hash()
    again, report = recover(tmp_path / "j", use_snapshots=False, repair=False)
    assert again.state_hash() == engine.state_hash() and report.replayed == 500
