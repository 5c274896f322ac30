"""``bdax bench matching``: its workloads, its naive baseline and its command line. Never asserts timings.

The benchmark is only honest if every engine does the same work: the naive book, bdax and (if installed)
liquibook must end with the same L2 book on the same stream, and bdax must accept every command.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks import cli as bench_cli
from benchmarks import matching, workloads
from benchmarks.naive_book import NaiveBook
from benchmarks.workloads import ADD, CANCEL, IOC, MOVE
from exchange import AmendOrder, CancelOrder, CommandRejected, OrderAccepted, OrderRejected
from gateway import cli


@pytest.fixture(scope="module")
def built() -> dict[str, workloads.Workload]:
    return {name: workloads.build(name, seed=3, quick=True) for name in workloads.WORKLOADS}


def _play_naive(w: workloads.Workload, check_every: int = 0) -> NaiveBook:
    book, setup_calls, measured_calls = matching.instance("naive", w.setup_ops, w.measured_ops)
    for i, (fn, args) in enumerate(setup_calls + measured_calls):
        fn(*args)
        if check_every and i % check_every == 0:
            book._check()
    book._check()
    return book


# The naive book: the yardstick must itself be right ---------------------------------------------------

def test_naive_book_price_time_priority_and_ioc():
    b = NaiveBook()
    assert b.submit(1, False, 101, 5) == []
    assert b.submit(2, False, 100, 5) == []
    assert b.submit(3, False, 100, 5) == []
    # A buy through two levels: the best price first, oldest first within it, at the maker's price.
    assert b.submit(4, True, 101, 12) == [(2, 4, 100, 5), (3, 4, 100, 5), (1, 4, 101, 2)]
    assert b.depth() == ([], [(101, 3)])
    # IOC: matches what it can, drops the rest.
    assert b.submit(5, True, 102, 10, ioc=True) == [(1, 5, 101, 3)]
    assert b.depth() == ([], [])
    assert 5 not in b.orders
    b._check()


def test_naive_book_cancel_and_move_lose_priority():
    b = NaiveBook()
    b.submit(1, True, 99, 4)
    b.submit(2, True, 99, 4)
    assert b.move(1, 98) == [] and b.move(1, 99) == []  # back at 99, now behind order 2
    assert b.submit(3, False, 99, 5) == [(2, 3, 99, 4), (1, 3, 99, 1)]
    assert b.cancel(1) and not b.cancel(1)
    assert b.depth() == ([], [])
    b.submit(4, False, 105, 2)
    assert b.move(4, 90) == []  # a move that crosses nothing just rests
    assert b.depth() == ([], [(90, 2)])
    b._check()


# Workloads ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_generation_is_deterministic_per_seed(name):
    a = workloads.generate(name, seed=11, quick=True)
    b = workloads.generate(name, seed=11, quick=True)
    c = workloads.generate(name, seed=12, quick=True)
    assert a.setup_ops == b.setup_ops and a.measured_ops == b.measured_ops and a.stats == b.stats
    assert a.measured_ops != c.measured_ops


def test_ec_mix_and_book_shape():
    w = workloads.generate("ec", seed=5, quick=True)
    mix, n = w.stats["mix"], w.stats["measured_ops"]
    kinds = Counter(op[0] for op in w.measured_ops)
    assert {workloads.KIND_NAMES[k]: c / n for k, c in kinds.items()} == pytest.approx(mix, abs=1e-3)
    assert mix["add"] == pytest.approx(0.09, abs=0.015)
    assert mix["ioc"] == pytest.approx(0.03, abs=0.01)
    assert mix["cancel"] == pytest.approx(0.06, abs=0.015)
    assert mix["move"] == pytest.approx(0.82, abs=0.02)
    assert 0.03 <= w.stats["trade_ratio"] <= 0.08
    start = w.stats["book_start"]
    assert 0.8 * 300 <= start["orders"] <= 1.1 * 300 and start["levels"] >= 0.5 * start["orders"]


def test_ec_full_size_book_shape():
    # Generation alone (no engine) is fast enough to check the published shape at full size.
    s = workloads.generate("ec", seed=1).stats
    for book in (s["book_start"], s["book_end"]):
        assert 900 <= book["orders"] <= 1_100
        assert 650 <= book["levels"] <= 850
    assert 0.04 <= s["trade_ratio"] <= 0.07


def test_deep_mix_and_sweeps():
    w = workloads.generate("deep", seed=5, quick=True)
    mix = w.stats["mix"]
    assert mix["add"] == pytest.approx(0.5, abs=0.03)
    assert mix["ioc"] == pytest.approx(0.2, abs=0.03)
    assert mix["cancel"] == pytest.approx(0.3, abs=0.03)
    assert mix["move"] == 0
    # Each IOC trades at 2-5 price levels (fewer only if the opposite side runs out).
    book, setup_calls, _ = matching.instance("naive", w.setup_ops, [])
    for fn, args in setup_calls:
        fn(*args)
    swept = Counter()
    for kind, oid, is_buy, price, qty, _ in w.measured_ops:
        if kind == ADD:
            book.submit(oid, is_buy, price, qty)
        elif kind == CANCEL:
            book.cancel(oid)
        else:
            assert kind == IOC
            swept[len({p for _, _, p, _ in book.submit(oid, is_buy, price, qty, True)})] += 1
    assert sum(swept[k] for k in range(2, 6)) >= 0.95 * sum(swept.values())


@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_cancels_and_moves_target_resting_orders(name):
    w = workloads.generate(name, seed=2, quick=True)
    book = NaiveBook()
    for kind, oid, is_buy, price, qty, _ in w.setup_ops + w.measured_ops:
        if kind in (CANCEL, MOVE):
            assert oid in book.orders
            assert kind == CANCEL or book.orders[oid].qty == qty  # a move carries the open quantity
        if kind in (ADD, IOC):
            book.submit(oid, is_buy, price, qty, kind == IOC)
        elif kind == CANCEL:
            book.cancel(oid)
        else:
            book.move(oid, price)


# Same work on every engine -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_naive_book_and_bdax_agree_on_the_final_book(built, name):
    w = built[name]
    book = _play_naive(w, check_every=97)
    engine = workloads.make_engine()
    accepted: set[int] = set()
    for cmd in w.bdax_setup + w.bdax_measured:  # a fresh engine: the ids learned in build() must hold
        if type(cmd) in (CancelOrder, AmendOrder):
            assert cmd.order_id in accepted  # by the id bdax gave the order, as a real client would
        events = engine.handle(cmd)
        assert type(events[0]) not in (OrderRejected, CommandRejected), (cmd, events[0])
        accepted.update(e.order_id for e in events if type(e) is OrderAccepted)
    bids, asks = book.depth(limit=10**9)
    depth = engine.depth(workloads.SYMBOL, 10**9)
    assert [tuple(level) for level in depth.bids] == bids
    assert [tuple(level) for level in depth.asks] == asks
    assert len(bids) > 10 and len(asks) > 10
    engine._check()
    assert engine.totals() == engine.net_deposits()
    assert w.stats["bdax_trades"] == w.stats["fills"]


@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_liquibook_agrees_with_the_naive_book(built, name):
    pytest.importorskip("liquibook")
    w = built[name]
    book, setup_calls, measured_calls = matching.instance("liquibook", w.setup_ops, w.measured_ops)
    for fn, args in setup_calls + measured_calls:
        fn(*args)
    assert book.depth(10**9) == _play_naive(w).depth(10**9)


# The command line ----------------------------------------------------------------------------------------

def test_bench_matching_quick_json_only(capsys):
    assert cli.main(["bench", "matching", "--quick", "--json-only"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["bench"] == "matching" and report["quick"] is True and report["runs"] >= 1
    assert set(report["workloads"]) == {"ec", "deep"}
    assert report["environment"]["python"] and report["environment"]["machine"]["nproc"]
    engines = {"bdax", "naive"} | ({"liquibook"} if matching.liquibook_driver.AVAILABLE else set())
    for name in ("ec", "deep"):
        rows = {r["engine"]: r for r in report["results"] if r["workload"] == name}
        assert set(rows) == engines
        for r in rows.values():
            assert r["cmd_per_s"] > 0 and len(r["runs_cmd_per_s"]) == r["runs"] == report["runs"]
            assert 0 < r["p50_ns"] <= r["p99_ns"] <= r["p999_ns"]
            assert r["peak_mem_bytes"] is None or r["peak_mem_bytes"] >= 0
        assert rows["naive"]["ratio_to_naive"] == 1.0
        per_run = [b / n for b, n in zip(rows["bdax"]["runs_cmd_per_s"], rows["naive"]["runs_cmd_per_s"])]
        assert min(per_run) * 0.99 <= rows["bdax"]["ratio_to_naive"] <= max(per_run) * 1.01
    if not matching.liquibook_driver.AVAILABLE:
        assert report["environment"]["liquibook"] == "liquibook: not installed (pip install bdax[bench])"


def test_bench_matching_table_ends_with_the_json_line(capsys):
    assert cli.main(["bench", "matching", "--quick", "--workload", "ec", "--runs", "1", "--engines",
                     "bdax,naive", "--no-memory"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any("bdax/naive" in line for line in out)
    report = json.loads(out[-1])
    assert [r["engine"] for r in report["results"]] == ["bdax", "naive"]


def test_bench_matching_without_liquibook_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(matching.liquibook_driver, "AVAILABLE", False)
    assert cli.main(["bench", "matching", "--quick", "--workload", "ec", "--runs", "1", "--no-memory"]) == 0
    out = capsys.readouterr().out
    assert "liquibook: not installed (pip install bdax[bench])" in out
    report = json.loads(out.strip().splitlines()[-1])
    assert {r["engine"] for r in report["results"]} == {"bdax", "naive"}


def test_bench_journal_says_so_when_its_module_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(bench_cli, "JOURNAL_MODULE", "benchmarks.no_such_journal_bench")
    assert cli.main(["bench", "journal", "--anything"]) == 2
    assert "not available" in capsys.readouterr().err


def test_bench_cli_import_is_light():
    import subprocess
    import sys
    code = "import sys, benchmarks.cli; print('numpy' in sys.modules, 'exchange' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(matching.ROOT)).stdout.split()
    assert out == ["False", "False"]
