"""A load run: provision accounts, check instruments, connect the bots, drive their agents in wall-clock
time, report, audit.

:func:`arun_load` / :func:`run_load` return the report dict (fields: :mod:`sim.bots.stats`, plus
``scenario``, ``speed``, ``rate``, ``allotment`` {group: bots}, ``audit`` (the server's ``POST
/admin/audit`` answer for every acknowledged order and every fill the bots saw, or None without
``audit``)). Warm-up: counters are reset ``warmup_s`` after the bots are connected; ``duration_s``
is measured after that.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from ..kernel import Kernel
from ..realtime import RealtimeDriver
from ..rng import Draws, derive
from ..scenario import NS, load_scenario
from .context import WireEngine, allot, build_agent, ensure_client
from .stats import Stats
from .wsclient import Bot

__all__ = ["run_load", "arun_load", "LoadError", "check_instruments", "order_rate_limit"]


IN_FLIGHT_WAIT_S = 5.0   # the longest a run waits, after its agents stop, for answers still in flight
_ORDER_METHODS = ("order.place", "order.cancelReplace")


class LoadError(RuntimeError):
    """A load run cannot start (server unreachable, instruments differ, provisioning refused)."""


def _http(url: str, body: dict | None = None, token: str = "", timeout: float = 60) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-BDAX-ADMIN-TOKEN", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raise LoadError(f"{req.get_method()} {url}: HTTP {exc.code}: {exc.read()[:300].decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LoadError(f"{url}: cannot reach the server ({exc}); is `bdax serve` running there?") from None


def check_instruments(scenario: Any, info: dict) -> dict[str, str]:
    """Scenario symbol -> wire symbol, checked against ``exchangeInfo``'s filters. Raises LoadError
    naming the symbol and the filter that differs."""
    by_assets = {(s["baseAsset"], s["quoteAsset"]): s for s in info.get("symbols", [])}
    out = {}
    for sym, inst in scenario.instruments.items():
        s = by_assets.get((inst.base.name, inst.quote.name))
        if s is None:
            raise LoadError(f"the server lists no {inst.base.name}/{inst.quote.name} symbol (scenario {sym})")
        filters = {f["filterType"]: f for f in s.get("filters", [])}
        lot = filters.get("LOT_SIZE")
        if lot is not None and Decimal(lot["stepSize"]) != Decimal(inst.format_qty(1)):
            raise LoadError(f"{s['symbol']}: LOT_SIZE stepSize is {lot['stepSize']} on the server, "
                            f"{inst.format_qty(1)} in the scenario")
        pf = filters.get("PRICE_FILTER")
        start = scenario.start_price[sym]
        from ..agents.base import step_at
        step = Decimal(inst.format_price(step_at(inst, start)))
        if pf is not None and Decimal(pf["tickSize"]) and step % Decimal(pf["tickSize"]):
            raise LoadError(f"{s['symbol']}: PRICE_FILTER tickSize {pf['tickSize']} does not divide the "
                            f"scenario's tick {step} at its start price")
        out[sym] = s["symbol"]
    return out


async def arun_load(url: str, *, bots: int, scenario: str = "busan", duration_s: float, speed: float = 1.0,
                    admin_token: str, seed: int = 1, warmup_s: float = 0.0, progress: bool = False,
                    audit: bool = True, rate: float | None = None, kill_at: Any = None,
                    throttle: bool = True) -> dict:
    """Run ``bots`` agents of ``scenario`` against the server at ``url`` for ``duration_s`` wall seconds.
    ``rate``: each group bot's actions per market second (default: one member's rate); ``speed``: market
    seconds per wall second. ``throttle``: each bot keeps under the server's ORDERS limit per key (as ccxt's
enableRateLimit does) instead of collecting -1015 rejects. ``kill_at``: test hook, an awaitable run
alongside (e.g. a server restart)."""
    if not duration_s > 0:
        raise LoadError(f"--duration must be > 0, got {duration_s}")
    if not speed > 0:
        raise LoadError(f"--speed must be > 0, got {speed}")
    url = url.rstrip("/")
    ws_base = "ws" + url[4:] if url.startswith("http") else url
    sc = load_scenario(scenario)
    info = await asyncio.to_thread(_http, url + "/api/v3/exchangeInfo")
    wires = check_instruments(sc, info)
    order_limit = order_rate_limit(info) if throttle else None
    specs = allot(sc, bots)
    # One provisioning call per group (its members' funds).
    accounts: list[dict] = []
    for group in dict.fromkeys(s.group for s in specs):
        mine = [s for s in specs if s.group == group]
        ans = await asyncio.to_thread(_http, url + "/admin/accounts",
                                      {"count": len(mine), "balances": mine[0].funds, "name": "load"}, admin_token)
        accounts.extend(ans["accounts"])
    kernel = Kernel()
    driver = RealtimeDriver(kernel, speed=speed)
    stats = Stats()
    fundamental = None
    if sc.fundamental is not None:
        from ..agents.fundamental import Fundamental
        f = sc.fundamental
        fundamental = Fundamental(kernel, Draws(derive(seed, "fundamental")),
                                  start_price=float(sc.start_price[sc.home_symbol]),
                                  sigma_per_min=f["sigma_per_min_bps"] * 1e-4, half_life_s=f["half_life"] / NS,
                                  vol_timescales_s=f["vol_timescales"], vol_of_vol=f["vol_of_vol"],
                                  jump_rate_per_hour=f["jump_rate_per_hour"], jump_sigma=f["jump_sigma_bps"] * 1e-4,
                                  dt_ns=f["dt_ms"] * 1_000_000)

    async def rest(path: str) -> Any:
        return await asyncio.to_thread(_http, url + path)

    snapshots = SnapshotBroker(rest)

    bot_objs, agents = [], []
    for spec, acct in zip(specs, accounts):
        g = next(x for x in sc.groups if x.name == spec.group)
        inst = sc.instruments[g.symbol]
        bot = Bot(f"{spec.group}-{spec.k}", ws_base, snapshots.depth, acct["account"], acct["apiKey"], acct["secret"],
                  inst, wires[g.symbol], stats, driver)
        engine = WireEngine({inst.symbol: inst}, bot.send, lambda s, b=bot: b.book.best())
        # --rate is actions per market second of a bot whose action is one order (zi, noise, value,
        # momentum); a meta-order bot's action is a whole parent order worked for minutes, so it keeps one
        # member's arrival rate (at rate 20 it had scheduled millions of child orders within seconds).
        per_order = g.kind != "metaorders"
        scale = 1.0 if rate is None or not per_order else rate / max(1e-12, _member_rate(sc, g))
        agent, venue = build_agent(sc, spec, kernel, acct["account"], engine, seed, scale, fundamental)
        bot.venue = venue
        bot.order_limit = order_limit
        bot_objs.append(bot)
        agents.append(agent)
    stats.bots = bot_objs
    readies = [asyncio.Event() for _ in bot_objs]
    tasks = [asyncio.create_task(b.run(r)) for b, r in zip(bot_objs, readies)]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    except asyncio.TimeoutError:
        for b in bot_objs:
            b.stopping = True
        raise LoadError(f"only {stats.connected} of {len(bot_objs)} bots connected within 30 s") from None
    if fundamental is not None:
        fundamental.start()
    for a in agents:
        a.start()
        ensure_client(a)
    drive = asyncio.create_task(driver.run())
    if warmup_s > 0:
        await asyncio.sleep(warmup_s)
        stats.orders = stats.acks = stats.fills = 0
        stats.lat.clear()
        stats.rejects.clear()
    extra = asyncio.create_task(kill_at) if kill_at is not None else None
    t0 = time.perf_counter()
    end = t0 + duration_s
    last_line = ""
    while time.perf_counter() < end:
        await asyncio.sleep(min(1.0, max(0.0, end - time.perf_counter())))
        if progress:
            el = time.perf_counter() - t0
            lat = sorted(stats.lat[-20000:])
            p99 = lat[int(0.99 * (len(lat) - 1))] * 1e3 if lat else 0.0
            last_line = (f"\r[{el:5.1f}/{duration_s:.0f}s] bots {stats.connected}/{len(bot_objs)}  "
                         f"orders/s {stats.orders / el if el else 0:8.1f}  p99 {p99:6.2f} ms  "
                         f"rejects {sum(stats.rejects.values())}  gaps {stats.depth_gaps()}  "
                         f"reconnects {stats.reconnects}")
            print(last_line, end="", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t0
    driver.stop()
    await drive
    if extra is not None:
        await extra
    report = stats.report(elapsed)
    # Let in-flight answers arrive (a loaded server, or a bot still resyncing after a restart, may take
    # a while; up to IN_FLIGHT_WAIT_S), then stop the bots (cancels are not sent: resting orders stay).
    deadline = time.perf_counter() + IN_FLIGHT_WAIT_S
    while _unanswered(bot_objs) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    report["books"] = await verify_books(bot_objs, snapshots)
    # Order requests sent and never answered on a live connection (0 unless the server went away with
    # them; those are resolved by order.status after a reconnect and counted in recovered_acks).
    report["unanswered"] = _unanswered(bot_objs)
    for b in bot_objs:
        await b.stop()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if progress:
        print(file=sys.stderr)
    report.update({"scenario": sc.name, "speed": speed, "rate": rate,
                   "allotment": {g: sum(1 for s in specs if s.group == g) for g in dict.fromkeys(s.group for s in specs)},
                   "audit": None})
    if audit:
        orders = [[b.account, oid, cid] for b in bot_objs for oid, cid in b.acked.items()]
        trades = [f for b in bot_objs for f in b.fills]
        report["audit"] = await asyncio.to_thread(_http, url + "/admin/audit", {"orders": orders, "trades": trades},
                                                  admin_token, 300)
    return report


class SnapshotBroker:
    """REST depth snapshots shared by the run's bots. A snapshot (``limit=5000``, weight 250) costs a
    twentieth of Binance's per-IP budget of 6,000 a minute, and every bot on this machine shares one IP:
    256 bots syncing at once would be refused (-1003). So concurrent requests for a symbol share one
    fetch, and a snapshot at most ``max_age_s`` old is handed out again. A bot whose buffered diffs begin
    after a shared snapshot sees it does not straddle, counts a resync and asks again (Binance's rule)."""

    def __init__(self, rest: Any, max_age_s: float = 0.05) -> None:
        self.rest = rest
        self.max_age_s = max_age_s
        self.fetches = 0
        self._last: dict[str, tuple[float, dict]] = {}
        self._inflight: dict[str, asyncio.Future] = {}

    async def depth(self, wire: str, fresh: bool = False) -> dict:
        last = self._last.get(wire)
        if not fresh and last is not None and time.monotonic() - last[0] <= self.max_age_s:
            return last[1]
        fut = self._inflight.get(wire)
        if fut is None:
            fut = self._inflight[wire] = asyncio.ensure_future(self._fetch(wire))
        return await asyncio.shield(fut)

    async def _fetch(self, wire: str) -> dict:
        try:
            snap = await self.rest(f"/api/v3/depth?symbol={wire}&limit=5000")
            self.fetches += 1
            self._last[wire] = (time.monotonic(), snap)
            return snap
        finally:
            self._inflight.pop(wire, None)


async def verify_books(bots: list, snapshots: SnapshotBroker, tries: int = 20) -> dict:
    """Compare each bot's local book with the server's REST depth at the same update id: ``matched``,
    ``mismatched`` (a wrong local book: must be 0), ``unverified`` (the book kept moving, or the bot was
    not synced, for every try). A snapshot is taken until its ``lastUpdateId`` equals the id the bot's
    book is at (both at rest between two updates)."""
    out = {"matched": 0, "mismatched": 0, "unverified": 0}
    pending = list(bots)
    verdicts: dict[int, str] = {}
    for _ in range(tries):
        if not pending:
            break
        later = []
        for b in pending:
            snap = await snapshots.depth(b.wire)
            if b.book.last_u is not None and b.book.last_u == snap["lastUpdateId"]:
                to = b.book.to_level
                same = (dict(to(p, q) for p, q in snap["bids"]) == b.book.bids
                        and dict(to(p, q) for p, q in snap["asks"]) == b.book.asks)
                verdicts[id(b)] = "matched" if same else "mismatched"
            else:
                later.append(b)
        pending = later
        if pending:
            await asyncio.sleep(0.1)
    for b in bots:
        out[verdicts.get(id(b), "unverified")] += 1
    return out


def order_rate_limit(info: dict) -> tuple[int, float] | None:
    """The tightest ORDERS limit in ``exchangeInfo.rateLimits`` as (orders, window seconds), or None."""
    unit = {"SECOND": 1.0, "MINUTE": 60.0, "HOUR": 3600.0, "DAY": 86400.0}
    best: tuple[int, float] | None = None
    for r in info.get("rateLimits", ()):
        if r.get("rateLimitType") != "ORDERS" or r.get("interval") not in unit:
            continue
        lim = (int(r["limit"]), unit[r["interval"]] * int(r.get("intervalNum", 1)))
        if lim[1] <= 60 and (best is None or lim[0] / lim[1] < best[0] / best[1]):
            best = lim
    return best


def _unanswered(bots: list) -> int:
    """Order requests sent or queued that have no answer yet."""
    return (sum(1 for b in bots for m, *_ in b.pending.values() if m in _ORDER_METHODS)
            + sum(len(b.out) for b in bots))


def _member_rate(sc: Any, g: Any) -> float:
    from .context import member_rate
    r = member_rate(sc, g)
    return r / g.count if g.count else r


def run_load(url: str, **kw: Any) -> dict:
    """:func:`arun_load` in a new event loop."""
    return asyncio.run(arun_load(url, **kw))
