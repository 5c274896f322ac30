"""Recovery rules: torn tails are truncated and reported, damage is refused with segment and offset,
gaps are refused, a bad newest snapshot falls back to the previous one; plus pruning, fsync policies,
segment rolling and the directory lock."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from exchange.journal import (CorruptJournal, FileJournal, FsyncPolicy, JournalError, SequenceGap, prune,
                              recover, verify)
from exchange.journal.segments import FRAME_HEADER_SIZE, SEGMENT_HEADER_SIZE, list_segments, scan_segment
from exchange.journal.snapshots import list_snapshots
from test_journal_replay import journal_run
from test_journal_streams import make_engine, random_commands, run

N = 300


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, list, str]:
    """A journal of N records in several segments with snapshots at 98, 196 and 294 (batches of 7)."""
    data_dir = tmp_path_factory.mktemp("pristine") / "j"
    commands = random_commands(31, N)
    engine, _ = journal_run(data_dir, commands, batch=7, snapshot_every=14, segment_bytes=3000)
    return data_dir, commands, engine.state_hash()


@pytest.fixture
def jdir(pristine, tmp_path) -> Path:
    target = tmp_path / "j"
    shutil.copytree(pristine[0], target)
    (target / "LOCK").unlink(missing_ok=True)
    return target


def segments(data_dir: Path) -> list[Path]:
    return [p for _, p in list_segments(data_dir)]


def frame_offsets(path: Path) -> list[int]:
    return list(scan_segment(path, path.read_bytes(), last=False).offsets)


def hash_of(commands) -> str:
    engine = make_engine()
    run(engine, commands)
    return engine.state_hash()


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------------------ torn tail

def test_torn_tail_at_every_byte_of_the_last_frame_is_truncated_and_reported(pristine, tmp_path):
    src, commands, _ = pristine
    last = segments(src)[-1]
    info = scan_segment(last, last.read_bytes(), last=True)
    start, lost = info.offsets[-1], N - info.seqs[-1] + 1   # the last batch: records 295..300
    end = last.stat().st_size
    expected_hash = hash_of(commands[:-lost])
    for cut in range(start + 1, end):          # every partial length of the last frame
        data_dir = tmp_path / f"cut{cut}"
        shutil.copytree(src, data_dir)
        seg = data_dir / last.name
        seg.write_bytes(seg.read_bytes()[:cut])
        report = verify(data_dir, replay=False)
        assert report.healthy and f"torn tail of {cut - start} bytes" in report.warnings[0]
        engine, rec = recover(data_dir)
        assert rec.last_seq == N - lost and rec.torn_bytes == cut - start and rec.truncated
        assert f"{cut - start} bytes" in rec.summary() and last.name in rec.summary()
        assert seg.stat().st_size == start
        assert engine.state_hash() == expected_hash
    # Once truncated, the journal takes the lost batch again.
    with FileJournal(data_dir) as journal:
        assert journal.append_batch(commands[-lost:]) == N
    assert recover(data_dir)[1].last_seq == N


def test_read_only_recovery_reports_a_torn_tail_without_truncating(jdir):
    last = segments(jdir)[-1]
    size = last.stat().st_size
    with open(last, "ab") as f:
        f.write(b"\x30\x00\x00")
    _, report = recover(jdir, repair=False)
    assert report.torn_bytes == 3 and not report.truncated and last.stat().st_size == size + 3
    with pytest.raises(JournalError, match="run recover"):
        FileJournal(jdir)


def test_zero_filled_tail_is_torn(jdir):
    last = segments(jdir)[-1]
    with open(last, "ab") as f:
        f.write(bytes(100))
    _, report = recover(jdir)
    assert report.last_seq == N and report.torn_bytes == 100 and report.torn_reason == "zero-filled tail"


@pytest.mark.parametrize("left", [b"", b"BDAXJ"])
def test_a_new_segment_without_its_whole_header_is_removed(jdir, left):
    # A crash while creating the next segment leaves it empty (killed between open and write; the crash
    # test found this one) or with part of its header.
    new = jdir / f"journal-{N + 1:012d}.seg"
    new.write_bytes(left)
    with pytest.raises(JournalError, match="run recover"):
        FileJournal(jdir)
    _, report = recover(jdir)
    assert report.last_seq == N and report.torn_bytes == len(left) and not new.exists()
    assert report.torn_segment == new.name and "header missing or cut short" in report.summary()
    commands = random_commands(1, 3)
    with FileJournal(jdir, segment_bytes=100) as journal:   # starts that segment afresh, with a header
        journal.append_batch(commands)
    _, report = recover(jdir)
    assert report.last_seq == N + 3 and new.exists()


# ------------------------------------------------------------------------------------------- damage

@pytest.mark.parametrize("where", ["length", "seq", "count", "payload_crc", "header_crc", "payload"])
def test_a_flipped_byte_mid_segment_is_refused_naming_segment_and_offset(jdir, where):
    # The newest segment: damage there must not pass for a torn tail (the header CRC sees to that).
    seg = segments(jdir)[-1]
    offsets = frame_offsets(seg)
    target = offsets[len(offsets) // 2]
    flip(seg, target + {"length": 1, "seq": 5, "count": 12, "payload_crc": 17, "header_crc": 21,
                        "payload": FRAME_HEADER_SIZE + 3}[where])
    with pytest.raises(CorruptJournal) as err:
        recover(jdir, use_snapshots=False)
    assert err.value.path.name == seg.name and err.value.offset == target
    assert f"{seg.name} at byte {target}" in str(err.value) and "backup" in str(err.value)
    assert seg.stat().st_size == (jdir / seg.name).stat().st_size   # nothing truncated
    assert not verify(jdir).healthy


def test_a_flipped_byte_in_an_older_segment_is_refused(jdir):
    seg = segments(jdir)[1]
    target = frame_offsets(seg)[2]
    flip(seg, target + FRAME_HEADER_SIZE)
    with pytest.raises(CorruptJournal, match=f"{seg.name} at byte {target}: frame of records .* payload CRC"):
        recover(jdir, use_snapshots=False)


def test_a_cut_short_older_segment_is_refused(jdir):
    seg = segments(jdir)[1]
    seg.write_bytes(seg.read_bytes()[:-5])
    with pytest.raises(CorruptJournal, match="not the newest"):
        recover(jdir, use_snapshots=False)


def test_a_damaged_segment_header_is_refused(jdir):
    seg = segments(jdir)[0]
    flip(seg, 9)
    with pytest.raises(CorruptJournal, match=f"{seg.name} at byte 0: bad segment header"):
        recover(jdir, use_snapshots=False)


def test_dump_style_reading_yields_the_records_before_the_damage(jdir):
    from exchange.journal import JournalReader
    seg = segments(jdir)[0]
    offsets = frame_offsets(seg)
    flip(seg, offsets[5] + FRAME_HEADER_SIZE)
    seen = []
    with pytest.raises(CorruptJournal):
        for seq, _command in JournalReader(jdir).commands():
            seen.append(seq)
    assert seen == list(range(1, 36))          # the five good frames of 7 records before the damage


# --------------------------------------------------------------------------------------------- gaps

def test_a_missing_middle_segment_is_refused(jdir):
    assert len(segments(jdir)) >= 3
    gone = segments(jdir)[len(segments(jdir)) // 2]
    first = int(gone.name[8:20])
    gone.unlink()
    with pytest.raises(SequenceGap, match=f"should start at record {first}.*missing"):
        recover(jdir, use_snapshots=False)
    assert not verify(jdir).healthy


def test_a_missing_first_segment_is_refused_without_a_snapshot_covering_it(jdir):
    segments(jdir)[0].unlink()
    with pytest.raises(SequenceGap, match="needs records 1..[0-9]+, but the oldest segment starts"):
        recover(jdir, use_snapshots=False)
    _, report = recover(jdir)   # the newest snapshot does not need it
    assert report.last_seq == N


def test_a_missing_last_segment_is_refused_when_a_snapshot_covers_it(jdir):
    for seg in segments(jdir)[-3:]:     # the records the newest snapshot (294) covers are gone
        seg.unlink()
    with pytest.raises(SequenceGap, match="snapshot-000000000294.snap covers records up to 294"):
        recover(jdir)


def test_a_record_seq_out_of_place_is_refused(tmp_path):
    from exchange.journal.codec import encode_batch
    from exchange.journal.segments import frame, segment_header
    data_dir = tmp_path / "j"
    recover(data_dir, make_engine)
    commands = random_commands(1, 5)
    (data_dir / "journal-000000000001.seg").write_bytes(
        segment_header(1) + frame(1, 2, encode_batch(commands[:2])) + frame(4, 3, encode_batch(commands[2:])))
    with pytest.raises(SequenceGap, match="a frame starts at record 4 where 3 was expected"):
        recover(data_dir)


# ---------------------------------------------------------------------------------------- snapshots

def test_a_corrupt_newest_snapshot_falls_back_to_the_previous_one(pristine, jdir):
    newest = list_snapshots(jdir)[-1][1]
    flip(newest, newest.stat().st_size // 2)
    engine, report = recover(jdir)
    assert report.snapshot_seq == 196 and report.replayed == N - 196
    assert len(report.fallbacks) == 1 and newest.name in report.fallbacks[0] and "CRC" in report.fallbacks[0]
    assert newest.name in report.summary()
    assert engine.state_hash() == pristine[2]
    assert not verify(jdir).healthy     # recoverable, but something is damaged


def test_a_snapshot_whose_restore_hashes_differently_is_skipped(pristine, jdir):
    newest = list_snapshots(jdir)[-1][1]
    # A well-formed file (good CRC) whose stored hash does not match what restore gives.
    from exchange.journal.snapshots import _encode, read_snapshot
    snap = read_snapshot(newest)
    newest.write_bytes(_encode(snap.record_seq, "0" * 64, snap.body))
    engine, report = recover(jdir)
    assert report.snapshot_seq == 196 and "differs from the stored" in report.fallbacks[0]
    assert engine.state_hash() == pristine[2]


def test_every_snapshot_bad_falls_back_to_meta(pristine, jdir):
    for _seq, path in list_snapshots(jdir):
        path.write_bytes(b"junk")
    engine, report = recover(jdir)
    assert report.snapshot_seq == 0 and len(report.fallbacks) == 3 and report.replayed == N
    assert engine.state_hash() == pristine[2]


def test_missing_meta_is_refused(jdir):
    (jdir / "meta").unlink()
    with pytest.raises(JournalError, match="no meta"):
        recover(jdir, make_engine)


def test_snapshot_write_is_atomic_and_leftover_temp_files_are_cleaned(jdir):
    (jdir / ".tmp-snapshot-000000000300.snap").write_bytes(b"half a snap")   # crash mid-write
    _, report = recover(jdir)
    assert report.removed_temp_files == 1 and not list(jdir.glob(".tmp-*"))
    assert [s for s, _ in list_snapshots(jdir)] == [98, 196, 294]


# ------------------------------------------------------------------------------------------ pruning

def test_prune_keeps_the_newest_k_and_the_segments_the_oldest_kept_needs(pristine, jdir):
    result = prune(jdir, keep=2)
    assert [p.name for p in result.snapshots] == ["snapshot-000000000098.snap"]
    assert [s for s, _ in list_snapshots(jdir)] == [196, 294]
    first = list_segments(jdir)[0][0]
    assert first <= 197 and result.segments    # every record after 196 is still there
    for path in result.segments:
        assert not path.exists()
    newest = list_snapshots(jdir)[-1][1]
    newest.write_bytes(b"damaged")           # the fallback still works after pruning
    engine, report = recover(jdir)
    assert report.snapshot_seq == 196 and engine.state_hash() == pristine[2]
    with pytest.raises(SequenceGap):
        recover(jdir, use_snapshots=False)   # but meta can no longer be replayed from
    with pytest.raises(ValueError):
        prune(jdir, keep=0)


def test_take_snapshot_with_keep_prunes(tmp_path):
    commands = random_commands(8, 200)
    journal_run(tmp_path / "j", commands, batch=5, segment_bytes=1500)
    engine, _ = recover(tmp_path / "j")
    with FileJournal(tmp_path / "j", segment_bytes=1500) as journal:
        path = journal.take_snapshot(engine, keep=1)
    assert path.name == "snapshot-000000000200.snap"
    assert len(list_segments(tmp_path / "j")) == 1
    assert recover(tmp_path / "j")[1].replayed == 0


# ---------------------------------------------------------------------------- writer: fsync, roll, lock

@pytest.mark.parametrize("policy, expected", [("every_batch", 10), ("off", 0), ("interval_ms=60000", 0),
                                              ("interval_ms=0", 10)])
def test_fsync_policies(tmp_path, policy, expected):
    recover(tmp_path / "j", make_engine)
    commands = random_commands(2, 100)
    journal = FileJournal(tmp_path / "j", fsync=policy)
    for i in range(0, 100, 10):
        journal.append_batch(commands[i:i + 10])
    assert journal.fsyncs == expected
    journal.flush()                     # flush always makes it durable
    assert journal.fsyncs == expected + (expected == 0)
    journal.close()
    assert FsyncPolicy.parse(policy).__str__() == policy


@pytest.mark.parametrize("policy", ["every_batch", "interval_ms=2"])
def test_background_fsync_makes_every_batch_durable(tmp_path, policy):
    recover(tmp_path / "j", make_engine)
    commands = random_commands(5, 400)
    with FileJournal(tmp_path / "j", fsync=policy, background=True, segment_bytes=2000) as journal:
        for i in range(0, 400, 20):
            last = journal.append_batch(commands[i:i + 20])
            assert journal.durable_seq <= last == i + 20
        assert journal.wait_durable(last, timeout=30) and journal.durable_seq == 400
        assert 1 <= journal.fsyncs
        assert journal.append_batch([]) == 400
    found = list_segments(tmp_path / "j")
    assert len(found) > 3
    _, report = recover(tmp_path / "j", use_snapshots=False)
    assert report.last_seq == 400


def test_background_off_policy_syncs_on_flush_only(tmp_path):
    recover(tmp_path / "j", make_engine)
    with FileJournal(tmp_path / "j", fsync="off", background=True) as journal:
        last = journal.append_batch(random_commands(5, 30))
        assert journal.durable_seq == 0 and journal.fsyncs == 0
        assert journal.wait_durable(last) and journal.durable_seq == 30 and journal.fsyncs == 1


def test_a_mistyped_command_replays_as_it_ran(tmp_path):
    # CONTRACT.md "Typed commands": the engine raises TypeError and changes nothing. Journaled before the
    # engine saw it, such a record must replay the same way, not stop recovery.
    from exchange import Deposit
    recover(tmp_path / "j", make_engine)
    live, raised = make_engine(), 0
    commands = random_commands(6, 60)
    commands.insert(40, Deposit(5, 1, "BTC", 1.5))
    with FileJournal(tmp_path / "j") as journal:
        for command in commands:
            journal.append(command)
            try:
                live.handle(command)
            except TypeError:
                raised += 1
    engine, report = recover(tmp_path / "j")
    assert engine.state_hash() == live.state_hash() and report.last_seq == 61
    assert len(report.refused) == raised
    if raised:
        assert "record 41" in report.refused[0] and "mistyped" in report.summary()
        assert any("mistyped" in w for w in verify(tmp_path / "j").warnings)


def test_fsync_policy_text_is_checked():
    assert FsyncPolicy.parse("interval_ms=1.5") == FsyncPolicy("interval", 1.5)
    for bad in ("always", "interval_ms=", "interval_ms=-1"):
        with pytest.raises(ValueError, match="every_batch, interval_ms=N"):
            FsyncPolicy.parse(bad)


def test_segments_roll_at_their_size_and_are_named_by_first_record(tmp_path):
    recover(tmp_path / "j", make_engine)
    with FileJournal(tmp_path / "j", segment_bytes=1000) as journal:
        for command in random_commands(3, 120):
            journal.append(command)
    found = list_segments(tmp_path / "j")
    assert len(found) > 3 and found[0][0] == 1
    for (first, path), (next_first, _) in zip(found, found[1:]):
        info = scan_segment(path, path.read_bytes(), last=False)
        assert info.first_seq == first and info.last_seq == next_first - 1
        assert 1000 <= path.stat().st_size < 1000 + 100
    assert recover(tmp_path / "j")[1].last_seq == 120


def test_one_writer_per_directory(tmp_path):
    recover(tmp_path / "j", make_engine)
    with FileJournal(tmp_path / "j"):
        with pytest.raises(JournalError, match="in use by another process"):
            FileJournal(tmp_path / "j")
        with pytest.raises(JournalError, match="in use"):
            recover(tmp_path / "j")          # repairing recovery waits for the writer to stop
        recover(tmp_path / "j", repair=False)   # reading is fine
    FileJournal(tmp_path / "j").close()


def test_a_bad_command_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    from exchange import Deposit
    from exchange.journal import CodecError
    recover(tmp_path / "j", make_engine)
    with FileJournal(tmp_path / "j") as journal:
        journal.append(Deposit(1, 1, "BTC", 5))
        with pytest.raises(CodecError):
            journal.append_batch([Deposit(2, 1, "BTC", 5), Deposit(3, 1, "BTC", object())])
        monkeypatch.setattr("exchange.journal.journal.MAX_FRAME_BYTES", 1000)
        with pytest.raises(CodecError, match="frame limit"):
            journal.append(Deposit(3, 1, "B" * 2000, 5))
        assert journal.last_seq == 1
        assert journal.append(Deposit(4, 1, "BTC", 5)) == 2
    assert recover(tmp_path / "j")[1].last_seq == 2


def test_not_a_journal_directory(tmp_path):
    with pytest.raises(JournalError, match="not a journal directory"):
        recover(tmp_path)
    with pytest.raises(JournalError, match="not a journal directory"):
        FileJournal(tmp_path)
    engine, report = recover(tmp_path / "new", make_engine)
    assert report.created and (tmp_path / "new" / "meta").exists()
    assert recover(tmp_path / "new")[0].state_hash() == engine.state_hash()


def test_record_header_layout():
    # The format as documented in exchange/journal/segments.py.
    assert SEGMENT_HEADER_SIZE == 20 and FRAME_HEADER_SIZE == 24
    assert struct.calcsize("<IQII") + 4 == FRAME_HEADER_SIZE
