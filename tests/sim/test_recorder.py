"""The columnar recorder: growth, validation, L2 throttling, files, round trip, byte-identical output."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sim.recorder import FILES, META_FILE, Recorder, RecorderError, format_price, to_prices

SYM = "BTC-KRW"
SCALE = {SYM: ("1000", "0.0001")}


def filled(n: int = 3000, seed: int = 0) -> Recorder:
    """A recorder with ``n`` trades and L1 changes (past the initial capacity, so it has grown)."""
    rng = np.random.default_rng(seed)
    rec = Recorder([SYM, "ETH-KRW"], l2_levels=3, l2_every_ns=1_000)
    for i in range(n):
        ts = 100 * i
        bid = 50_000 + int(rng.integers(0, 5))
        rec.on_l1(SYM, ts, bid, int(rng.integers(1, 9)), bid + 1 + int(rng.integers(0, 2)), 4)
        rec.on_trade(SYM, ts, bid, int(rng.integers(1, 20)), 1 + i % 2)
        rec.on_l2(SYM, ts, [(bid, 5), (bid - 1, 7)], [(bid + 1, 2), (bid + 2, 3), (bid + 3, 4), (bid + 4, 9)])
    return rec


def test_columns_grow_and_read_back():
    rec = filled()
    t = rec.trades(SYM)
    assert sorted(t) == ["price_ticks", "qty_lots", "side", "ts_ns"]
    assert t["ts_ns"].size == 3000 and t["ts_ns"][-1] == 100 * 2999
    assert t["side"].dtype == np.int8 and set(np.unique(t["side"])) == {1, 2}
    assert t["ts_ns"].flags.writeable is False
    l1 = rec.l1(SYM)
    assert sorted(l1) == ["ask", "ask_qty", "bid", "bid_qty", "ts_ns"]
    assert (l1["ask"] > l1["bid"]).all()
    assert rec.trades("ETH-KRW")["ts_ns"].size == 0


def test_views_survive_later_growth():
    rec = Recorder([SYM])
    rec.on_trade(SYM, 1, 10, 1, 1)
    before = rec.trades(SYM)
    for i in range(5000):
        rec.on_trade(SYM, 2 + i, 11, 1, 2)
    assert before["price_ticks"].tolist() == [10]
    assert rec.trades(SYM)["price_ticks"][0] == 10 and rec.trades(SYM)["ts_ns"].size == 5001


def test_unchanged_l1_is_not_stored_twice():
    rec = Recorder([SYM])
    rec.on_l1(SYM, 1, 10, 1, 12, 1)
    rec.on_l1(SYM, 2, 10, 1, 12, 1)
    rec.on_l1(SYM, 3, 10, 2, 12, 1)
    rec.on_l1(SYM, 4, 0, 0, 12, 1)   # bid side emptied
    assert rec.l1(SYM)["ts_ns"].tolist() == [1, 3, 4]
    assert rec.l1(SYM)["bid"].tolist() == [10, 10, 0]


def test_l2_is_throttled_to_one_snapshot_per_grid_slot_and_truncated():
    rec = filled(50)
    l2 = rec.l2(SYM)
    # records every 100 ns, grid of 1000 ns: the first offer in each slot is kept
    assert l2["ts_ns"].tolist() == list(range(0, 5000, 1000))
    assert l2["bid_px"].shape == (5, 3)
    assert l2["bid_qty"][0].tolist() == [5, 7, 0]          # zero-padded
    assert l2["ask_qty"][0].tolist() == [2, 3, 4]          # truncated to 3 levels
    assert rec.l2_due(SYM, 5000) and not rec.l2_due(SYM, 4999)


@pytest.mark.parametrize("call, match", [
    (lambda r: r.on_trade("XRP-KRW", 1, 1, 1, 1), "not recorded"),
    (lambda r: r.on_trade(SYM, 1, 1, 1, 0), "taker_side"),
    (lambda r: r.on_trade(SYM, 1, 0, 1, 1), "positive price_ticks"),
    (lambda r: r.on_l1(SYM, 1, -1, 0, 5, 1), ">= 0"),
    (lambda r: r.on_l2(SYM, 100, [(0, 1)], []), "positive"),
    (lambda r: r.on_trade(SYM, 5, 1, 1, 1), "before the previous"),
])
def test_invalid_calls_raise_and_record_nothing(call, match):
    rec = Recorder([SYM])
    rec.on_trade(SYM, 10, 7, 1, 1)
    with pytest.raises(RecorderError, match=match):
        call(rec)
    assert rec.counts()[SYM] == {"trades": 1, "l1": 0, "l2": 0}


def test_constructor_validation():
    for bad in ([], "BTC-KRW", ["A", "A"], ["A/B"]):
        with pytest.raises(RecorderError):
            Recorder(bad)
    with pytest.raises(RecorderError, match="l2_levels"):
        Recorder([SYM], l2_levels=0)
    with pytest.raises(RecorderError, match="l2_every_ns"):
        Recorder([SYM], l2_every_ns=0)


def test_save_and_load_round_trip(tmp_path):
    rec = filled()
    scale = {**SCALE, "ETH-KRW": ("1", "0.001")}
    rec.save(tmp_path, scale)
    for name in list(FILES.values()) + [META_FILE]:
        assert (tmp_path / name).is_file()
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["price_scale"][SYM] == {"price_unit": "1000", "lot_size": "0.0001"}
    assert meta["rows"][SYM]["trades"] == 3000
    with np.load(tmp_path / "trades.npz", allow_pickle=False) as z:   # plain numpy can read it
        assert z[f"{SYM}/price_ticks"].tolist() == rec.trades(SYM)["price_ticks"].tolist()
        assert json.loads(z["_meta"].item())["format"] == meta["format"]
    back = Recorder.load(tmp_path)
    assert back.symbols == rec.symbols and back.price_scale == {k: tuple(v) for k, v in scale.items()}
    for getter in ("trades", "l1", "l2"):
        a, b = getattr(rec, getter)(SYM), getattr(back, getter)(SYM)
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype
    # a loaded recorder keeps recording where the run left off
    back.on_trade(SYM, 100 * 3000, 5, 1, 1)
    with pytest.raises(RecorderError, match="before the previous"):
        back.on_trade(SYM, 0, 5, 1, 1)


def test_saved_bytes_are_identical_for_identical_data(tmp_path):
    filled(seed=3).save(tmp_path / "a", SCALE | {"ETH-KRW": ("1", "1")})
    filled(seed=3).save(tmp_path / "b", SCALE | {"ETH-KRW": ("1", "1")})
    filled(seed=4).save(tmp_path / "c", SCALE | {"ETH-KRW": ("1", "1")})
    for name in list(FILES.values()) + [META_FILE]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "trades.npz").read_bytes() != (tmp_path / "c" / "trades.npz").read_bytes()
    assert not list(tmp_path.glob("*/*.tmp"))


def test_save_rejects_missing_or_bad_scale(tmp_path):
    rec = filled(10)
    with pytest.raises(RecorderError, match="no entry for 'ETH-KRW'"):
        rec.save(tmp_path, SCALE)
    with pytest.raises(RecorderError, match="positive decimal string"):
        rec.save(tmp_path, {SYM: ("abc", "1"), "ETH-KRW": ("1", "1")})
    with pytest.raises(RecorderError, match="positive decimal string"):
        rec.save(tmp_path, {SYM: ("1", 0.5), "ETH-KRW": ("1", "1")})
    assert not (tmp_path / META_FILE).exists()


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(RecorderError, match="not a recorded run"):
        Recorder.load(tmp_path)
    filled(10).save(tmp_path, SCALE | {"ETH-KRW": ("1", "1")})
    (tmp_path / "l2.npz").unlink()
    with pytest.raises(RecorderError, match="l2.npz not found"):
        Recorder.load(tmp_path)


def test_price_helpers():
    assert format_price(51_234, "1000") == "51234000"
    assert format_price(7, "0.01") == "0.07"
    assert to_prices(np.array([1, 2]), "0.5").tolist() == [0.5, 1.0]
