"""Write the golden journals in ``tests/data/golden`` and their expected replay results.

    python tests/data/make_golden.py

Run it only on purpose: after a deliberate change to the record format, the codec, the engine's snapshot
format or its behaviour. ``tests/test_journal_replay.py`` fails until then, which is the point: a journal
written yesterday must replay today. Review the diff of ``expected.json`` before committing it.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))            # tests/: the stream generator and the replay helpers
sys.path.insert(0, str(HERE.parent.parent))     # the repository root: exchange

from test_journal_replay import events_digest, journal_run  # noqa: E402
from test_journal_streams import random_commands  # noqa: E402

# name -> (stream seed, commands, batch size, snapshot every N batches, segment bytes)
CASES = {
    "mixed-segments": (1, 400, 7, 20, 4096),    # several segments and snapshots
    "mixed-single": (2, 250, 50, None, 1 << 20),  # one segment, meta only
}


def main() -> None:
    out = HERE / "golden"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    expected = {}
    for name, (seed, n, batch, snapshot_every, segment_bytes) in CASES.items():
        data_dir = out / name
        engine, events = journal_run(data_dir, random_commands(seed, n), batch=batch,
                                     snapshot_every=snapshot_every, segment_bytes=segment_bytes)
        (data_dir / "LOCK").unlink()
        expected[name] = {"records": n, "state_hash": engine.state_hash(), "event_seq": engine.last_seq,
                          "events_sha256": events_digest(events)}
        size = sum(p.stat().st_size for p in data_dir.iterdir())
        print(f"{name}: {n} records, {len(events)} events, {size:,} bytes, state {engine.state_hash()[:16]}")
    (out / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
