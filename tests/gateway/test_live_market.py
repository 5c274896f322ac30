"""``bdax serve --market``: a real server with the busan agents, seen by unmodified sync ccxt; the flag's
errors; a journal made by another engine kind is refused.
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2e_server import GatewayServer  # noqa: E402
from exchange import Engine  # noqa: E402
from gateway.app import check_journal_matches, engine_kind  # noqa: E402
from gateway.cli import main  # noqa: E402
from gateway.config import demo_config, load_config, write_config  # noqa: E402
from sim.live.engine import market_config  # noqa: E402


def _ccxt(server):
    ccxt = pytest.importorskip("ccxt")
    base = server.http_base
    return ccxt.binance({"urls": {"api": {"public": base + "/api/v3", "private": base + "/api/v3",
                                          "v1": base + "/api/v1", "sapi": base + "/sapi/v1"}},
                         "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                                     "fetchMargins": False}})


def test_serve_busan_moves_for_ccxt_and_exits_on_sigterm():
    with tempfile.TemporaryDirectory() as tmp:
        server = GatewayServer(Path(tmp) / "data", log_path=Path(tmp) / "server.log", market=None,
                               speed=5).start()
        try:
            cfg = load_config(Path(tmp) / "data" / "bdax.toml")
            assert cfg.market is not None and cfg.market.scenario == "busan"   # the first run's default
            ex = _ccxt(server)
            time.sleep(1.0)
            t1, b1 = ex.fetch_ticker("BTC/KRW"), ex.fetch_order_book("BTC/KRW", 20)
            time.sleep(1.5)
            t2, b2 = ex.fetch_ticker("BTC/KRW"), ex.fetch_order_book("BTC/KRW", 20)
            assert b1["bids"] and b1["asks"] and b2["bids"] and b2["asks"]
            assert t2["info"]["count"] != t1["info"]["count"] or b1["bids"] != b2["bids"] or b1["asks"] != b2["asks"]
            assert int(t2["info"]["count"]) > 0
            ohlcv = ex.fetch_ohlcv("BTC/KRW", "1m", limit=5)
            assert ohlcv and ohlcv[-1][5] > 0
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=30) == 0
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.kill()
        log = (Path(tmp) / "server.log").read_text()
        assert "market: busan at 5x" in log


def test_bad_market_name_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["serve", "--market", "busann", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "busann" in err and "busan-mirrored" in err and "did you mean 'busan'" in err
    assert not data.exists()


def test_market_flag_against_another_config(tmp_path, capsys):
    data = tmp_path / "data"
    write_config(demo_config(), data / "bdax.toml")
    assert main(["serve", "--market", "busan", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "no [market]" in err and "instrument BTC-KRW differs" in err and "--data-dir" in err
    assert "--market none" in err
    write_config(market_config("busan"), data / "bdax.toml")
    assert main(["serve", "--market", "busan-mirrored", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "[market] 'busan'" in err and "BTC-KRW" in err
    assert not (data / "journal").exists()


def test_speed_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--speed", "0", "--data-dir", str(tmp_path)])
    assert exc.value.code == 2
    assert "speed 0 is not in" in capsys.readouterr().err


def test_journal_of_another_engine_kind_is_refused():
    mirrored = market_config("busan-mirrored")
    hub = mirrored.make_engine()
    assert engine_kind(hub).startswith("MirroredVenue:")
    with pytest.raises(RuntimeError, match="made by a plain Engine"):
        check_journal_matches(hub, mirrored, "Engine")
    plain = market_config("busan")
    engine = plain.make_engine()
    assert type(engine) is Engine and engine_kind(engine) == "Engine"
    with pytest.raises(RuntimeError, match="MirroredVenue hub"):
        check_journal_matches(engine, plain, engine_kind(hub))
    check_journal_matches(hub, mirrored, engine_kind(hub))


def test_market_table_round_trips_and_is_validated(tmp_path):
    import tomllib

    from gateway.config import ConfigError, dump_toml, parse_config
    cfg = market_config("busan", seed=7)
    data = tomllib.loads(dump_toml(cfg))
    assert parse_config(data).market == cfg.market
    for bad, msg in (({"scenario": ""}, "market.scenario: must name a scenario"),
                     ({"scenario": "busan", "speed": 2}, "market.speed: unknown key"),
                     ({"scenario": "busan", "seed": -1}, "market.seed: must be in")):
        with pytest.raises(ConfigError, match=msg):
            parse_config({**data, "market": bad})
