"""The live market in-process: a scenario's agents trading through a real gateway app's pump (TestClient runs
the lifespan on its own event loop, so the market moves in wall-clock time while the test sleeps).

What is checked: trades happen and the book is two-sided, klines and the ticker move, the agents' commands
are in the journal, the engine conserves; a restart funds nobody twice, cancels the agents' resting orders
and trades on; a mirrored market journals partner quotes and routes children, a replay of its journal
rebuilds the hub exactly, and children lost in a crash are rejected so the hub's escrow is released.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from exchange import Deposit, OrderType, Side, SubmitOrder, TimeInForce
from exchange.journal import JournalReader
from exchange.liquidity.commands import PartnerQuote
from gateway.app import create_app
from sim.agents.base import floor_price
from sim.build import ACCOUNT_BLOCK
from sim.live import LiveMarket
from sim.live.engine import load_market_scenario, market_config, recover_market


def _app(cfg, data_dir, speed, markets):
    sc = load_market_scenario(cfg.market.scenario)

    def make(pump):
        m = LiveMarket(sc, pump, speed=speed, summary_every_s=0)
        markets.append(m)
        return m
    return create_app(cfg, data_dir, market=make)


def _journal(data_dir):
    return list(JournalReader(data_dir / "journal").scan().commands())


def _wait(pred, timeout_s=20.0):
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout_s:
            return False
        time.sleep(0.05)
    return True


def test_busan_moves_conserves_and_restarts(tmp_path):
    cfg = market_config("busan")
    data = tmp_path / "data"
    markets: list = []
    with TestClient(_app(cfg, data, 50, markets)) as c:
        st = c.app.state.bdax
        m = markets[0]
        assert _wait(lambda: m.trades >= 200), f"only {m.trades} trades"
        engine = st.pump.engine
        bid, ask = engine.best_bid_ask("BTC-KRW")
        book = c.get("/api/v3/depth", params={"symbol": "BTCKRW", "limit": 5}).json()
        assert book["bids"] and book["asks"], book
        t1 = c.get("/api/v3/ticker/24hr", params={"symbol": "BTCKRW"}).json()
        kl = c.get("/api/v3/klines", params={"symbol": "BTCKRW", "interval": "1m"}).json()
        assert int(t1["count"]) > 0 and kl and float(kl[-1][5]) > 0
        assert _wait(lambda: m.trades >= 400)
        t2 = c.get("/api/v3/ticker/24hr", params={"symbol": "BTCKRW"}).json()
        assert int(t2["count"]) > int(t1["count"])
        assert engine.totals() == engine.net_deposits()
        first_accounts = set(engine.accounts())
    records = _journal(data)
    agent_orders = [c for _, c in records if type(c) is SubmitOrder and c.account >= ACCOUNT_BLOCK]
    assert len(agent_orders) > 200
    deposits_1 = Counter((c.account, c.asset) for _, c in records if type(c) is Deposit)
    assert max(deposits_1.values()) == 1

    # Restart from the same data dir: the agents resume without funding anyone twice.
    with TestClient(_app(cfg, data, 50, markets)) as c:
        m2 = markets[1]
        assert m2.cancelled_at_start > 0 and m2.skipped > 0
        assert _wait(lambda: m2.trades >= 100)
        engine = c.app.state.bdax.pump.engine
        assert engine.totals() == engine.net_deposits()
    deposits_2 = Counter((c.account, c.asset) for _, c in _journal(data) if type(c) is Deposit)
    assert max(deposits_2.values()) == 1, [k for k, n in deposits_2.items() if n > 1][:5]
    assert all(deposits_2[k] == 1 for k in deposits_1)
    assert first_accounts


def test_mirrored_quotes_routes_and_replays(tmp_path):
    cfg = market_config("busan-mirrored")
    data = tmp_path / "data"
    markets: list = []
    with TestClient(_app(cfg, data, 20, markets)) as c:
        st = c.app.state.bdax
        m = markets[0]
        links = m.sim.world.links
        assert _wait(lambda: sum(l.children for l in links.values()) >= 3 and m.trades >= 20), \
            {n: l.stats() for n, l in links.items()}
        hub = st.pump.engine
        hub._check()
        # Children lost in a crash: stop the agents, route a child nobody carries out, start again.
        c.portal.call(m.stop)
        acct = cfg.accounts[0].id
        inst = hub.instruments["BTC-USDT"]
        _, ask = hub.best_bid_ask("BTC-USDT")
        order = SubmitOrder(0, acct, "BTC-USDT", Side.BUY, OrderType.LIMIT, TimeInForce.IOC,
                            floor_price(inst, ask * 1.02), inst.qty_to_lots("2"), 0, "sweep", None)
        c.portal.call(st.pump.submit, order)
        lost_ids = set(hub._children)
        lost = len(lost_ids)
        sc = load_market_scenario("busan-mirrored")
        m2 = LiveMarket(sc, st.pump, speed=20, summary_every_s=0)
        c.portal.call(m2.start)
        assert m2.children_lost == lost
        assert not lost_ids & set(hub._children)
        hub._check()
        c.portal.call(m2.stop)
    live_hash = hub.state_hash()      # the pump has stopped: everything submitted is applied
    assert lost > 0, "the sweep routed no child: the test did not exercise a lost child"
    records = _journal(data)
    assert sum(type(c) is PartnerQuote for _, c in records) > 10
    replayed, _report = recover_market(data / "journal", cfg)
    assert replayed.state_hash() == live_hash


@pytest.mark.parametrize("name", ["busan-pooled"])
def test_pooled_market_runs(tmp_path, name):
    cfg = market_config(name)
    markets: list = []
    with TestClient(_app(cfg, tmp_path / "data", 20, markets)) as c:
        assert _wait(lambda: markets[0].trades >= 20)
        c.app.state.bdax.pump.engine._check()
