"""End to end: bots against a real `bdax serve` subprocess on loopback (8 bots, 10 s), and a kill -9 of
the server in the middle of a run."""
from __future__ import annotations

import asyncio
import sys
import tomllib
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from e2e_server import GatewayServer  # noqa: E402

from sim.bots.runner import arun_load, run_load  # noqa: E402


def _token(server) -> str:
    return tomllib.loads(server.config_path().read_text())["server"]["admin_token"]


def test_eight_bots_ten_seconds(tmp_path):
    server = GatewayServer(tmp_path / "data", log_path=tmp_path / "server.log").start()
    try:
        r = run_load(server.http_base, bots=8, duration_s=10, speed=1.0, rate=5.0, admin_token=_token(server))
    finally:
        server.stop()
    assert r["bots"] == 8 and r["connected"] == 8
    assert r["orders"] > 100 and r["acks"] > 100 and r["fills"] > 0, r
    assert r["depth_gaps"] == 0 and r["disconnects"] == 0
    assert not [k for k in r["rejects"] if k.startswith("-1015")], r["rejects"]   # bots keep under the limit
    assert r["unanswered"] == 0 and r["acks"] + sum(r["rejects"].get(k, 0) for k in r["rejects"]
                                                    if "(order.place)" in k or "(order.cancelReplace)" in k) == r["orders"]
    assert r["books"]["mismatched"] == 0 and r["books"]["matched"] >= 6, r["books"]
    a = r["audit"]
    assert a["ok"], a
    assert a["orders_checked"] >= r["acks"] * 0.9 and a["trades_checked"] >= r["fills"] > 0
    assert a["conservation_ok"] and a["journal_conservation_ok"]


def test_kill_9_mid_run_then_restart(tmp_path):
    server = GatewayServer(tmp_path / "data", log_path=tmp_path / "server.log").start()

    async def crash():
        await asyncio.sleep(3)
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)

    try:
        r = asyncio.run(arun_load(server.http_base, bots=4, duration_s=9, speed=1.0, rate=5.0,
                                  admin_token=_token(server), kill_at=crash()))
    finally:
        server.stop()
    assert r["disconnects"] >= 4 and r["reconnects"] >= 4, r
    assert r["connected"] == 4, r
    a = r["audit"]
    assert a["ok"], a                       # every ack any bot saw survived the crash
    assert r["depth_gaps"] == 0
    # No resynced book may differ from the server's. Not asserted: that every book could be compared.
    # After the restart, a bot's last requests sometimes go unanswered and its book is never seen at
    # the server's update id (see the issue-7 closing note).
    assert r["books"]["mismatched"] == 0, r["books"]
