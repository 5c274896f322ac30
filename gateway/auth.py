"""API keys and Binance's SIGNED request check (HMAC-SHA256), for REST and the WebSocket API.

REST (Binance "SIGNED (TRADE and USER_DATA) Endpoint security"): the key travels in the ``X-MBX-APIKEY``
header; ``signature`` = hex HMAC-SHA256(secret, totalParams) where totalParams is the query string
concatenated with the request body *as sent* (no separator), with the ``signature=`` pair removed. We
verify over those raw bytes, never over re-encoded or re-ordered parameters (binance-compat §5).
``timestamp`` must be within ``recvWindow`` (default 5000 ms, at most 60000) of the server's WALL clock
and at most 1000 ms ahead of it.

WebSocket API: the signature is over ``k=v`` pairs of every param but ``signature``, sorted by key and
not URL-encoded; values keep the text they had in the JSON message (see :func:`ws_payload`).

Checks, first failure wins: key (-2014 missing/malformed, -2015 unknown), parameters (-1101 duplicate,
-1102 missing ``signature``/``timestamp``, -1100 unreadable), signature (-1022), time (-1021), permission
(-2015). Secrets never appear in messages, logs or reprs.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from .config import GatewayConfig
from .errors import BinanceError, bad_param, missing_param

__all__ = ["ApiKey", "KeyStore", "RuntimeKeys", "RUNTIME_KEYS_NAME", "sign", "parse_params", "verify_rest", "verify_ws", "check_key",
           "ws_payload", "DEFAULT_RECV_WINDOW", "MAX_RECV_WINDOW", "wall_ms"]

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
MAX_AHEAD_MS = 1000
MAX_PARAMS = 200        # per request (query + body); more is -1101
_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_INT_RE = re.compile(r"^[0-9]{1,20}$")


def wall_ms() -> int:
    """The wall clock in ms: signed timestamps are checked against it, never a simulated clock."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: bytes = field(repr=False)
    account: int
    permissions: frozenset[str]


class KeyStore:
    """API key -> :class:`ApiKey` for a config's accounts."""

    def __init__(self, config: GatewayConfig) -> None:
        self._keys = {k.key: ApiKey(k.key, k.secret.encode(), a.id, k.permissions)
                      for a in config.accounts for k in a.api_keys}

    def get(self, key: str) -> ApiKey | None:
        return self._keys.get(key)

    def add(self, key: ApiKey) -> None:
        """Register a key created at run time (``POST /admin/accounts``). A key string already known is
        an error: keys are random 64-character strings, so a clash means a caller reused one."""
        if key.key in self._keys:
            raise ValueError("API key already registered")
        self._keys[key.key] = key

    def __len__(self) -> int:
        return len(self._keys)


def sign(secret: str | bytes, payload: str | bytes) -> str:
    """Hex HMAC-SHA256 of ``payload`` under ``secret`` (what clients put in ``signature``)."""
    s = secret.encode() if isinstance(secret, str) else secret
    p = payload.encode() if isinstance(payload, str) else payload
    return hmac.new(s, p, hashlib.sha256).hexdigest()


def check_key(header: str | None, keys: KeyStore, need: str | None = None) -> ApiKey:
    """The API key of an ``X-MBX-APIKEY`` header (API-key-only endpoints such as userDataStream)."""
    if not header or not _KEY_RE.match(header):
        raise BinanceError(-2014, "API-key format invalid.", 401)
    key = keys.get(header)
    if key is None:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if need is not None and need not in key.permissions:
        raise BinanceError(-2015, f"Invalid API-key, IP, or permissions for action (this key lacks the "
                                  f"{need} permission).", 401)
    return key


def parse_params(raw: str, params: dict[str, str] | None = None) -> dict[str, str]:
    """Decode a query string or form body into ``params`` (a new dict by default).

    Raises:
        BinanceError: -1101 a parameter sent twice (here or already in ``params``), -1100 bad syntax.
    """
    out = {} if params is None else params
    if not raw:
        return out
    if raw.count("&") >= MAX_PARAMS:
        raise BinanceError(-1101, f"Too many parameters; at most {MAX_PARAMS} parameters are accepted.")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_PARAMS,
                          errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise BinanceError(-1100, "Illegal characters found in a parameter: the query string or form "
                                  "body is not valid application/x-www-form-urlencoded text.") from None
    for k, v in pairs:
        if k in out:
            raise BinanceError(-1101, f"Duplicate values for a parameter detected: '{k}'.")
        out[k] = v
    return out


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=...`` pair (kept byte for byte otherwise) and the signature."""
    if "signature=" not in raw:
        return raw, None
    kept, found = [], None
    for part in raw.split("&"):
        if part.startswith("signature="):
            found = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), found


def _check_time(params: dict[str, str], now_ms: int) -> None:
    ts_text = params.get("timestamp")
    if ts_text is None or ts_text == "":
        raise missing_param("timestamp")
    if not _INT_RE.match(ts_text):
        raise bad_param("timestamp", "legal range is '^[0-9]{1,20}$' (epoch milliseconds).")
    rw_text = params.get("recvWindow")
    recv_window = DEFAULT_RECV_WINDOW
    if rw_text is not None:
        if not _INT_RE.match(rw_text):
            raise bad_param("recvWindow", "legal range is '^[0-9]{1,20}$' (milliseconds).")
        recv_window = int(rw_text)
        if recv_window > MAX_RECV_WINDOW:
            raise BinanceError(-1131, f"recvWindow must be less than or equal to {MAX_RECV_WINDOW}.")
    ts = int(ts_text)
    if ts > now_ms + MAX_AHEAD_MS:
        raise BinanceError(-1021, f"Timestamp for this request was {MAX_AHEAD_MS}ms ahead of the server's "
                                  f"time.")
    if now_ms - ts > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def _verify(key: ApiKey, payload: str, given: str | None) -> None:
    if not given:
        raise missing_param("signature")
    if not _HEX64.match(given):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    if not hmac.compare_digest(sign(key.secret, payload), given.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")


def verify_rest(api_key_header: str | None, query: str, body: bytes, keys: KeyStore, need: str,
                now_ms: Callable[[], int] = wall_ms) -> tuple[ApiKey, dict[str, str]]:
    """Check a SIGNED REST request; return its key and its parameters (query and body, without
    ``signature``). ``need`` is the permission the endpoint requires (``READ`` or ``TRADE``).

    Raises:
        BinanceError: see the module docstring for the codes and their order.
    """
    key = check_key(api_key_header, keys)
    try:
        body_text = body.decode("ascii")
    except UnicodeDecodeError:
        raise BinanceError(-1100, "Illegal characters found in a parameter: the body must be URL-encoded "
                                  "ASCII.") from None
    query_unsigned, sig_q = _strip_signature(query)
    body_unsigned, sig_b = _strip_signature(body_text)
    if sig_q is not None and sig_b is not None:
        raise BinanceError(-1101, "Duplicate values for a parameter detected: 'signature'.")
    params = parse_params(query)
    parse_params(body_text, params)
    params.pop("signature", None)
    given = sig_q if sig_q is not None else sig_b
    if given is None:
        raise missing_param("signature")
    if "timestamp" not in params:
        raise missing_param("timestamp")
    # Binance's totalParams: the query string concatenated with the body, no separator in between.
    _verify(key, query_unsigned + body_unsigned, given)
    _check_time(params, now_ms())
    if need not in key.permissions:
        raise BinanceError(-2015, f"Invalid API-key, IP, or permissions for action (this key lacks the "
                                  f"{need} permission).", 401)
    return key, params


def ws_payload(params: dict) -> str:
    """The WS API signing payload: ``k=v`` of every param but ``signature``, sorted by key, not
    URL-encoded. Values are the message's text: JSON numbers keep their digits (the WS API parses them
    as raw strings), booleans are ``true``/``false``."""
    try:
        # Perf (G6): every value is already text on the common path (gateway.wsapi's parser): one join
        # (the loop below was 2.9% of the server's samples at 64 connections).
        return "&".join([k + "=" + params[k] for k in sorted(params) if k != "signature"])
    except TypeError:      # a bool or a number: the general loop below
        pass
    parts = []
    for k in sorted(params):
        if k == "signature":
            continue
        v = params[k]
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif not isinstance(v, (str, int)):
            raise bad_param(k, "must be a string or a number.")
        parts.append(f"{k}={v}")
    return "&".join(parts)


def verify_ws(params: dict, keys: KeyStore, need: str,
              now_ms: Callable[[], int] = wall_ms) -> tuple[ApiKey, dict[str, str]]:
    """Check a signed WebSocket API request's ``params`` (``apiKey``, ``timestamp``, ``signature``...);
    return the key and the params as strings, without ``apiKey`` and ``signature``."""
    api_key = params.get("apiKey")
    key = check_key(api_key if isinstance(api_key, str) else None, keys)
    given = params.get("signature")
    if not isinstance(given, str) or not given:
        raise missing_param("signature")
    if "timestamp" not in params:
        raise missing_param("timestamp")
    payload = ws_payload(params)
    _verify(key, payload, given)
    text = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()
            if k != "apiKey" and k != "signature"}
    _check_time(text, now_ms())
    if need not in key.permissions:
        raise BinanceError(-2015, f"Invalid API-key, IP, or permissions for action (this key lacks the "
                                  f"{need} permission).", 401)
    return key, text


# --------------------------------------------------------------------------- keys created at run time

RUNTIME_KEYS_NAME = "runtime_keys.json"


class RuntimeKeys:
    """API keys of accounts created at run time (``POST /admin/accounts``), persisted in
    ``DATA_DIR/runtime_keys.json`` so a restarted server (even after kill -9) still knows them.

    Contract: :meth:`persist` writes the whole file atomically (temp file, fsync, rename, fsync of the
    directory; mode 0600: it holds secrets) and returns only once it is durable; callers persist new keys
    *before* journaling anything for their accounts, so a journaled account always has its key on disk.
    A key on disk whose account never got its deposits (a crash in between) is harmless: an empty account.
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / RUNTIME_KEYS_NAME
        self.entries: list[dict] = []

    def load(self, keys: KeyStore) -> int:
        """Read the file (if any) and add its keys to ``keys``. Returns how many were loaded.

        Raises:
            RuntimeError: the file exists but is not a list of keys written by :meth:`persist` (say which
                entry is wrong: a silently skipped key would lock a bot out after a restart).
        """
        if not self.path.exists():
            return 0
        try:
            data = json.loads(self.path.read_text())
            entries = data["keys"]
            for i, e in enumerate(entries):
                if not (isinstance(e.get("account"), int) and _KEY_RE.match(e.get("apiKey", ""))
                        and isinstance(e.get("secret"), str) and isinstance(e.get("permissions"), list)):
                    raise ValueError(f"entry {i} needs account (int), apiKey, secret and permissions")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RuntimeError(f"{self.path}: unreadable runtime key file ({exc}); restore it from a backup "
                               f"or move it away (its accounts then lose their API keys)") from None
        for e in entries:
            if keys.get(e["apiKey"]) is None:
                keys.add(ApiKey(e["apiKey"], e["secret"].encode(), e["account"], frozenset(e["permissions"])))
        self.entries = list(entries)
        return len(entries)

    def accounts(self) -> set[int]:
        return {e["account"] for e in self.entries}

    def persist(self, new_entries: list[dict]) -> None:
        """Durably write every known entry plus ``new_entries`` (then remembered)."""
        entries = self.entries + list(new_entries)
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (RUNTIME_KEYS_NAME + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps({"version": 1, "keys": entries}).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self.entries = entries
