"""The one-run liquidity report and `bdax sim compare` end to end on tiny runs."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from sim.compare.load import RunDirError, load_run
from sim.compare.report import METRICS_FILE, write_liquidity_report
from sim.compare.summary import run_summary
from sim.compare.synthetic import NS, write_synthetic_run


def _crisis_run(path):
    tl = [{"ts_ns": 300 * NS, "venue": "huobi", "health": "STALE", "routable": True, "reason": "QUOTE_STALE"},
          {"ts_ns": 303 * NS, "venue": "huobi", "health": "DOWN", "routable": False, "reason": "HEARTBEAT_TIMEOUT"},
          {"ts_ns": 400 * NS, "venue": "huobi", "health": "DEFAULTED", "routable": False, "reason": "ANNOUNCED"}]
    ex = [{"ts_ns": 400 * NS, "venue": "huobi", "creditor": "home", "asset": "USDT", "amount": 7_000_000,
           "quote_value": 7_000_000, "kind": "prefund"},
          {"ts_ns": 400 * NS, "venue": "huobi", "creditor": "home", "asset": "BTC", "amount": 100,
           "quote_value": 1_000_000, "kind": "in_flight"}]
    execs = {"ts_ns": [10 * NS, 20 * NS], "side": [1, 2], "qty_lots": [10, 20], "filled_lots": [10, 20],
             "quote_amount": [10 * 100_005 * 10, 20 * 99_995 * 10], "mid_x2": [200_000, 200_000],
             "routed_lots": [5, 0], "market": [1, 1]}
    stats = {"children_sent": 10, "children_filled": 7, "lots_sent": 100, "lots_filled": 70,
             "failed_by_reason": {"EXPIRED": 3}, "trade_throughs": 0, "home_fills": 40}
    return write_synthetic_run(path, model="mirrored", events={"huobi stale": 300 * NS, "huobi default": 400 * NS},
                               timeline=tl, exposure=ex, executions=execs, stats=stats, spread_jump=(300, 330, 50))


def test_crisis_report_has_every_section_and_known_figures(tmp_path):
    run = _crisis_run(tmp_path / "r")
    page = write_liquidity_report(run).read_text()
    for text in ("Exposure at default", "Stale fills before the kill switch", "around each event",
                 "Inter-venue dispersion", "liq_health.png", "liq_events.png"):
        assert text in page
    s = json.loads((run / METRICS_FILE).read_text())
    assert s["exposure"]["total_quote"] == 8_000_000
    assert s["stale_fills"]["huobi"]["window_s"] == 3.0
    assert s["routing"]["fill_ratio"] == pytest.approx(0.7)
    assert s["routing"]["trade_through_rate"] == 0
    assert s["resilience"]["huobi stale"]["peak_spread_bps"] == pytest.approx(10.0)
    assert s["resilience"]["huobi stale"]["recover_s"] == pytest.approx(30.0)
    assert s["effective_spread"]["mean_bps"] == pytest.approx(1.0)


def test_report_is_deterministic(tmp_path):
    a, b = _crisis_run(tmp_path / "a"), _crisis_run(tmp_path / "b")
    write_liquidity_report(a), write_liquidity_report(b)
    for name in ("liquidity.html", METRICS_FILE, "liq_health.png", "liq_events.png", "liq_dispersion.png"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_missing_pieces_are_na_not_errors(tmp_path):
    run = write_synthetic_run(tmp_path / "r", partners=("binance",))
    shutil.rmtree(run / "venues" / "binance")
    page = write_liquidity_report(run).read_text()
    assert "n/a" in page and "venue binance" in page
    (run / "liquidity.json").unlink()
    shutil.rmtree(run / "venues")
    s = run_summary(load_run(run))
    assert s["headline"] == {} and s["problems"]
    write_liquidity_report(run)
    with pytest.raises(RunDirError):
        load_run(tmp_path / "nope")


def test_compare_end_to_end_on_tiny_runs(tmp_path):
    out = tmp_path / "cmp"
    proc = subprocess.run([sys.executable, "-c", (
        "import argparse,sys; from sim.compare.cli import add_parser; ap=argparse.ArgumentParser(); "
        "sub=ap.add_subparsers(); add_parser(sub); a=ap.parse_args(sys.argv[1:]); sys.exit(a.func(a))"),
        "compare", "--scenarios", "zi-pool", "--seeds", "2", "--duration", "15m", "--zi-seeds", "2",
        "--jobs", "2", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "compare.json").read_text())
    assert doc["labels"] == ["zi-pool"] and doc["headline"]["zi-pool"]["spread_bps"]["n"] == 2
    zi = doc["literature"]["zi_spread"]
    assert zi["k"] == 4 and zi["measured_cut"]["n"] == 2 and isinstance(zi["agree"], bool)
    assert (out / "compare.html").exists() and (out / "cmp_slippage.png").exists()
    assert "[6/6]" in proc.stderr and "[7/" not in proc.stderr    # 2 runs + 2 x 2 ZI runs, progress shown


def test_compare_rejects_bad_arguments(tmp_path):
    from sim.compare.compare import CompareError, run_compare
    with pytest.raises(CompareError, match="no-such"):
        run_compare(["no-such-scenario"], [1], out_dir=tmp_path)
    with pytest.raises(CompareError, match="seeds"):
        run_compare(["zi-pool"], [], out_dir=tmp_path)
