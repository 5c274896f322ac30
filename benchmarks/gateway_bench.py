"""``bdax bench gateway``: orders/s and round trips through the WebSocket API of a real ``bdax serve``, and
market-data fan-out while orders flow.

Method (every figure measured on the client, ``perf_counter_ns`` around each request):

1. A config is written with ``max(--clients)`` funded accounts, one READ+TRADE key each, the demo
   instruments, rate limits high enough not to interfere, and the fsync policy of ``--fsync`` (default: the
   server's default). ``bdax serve`` starts on a free loopback port in a subprocess (its own interpreter,
   as in production) with a fresh data dir in ``--dir``.
2. **Trading** (for each N of ``--clients``): N WebSocket API connections, one account each, every
   connection with ``--lanes`` request loops (requests in flight per connection). A loop places a signed
   LIMIT GTC order (``order.place``) and cancels it (``order.cancel``) if it rests; 10% of orders cross by
   1..3 ticks, so trades happen (:mod:`benchmarks.gateway_load`). After ``--warmup`` seconds, requests
   sent during ``--duration`` seconds are counted: orders/s = ``order.place`` answered / duration,
   requests/s = places + cancels, latency percentiles over every request.
3. **Stalled subscribers** (``--stalled K``): N traders as in 2, alternately without and with K
   market-stream clients that subscribe (BTCUSDT depth@100ms, trade, aggTrade, bookTicker) and never read,
   ``--stalled-rounds`` times each: orders/s without, with, the ratio of the medians, and how each stalled
   client was ended by the server (a 1008 close frame, a reset, or still "open": a failure).
4. **Fan-out**: M subscribers (``--subscribers``, in ``--subscriber-procs`` child processes: 1, or 2 above
   200) on ``/ws/<n>``, each subscribed to ``btcusdt@<kind>`` for ``--subscriber-streams`` (default
   depth@100ms and trade), while N traders run as in 2: market-data messages/s, depth gaps
   (``U != previous u + 1``: must be 0), connections the server closed, trade delivery delay (receive
   wall clock - trade time ``T``).
5. **Baseline** (with ``--baseline-python``, an interpreter that has ``matching-engine[gateway]``
   installed; ``--install-baseline`` makes one with a Python >= 3.12 if one is found): the PyPI
   ``matching-engine`` gateway on another loopback port, driven over HTTP with the same place-then-cancel
   loop and the same N x lanes concurrency. Without it the table quotes the issue's figure for that
   package (~700-1,300 orders/s over HTTP on this machine) as an external figure, not measured here.

6. **Bots** (``--bots 1,8,64,256``): the simulator's agents as real websocket bots
   (:func:`sim.bots.runner.run_load`, the engine of ``bdax load``) against a second server started with
   ``--market none`` so that the bots are the only flow, each non-market-maker bot acting ``--bots-rate``
   times per market second so that they offer more than the server takes: orders/s, acknowledgement
   latency p50/p99/p99.9, rejects, depth gaps (as the bots measure them).

Optionally ``--profile py-spy`` samples the server (``py-spy record``, needs py-spy) during the last
trading phase (the last of the sweep) and prints where its time goes (top functions by own samples).

Prints a table and, as the last line of stdout, one JSON object. The machine has 2 cores shared by the
server (1 event loop + the journal's fsync) and the load generators: the client CPU column says when
the client, not the server, is the bottleneck.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from decimal import ROUND_UP, Decimal
from pathlib import Path

__all__ = ["add_arguments", "run", "main"]

REPO = Path(__file__).resolve().parents[1]
SYMBOL = "BTCUSDT"
EXTERNAL_BASELINE = {"name": "matching-engine (PyPI) over HTTP", "orders_per_s": "~700-1,300",
                     "source": "issue 4 (measured on this machine by the issue's author; not in this run)"}
GOAL = {"orders_per_s": 10_000, "p99_ms": 20.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", default="8", metavar="N[,N...]",
                        help="WebSocket API trading connections (one account each); a comma list sweeps "
                             "(e.g. 1,8,64). Default 8")
    parser.add_argument("--lanes", type=int, default=4,
                        help="requests in flight per connection (default 4)")
    parser.add_argument("--subscribers", type=int, default=100,
                        help="market-data subscribers in the fan-out phase; 0 skips it (default 100)")
    parser.add_argument("--subscriber-procs", type=int, default=None, metavar="P",
                        help="child processes the subscribers are spread over (default 1, 2 above 200)")
    parser.add_argument("--subscriber-streams", default="depth@100ms,trade", metavar="KIND[,KIND...]",
                        help="streams each subscriber takes, as <symbol>@KIND (default depth@100ms,trade)")
    parser.add_argument("--stalled", type=int, default=0, metavar="K",
                        help="also measure orders/s with K subscribers that never read (raw sockets with a "
                             "4 KiB receive buffer) against without, back to back; 0 skips (default)")
    parser.add_argument("--stalled-rounds", type=int, default=1, metavar="R",
                        help="alternating without/with runs for --stalled; medians are compared (default 1)")
    parser.add_argument("--bots", default="", metavar="N[,N...]",
                        help="also run the simulator's agents as websocket bots (sim.bots, `bdax load`) at each "
                             "N, against a second server started with --market none (the bots are the only "
                             "flow), e.g. 1,8,64,256; empty skips (default)")
    parser.add_argument("--bots-scenario", default="busan", help="scenario the bots come from (default busan)")
    parser.add_argument("--bots-rate", type=float, default=20.0, metavar="R",
                        help="actions per market second of each non-market-maker bot (default 20)")
    parser.add_argument("--bots-speed", type=float, default=1.0, help="market seconds per wall second (default 1)")
    parser.add_argument("--fanout-clients", type=int, default=None, metavar="N",
                        help="traders during the fan-out phase (default: the middle of --clients)")
    parser.add_argument("--duration", type=float, default=None,
                        help="measured seconds per phase (default 10; 3 with --quick)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before measuring (default 2; 1 with --quick)")
    parser.add_argument("--fsync", default=None, metavar="POLICY",
                        help="server fsync policy: every_batch, interval_ms=N or off (default: the "
                             "server's default)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the server's data dir goes (default: the system temp directory; "
                             "an fsync on tmpfs costs nothing, so the filesystem is reported)")
    parser.add_argument("--baseline-python", default=os.environ.get("BDAX_BENCH_BASELINE_PYTHON"),
                        metavar="PYTHON",
                        help="an interpreter with matching-engine[gateway] installed: measure it over HTTP "
                             "side by side (default: $BDAX_BENCH_BASELINE_PYTHON)")
    parser.add_argument("--install-baseline", action="store_true",
                        help="create a venv with matching-engine[gateway] (needs Python >= 3.12 and PyPI) "
                             "under ~/.cache/bdax-bench and use it")
    parser.add_argument("--profile", choices=("none", "py-spy"), default="none",
                        help="sample the server with py-spy during the last (largest) trading phase")
    parser.add_argument("--seed", type=int, default=1, help="price seed (default 1)")
    parser.add_argument("--quick", action="store_true", help="short phases: a smoke run of ~15 s")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")


# ---------------------------------------------------------------------------------------------- server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """A server subprocess on a loopback port; ``stop()`` sends SIGINT and waits."""

    def __init__(self, cmd: list[str], port: int, log: Path, env: dict | None = None, ready_path: str = "",
                 cwd: Path = REPO) -> None:
        self.port, self.log_path, self.ready_path = port, log, ready_path
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """utime + stime of the server process so far (Linux /proc), 0.0 where unavailable."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def _write_config(path: Path, accounts: int, fsync: str | None) -> tuple[list, str]:
    """The demo config with ``accounts`` accounts and rate limits out of the way; returns the
    (api_key, secret) pairs and the fsync policy in force."""
    from gateway.config import demo_config, dump_toml, parse_config, write_config

    data = tomllib.loads(dump_toml(demo_config(n_accounts=accounts)))
    data["rate_limits"] = {"request_weight_per_minute": 1_000_000_000, "orders_per_10s": 1_000_000_000,
                           "orders_per_day": 1_000_000_000}
    if fsync is not None:
        data.setdefault("server", {})["fsync"] = fsync
    cfg = parse_config(data)
    write_config(cfg, path)
    keys = [(a.api_keys[0].key, a.api_keys[0].secret) for a in cfg.accounts]
    return keys, cfg.fsync


def _market(port: int, mid: str = "30000") -> "object":
    from .gateway_load import Market
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v3/exchangeInfo?symbol={SYMBOL}",
                                timeout=10) as r:
        info = json.loads(r.read())
    sym = next(s for s in info["symbols"] if s["symbol"] == SYMBOL)
    f = {x["filterType"]: x for x in sym["filters"]}
    tick, step = Decimal(f["PRICE_FILTER"]["tickSize"]), Decimal(f["LOT_SIZE"]["stepSize"])
    min_notional = Decimal(f.get("NOTIONAL", {}).get("minNotional", "0"))
    mid_d = (Decimal(mid) / tick).to_integral_value() * tick
    qty = max(Decimal(f["LOT_SIZE"]["minQty"]), (min_notional * 2 / mid_d / step).to_integral_value(ROUND_UP) * step)
    return Market(SYMBOL, tick, step, mid_d.normalize(), qty.normalize())


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True, timeout=5)
        return out.stdout.split()[-1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------------------------------------- phases

def _pct(samples: list[int], q: float) -> float | None:
    if not samples:
        return None
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] / 1e6


def _summary(name: str, clients: int, lanes: int, stats, client_cpu: float, server_cpu: float) -> dict:
    w = stats.window_s
    lat = stats.latencies_ns
    return {"phase": name, "clients": clients, "lanes": lanes, "window_s": w,
            "orders_per_s": round(stats.placed / w), "requests_per_s": round(stats.requests / w),
            "cancels_per_s": round(stats.canceled / w), "cancels_too_late": stats.cancel_too_late,
            "p50_ms": _pct(lat, 0.50), "p99_ms": _pct(lat, 0.99), "p999_ms": _pct(lat, 0.999),
            "max_ms": max(lat) / 1e6 if lat else None, "errors": stats.errors,
            "client_cpu_pct": round(100 * client_cpu / w), "server_cpu_pct": round(100 * server_cpu / w)}


def _timed_phase(server: _Server | None, coro_factory):
    """Run one asyncio phase; return (result, client CPU s, server CPU s) over the whole phase."""
    c0, s0 = time.process_time(), server.cpu_seconds() if server else 0.0
    result = asyncio.run(coro_factory())
    return result, time.process_time() - c0, (server.cpu_seconds() - s0) if server else 0.0


def _trading(server: _Server, market, accounts, n: int, args, profile_out: Path | None) -> dict:
    from .gateway_load import Account, trade_ws
    accts = [Account(k, s) for k, s in accounts[:n]]
    spy = None
    if profile_out is not None:
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.proc.pid), "--format", "raw",
                                "--output", str(profile_out), "--duration", str(int(args.warmup + args.duration)),
                                "--rate", "250", "--gil", "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats, ccpu, scpu = _timed_phase(server, lambda: trade_ws(
        f"ws://127.0.0.1:{server.port}", accts, market, lanes=args.lanes, duration_s=args.duration,
        warmup_s=args.warmup, seed=args.seed))
    if spy is not None:
        spy.wait(60)
    # CPU over the whole phase (warm-up included), scaled to the window for a rate.
    total = args.warmup + args.duration
    return _summary("ws-api trading", n, args.lanes, stats, ccpu * args.duration / total,
                    scpu * args.duration / total)


def _fanout(server: _Server, market, accounts, n: int, args) -> tuple[dict, dict]:
    import multiprocessing as mp

    from .gateway_load import Account, subscriber_process, trade_ws
    ctx = mp.get_context("spawn")
    ws_base = f"ws://127.0.0.1:{server.port}"
    kinds = tuple(k.strip() for k in args.subscriber_streams.split(",") if k.strip())
    nproc = args.subscriber_procs or (1 if args.subscribers <= 200 else 2)
    shares = [args.subscribers // nproc + (1 if i < args.subscribers % nproc else 0) for i in range(nproc)]
    procs, pipes, first = [], [], 0
    for share in shares:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=subscriber_process,
                           args=(ws_base, SYMBOL, share, args.warmup + args.duration + 1, child, kinds, first))
        proc.start()
        child.close()
        procs.append(proc)
        pipes.append(parent)
        first += share
    for parent in pipes:
        kind, payload = parent.recv() if parent.poll(90) else ("error", "not connected within 90 s")
        if kind != "ready":
            for proc in procs:
                proc.kill()
            raise RuntimeError(f"subscribers failed: {payload}")
    accts = [Account(k, s) for k, s in accounts[:n]]
    stats, ccpu, scpu = _timed_phase(server, lambda: trade_ws(
        ws_base, accts, market, lanes=args.lanes, duration_s=args.duration, warmup_s=args.warmup,
        seed=args.seed + 1))
    results = []
    for parent, proc in zip(pipes, procs):
        kind, part = parent.recv() if parent.poll(60) else ("error", "no result from a subscriber process")
        proc.join(10)
        if kind != "done":
            raise RuntimeError(f"subscribers failed: {part}")
        results.append(part)
    md = _merge_md(results)
    md["processes"] = nproc
    md["streams"] = list(kinds)
    total = args.warmup + args.duration
    trading = _summary(f"trading + {args.subscribers} subscribers", n, args.lanes, stats,
                       ccpu * args.duration / total, scpu * args.duration / total)
    delays = md.pop("trade_delay_ms")
    w = md["window_s"]
    md.update({"messages_per_s": round(md["messages"] / w), "depth_per_s": round(md["depth"] / w),
               "trades_per_s": round(md["trades"] / w),
               "trade_delay_p50_ms": _pct([d * 1_000_000 for d in delays], 0.5),
               "trade_delay_p99_ms": _pct([d * 1_000_000 for d in delays], 0.99)})
    return trading, md


def _bots(sweep: list[int], args, workdir: Path, say) -> list[dict]:
    """``bdax load``'s bots (sim.bots.runner.run_load) at each N of ``sweep`` against a fresh server run
    with ``--market none`` and the benchmark's config (rate limits out of the way, as for the other phases:
    the bench measures the gateway, not Binance's per-key order limit; its admin token provisions)."""
    from sim.bots.runner import run_load

    from gateway.serve_cli import CONFIG_NAME
    port = _free_port()
    data = workdir / "bots-data"
    data.mkdir(parents=True, exist_ok=True)
    _write_config(data / CONFIG_NAME, 1, args.fsync)
    server = _Server([sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                      "--data-dir", str(data), "--config", str(data / CONFIG_NAME), "--market", "none"], port,
                     workdir / "bots-server.log", ready_path="/api/v3/ping")
    rows = []
    try:
        server.wait_ready()
        token = tomllib.loads((data / CONFIG_NAME).read_text())["server"]["admin_token"]
        for n in sweep:
            say(f"bots: {n} bot(s) of {args.bots_scenario}, {args.warmup:g}+{args.duration:g} s ...")
            c0, s0 = time.process_time(), server.cpu_seconds()
            r = run_load(f"http://127.0.0.1:{port}", bots=n, scenario=args.bots_scenario, duration_s=args.duration,
                         speed=args.bots_speed, rate=args.bots_rate, admin_token=token, seed=args.seed,
                         warmup_s=args.warmup, progress=False, audit=False)
            total = args.warmup + args.duration
            lat = r.get("latency_ms") or {}
            rows.append({"bots": n, "orders_per_s": r.get("orders_per_s"), "p50_ms": lat.get("p50"),
                         "p99_ms": lat.get("p99"), "p999_ms": lat.get("p99_9"), "rejects": r.get("rejects"),
                         "depth_gaps": r.get("depth_gaps"), "disconnects": r.get("disconnects"),
                         "unanswered": r.get("unanswered"), "throttled": r.get("throttled"),
                         "client_cpu_pct": round(100 * (time.process_time() - c0) / total),
                         "server_cpu_pct": round(100 * (server.cpu_seconds() - s0) / total), "raw": r})
    finally:
        server.stop()
    return rows


def _merge_md(parts: list[dict]) -> dict:
    """One fan-out result from the subscriber processes' results (sums; the longest window)."""
    out = dict(parts[0])
    out["close_reasons"] = dict(out["close_reasons"])
    out["trade_delay_ms"] = list(out["trade_delay_ms"])
    out["client_errors"] = list(out.get("client_errors", []))
    for p in parts[1:]:
        for k in ("subscribers", "messages", "depth", "trades", "bytes", "gaps", "acks", "closed_by_server"):
            out[k] += p[k]
        for r, c in p["close_reasons"].items():
            out["close_reasons"][r] = out["close_reasons"].get(r, 0) + c
        out["trade_delay_ms"] += p["trade_delay_ms"]
        out["client_errors"] += p.get("client_errors", [])
        out["window_s"] = max(out["window_s"], p["window_s"])
    return out


def _stalled(server: _Server, market, accounts, n: int, args) -> dict:
    """Orders/s with and without ``--stalled`` subscribers that never read, back to back (alternating,
    ``--stalled-rounds`` each), and whether the server disconnected every stalled one."""
    import statistics

    from .gateway_load import Account, stalled_subscribers, trade_ws
    accts = [Account(k, s) for k, s in accounts[:n]]
    runs: dict[str, list[dict]] = {"without": [], "with": []}
    ends: dict[str, int] = {}
    for r in range(args.stalled_rounds):
        for mode in ("without", "with"):
            socks = stalled_subscribers(server.port, SYMBOL, args.stalled) if mode == "with" else []
            stats, ccpu, scpu = _timed_phase(server, lambda: trade_ws(
                f"ws://127.0.0.1:{server.port}", accts, market, lanes=args.lanes, duration_s=args.duration,
                warmup_s=args.warmup, seed=args.seed + 2 + r))
            total = args.warmup + args.duration
            runs[mode].append(_summary(f"trading, {mode} {args.stalled} stalled", n, args.lanes, stats,
                                       ccpu * args.duration / total, scpu * args.duration / total))
            for how in _ends(socks):
                ends[how] = ends.get(how, 0) + 1
    med = {m: statistics.median(x["orders_per_s"] for x in v) for m, v in runs.items()}
    return {"stalled": args.stalled, "rounds": args.stalled_rounds, "orders_per_s_without": med["without"],
            "orders_per_s_with": med["with"], "ratio": round(med["with"] / med["without"], 3) if med["without"] else None,
            "stalled_ends": ends, "runs": runs["without"] + runs["with"]}


def _ends(socks) -> list[str]:
    from .gateway_load import stalled_end
    out = [stalled_end(s) for s in socks]
    for s in socks:
        s.close()
    return out


# ---------------------------------------------------------------------------------------------- baseline

def _find_py312() -> str | None:
    for name in ("python3.13", "python3.12"):
        found = shutil.which(name)
        if found:
            return found
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for v in sorted(root.glob("3.1[2-9]*"), reverse=True):
        if (v / "bin" / "python").exists():
            return str(v / "bin" / "python")
    return None


def _install_baseline(quiet: bool) -> str | None:
    venv = Path.home() / ".cache" / "bdax-bench" / "matching-engine"
    py = venv / "bin" / "python"
    if py.exists() and _baseline_ok(str(py)):
        return str(py)
    base = _find_py312()
    if base is None:
        if not quiet:
            print("--install-baseline: no Python >= 3.12 found (matching-engine requires it)", file=sys.stderr)
        return None
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "matching-engine[gateway]"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode:
        if not quiet:
            print(f"--install-baseline: pip failed:\n{r.stderr[-2000:]}", file=sys.stderr)
        return None
    return str(py)


def _baseline_ok(python: str) -> bool:
    r = subprocess.run([python, "-c", "import matching_engine.gateway, uvicorn"], capture_output=True)
    return r.returncode == 0


def _baseline(python: str, n: int, args, workdir: Path) -> dict:
    from .gateway_load import trade_http
    port = _free_port()
    env = dict(os.environ, ME_DATA_DIR=str(workdir / "me-data"), ME_MARKETS="BTC-USDT:0.01:0.00001",
               ME_FSYNC="0" if (args.fsync or "") == "off" else "1")
    server = _Server([python, "-m", "matching_engine", "serve", "--host", "127.0.0.1", "--port", str(port)],
                     port, workdir / "me.log", env=env, ready_path="/healthz", cwd=workdir)
    try:
        server.wait_ready()
        mid = Decimal("30000")

        def place(rng, client):
            side = "buy" if rng.random() < 0.5 else "sell"
            off = rng.randint(1, 20) if rng.randrange(100) >= 10 else -rng.randint(1, 3)
            price = mid - off * Decimal("0.01") if side == "buy" else mid + off * Decimal("0.01")
            body = json.dumps({"account": client + 1, "side": side, "type": "limit", "price": str(price),
                               "quantity": "0.00034"}).encode()
            return "POST", "/markets/BTC-USDT/orders", body, {"Content-Type": "application/json"}

        def cancel(client, status, body):
            if status >= 300:
                return None
            res = json.loads(body)
            if res.get("status") not in ("resting", "partially_filled"):
                return None
            return "DELETE", f"/markets/BTC-USDT/orders/{res['order_id']}?account={client + 1}", b"", None

        stats, ccpu, scpu = _timed_phase(server, lambda: trade_http(
            f"http://127.0.0.1:{port}", place, cancel, clients=n, lanes=args.lanes,
            duration_s=args.duration, warmup_s=args.warmup, seed=args.seed))
        total = args.warmup + args.duration
        return _summary("matching-engine HTTP", n, args.lanes, stats, ccpu * args.duration / total,
                        scpu * args.duration / total)
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- profile

def _profile_summary(raw: Path, top: int = 20) -> dict:
    """From py-spy's raw (collapsed stacks) output: the ``top`` functions by own samples, each with its
    inclusive share, and own samples summed per source file (where the time goes, module by module)."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    files: dict[str, int] = {}
    total = 0
    try:
        lines = raw.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        n = int(count)
        total += n
        frames = []
        for f in stack.split(";"):
            name, _, where = f.partition(" (")
            path = where.split(":")[0]
            frames.append((f"{name} ({path.rsplit('/', 1)[-1]})", _short_path(path)))
        leaf, leaf_file = frames[-1]
        own[leaf] = own.get(leaf, 0) + n
        files[leaf_file] = files.get(leaf_file, 0) + n
        for f in {name for name, _ in frames}:
            incl[f] = incl.get(f, 0) + n
    if not total:
        return {}
    return {
        "samples": total,
        "functions": [(f, round(100 * n / total, 1), round(100 * incl[f] / total, 1))
                      for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]],
        "files": [(f, round(100 * n / total, 1)) for f, n in sorted(files.items(), key=lambda kv: -kv[1])[:top]],
    }


def _short_path(path: str) -> str:
    """``.../site-packages/uvicorn/protocols/x.py`` -> ``uvicorn/protocols/x.py``; repo files relative."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3" and "/" in tail else tail
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except (ValueError, OSError):
        return path


# ---------------------------------------------------------------------------------------------- report

def _fmt(x, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.2f}{unit}"
    return f"{x:,}{unit}"


def _table(report: dict) -> str:
    env = report["environment"]
    lines = [f"bdax bench gateway — {env['machine']['cpu']} x{env['machine']['nproc']}, Python {env['python']}, "
             f"engine {env['bdax_engine']}, commit {env['commit'] or 'unknown'}, load {env['machine']['loadavg_1m_at_start']}",
             f"server fsync: {report['fsync']} on {report['data_fs']}; {report['lanes']} requests in flight per "
             f"connection; {report['duration_s']:g} s measured after {report['warmup_s']:g} s warm-up",
             "",
             f"{'phase':34} {'conns':>5} {'orders/s':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
             f"{'p99.9 ms':>8} {'client cpu':>10} {'server cpu':>10}  errors"]
    for r in report["trading"] + report.get("fanout_trading", []) + report.get("baseline", []):
        errs = sum(r["errors"].values())
        lines.append(f"{r['phase']:34} {r['clients']:>5} {_fmt(r['orders_per_s']):>9} {_fmt(r['requests_per_s']):>8} "
                     f"{_fmt(r['p50_ms']):>7} {_fmt(r['p99_ms']):>7} {_fmt(r['p999_ms']):>8} "
                     f"{r['client_cpu_pct']:>9}% {r['server_cpu_pct']:>9}%  {errs:,}")
    if not report.get("baseline"):
        b = report["external_baseline"]
        lines.append(f"{b['name'] + ' (external)':34} {'':>5} {b['orders_per_s']:>9}   — {b['source']}")
    if report.get("bots"):
        lines += ["", f"bots ({report.get('bots_scenario')}, server --market none): "
                      f"{'bots':>5} {'orders/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} {'rejects':>8} "
                      f"{'gaps':>5} {'server cpu':>10}"]
        for b in report["bots"]:
            rej = sum((b["rejects"] or {}).values()) if isinstance(b["rejects"], dict) else b["rejects"]
            lines.append(f"{'':42}{b['bots']:>5} {_fmt(b['orders_per_s']):>9} {_fmt(b['p50_ms']):>7} "
                         f"{_fmt(b['p99_ms']):>7} {_fmt(b['p999_ms']):>8} {_fmt(rej):>8} {_fmt(b['depth_gaps']):>5} "
                         f"{b['server_cpu_pct']:>9}%")
    st = report.get("stalled")
    if st:
        lines += ["", f"stalled subscribers: {st['stalled']} never reading; orders/s without "
                      f"{st['orders_per_s_without']:,.0f}, with {st['orders_per_s_with']:,.0f}, ratio "
                      f"{st['ratio']} (median of {st['rounds']}); how they ended: {st['stalled_ends']}"]
    md = report.get("fanout")
    if md:
        lines += ["", f"fan-out: {md['subscribers']} subscribers in {md.get('processes', 1)} process(es) x "
                      f"({' + '.join(md.get('streams', ['depth@100ms', 'trade']))}): "
                      f"{md['messages_per_s']:,} msg/s ({md['depth_per_s']:,} depth, {md['trades_per_s']:,} trade), "
                      f"depth gaps {md['gaps']}, closed by server {md['closed_by_server']} {md['close_reasons'] or ''}, "
                      f"trade delivery p50 {_fmt(md['trade_delay_p50_ms'], ' ms')} p99 {_fmt(md['trade_delay_p99_ms'], ' ms')}"]
    for r in report["trading"] + report.get("fanout_trading", []):
        for k, v in sorted(r["errors"].items(), key=lambda kv: -kv[1])[:3]:
            lines.append(f"  {r['phase']} x{r['clients']}: {v:,} x {k}")
        if r.get("cancels_too_late"):
            lines.append(f"  {r['phase']} x{r['clients']}: {r['cancels_too_late']:,} cancels answered -2011 "
                         f"because the order had filled first (not counted as errors)")
    best = max((r for r in report["trading"]), key=lambda r: r["orders_per_s"], default=None)
    if best:
        ok = best["orders_per_s"] >= GOAL["orders_per_s"] and (best["p99_ms"] or 1e9) < GOAL["p99_ms"]
        lines += ["", f"goal >= {GOAL['orders_per_s']:,} orders/s with p99 < {GOAL['p99_ms']:g} ms: "
                      f"{'met' if ok else 'NOT met'} (best: {best['orders_per_s']:,} orders/s at p99 "
                      f"{_fmt(best['p99_ms'], ' ms')}, {best['clients']} connections)"]
    prof = report.get("profile")
    if prof:
        lines += ["", f"server profile (py-spy, last trading phase, {prof['samples']:,} samples): own% by file"]
        lines += [f"  {pct:5.1f}  {f}" for f, pct in prof["files"][:15]]
        lines += ["", "  own% incl%  function"]
        lines += [f"  {own:5.1f} {inc:5.1f}  {f}" for f, own, inc in prof["functions"]]
    return "\n".join(lines)


def run(args) -> int:
    from .matching import _environment

    if args.quick:
        args.duration = 3.0 if args.duration is None else args.duration
        args.warmup = 1.0 if args.warmup is None else args.warmup
    args.duration = 10.0 if args.duration is None else args.duration
    args.warmup = 2.0 if args.warmup is None else args.warmup
    try:
        sweep = [int(x) for x in str(args.clients).split(",") if x.strip()]
        if not sweep or min(sweep) < 1:
            raise ValueError
    except ValueError:
        print(f"--clients: expected N or N,N,... with N >= 1, got {args.clients!r}", file=sys.stderr)
        return 2
    if args.lanes < 1 or args.duration <= 0 or args.warmup < 0 or args.subscribers < 0:
        print("--lanes must be >= 1, --duration > 0, --warmup >= 0, --subscribers >= 0", file=sys.stderr)
        return 2
    if args.stalled < 0 or args.stalled_rounds < 1 or (args.subscriber_procs is not None
                                                        and not 1 <= args.subscriber_procs <= 16):
        print("--stalled must be >= 0, --stalled-rounds >= 1, --subscriber-procs 1..16", file=sys.stderr)
        return 2
    bad = [k for k in args.subscriber_streams.split(",") if k.strip() not in
           ("depth", "depth@100ms", "trade", "aggTrade", "bookTicker", "miniTicker", "ticker", "depth5",
            "depth10", "depth20", "depth5@100ms", "depth10@100ms", "depth20@100ms", "kline_1m")]
    if bad:
        print(f"--subscriber-streams: unknown kind(s) {bad}; use e.g. depth@100ms,trade,bookTicker",
              file=sys.stderr)
        return 2
    try:
        bot_sweep = [int(x) for x in str(args.bots).split(",") if x.strip()]
        if bot_sweep and min(bot_sweep) < 1:
            raise ValueError
    except ValueError:
        print(f"--bots: expected N or N,N,... with N >= 1, got {args.bots!r}", file=sys.stderr)
        return 2
    if bot_sweep and importlib.util.find_spec("sim.bots.runner") is None:
        print("--bots: sim.bots.runner (bdax load) is not installed in this environment", file=sys.stderr)
        return 2
    if args.bots_rate <= 0 or args.bots_speed <= 0:
        print("--bots-rate and --bots-speed must be > 0", file=sys.stderr)
        return 2
    fan_n = args.fanout_clients or sorted(sweep)[len(sweep) // 2]
    say = (lambda *a: None) if args.json_only else (lambda *a: print(*a, file=sys.stderr, flush=True))
    profile_ok = args.profile == "py-spy" and shutil.which("py-spy")
    if args.profile == "py-spy" and not profile_ok:
        say("--profile py-spy: py-spy is not on PATH (pip install py-spy); not profiling")
    baseline_py = args.baseline_python
    if args.install_baseline and not baseline_py:
        say("installing the matching-engine baseline ...")
        baseline_py = _install_baseline(args.json_only)
    if baseline_py and not _baseline_ok(baseline_py):
        say(f"--baseline-python {baseline_py}: cannot import matching_engine.gateway; baseline skipped")
        baseline_py = None

    env = _environment()
    workdir = Path(tempfile.mkdtemp(prefix="bdax-bench-gw-", dir=args.dir))
    report: dict = {"benchmark": "gateway", "environment": env, "lanes": args.lanes,
                    "duration_s": args.duration, "warmup_s": args.warmup, "data_fs": _filesystem(workdir),
                    "trading": [], "external_baseline": EXTERNAL_BASELINE, "goal": GOAL,
                    "bots_scenario": args.bots_scenario}
    try:
        keys, fsync = _write_config(workdir / "bench.toml", max(sweep + [fan_n]), args.fsync)
        report["fsync"] = fsync
        port = _free_port()
        server = _Server([sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port",
                          str(port), "--data-dir", str(workdir / "data"), "--config", str(workdir / "bench.toml")],
                         port, workdir / "server.log", ready_path="/api/v3/ping")
        try:
            server.wait_ready()
            market = _market(port)
            for i, n in enumerate(sweep):
                say(f"trading: {n} connection(s) x {args.lanes} in flight, {args.warmup:g}+{args.duration:g} s ...")
                prof = workdir / "pyspy.txt" if (profile_ok and i == len(sweep) - 1) else None
                report["trading"].append(_trading(server, market, keys, n, args, prof))
                if prof is not None:
                    report["profile"] = _profile_summary(prof)
            if args.stalled:
                say(f"stalled: {fan_n} connection(s) trading without and with {args.stalled} stalled "
                    f"subscriber(s), {args.stalled_rounds} round(s) ...")
                report["stalled"] = _stalled(server, market, keys, fan_n, args)
            if args.subscribers:
                say(f"fan-out: {args.subscribers} subscribers while {fan_n} connection(s) trade ...")
                trading, md = _fanout(server, market, keys, fan_n, args)
                report["fanout_trading"] = [trading]
                report["fanout"] = md
        finally:
            server.stop()
        if bot_sweep:
            report["bots"] = _bots(bot_sweep, args, workdir, say)
        if baseline_py:
            report["baseline"] = []
            for n in sweep:
                say(f"baseline: matching-engine over HTTP, {n} client(s) x {args.lanes} connections ...")
                report["baseline"].append(_baseline(baseline_py, n, args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not args.json_only:
        print(_table(report))
    print(json.dumps(report, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gateway_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
