"""Crash test: SIGKILL a journaling process at random points; nothing it acknowledged may be lost.

A child process recovers the directory, then loops: propose a batch of commands, ``append_batch`` it with
fsync per batch, print the acknowledged record seq (with a digest of the batch) once the append has
returned, apply the batch, and now and then write a snapshot. In ``background`` mode the syncer thread
fsyncs and the child applies the batch first and acknowledges it after ``wait_durable``.

The test kills it with SIGKILL at seeded random moments (after a random number of acknowledgements plus
a random few milliseconds, or a random time after the start, so the kill lands anywhere: in start-up and
recovery, a write, an fsync, a snapshot, the engine), then checks, after every kill:

- every acknowledged batch is in the recovered journal, record for record (same encoded commands);
- the recovered engine (newest snapshot + replay) has the state hash of a clean replay of every recovered
  record from ``meta``.

The next child then recovers the same directory and goes on, so later kills also hit recovery itself.
"""
from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import exchange
from exchange.journal import JournalReader, recover
from exchange.journal.codec import encode
from test_journal_streams import make_engine

KILLS = {"inline": 24, "background": 12}
TESTS_DIR = Path(__file__).absolute().parent
EXCHANGE_HOME = Path(exchange.__file__).absolute().parent.parent   # installed build or source tree

CHILD = r"""
import hashlib, random, sys
sys.path[:0] = [sys.argv[3], sys.argv[5]]   # the stream generator; the exchange package the test imported
from exchange.journal import FileJournal, recover
from exchange.journal.codec import encode
from test_journal_streams import CommandStream, make_engine

data_dir, seed, background = sys.argv[1], int(sys.argv[2]), sys.argv[4] == "background"
engine, report = recover(data_dir, make_engine)
print("start", report.last_seq, flush=True)
rnd = random.Random(f"{seed}-{report.last_seq}")
stream = CommandStream(f"{seed}-{report.last_seq}", ts_ns=10**9 * (1 + report.last_seq))
journal = FileJournal(data_dir, fsync="every_batch", segment_bytes=16_384, background=background)
batches = 0
while True:
    batch = [stream.next(engine) for _ in range(rnd.randint(1, 12))]
    last = journal.append_batch(batch)
    digest = hashlib.sha256(b"".join(encode(c) for c in batch)).hexdigest()[:16]
    if not background:
        print(last, len(batch), digest, flush=True)    # acknowledged: on disk
    for command in batch:
        engine.handle(command)
    if background:
        journal.wait_durable(last)
        print(last, len(batch), digest, flush=True)
    batches += 1
    if batches % 17 == 0:
        journal.take_snapshot(engine)
"""


def _digest(data_dir: Path, last: int, n: int) -> str:
    payloads = [encode(c) for _, c in JournalReader(data_dir).commands(last - n + 1, last)]
    assert len(payloads) == n, f"records {last - n + 1}..{last} are not all there"
    return hashlib.sha256(b"".join(payloads)).hexdigest()[:16]


@pytest.mark.parametrize("mode", ["inline", "background"])
def test_sigkill_at_random_points_loses_no_acknowledged_record(tmp_path, mode):
    rng = random.Random(f"20240603-{mode}")
    data_dir = tmp_path / "j"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    acked: dict[int, tuple[int, str]] = {}   # last seq of a batch -> (batch size, digest)
    starts = []
    for kill in range(KILLS[mode]):
        child = subprocess.Popen([sys.executable, str(script), str(data_dir), "7", str(TESTS_DIR), mode,
                                  str(EXCHANGE_HOME)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if kill > 0 and rng.random() < 0.25:
                time.sleep(rng.random() * 0.3)     # early: during start-up, recovery or the first batches
            else:
                line = child.stdout.readline()
                assert line.startswith("start"), f"child failed to start: {child.stderr.read()}"
                starts.append(int(line.split()[1]))
                for _ in range(rng.randint(1, 40)):
                    line = child.stdout.readline()
                    assert line, f"child died: {child.stderr.read()}"
                    seq, n, digest = line.split()
                    acked[int(seq)] = (int(n), digest)
                time.sleep(rng.random() * 0.004)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            rest, _ = child.communicate()
        for line in rest.split("\n")[:-1]:    # printed before the kill (not a line the kill cut short)
            if line.startswith("start"):
                starts.append(int(line.split()[1]))
                continue
            seq, n, digest = line.split()
            acked[int(seq)] = (int(n), digest)
        top = max(acked, default=0)

        engine, report = recover(data_dir)
        assert report.last_seq >= top, f"kill {kill}: acknowledged {top}, recovered {report.last_seq}"
        for last, (n, digest) in acked.items():
            if last > top - 200:               # the recent batches after each kill; all of them at the end
                assert _digest(data_dir, last, n) == digest, f"kill {kill}: batch ending {last} differs"
        clean, clean_report = recover(data_dir, use_snapshots=False, repair=False)
        assert clean_report.last_seq == report.last_seq
        assert clean.state_hash() == engine.state_hash(), f"kill {kill}: snapshot + replay != clean replay"

    for last, (n, digest) in acked.items():
        assert _digest(data_dir, last, n) == digest
    assert starts == sorted(starts) and len(acked) > KILLS[mode]  # recovery never went backwards
    engine, _ = recover(data_dir)
    engine._check()
    assert make_engine().state_hash() != engine.state_hash()
