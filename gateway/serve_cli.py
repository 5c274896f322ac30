"""``bdax serve``, ``bdax keys create`` and ``bdax admin deposit|withdraw``.

``bdax serve`` runs the gateway under uvicorn. Without ``--config`` it uses ``<data-dir>/bdax.toml``; on
a first run with no config there, it writes a demo config (funded accounts, fresh keys, an admin token)
and prints the keys and a ready-to-paste ccxt config (binance-compat §2, recipe A) for this host and port.

A moving market by default (``sim.live``): the first run's config is the home venue of scenario ``busan``
(``--market NAME|PATH`` for another, ``--market none`` for the old demo exchange with no agents) and says so
in its ``[market]`` table; later runs read ``[market]`` and run its agents (a config without one runs none).
``--market NAME`` on an existing config must name the config's own scenario (a journal cannot change
exchange); ``--market none`` runs the config's exchange without agents. ``--speed`` sets market seconds per
wall second.
Exit codes: 0 clean shutdown, 2 bad arguments or config, 1 the server failed.
"""
from __future__ import annotations

import argparse
import json
import pprint
import sys
from pathlib import Path

__all__ = ["register", "ccxt_config", "CONFIG_NAME", "CCXT_JSON_NAME"]

CONFIG_NAME = "bdax.toml"
CCXT_JSON_NAME = "ccxt_config.json"   # written beside the demo config on the first run


def register(subparsers) -> None:
    """Add ``serve``, ``keys`` and ``admin`` to the ``bdax`` parser."""
    s = subparsers.add_parser(
        "serve", help="run the Binance-compatible gateway (REST, streams, WebSocket API)",
        description="Run the gateway under uvicorn, with a moving market: a simulator scenario's agents "
                    "trade inside the server (journaled like every client). The journal lives in "
                    "DATA_DIR/journal and is recovered on start. Without --config, DATA_DIR/bdax.toml is "
                    "used; if it does not exist, a config for the market's home venue (default busan; "
                    "--market none: a demo exchange without agents) with funded accounts is written there "
                    "and its keys and a ccxt config are printed. Later runs serve the config's [market].",
        epilog="OpenAPI docs: http://HOST:PORT/docs")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    s.add_argument("--data-dir", type=Path, default=Path("./data"),
                   help="journal and default config directory (default ./data)")
    s.add_argument("--config", type=Path, default=None, help="TOML config file (default DATA_DIR/bdax.toml)")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn log level (default info)")
    s.add_argument("--market", default=None, metavar="NAME|PATH|none",
                   help="run this simulator scenario's agents inside the server: a shipped scenario (busan, "
                        "busan-mirrored, ...) or a scenario file; 'none' for no agents. Default: the config's "
                        "[market]; on a first run, busan")
    s.add_argument("--speed", type=_speed, default=1.0,
                   help="market seconds per wall-clock second for the agents (default 1)")
    s.set_defaults(func=_serve)

    k = subparsers.add_parser("keys", help="manage API keys in the gateway config",
                              description="Manage API keys in the gateway's TOML config.")
    ksub = k.add_subparsers(dest="keys_command", metavar="SUBCOMMAND")
    k.set_defaults(func=lambda args: (k.print_help(), 2)[1])
    kc = ksub.add_parser("create", help="add a new API key to an account",
                         description="Generate a key and secret for ACCOUNT, add them to the config and print "
                                     "them. A running server loads new keys on its next start.")
    kc.add_argument("--account", type=int, required=True, help="account id (added if not in the config)")
    kc.add_argument("--permissions", default="READ,TRADE",
                    help="comma-separated: READ (queries, user streams), TRADE (orders); default READ,TRADE")
    _config_args(kc)
    kc.set_defaults(func=_keys_create)

    a = subparsers.add_parser("admin", help="deposit to or withdraw from an account on a running gateway",
                              description="Call the running gateway's admin routes with the config's "
                                          "admin token.")
    asub = a.add_subparsers(dest="admin_command", metavar="SUBCOMMAND")
    a.set_defaults(func=lambda args: (a.print_help(), 2)[1])
    for name in ("deposit", "withdraw"):
        p = asub.add_parser(name, help=f"{name} an amount of an asset",
                            description=f"{name.capitalize()} AMOUNT of ASSET for ACCOUNT through the running "
                                        f"gateway (journaled like any command).")
        p.add_argument("--account", type=int, required=True, help="account id")
        p.add_argument("--asset", required=True, help="asset name, e.g. KRW")
        p.add_argument("--amount", required=True, help='decimal amount, e.g. "1000000"')
        p.add_argument("--url", default="http://127.0.0.1:8000", help="gateway base URL (default %(default)s)")
        _config_args(p)
        p.set_defaults(func=_admin, admin_action=name)


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=Path("./data"), help="data directory (default ./data)")
    p.add_argument("--config", type=Path, default=None, help="config file (default DATA_DIR/bdax.toml)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is not in 1..65535")
    return port


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 1 or 10)") from None
    if not 0 < speed <= 10_000:
        raise argparse.ArgumentTypeError(f"speed {text} is not in (0, 10000]")
    return speed


def ccxt_config(host: str, port: int, api_key: str, secret: str) -> dict:
    """binance-compat §2 recipe A for a gateway at ``host:port``."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    http, ws = f"http://{host}:{port}", f"ws://{host}:{port}"
    return {
        "apiKey": api_key, "secret": secret,
        "urls": {"api": {"public": http + "/api/v3", "private": http + "/api/v3", "v1": http + "/api/v1",
                         "sapi": http + "/sapi/v1",
                         "ws": {"spot": ws + "/ws", "ws-api": {"spot": ws + "/ws-api/v3"}}}},
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
    }


def _config_path(args) -> Path:
    return args.config if args.config is not None else args.data_dir / CONFIG_NAME


def _load(path: Path):
    from .config import ConfigError, load_config
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"bdax: {exc}", file=sys.stderr)
        return None


def _serve(args) -> int:
    from .config import write_config
    path = _config_path(args)
    first_run = False
    if not path.exists():
        if args.config is not None:
            print(f"bdax serve: config file {path} does not exist", file=sys.stderr)
            return 2
        cfg = _first_config(args.market or "busan")
        if cfg is None:
            return 2
        write_config(cfg, path)
        first_run = True
    else:
        cfg = _load(path)
        if cfg is None:
            return 2
    scenario = _market_scenario(cfg, path, args.market)
    if scenario is False:
        return 2
    if first_run:
        _print_demo(cfg, path, args.host, args.port)
    import uvicorn

    from .app import create_app
    market = None
    if scenario is not None:
        from sim.live import LiveMarket
        seed = cfg.market.seed
        market = lambda pump: LiveMarket(scenario, pump, speed=args.speed, seed=seed)   # noqa: E731
        _market_logging(args.log_level)
    app = create_app(cfg, args.data_dir, market=market)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"bdax gateway: http://{shown}:{args.port}  (docs: /docs, data: {args.data_dir}, config: {path})",
          flush=True)
    if scenario is not None:
        agents = sum(g.count for g in scenario.groups)
        sharing = f", {scenario.liquidity.model} liquidity sharing" if scenario.liquidity is not None else ""
        print(f"market: {cfg.market.scenario} at {args.speed:g}x ({agents} agents in {len(scenario.groups)} "
              f"groups{sharing}); a summary is logged every 10 s", flush=True)
    else:
        print("market: none (no agents; --market NAME on a new --data-dir for a moving market)", flush=True)
    _tune_gc()
    _exit_zero_on_sigterm()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, ws_max_size=1 << 20,
                    lifespan="on")
    except Exception as exc:   # noqa: BLE001 - report and exit non-zero, e.g. a journal from another config
        print(f"bdax serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _exit_zero_on_sigterm() -> None:
    """uvicorn shuts down gracefully on SIGTERM (market stopped, pump drained, journal closed), then raises
    the signal again with the handler that was installed before it: this one makes that a clean exit (0)
    instead of death by signal (-15), so a service manager sees a normal stop."""
    import signal
    import threading
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))


def _first_config(market: str):
    """The config a first run writes: the demo exchange for ``none``, else the scenario's home venue."""
    from .config import ConfigError, demo_config
    if market == "none":
        return demo_config()
    from sim.live.engine import market_config
    from sim.scenario import ScenarioError
    try:
        return market_config(market)
    except (ScenarioError, ConfigError) as exc:
        print(f"bdax serve: --market {market}: {exc}", file=sys.stderr)
        return None


def _market_scenario(cfg, path: Path, market: str | None):
    """The scenario whose agents run (None: no agents), or False after printing why the config and
    ``--market`` cannot run together."""
    from sim.live.engine import check_scenario_matches, load_market_scenario
    from sim.scenario import ScenarioError
    if market is not None and market != "none":
        have = cfg.market.scenario if cfg.market is not None else None
        if have != market:
            try:
                problem = check_scenario_matches(cfg, load_market_scenario(market))
            except ScenarioError as exc:
                print(f"bdax serve: --market {market}: {exc}", file=sys.stderr)
                return False
            what = f"[market] {have!r}" if have else "no [market] (a plain exchange)"
            print(f"bdax serve: --market {market}: {path} has {what}; its journal cannot become another "
                  f"exchange{' (' + problem + ')' if problem else ''}. Use a new --data-dir for {market}, "
                  f"or leave --market out (or --market none) to serve this one.", file=sys.stderr)
            return False
    if cfg.market is None:
        return None
    try:
        scenario = load_market_scenario(cfg.market.scenario)
    except ScenarioError as exc:
        print(f"bdax serve: {path}: [market]: {exc}", file=sys.stderr)
        return False
    problem = check_scenario_matches(cfg, scenario)
    if problem:
        print(f"bdax serve: {path}: [market] {cfg.market.scenario!r}: {problem}. Use a new --data-dir, or "
              f"--market none to serve the config's instruments without agents.", file=sys.stderr)
        return False
    return None if market == "none" else scenario


def _market_logging(level: str) -> None:
    """The live market's one-line summaries (logger ``bdax.market``) on stderr, as uvicorn's own lines."""
    import logging
    logger = logging.getLogger("bdax.market")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())


def _tune_gc() -> None:
    """Garbage-collector settings for the server process (perf, G4). Full collections under load were
    10-80 ms pauses, the WebSocket API's p99.9: everything imported and built so far (~85k objects: modules,
    functions, the app) lives as long as the process, so it is frozen out of every later collection; and
    the youngest generation is collected every 20,000 allocations instead of 700, so that objects of
    requests in flight (alive for a millisecond) are not promoted to the old generations, whose growth is
    what triggers full collections. Reference counting frees everything else as before."""
    import gc
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 10)


def _print_demo(cfg, path: Path, host: str, port: int) -> None:
    print(f"First run: wrote a demo config to {path} (it holds secrets; keep it private).")
    for acct in cfg.accounts:
        bal = ", ".join(f"{v} {k}" for k, v in acct.balances.items())
        for key in acct.api_keys:
            print(f"  account {acct.id} ({bal})\n    apiKey: {key.key}\n    secret: {key.secret}")
    account, first = next((a, k) for a in cfg.accounts for k in a.api_keys)
    config = ccxt_config(host, port, first.key, first.secret)
    # Python's literal (True/False), not JSON's (true/false): the dict is pasted into Python code.
    print(f"\nccxt config for account {account.id} (paste, then ccxt.binance(config) or "
          f"ccxt.pro.binance(config)):")
    print("config = " + pprint.pformat(config, sort_dicts=False, width=100))
    json_path = path.parent / CCXT_JSON_NAME
    json_path.touch(mode=0o600, exist_ok=True)    # holds a secret: private before it is written
    json_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"The same as JSON (freqtrade's exchange.ccxt_config, other languages): {json_path}")
    print(f"\nAdmin token (bdax admin deposit/withdraw): {cfg.admin_token}\n", flush=True)


def _keys_create(args) -> int:
    from .config import PERMISSIONS, AccountConfig, ConfigError, new_api_key, write_config
    path = _config_path(args)
    cfg = _load(path)
    if cfg is None:
        return 2
    perms = frozenset(p.strip().upper() for p in args.permissions.split(",") if p.strip())
    bad = sorted(perms - set(PERMISSIONS))
    if bad:
        print(f"bdax keys create: unknown permission(s) {', '.join(bad)}; use {', '.join(PERMISSIONS)}",
              file=sys.stderr)
        return 2
    key = new_api_key(perms)
    accounts = list(cfg.accounts)
    for i, acct in enumerate(accounts):
        if acct.id == args.account:
            accounts[i] = AccountConfig(acct.id, acct.name, acct.fee_tier, acct.balances, acct.api_keys + (key,))
            break
    else:
        accounts.append(AccountConfig(args.account, f"account-{args.account}", 0, {}, (key,)))
    try:
        new_cfg = cfg.with_accounts(tuple(accounts))
    except ConfigError as exc:
        print(f"bdax keys create: {exc}", file=sys.stderr)
        return 2
    write_config(new_cfg, path)
    print(f"Added a {','.join(sorted(perms)) or 'no-permission'} key to account {args.account} in {path}:")
    print(f"  apiKey: {key.key}\n  secret: {key.secret}")
    print("Restart the gateway to load it.")
    return 0


def _admin(args) -> int:
    import urllib.error
    import urllib.request
    cfg = _load(_config_path(args))
    if cfg is None:
        return 2
    if not cfg.admin_token:
        print("bdax admin: the config has no server.admin_token; set one and restart the gateway",
              file=sys.stderr)
        return 2
    body = json.dumps({"account": args.account, "asset": args.asset, "amount": args.amount}).encode()
    req = urllib.request.Request(f"{args.url.rstrip('/')}/admin/{args.admin_action}", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "X-BDAX-ADMIN-TOKEN": cfg.admin_token})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"bdax admin: HTTP {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"bdax admin: cannot reach {args.url}: {exc.reason} (is `bdax serve` running?)", file=sys.stderr)
        return 1
