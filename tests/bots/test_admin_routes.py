"""POST /admin/accounts and /admin/audit: provisioning, persistence across a restart, bad input."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.config import demo_config


@pytest.fixture
def setup(tmp_path):
    cfg = demo_config(1)
    return cfg, tmp_path, {"X-BDAX-ADMIN-TOKEN": cfg.admin_token}


def _records(client) -> int:
    return client.app.state.bdax.pump.commands


def test_accounts_created_funded_and_survive_restart(setup):
    cfg, d, h = setup
    with TestClient(create_app(cfg, d)) as c:
        r = c.post("/admin/accounts", json={"count": 3, "balances": {"KRW": "1000", "BTC": "0.5"}, "name": "load"},
                   headers=h)
        assert r.status_code == 200, r.text
        accts = r.json()["accounts"]
        assert [a["account"] for a in accts] == [1_000_000_000, 1_000_000_001, 1_000_000_002]
        eng = c.app.state.bdax.pump.engine
        assert eng.balances(1_000_000_001)["BTC"].available == 50_000_000
        r2 = c.post("/admin/accounts", json={"count": 1}, headers=h)
        assert r2.json()["accounts"][0]["account"] == 1_000_000_003
    assert (d / "runtime_keys.json").stat().st_mode & 0o777 == 0o600
    with TestClient(create_app(cfg, d)) as c:
        k = c.app.state.bdax.keys.get(accts[0]["apiKey"])
        assert k is not None and k.account == 1_000_000_000 and "TRADE" in k.permissions


@pytest.mark.parametrize("body,code", [
    ({"count": 0}, -1100), ({"count": 1001}, -1100), ({"count": "2"}, -1100), ({}, -1102),
    ({"count": 1, "balances": []}, -1100), ({"count": 1, "balances": {"DOGE": "1"}}, -1100),
    ({"count": 1, "balances": {"KRW": 5}}, -1100), ({"count": 1, "balances": {"KRW": "-1"}}, -1111),
    ({"count": 1, "balances": {"KRW": "0.00001"}}, -1111), ({"count": 1, "balances": {"KRW": "abc"}}, -1111),
    ({"count": 1, "name": "bad name!"}, -1100), ({"count": 1, "name": 3}, -1100), ({"count": 1, "x": 1}, -1104),
    ([1], -1100),
])
def test_accounts_bad_input_creates_nothing(setup, body, code):
    cfg, d, h = setup
    with TestClient(create_app(cfg, d)) as c:
        before = _records(c)
        r = c.post("/admin/accounts", content=json.dumps(body), headers=h)
        assert r.status_code == 400 and r.json()["code"] == code, r.text
        assert _records(c) == before and not (d / "runtime_keys.json").exists()


def test_admin_token_required(setup):
    cfg, d, _ = setup
    with TestClient(create_app(cfg, d)) as c:
        assert c.post("/admin/accounts", json={"count": 1}).status_code == 401
        assert c.post("/admin/audit", json={}, headers={"X-BDAX-ADMIN-TOKEN": "nope"}).status_code == 401
        assert not (d / "runtime_keys.json").exists()


@pytest.mark.parametrize("body", [{"orders": {}}, {"orders": [[1, 2]]}, {"orders": [["1", 2, "c"]]},
                                  {"trades": [[1, 2, 3, "x", "1"]]}, {"trades": [[1, 2, 3, 4, "1"]]},
                                  {"foo": []}, "x"])
def test_audit_bad_input(setup, body):
    cfg, d, h = setup
    with TestClient(create_app(cfg, d)) as c:
        r = c.post("/admin/audit", content=json.dumps(body), headers=h)
        assert r.status_code == 400, r.text


def test_audit_finds_missing_order(setup):
    cfg, d, h = setup
    with TestClient(create_app(cfg, d)) as c:
        r = c.post("/admin/audit", json={"orders": [[1, 999, "ghost"]], "trades": [[1, 5, 999, "1", "1"]]},
                   headers=h).json()
        assert not r["ok"] and r["missing_orders"] and r["missing_trades"] and r["conservation_ok"]
        r = c.post("/admin/audit", json={"orders": [], "trades": []}, headers=h).json()
        assert r["ok"] and r["journal_records"] > 0
