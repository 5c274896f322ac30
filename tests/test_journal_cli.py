"""``bdax journal verify / replay / dump / snapshot`` on a journal written by a small run."""
from __future__ import annotations

import json
import shutil

import pytest

from exchange.journal.segments import FRAME_HEADER_SIZE, list_segments, scan_segment
from exchange.journal.snapshots import list_snapshots
from gateway.cli import main
from test_journal_replay import journal_run
from test_journal_streams import random_commands

N = 240


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cli") / "j"
    engine, _ = journal_run(data_dir, random_commands(17, N), batch=10, snapshot_every=8, segment_bytes=3000)
    return data_dir, engine


@pytest.fixture
def jdir(written, tmp_path):
    target = tmp_path / "j"
    shutil.copytree(written[0], target)
    return target


def bdax(capsys, *argv) -> tuple[int, str, str]:
    code = main(["journal", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_a_healthy_journal(capsys, jdir, written):
    code, out, _ = bdax(capsys, "verify", jdir)
    assert code == 0 and "healthy" in out and f"records 1..{N}" in out
    assert written[1].state_hash() in out and "snapshot hash(es) matched" in out
    code, out, _ = bdax(capsys, "verify", jdir, "--no-replay")
    assert code == 0 and "replayed" not in out


def test_verify_says_what_is_wrong_and_exits_1(capsys, jdir):
    seg = list_segments(jdir)[1][1]
    offset = scan_segment(seg, seg.read_bytes(), last=False).offsets[3]
    data = bytearray(seg.read_bytes())
    data[offset + FRAME_HEADER_SIZE + 1] ^= 1
    seg.write_bytes(bytes(data))
    code, out, _ = bdax(capsys, "verify", jdir)
    assert code == 1 and "NOT healthy" in out and f"{seg.name} at byte {offset}" in out


def test_verify_warns_about_a_torn_tail_but_stays_healthy(capsys, jdir):
    seg = list_segments(jdir)[-1][1]
    with open(seg, "ab") as f:            # a crash in the middle of writing the next record
        f.write(bytes.fromhex("2a00000000000000f1"))
    code, out, _ = bdax(capsys, "verify", jdir)
    assert code == 0 and "WARNING" in out and "torn tail of 9 bytes" in out
    code, out, _ = bdax(capsys, "replay", jdir)
    assert code == 0 and "9 bytes" in out and "not read" in out
    assert seg.stat().st_size % 1 == 0 and bdax(capsys, "verify", jdir)[0] == 0


def test_replay_prints_hash_books_and_balances(capsys, jdir, written):
    engine = written[1]
    code, out, _ = bdax(capsys, "replay", jdir)
    assert code == 0 and engine.state_hash() in out
    assert "books:" in out and "BTC-USDT" in out and "ETH-KRW" in out and "balances:" in out
    assert "conserved" in out and "NOT CONSERVED" not in out
    bid, ask = engine.best_bid_ask("BTC-USDT")
    inst = engine.instruments["BTC-USDT"]
    assert (bid is None or inst.format_price(bid) in out) and (ask is None or inst.format_price(ask) in out)


def test_replay_json_and_until(capsys, jdir, written):
    code, out, _ = bdax(capsys, "replay", jdir, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["record_seq"] == N and doc["state_hash"] == written[1].state_hash()
    assert {b["symbol"] for b in doc["books"]} == {"BTC-USDT", "ETH-KRW"}
    assert all(b["conserved"] for b in doc["balances"])
    code, out, _ = bdax(capsys, "replay", jdir, "--until", 100, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["record_seq"] == 100 and doc["base"] == "snapshot-000000000080.snap"
    code, out, _ = bdax(capsys, "replay", jdir, "--until", 100, "--from-start", "--json")
    assert json.loads(out)["state_hash"] == doc["state_hash"]


def test_dump_prints_readable_records(capsys, jdir):
    code, out, _ = bdax(capsys, "dump", jdir, "--limit", 3)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].split()[:2] == ["1", "Deposit"]
    assert "account=1" in lines[0] and "asset='BTC'" in lines[0]
    code, out, _ = bdax(capsys, "dump", jdir, "--from", 200)
    assert code == 0 and len(out.splitlines()) == N - 199
    assert any("side=BUY" in line or "side=SELL" in line for line in out.splitlines())
    code, out, err = bdax(capsys, "dump", jdir, "--from", N + 5)
    assert code == 0 and out == "" and "no records" in err


def test_snapshot_writes_a_snapshot_and_prunes(capsys, jdir, written):
    code, out, _ = bdax(capsys, "snapshot", jdir, "--keep", 1)
    assert code == 0 and f"snapshot-{N:012d}.snap" in out and "pruned" in out
    assert [s for s, _ in list_snapshots(jdir)] == [N]
    code, out, _ = bdax(capsys, "replay", jdir, "--json")
    doc = json.loads(out)
    assert doc["replayed"] == 0 and doc["state_hash"] == written[1].state_hash()
    code, out, _ = bdax(capsys, "verify", jdir)
    assert code == 0


def test_errors_say_what_and_how(capsys, tmp_path):
    code, _, err = bdax(capsys, "replay", tmp_path / "nope")
    assert code == 1 and "is not a directory" in err
    code, _, err = bdax(capsys, "replay", tmp_path)
    assert code == 1 and "not a journal directory" in err
    code, out, _ = bdax(capsys, "verify", tmp_path)
    assert code == 1 and "no meta file" in out


@pytest.mark.parametrize("argv", [["journal", "--help"], ["journal", "verify", "--help"],
                                  ["journal", "replay", "--help"], ["journal", "dump", "--help"],
                                  ["journal", "snapshot", "--help"]])
def test_help_everywhere(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0 and "usage: bdax journal" in capsys.readouterr().out


def test_journal_without_subcommand_prints_help(capsys):
    assert main(["journal"]) == 2
    assert "verify" in capsys.readouterr().out
