"""``bdax bench liquidity``: what shared liquidity costs the home venue's hot path, and how long
``bdax sim compare`` takes.

(1) Throughput. The same order flow (exchange-core's mix from :mod:`benchmarks.workloads`, ``ec``) through:

- a plain :class:`exchange.Engine`;
- a ``MirroredVenue`` with 2 partners: every ``--quote-every`` commands each partner sends a PartnerQuote
  (one level per side, one tick better than the home best when the spread leaves room, else at it) and a
  PartnerHeartbeat; every ChildRouted is answered at once by a scripted partner (ChildFilled in full at
  the child's price, partner taker fee 10 bps);
- a ``PooledVenue`` with accounts spread over 3 venues (home + 2 partners, generous credit): every
  ``--settle-every`` commands a SettleDue, each SettlementStarted answered at once by SettlementDone.

Order ids are the engine's sequence numbers, which the hubs' own commands shift, so each venue's command
list is built by running the flow once on a fresh venue of that kind (learning ids and inserting the
scripted answers), then a second fresh venue is timed on exactly that list. ``--repeats`` timed runs per
venue, interleaved (engine, mirrored, pooled, engine, ...), median reported; overhead = engine cmd/s ÷
venue cmd/s. The hubs do more per routed order than the engine (children, escrow moves), so the overhead
includes that work: the JSON line gives the routed children and settlements counted.

(2) ``--compare-seeds N``: wall time of ``bdax sim compare`` (its defaults: the three busan models, ZI
check on) at N seeds, run in-process on a process pool (``--jobs``), outputs to a temporary directory.

One JSON line on stdout (last line), a table on stderr.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

__all__ = ["add_arguments", "run", "build_flows", "measure"]

PARTNERS = ("p1", "p2")
OPERATOR = 5_000            # operator accounts (home and at partners)
PARTNER_TAKER_BPS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small flow (exchange-core mix, ~8k commands)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per venue, interleaved (default 5)")
    parser.add_argument("--quote-every", type=int, default=100, metavar="N",
                        help="mirrored: partner quotes and heartbeats every N commands (default 100)")
    parser.add_argument("--settle-every", type=int, default=1000, metavar="N",
                        help="pooled: a SettleDue every N commands (default 1000)")
    parser.add_argument("--models", default="engine,mirrored,pooled", metavar="LIST",
                        help="comma-separated subset of engine,mirrored,pooled (default all)")
    parser.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    parser.add_argument("--compare-seeds", type=int, default=0, metavar="N",
                        help="also time `bdax sim compare` at N seeds (the issue's figure: 20; default 0 = skip)")
    parser.add_argument("--compare-duration", default=None, metavar="TIME",
                        help="session length for the compare run (default: each scenario's own)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for the compare run")


def _check_args(args: argparse.Namespace) -> str | None:
    if args.repeats < 1:
        return f"--repeats must be >= 1, got {args.repeats}"
    if args.quote_every < 1 or args.settle_every < 1:
        return "--quote-every and --settle-every must be >= 1"
    if args.compare_seeds < 0:
        return f"--compare-seeds must be >= 0, got {args.compare_seeds}"
    bad = set(args.models.split(",")) - {"engine", "mirrored", "pooled"}
    if bad or not args.models:
        return f"--models: unknown {sorted(bad)}; choose from engine, mirrored, pooled"
    return None


# ------------------------------------------------------------------------------------------ venues

def _config(model: str, inst, accounts: int):
    from exchange.liquidity.config import PartnerSpec, SharingConfig
    third = accounts // 3
    big = 10**30
    partners = []
    for i, name in enumerate(PARTNERS):
        lo = 1 + third * (i + 1)
        hi = 1 + third * (i + 2) if i + 1 < len(PARTNERS) else accounts + 1
        partners.append(PartnerSpec(name=name, instruments={inst.symbol: inst}, taker_bps=PARTNER_TAKER_BPS,
                                    maker_bps=PARTNER_TAKER_BPS, operator_account=OPERATOR,
                                    prefund={"BTC": big, "USDT": big}, credit_limit=big, accounts=(lo, hi)))
    return SharingConfig(model=model, home="home", partners=tuple(partners), operator_account=OPERATOR,
                         home_accounts=(1, 1 + third), quote_max_age_ns=10**15, heartbeat_timeout_ns=10**15,
                         settle_every_ns=1)


def _make(model: str, inst, accounts: int):
    from exchange import STP
    from benchmarks.workloads import make_engine
    if model == "engine":
        return make_engine(inst)
    if model == "mirrored":
        from exchange.liquidity.mirrored import MirroredVenue
        return MirroredVenue([inst], _config("mirrored", inst, accounts), default_stp=STP.NONE)
    from exchange.liquidity.pooled import PooledVenue
    return PooledVenue([inst], _config("pooled", inst, accounts), default_stp=STP.NONE)


def _learn(model: str, w, inst, quote_every: int, settle_every: int) -> tuple[list, list, dict]:
    """Run the flow once on a fresh venue; return (setup commands, measured commands, counts) with the ids
    that venue assigns and the scripted partner answers in place."""
    from exchange import (AmendOrder, CancelOrder, Deposit, OrderAccepted, SubmitOrder)
    from exchange.liquidity.commands import (ChildFilled, PartnerHeartbeat, PartnerQuote, SettleDue,
                                             SettlementDone)
    from exchange.liquidity.events import ChildRouted, SettlementStarted
    from benchmarks.workloads import ADD, CANCEL, IOC, SYMBOL, TS_STEP_NS
    from exchange import OrderType, Side, TimeInForce

    venue = _make(model, inst, w.accounts)
    counts = {"children": 0, "settlements": 0, "quotes": 0}
    ts = 1_000_000_000
    setup: list = []
    for cmd in w.bdax_setup:
        if isinstance(cmd, Deposit):
            setup.append(cmd)
            venue.handle(cmd)
    for asset, amount in (("BTC", 10**16), ("USDT", 10**20)):
        cmd = Deposit(ts, OPERATOR, asset, amount)
        setup.append(cmd)
        venue.handle(cmd)
    ids: dict[int, int] = {}
    n_setup_ops = len(w.setup_ops)

    def feed(cmd, out: list) -> None:
        out.append(cmd)
        answers = []
        for ev in venue.handle(cmd):
            if type(ev) is ChildRouted:
                notional = inst.notional(ev.partner_price_ticks, ev.partner_qty_lots)
                answers.append(ChildFilled(cmd.ts_ns, ev.venue, ev.child_id, ev.partner_qty_lots, notional,
                                           -(-notional * PARTNER_TAKER_BPS // 10_000), 0))
                counts["children"] += 1
            elif type(ev) is SettlementStarted:
                answers.append(SettlementDone(cmd.ts_ns, ev.batch_id))
                counts["settlements"] += 1
        for a in answers:
            feed(a, out)

    def partner_round(t: int, out: list) -> None:
        bid, ask = venue.best_bid_ask(SYMBOL)
        if not bid or not ask:
            return
        pb = bid + 1 if ask - bid > 2 else bid
        pa = ask - 1 if ask - bid > 2 else ask
        for p in PARTNERS:
            feed(PartnerHeartbeat(t, p, t), out)
            feed(PartnerQuote(t, p, SYMBOL, t, ((pb, 10),), ((pa, 10),)), out)
            counts["quotes"] += 1

    buy, sell, limit, gtc, ioc = Side.BUY, Side.SELL, OrderType.LIMIT, TimeInForce.GTC, TimeInForce.IOC
    measured: list = []
    for i, (kind, oid, is_buy, price, qty, account) in enumerate(w.setup_ops + w.measured_ops):
        out = setup if i < n_setup_ops else measured
        if model == "mirrored" and i % quote_every == 0:
            partner_round(ts, out)
        if model == "pooled" and i % settle_every == 0:
            feed(SettleDue(ts), out)
        if kind == ADD or kind == IOC:
            cmd = SubmitOrder(ts, account, SYMBOL, buy if is_buy else sell, limit, gtc if kind == ADD else ioc,
                              price, qty)
        elif kind == CANCEL:
            if oid not in ids:
                ts += TS_STEP_NS
                continue
            cmd = CancelOrder(ts, account, SYMBOL, ids[oid])
        else:
            if oid not in ids:
                ts += TS_STEP_NS
                continue
            cmd = AmendOrder(ts, account, SYMBOL, ids[oid], 0, price)
        out.append(cmd)
        answers = []
        for ev in venue.handle(cmd):
            if type(ev) is OrderAccepted and kind <= IOC and ev.account == account:
                ids.setdefault(oid, ev.order_id)
            elif type(ev) is ChildRouted:
                notional = inst.notional(ev.partner_price_ticks, ev.partner_qty_lots)
                answers.append(ChildFilled(ts, ev.venue, ev.child_id, ev.partner_qty_lots, notional,
                                           -(-notional * PARTNER_TAKER_BPS // 10_000), 0))
                counts["children"] += 1
            elif type(ev) is SettlementStarted:
                answers.append(SettlementDone(ts, ev.batch_id))
                counts["settlements"] += 1
        for a in answers:
            feed(a, out)
        ts += TS_STEP_NS
    counts["measured_commands"] = len(measured)
    return setup, measured, counts


def build_flows(models: list[str], seed: int = 1, quick: bool = False, quote_every: int = 100,
                settle_every: int = 1000) -> dict[str, tuple[list, list, dict]]:
    """The command lists per venue kind (see the module docstring)."""
    from benchmarks.workloads import build, instrument
    w = build("ec", seed, quick)
    inst = instrument()
    return {m: _learn(m, w, inst, quote_every, settle_every) for m in models}


def _time_once(model: str, setup: list, measured: list, accounts: int) -> float:
    from benchmarks.workloads import instrument
    venue = _make(model, instrument(), accounts)
    handle = venue.handle
    for c in setup:
        handle(c)
    t0 = time.perf_counter()
    for c in measured:
        handle(c)
    return time.perf_counter() - t0


def measure(flows: dict, repeats: int, accounts: int = 1000) -> dict:
    """Median commands/s per venue kind over ``repeats`` interleaved runs, and overhead vs the engine."""
    times: dict[str, list[float]] = {m: [] for m in flows}
    for _ in range(repeats):
        for m, (setup, measured, _) in flows.items():
            times[m].append(_time_once(m, setup, measured, accounts))
    out: dict = {}
    for m, ts in times.items():
        n = len(flows[m][1])
        med = statistics.median(ts)
        out[m] = {"commands": n, "median_s": round(med, 4), "cmd_per_s": round(n / med) if med > 0 else None,
                  **{k: v for k, v in flows[m][2].items() if k != "measured_commands"}}
    if "engine" in out and out["engine"]["cmd_per_s"]:
        for m in out:
            if m != "engine" and out[m]["cmd_per_s"]:
                # per-command cost ratio: the hubs' lists carry their extra commands (quotes, answers)
                out[m]["overhead_vs_engine"] = round(out["engine"]["cmd_per_s"] / out[m]["cmd_per_s"], 3)
                out[m]["flow_time_vs_engine"] = round(out[m]["median_s"] / out["engine"]["median_s"], 3)
    return out


def _compare_wall(seeds: int, duration: str | None, jobs: int | None) -> dict:
    import tempfile
    from pathlib import Path

    from sim.compare.compare import run_compare
    from sim.compare.cli import DEFAULT_SCENARIOS
    from sim.scenario import parse_duration
    dur = parse_duration(duration, "--compare-duration") if duration else None
    with tempfile.TemporaryDirectory(prefix="bdax-compare-bench-") as tmp:
        t0 = time.perf_counter()
        run_compare(DEFAULT_SCENARIOS.split(","), list(range(1, seeds + 1)), out_dir=Path(tmp), jobs=jobs,
                    duration_ns=dur, zi_seeds=list(range(1, 9)), log=sys.stderr)
        wall = time.perf_counter() - t0
    return {"seeds": seeds, "wall_s": round(wall, 2), "duration": duration or "scenario default", "jobs": jobs}


def run(args: argparse.Namespace) -> int:
    err = _check_args(args)
    if err:
        print(f"bdax bench liquidity: {err}", file=sys.stderr)
        return 2
    models = [m for m in args.models.split(",") if m]
    available = []
    for m in models:
        try:
            if m != "engine":
                __import__(f"exchange.liquidity.{m}", fromlist=["x"])
            available.append(m)
        except ImportError as exc:
            print(f"bdax bench liquidity: {m} skipped ({exc})", file=sys.stderr)
    print(f"building flows for {', '.join(available)} ...", file=sys.stderr)
    flows = build_flows(available, args.seed, args.quick, args.quote_every, args.settle_every)
    res = measure(flows, args.repeats)
    doc: dict = {"bench": "liquidity", "workload": "ec" + (" quick" if args.quick else ""), "seed": args.seed,
                 "repeats": args.repeats, "quote_every": args.quote_every, "settle_every": args.settle_every,
                 "python": platform.python_version(), "machine": platform.machine(), "venues": res}
    try:
        import exchange.engine as _e
        doc["compiled"] = not str(getattr(_e, "__file__", "")).endswith(".py")
    except ImportError:
        pass
    for m, r in res.items():
        print(f"{m:9s} {r['commands']:>8,} commands  {r['cmd_per_s'] or 0:>10,} cmd/s  "
              f"overhead x{r.get('overhead_vs_engine', 1.0)}", file=sys.stderr)
    if args.compare_seeds:
        doc["compare"] = _compare_wall(args.compare_seeds, args.compare_duration, args.jobs)
        print(f"bdax sim compare at {args.compare_seeds} seeds: {doc['compare']['wall_s']} s wall", file=sys.stderr)
    print(json.dumps(doc, sort_keys=True))
    return 0
