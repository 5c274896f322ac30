"""End to end: unmodified freqtrade trades live (``dry_run: false``) on a real ``bdax serve``.

Opt-in and slow (about three minutes): freqtrade is far too heavy for the project's dependencies, so it
lives in its own venv and this test runs only when ``BDAX_FREQTRADE`` names its executable::

    python3 -m venv /tmp/ft && /tmp/ft/bin/pip install freqtrade      # 2026.9 (ccxt 4.5.90, ta-lib)
    BDAX_FREQTRADE=/tmp/ft/bin/freqtrade /tmp/dev/bin/pytest tests/gateway/test_e2e_freqtrade.py

What runs: the gateway with its demo config (``e2e_server.py``); a small moving market on the demo
accounts 2 and 3 (``freqtrade/ft_market.py``, a thread); and ``freqtrade trade`` as a subprocess on account
1 with ``freqtrade/config.template.json`` (only configuration: binance-compat §2 Recipe A in
``exchange.ccxt_config``) and the strategy ``freqtrade/strategies/bdax_quick.py`` (enter on every closed
1m candle, exit at the next iteration). Two variants: websocket candles + limit orders priced from the
order book, and REST candles + market orders priced from the ticker.

What is asserted, from both sides: each pair made at least one round trip (a filled buy and a filled
sell) on the engine; every order freqtrade recorded exists on bdax with the same side, type, status and
filled amount, and bdax holds no order for that account that freqtrade does not know; the account's own
trades add up to each filled order's executed quantity; freqtrade logged no error.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "freqtrade"))

from e2e_server import gateway_server  # noqa: E402,F401  (fixture)
from ft_market import MarketConfig, MarketStats, recipe_a, run  # noqa: E402

FREQTRADE = os.environ.get("BDAX_FREQTRADE", "")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (FREQTRADE and os.access(FREQTRADE, os.X_OK)),
                       reason="set BDAX_FREQTRADE to a freqtrade executable (installed in its own venv: "
                              "python3 -m venv /tmp/ft && /tmp/ft/bin/pip install freqtrade) to run this"),
]
ccxt = pytest.importorskip("ccxt")

PAIRS = {"BTC/USDT": Decimal("30000"), "ETH/USDT": Decimal("2000")}
TEMPLATE = HERE / "freqtrade" / "config.template.json"
STRATEGY = HERE / "freqtrade" / "strategies" / "bdax_quick.py"
ROUND_TRIP_TIMEOUT_S = 240   # first closed 1m candle (<= 60 s) + freqtrade startup + two iterations
STOP_TIMEOUT_S = 60

VARIANTS = {
    "ws-limit-orderbook": {
        "exchange": {"enable_ws": True},
        "order_types": {"entry": "limit", "exit": "limit"},
        "entry_pricing": {"use_order_book": True},
        "exit_pricing": {"use_order_book": True},
    },
    "rest-market-ticker": {
        "exchange": {"enable_ws": False},
        "order_types": {"entry": "market", "exit": "market"},
        "entry_pricing": {"use_order_book": False},
        "exit_pricing": {"use_order_book": False},
    },
}


def freqtrade_config(server, key, overrides: dict) -> dict:
    """The template with the server's URLs and ``key`` filled in, then ``overrides`` merged (dicts
    merge, everything else replaces)."""
    text = TEMPLATE.read_text()
    for name, value in (("{{HTTP}}", server.http_base), ("{{WS}}", server.ws_base),
                        ("{{API_KEY}}", key.api_key), ("{{SECRET}}", key.secret)):
        text = text.replace(name, value)
    config = json.loads(text)
    assert "{{" not in json.dumps(config), "a placeholder in config.template.json was not filled"

    def merge(into: dict, new: dict) -> None:
        for k, v in new.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = v

    merge(config, overrides)
    return config


# ---------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def keys(gateway_server):
    found = gateway_server.trading_keys()
    assert len(found) >= 3, f"the demo config should fund three trading accounts, found {len(found)}"
    return found


@pytest.fixture(scope="module")
def market(gateway_server, keys):
    """The maker/taker market on accounts 2 and 3, for the whole module."""
    stop, stats = threading.Event(), MarketStats()
    errors: list[BaseException] = []

    def target():
        try:
            run(gateway_server.http_base, gateway_server.ws_base, (keys[1].api_key, keys[1].secret),
                (keys[2].api_key, keys[2].secret), MarketConfig(mids=dict(PAIRS)), stop=stop, stats=stats,
                log=lambda msg: None)
        except BaseException as exc:  # surfaced by the test that needs the market
            errors.append(exc)

    thread = threading.Thread(target=target, name="bdax-market", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while stats.taker_orders < len(PAIRS) and not errors and time.monotonic() < deadline:
        time.sleep(0.1)
    if errors or stats.taker_orders < len(PAIRS):
        stop.set()
        pytest.fail(f"the market did not start: {errors or stats.errors[-5:]}")
    yield stats
    stop.set()
    thread.join(30)


@pytest.fixture(scope="module")
def bot_view(gateway_server, keys):
    """ccxt on freqtrade's account: what bdax itself says that account did."""
    ex = ccxt.binance(recipe_a(gateway_server.http_base, gateway_server.ws_base,
                               keys[0].api_key, keys[0].secret))
    ex.load_markets()
    return ex


# ---------------------------------------------------------------------------------------------- helpers

def _engine_orders(ex, known: set[str]) -> dict[str, dict]:
    """The account's orders on bdax (allOrders) on the test pairs, minus those in ``known``."""
    out = {}
    for pair in PAIRS:
        for order in ex.fetch_orders(pair, limit=1000):
            if order["id"] not in known:
                out[order["id"]] = order
    return out


def _round_trips_done(orders: dict[str, dict]) -> bool:
    for pair in PAIRS:
        sides = {o["side"] for o in orders.values() if o["symbol"] == pair and o["status"] == "closed"}
        if sides != {"buy", "sell"}:
            return False
    return True


def _ft_orders(db: Path) -> dict[str, dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        rows = con.execute("SELECT order_id, ft_pair, ft_order_side, order_type, status, amount, filled "
                           "FROM orders").fetchall()
    finally:
        con.close()
    return {str(r["order_id"]): dict(r) for r in rows if r["order_id"] is not None}


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


# ---------------------------------------------------------------------------------------------- the test

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_freqtrade_trades_live_on_bdax(variant, gateway_server, keys, market, bot_view, tmp_path):
    before = set(_engine_orders(bot_view, set()))
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(freqtrade_config(gateway_server, keys[0], VARIANTS[variant]), indent=2))
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    shutil.copy(STRATEGY, strategies)      # freqtrade may write bytecode next to it: keep that out of tests/
    db, log = tmp_path / "trades.sqlite", tmp_path / "freqtrade.log"
    (tmp_path / "user_data").mkdir()
    cmd = [FREQTRADE, "trade", "--config", str(config_path), "--userdir", str(tmp_path / "user_data"),
           "--strategy", "BdaxQuick", "--strategy-path", str(strategies), "--db-url", f"sqlite:///{db}",
           "--logfile", str(log)]
    # freqtrade skips its log file when it sees PYTEST_VERSION (its own test mode): hide pytest's variables
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    with open(tmp_path / "freqtrade.out", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + ROUND_TRIP_TIMEOUT_S
        while True:
            engine = _engine_orders(bot_view, before)
            if _round_trips_done(engine):
                break
            if proc.poll() is not None:
                pytest.fail(f"freqtrade exited with {proc.returncode} before a round trip per pair:\n"
                            f"{_tail(tmp_path / 'freqtrade.out')}\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"no filled buy and sell on each of {sorted(PAIRS)} within "
                            f"{ROUND_TRIP_TIMEOUT_S} s; bdax has {len(engine)} orders of the bot; market "
                            f"errors {market.errors[-5:]}"
                            f"\nfreqtrade log:\n{_tail(log)}")
            time.sleep(2)
        # Entries come right after a minute turns (a new closed candle): do not interrupt freqtrade
        # between placing an order and recording it; near the turn, let that round trip finish first.
        second = time.time() % 60
        if second > 50:
            time.sleep(80 - second)
    finally:
        _stop(proc)   # cancel_open_orders_on_exit: freqtrade cancels what is still open on its way out

    ft = _ft_orders(db)
    engine = _engine_orders(bot_view, before)
    assert ft, f"freqtrade recorded no orders:\n{_tail(log)}"
    assert set(engine) == set(ft), (f"orders on bdax and in freqtrade's database differ: only on bdax "
                                    f"{sorted(set(engine) - set(ft))}, only in freqtrade "
                                    f"{sorted(set(ft) - set(engine))}")
    for oid, mine in ft.items():
        theirs = engine[oid]
        assert (theirs["symbol"], theirs["side"], theirs["type"]) == \
            (mine["ft_pair"], mine["ft_order_side"], mine["order_type"]), (oid, mine, theirs["info"])
        assert theirs["status"] == mine["status"], (oid, mine, theirs["info"])
        assert Decimal(str(theirs["filled"])) == Decimal(str(mine["filled"])), (oid, mine, theirs["info"])
    filled = {oid: o for oid, o in engine.items() if Decimal(str(o["filled"])) > 0}
    for pair in PAIRS:
        assert {o["side"] for o in filled.values() if o["symbol"] == pair} == {"buy", "sell"}, pair
        per_order: dict[str, Decimal] = {}
        for t in bot_view.fetch_my_trades(pair, limit=1000):
            if t["order"] in filled:
                per_order[t["order"]] = per_order.get(t["order"], Decimal(0)) + Decimal(str(t["amount"]))
        for oid, o in filled.items():
            if o["symbol"] == pair:
                assert per_order.get(oid) == Decimal(str(o["filled"])), (oid, per_order.get(oid), o["info"])
    text = log.read_text(errors="replace")
    problems = [line for line in text.splitlines() if " - ERROR - " in line or "Traceback" in line]
    assert not problems, "freqtrade logged errors:\n" + "\n".join(problems[:20])
    assert "Dry run is disabled" in text, "freqtrade did not run live"
    uses_ws = VARIANTS[variant]["exchange"]["enable_ws"]
    assert ("exchange_ws" in text) == uses_ws, f"enable_ws={uses_ws} but the log says otherwise"
