"""Run and sweep reports: files present, valid JSON in a fixed key order, identical bytes for identical
input, the facts table coloured by verdict, no wall-clock time anywhere."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from sim.facts import FactsTable, compute_facts
from sim.plots import PLOT_FILES, _bin_max_spread, plot_acf
from sim.recorder import Recorder
from sim.report import METRICS_FILE, REPORT_FILE, SWEEP_FILE, SWEEP_PLOT, ReportError, jsonable, \
    write_run_report, write_sweep_report

SYM = "BTC-KRW"
STEP = 10 * 1_000_000_000     # one synthetic book change every 10 s
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def simulate(seed: int, hours: float = 12.0) -> tuple[Recorder, FactsTable]:
    """A recorder fed like the runner feeds it: GARCH-driven mid, varying spread, trades and L2."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600e9 / STEP)
    rec = Recorder([SYM], l2_levels=5, l2_every_ns=60_000_000_000)
    mid, s2 = 80_000.0, 1e-8
    for i in range(n):
        ts = (i + 1) * STEP
        r = math.sqrt(s2) * rng.standard_normal()
        s2 = 2e-10 + 0.1 * r * r + 0.88 * s2
        mid *= math.exp(r)
        spread = 1 + int(rng.geometric(0.6)) - 1
        bid = int(mid) - spread // 2
        ask = bid + spread
        if rng.random() < 0.6:
            rec.on_trade(SYM, ts, ask if rng.random() < 0.5 else bid, int(rng.integers(1, 50)),
                         int(rng.integers(1, 3)))
        rec.on_l1(SYM, ts, bid, int(rng.integers(1, 30)), ask, int(rng.integers(1, 30)))
        if rec.l2_due(SYM, ts):
            rec.on_l2(SYM, ts, [(bid - k, 10 + 3 * k) for k in range(7)],
                      [(ask + k, 9 + 4 * k) for k in range(7)])
    facts = compute_facts(rec.trades(SYM), rec.l1(SYM), tick_size=1.0, start_ns=0, end_ns=n * STEP)
    return rec, facts


@pytest.fixture(scope="module")
def runs():
    return [simulate(seed) for seed in (1, 2, 3)]


METRICS = {"messages": 123456, "spread_bps": {"mean": 1.25, "p50": np.float64(1.0)},
           "nan_metric": float("nan"), "trades": np.int64(42)}


def write(tmp, rec, facts, name="busan", seed=1):
    rec.save(tmp, {SYM: ("1000", "0.0001")})
    return write_run_report(tmp, scenario_name=name, seed=seed, recorder=rec, facts=facts, metrics=METRICS,
                            symbol=SYM)


@pytest.fixture(scope="module")
def written(runs, tmp_path_factory):
    """Seed 1's run directory, reported once for the tests that only read it."""
    rec, facts = runs[0]
    run_dir = tmp_path_factory.mktemp("busan-1")
    return write(run_dir, rec, facts), run_dir


def test_run_report_writes_html_metrics_and_plots(written, runs):
    path, run_dir = written
    facts = runs[0][1]
    assert path == run_dir / REPORT_FILE
    for name in PLOT_FILES.values():
        data = (run_dir / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    for name in PLOT_FILES.values():
        assert f'src="{name}"' in text                       # relative paths, no data: URIs
    assert "http" not in text                                # self-contained: nothing fetched
    assert "busan — seed 1" in text and "hill_alpha" in text and "spread_bps.mean" in text
    for r in facts.rows:                                     # every row coloured by its verdict
        cls = "report" if r.band is None else {True: "pass", False: "fail", None: "na"}[r.passed]
        assert re.search(rf'<tr class="{cls}"><td>{r.name}</td><td>{re.escape(r.horizon)}</td>', text), r.name
    assert {r.passed for r in facts.banded()} >= {True, False}  # the colouring check saw both verdicts
    doc = json.loads((run_dir / METRICS_FILE).read_text())
    assert doc["scenario"] == "busan" and doc["seed"] == 1 and doc["metrics"]["nan_metric"] is None
    assert doc["metrics"]["spread_bps"]["p50"] == 1.0 and doc["metrics"]["trades"] == 42
    assert [r["name"] for r in doc["facts"]["rows"]] == [r.name for r in facts.rows]
    assert doc["price_scale"] == ["1000", "0.0001"]
    raw = (run_dir / METRICS_FILE).read_text()
    assert raw == json.dumps(json.loads(raw), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_identical_input_gives_identical_bytes(tmp_path, written, runs):
    _, first = written
    rec2, facts2 = simulate(1)                                 # same seed, rebuilt from scratch
    write(tmp_path / "again", rec2, facts2)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    assert set(PLOT_FILES.values()) | {METRICS_FILE, REPORT_FILE, "trades.npz"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    # and a different run differs
    other_rec, other_facts = runs[1]
    write(tmp_path / "other", other_rec, other_facts)
    name = PLOT_FILES["price_spread"]
    assert (tmp_path / "other" / name).read_bytes() != (first / name).read_bytes()


def test_png_carries_no_software_or_time_metadata(written):
    _, run_dir = written
    for name in PLOT_FILES.values():
        data = (run_dir / name).read_bytes()
        chunks, pos = [], 8
        while pos < len(data):
            length = int.from_bytes(data[pos:pos + 4], "big")
            chunks.append(data[pos + 4:pos + 8])
            pos += 12 + length
        assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
        assert not {b"tIME", b"tEXt", b"iTXt", b"zTXt"} & set(chunks), name


def test_report_from_reloaded_run_recomputes_series(tmp_path, written):
    _, run_dir = written
    loaded = Recorder.load(run_dir)
    table = FactsTable.from_dict(json.loads((run_dir / METRICS_FILE).read_text())["facts"])
    assert not table.series
    write_run_report(tmp_path, scenario_name="busan", seed=1, recorder=loaded, facts=table,
                     metrics=METRICS, symbol=SYM)
    for name in PLOT_FILES.values():
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_empty_run_still_reports(tmp_path):
    rec = Recorder([SYM])
    facts = compute_facts(rec.trades(SYM), rec.l1(SYM), tick_size=1.0, start_ns=0, end_ns=3600 * 10**9)
    path = write_run_report(tmp_path, scenario_name="empty", seed=0, recorder=rec, facts=facts, metrics={},
                            symbol=SYM)
    assert "n/a" in path.read_text()
    for name in PLOT_FILES.values():
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)


def test_invalid_report_inputs(tmp_path, runs):
    rec, facts = runs[0]
    with pytest.raises(ReportError, match="FactsTable"):
        write_run_report(tmp_path, scenario_name="x", seed=1, recorder=rec, facts=facts.to_dict(), metrics={},
                         symbol=SYM)
    with pytest.raises(ReportError, match=r"metrics\.bad"):
        write_run_report(tmp_path, scenario_name="x", seed=1, recorder=rec, facts=facts,
                         metrics={"bad": object()}, symbol=SYM)
    assert not list(tmp_path.iterdir())                      # a rejected input writes nothing
    with pytest.raises(ReportError):
        write_sweep_report(tmp_path, [])
    with pytest.raises(ReportError, match=r"runs\[0\]"):
        write_sweep_report(tmp_path, [{"facts": facts}])


def test_sweep_report(tmp_path, runs, written):
    _, run1 = written
    run_dicts = [{"seed": seed, "scenario": "busan", "facts": facts, "metrics": METRICS,
                  "run_dir": tmp_path / f"busan-{seed}"} for seed, (_, facts) in zip((1, 2, 3), runs)]
    # a run given as its parsed metrics.json works the same
    run_dicts[0] = {**json.loads((run1 / METRICS_FILE).read_text()), "run_dir": tmp_path / "busan-1"}
    out = tmp_path / "sweep"
    path = write_sweep_report(out, list(reversed(run_dicts)))
    doc = json.loads((out / SWEEP_FILE).read_text())
    assert doc["seeds"] == [1, 2, 3] and doc["scenarios"] == ["busan"]
    assert doc["runs"][0]["run_dir"] == "../busan-1"
    assert doc["metrics"]["messages"]["median"] == 123456
    kurt = next(r for r in doc["facts"]["rows"] if r["name"] == "excess_kurtosis" and r["horizon"] == "1m")
    vals = sorted(t.row("excess_kurtosis", "1m").value for _, t in runs)
    assert kurt["value"] == pytest.approx(vals[1]) and kurt["n_seeds"] == 3
    text = path.read_text()
    assert "3 seeds" in text and 'href="../busan-1/report.html"' in text and f'src="{SWEEP_PLOT}"' in text
    assert (out / SWEEP_PLOT).read_bytes().startswith(PNG_MAGIC)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    write_sweep_report(out, run_dicts)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_jsonable():
    assert jsonable({"a": (1, np.float32(0.5)), 2: np.array([1, 2]), "n": np.inf}) == \
        {"a": [1, 0.5], "2": [1, 2], "n": None}


def test_acf_plot_handles_undefined_acf(tmp_path):
    path = plot_acf(tmp_path / "a.png", np.full(10, np.nan), np.full(100, np.nan), 5)
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_widest_spread_per_bin_catches_short_blowouts():
    l1 = {"ts_ns": np.array([5, 12, 13, 14, 35, 50]), "bid": np.array([10, 10, 0, 10, 10, 10]),
          "ask": np.array([11, 19, 12, 12, 13, 30]), "bid_qty": np.ones(6), "ask_qty": np.ones(6)}
    got = _bin_max_spread(l1, np.array([10, 20, 30, 40]))
    # [10,20): 9, 2 and a one-sided record; [20,30): nothing; [30,40): 3; the record at 50 is past the end
    assert got[0] == 9 and math.isnan(got[1]) and got[2] == 3
