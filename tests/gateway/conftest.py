"""Shared gateway fixtures: a small config, a running in-process app, and signing helpers.

- ``gw_config``: two symbols (``BTCKRW`` with Korean tick bands, ``ETHUSDT`` with one tick), three funded
  accounts and four API keys (see :data:`KEYS`): ``trader`` (account 1, READ+TRADE), ``trader2``
  (account 2, READ+TRADE), ``reader`` (account 2, READ only) and ``noperm`` (account 3, no permission).
- ``data_dir``: an empty data directory (the journal goes to ``data_dir/journal``).
- ``client``: a ``TestClient`` on ``create_app(gw_config, data_dir)``, entered as a context manager so
  the lifespan (recovery, pump, journal) runs; ``client.app.state.bdax`` is the GatewayState.
- ``signed(method, path, params=None, key="trader", ...)``: a SIGNED request exactly as ccxt sends it
  (``timestamp`` first, ``recvWindow`` appended, HMAC over the exact query string or form body,
  ``signature`` last, the key in ``X-MBX-APIKEY``).
- ``ws_signed_params(params, key)``: WebSocket API params with apiKey, timestamp and signature.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `import gw_helpers` from any rootdir

from gateway.app import create_app  # noqa: E402
from gateway.config import parse_config  # noqa: E402
from gw_helpers import KEYS, config_data, signed_request  # noqa: E402,F401


@pytest.fixture
def gw_config():
    return parse_config(config_data())


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(gw_config, data_dir):
    with TestClient(create_app(gw_config, data_dir)) as c:
        yield c


@pytest.fixture
def signed(client):
    def _signed(method: str, path: str, params: dict | None = None, key: str = "trader", **kw):
        return signed_request(client, method, path, params, key, **kw)
    return _signed
