"""``bdax load``: run a scenario's agents as websocket bots against a running ``bdax serve``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "load", help="load-test a running gateway with the scenario's agents as websocket bots",
        description="Run N of the scenario's agents as real clients of a running `bdax serve` (own account and "
                    "API key each, WebSocket API + market streams), then audit what they saw against the "
                    "server's state and journal. Prints a progress line on stderr and a table at the end.")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway's base URL")
    p.add_argument("--bots", type=int, default=8, help="number of bots (1..1000)")
    p.add_argument("--scenario", default="busan", help="scenario name or path (its agents and instruments)")
    p.add_argument("--duration", type=float, default=60.0, help="measured wall seconds")
    p.add_argument("--warmup", type=float, default=0.0, help="wall seconds before counting")
    p.add_argument("--speed", type=float, default=1.0, help="market seconds per wall second")
    p.add_argument("--rate", type=float, default=None,
                   help="actions per market second of each non-market-maker bot (default: one member's rate)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--admin-token", default=None, help="the server's admin token (default: read from "
                                                       "--data-dir's bdax.toml)")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="the server's data dir (for its token)")
    p.add_argument("--no-audit", action="store_true", help="skip the post-run audit")
    p.add_argument("--no-throttle", action="store_true",
                   help="do not keep each bot under the server's ORDERS limit (exchangeInfo); excess orders "
                        "are then rejected with -1015")
    p.add_argument("--json", default=None, metavar="PATH", help="write the report as JSON ('-': one line on stdout)")
    p.set_defaults(func=_run)


def _token(args) -> str | None:
    if args.admin_token:
        return args.admin_token
    from gateway.serve_cli import CONFIG_NAME, _load
    path = args.data_dir / CONFIG_NAME
    if not path.exists():
        print(f"bdax load: no --admin-token and no {path}; pass --admin-token or the server's --data-dir",
              file=sys.stderr)
        return None
    cfg = _load(path)
    if cfg is None:
        return None
    if not cfg.admin_token:
        print(f"bdax load: {path} has no server.admin_token; set one and restart the server", file=sys.stderr)
        return None
    return cfg.admin_token


def table(r: dict) -> str:
    lat = r["latency_ms"]
    rows = [("bots", r["bots"]), ("duration s", r["duration_s"]), ("orders", r["orders"]),
            ("orders/s", r["orders_per_s"]), ("acks", r["acks"]), ("fills", r["fills"]),
            ("ack p50 ms", lat["p50"]), ("ack p99 ms", lat["p99"]), ("ack p99.9 ms", lat["p99_9"]),
            ("depth gaps", r["depth_gaps"]), ("disconnects", r["disconnects"]), ("reconnects", r["reconnects"]),
            ("throttled", r.get("throttled", 0))]
    bk = r.get("books")
    if bk is not None:
        rows.append(("books", f"{bk['matched']} match the server, {bk['mismatched']} differ, "
                              f"{bk['unverified']} not checked (kept moving)"))
    a = r.get("audit")
    if a is not None:
        rows.append(("audit", f"{'ok' if a['ok'] else 'FAILED'} ({a['orders_checked']} orders, "
                              f"{a['trades_checked']} fills, {a['journal_records']} journal records)"))
    out = [f"{k:<14} {v}" for k, v in rows]
    for reason, n in r["rejects"].items():
        out.append(f"{'reject':<14} {n:>6}  {reason}")
    return "\n".join(out)


def _run(args) -> int:
    if not 1 <= args.bots <= 1000:
        print(f"bdax load: --bots must be 1..1000, got {args.bots}", file=sys.stderr)
        return 2
    token = _token(args)
    if token is None:
        return 2
    from ..scenario import ScenarioError
    from .runner import LoadError, run_load
    try:
        r = run_load(args.url, bots=args.bots, scenario=args.scenario, duration_s=args.duration,
                     speed=args.speed, rate=args.rate, admin_token=token, seed=args.seed, warmup_s=args.warmup,
                     progress=True, audit=not args.no_audit,
                     throttle=not args.no_throttle)
    except (LoadError, ScenarioError, ValueError) as exc:
        print(f"bdax load: {exc}", file=sys.stderr)
        return 2
    if args.json == "-":
        print(json.dumps(r))
    else:
        print(table(r))
        if args.json:
            Path(args.json).write_text(json.dumps(r, indent=1))
    bad = r["depth_gaps"] or (r.get("books") or {}).get("mismatched") or (r["audit"] is not None and not r["audit"]["ok"])
    return 1 if bad else 0
