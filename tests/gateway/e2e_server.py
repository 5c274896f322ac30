"""A real bdax gateway on a loopback port, in a subprocess, for end-to-end tests and the benchmark.

``GatewayServer`` runs ``python -m gateway.cli serve --host 127.0.0.1 --port P --data-dir DIR
[--config FILE]`` exactly as a user would, waits until ``GET /api/v3/ping`` answers, and reads the funded
API keys from the TOML config the server uses (the demo config it writes on a first run without
``--config``, or the given file). ``stop()`` ends it the way a user does (SIGINT, like Ctrl-C; uvicorn
shuts down gracefully, the journal closes); ``kill()`` sends SIGKILL for crash tests. A server that
cannot start raises ``ServerError`` with the tail of its output, never hangs.

Also here: the Recipe A ccxt config (binance-compat §2) and a pytest fixture, ``gateway_server``
(module-scoped), for tests that import it::

    from e2e_server import gateway_server  # noqa: F401  (a fixture)
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["ApiKey", "GatewayServer", "ServerError", "ccxt_config", "free_port", "gateway_server"]

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


class ServerError(RuntimeError):
    """The gateway process did not start, or died."""


@dataclass(frozen=True)
class ApiKey:
    """One API key found in the server's config."""

    api_key: str
    secret: str
    account: int | None
    permissions: tuple[str, ...]

    @property
    def can_trade(self) -> bool:
        # A key that lists no permissions is taken to be a full (trading) key.
        return not self.permissions or any(p.upper() in ("TRADE", "SPOT") for p in self.permissions)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _walk_keys(node, account=None, out=None) -> list[ApiKey]:
    """Every table in the config that holds an API key and its secret, with the nearest account id.

    Written against the shape rather than one layout so that a renamed section does not silently find
    no keys (an empty result is an error in ``keys``)."""
    out = [] if out is None else out
    if isinstance(node, dict):
        acct = node.get("id", node.get("account", account))
        acct = acct if isinstance(acct, int) and not isinstance(acct, bool) else account
        key = node.get("api_key", node.get("key", node.get("apiKey")))
        secret = node.get("secret", node.get("api_secret", node.get("secret_key")))
        if isinstance(key, str) and isinstance(secret, str):
            perms = node.get("permissions", ())
            perms = (perms,) if isinstance(perms, str) else tuple(perms)
            out.append(ApiKey(key, secret, acct, perms))
        for value in node.values():
            if isinstance(value, (dict, list)):
                _walk_keys(value, acct, out)
    elif isinstance(node, list):
        for value in node:
            _walk_keys(value, account, out)
    return out


class GatewayServer:
    """One ``bdax serve`` process. Reusable: ``start()`` again after ``stop()``/``kill()`` restarts it on
    the same data dir (and the same port, so clients keep their URLs)."""

    def __init__(self, data_dir: str | Path, *, config: str | Path | None = None, port: int | None = None,
                 extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 log_path: str | Path | None = None, python: str = sys.executable,
                 market: str | None = "none", speed: float | None = None) -> None:
        # market: --market for the server ("none": no agents, what these tests assume; "busan": a moving
        # market; None: the flag is left out, so the config's [market] decides). speed: --speed.
        self.market = market
        self.speed = speed
        self.data_dir = Path(data_dir)
        self.config = Path(config) if config else None
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.env = env
        self.python = python
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / f"{self.data_dir.name}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    # ------------------------------------------------------------------ addresses
    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        if self.market is not None:
            cmd += ["--market", self.market]
        if self.speed is not None:
            cmd += ["--speed", f"{self.speed:g}"]
        return cmd + list(self.extra_args)

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = START_TIMEOUT_S) -> GatewayServer:
        """Start the process and return once ``/api/v3/ping`` answers 200.

        Raises:
            ServerError: the process exited, or did not answer within ``timeout`` seconds.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.http_base + "/api/v3/ping", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"no answer on {self.http_base}/api/v3/ping after {timeout:.0f} s:\n"
                                  f"{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT (Ctrl-C), wait for a clean exit; SIGKILL if it takes longer than ``timeout``.

        Returns:
            The exit code (negative: the signal that ended it).
        """
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self._reap()

    def kill(self) -> int:
        """SIGKILL: a crash, no shutdown code runs."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        return self._reap()

    def _reap(self) -> int:
        code = self.proc.returncode if self.proc is not None else 0
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")
        return ""

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ config and keys
    def config_path(self) -> Path:
        """The TOML config in use: ``--config`` if given, else the demo config the server wrote in (or
        next to) its data dir.

        Raises:
            ServerError: no TOML file found.
        """
        if self.config is not None:
            return self.config
        candidates = sorted(self.data_dir.glob("*.toml")) + sorted(self.data_dir.glob("*/*.toml"))
        if not candidates:
            raise ServerError(f"no demo config (*.toml) written in {self.data_dir}; server output:\n"
                              f"{self.log_tail()}")
        return candidates[0]

    def config_dict(self) -> dict:
        return tomllib.loads(self.config_path().read_text())

    def keys(self) -> list[ApiKey]:
        """Every API key in the config, in file order.

        Raises:
            ServerError: the config holds none.
        """
        found = _walk_keys(self.config_dict())
        if not found:
            raise ServerError(f"no API keys (api_key + secret) in {self.config_path()}")
        return found

    def trading_keys(self) -> list[ApiKey]:
        """Keys that may trade, one per account (the first key of each), in file order."""
        seen, out = set(), []
        for k in self.keys():
            if k.can_trade and k.account not in seen:
                seen.add(k.account)
                out.append(k)
        return out

    # ------------------------------------------------------------------ plain HTTP
    def get_json(self, path: str, timeout: float = 10.0):
        with urllib.request.urlopen(self.http_base + path, timeout=timeout) as r:
            return json.loads(r.read())


def ccxt_config(server: GatewayServer, key: ApiKey | None = None, **options) -> dict:
    """binance-compat §2 Recipe A: the JSON-able dict that points unmodified ccxt at ``server``."""
    http, ws = server.http_base, server.ws_base
    conf = {
        "urls": {"api": {
            "public": http + "/api/v3",
            "private": http + "/api/v3",
            "v1": http + "/api/v1",
            "sapi": http + "/sapi/v1",
            "ws": {"spot": ws + "/ws", "ws-api": {"spot": ws + "/ws-api/v3"}},
        }},
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
                    **options},
    }
    if key is not None:
        conf["apiKey"], conf["secret"] = key.api_key, key.secret
    return conf


@pytest.fixture(scope="module")
def gateway_server():
    """A gateway started with no config (so it writes and uses its demo config) in a fresh temp data
    dir, for the whole module; stopped cleanly afterwards (the exit code is checked: a server that does
    not shut down cleanly fails the module's teardown)."""
    with tempfile.TemporaryDirectory(prefix="bdax-e2e-") as tmp:
        server = GatewayServer(Path(tmp) / "data", log_path=Path(tmp) / "server.log")
        server.start()
        try:
            yield server
        finally:
            code = server.stop()
            if code not in (0, -signal.SIGINT):
                pytest.fail(f"gateway exited with {code} on SIGINT:\n{server.log_tail()}")
