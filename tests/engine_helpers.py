"""Engine test helpers: instrument and engine builders, comparison helpers.

A module of its own (not conftest.py) so tests import it by a unique name: several test folders have a
conftest.py, and ``from conftest import ...`` would pick whichever was imported first.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `import reference_model` from any rootdir

from exchange import Asset, Engine, FeeTier, Instrument  # noqa: E402
from reference_model import ReferenceModel  # noqa: E402

# --------------------------------------------------------------------------- instruments

def scenario_instruments() -> list[Instrument]:
    """Readable units for hand-written scenarios: 1 tick = 1 QUOTE, 1 lot = 1 BASE, so N = p * q.

    ``KOR-KRW`` has a Korean-style tick table: step 1 below 100, 5 from 100, 10 from 1000.
    """
    base, quote = Asset("BASE", 0), Asset("QUOTE", 0)
    kor, krw = Asset("KOR", 0), Asset("KRW", 0)
    return [
        Instrument.define("BASE-QUOTE", base, quote, tick_size="1", lot_size="1", min_notional="100",
                          max_price="100000", max_qty="1000"),
        Instrument.define("KOR-KRW", kor, krw, tick_table=[("0", "1"), ("100", "5"), ("1000", "10")],
                          lot_size="1", min_notional="50", max_price="5000", max_qty="500"),
    ]


def machine_instruments() -> list[Instrument]:
    """Three markets for the state machine: two plain ones sharing BTC (as base and as quote), and a
    KRW market whose narrow price band straddles a tick-table edge (step 1 below 100, 5 from 100)."""
    btc, usdt, eth = Asset("BTC", 8), Asset("USDT", 6), Asset("ETH", 8)
    xyz, krw = Asset("XYZ", 2), Asset("KRW", 0)
    return [
        # 1 tick x 1 lot = 0.01 x 0.0001 USDT = 1 USDT ledger unit; 1 lot = 10_000 BTC units.
        Instrument.define("BTC-USDT", btc, usdt, tick_size="0.01", lot_size="0.0001", min_notional="5",
                          max_qty="100"),
        # 1 tick x 1 lot = 1 BTC unit; 1 lot = 100_000 ETH units.
        Instrument.define("ETH-BTC", eth, btc, tick_size="0.00001", lot_size="0.001", max_qty="50"),
        # 1 tick x 1 lot = 2 KRW; 1 lot = 200 XYZ units.
        Instrument.define("XYZ-KRW", xyz, krw, tick_table=[("0", "1"), ("100", "5"), ("1000", "10")],
                          lot_size="2", min_notional="195", max_qty="30"),
    ]


SCENARIO_FEE_TIERS = {0: FeeTier(maker_bps=10, taker_bps=20), 1: FeeTier(maker_bps=0, taker_bps=0),
                      2: FeeTier(maker_bps=300, taker_bps=700)}


def make_impl(kind: str, instruments=None, fee_tiers=None, **kwargs):
    """An ``Engine`` (kind "engine") or a ``ReferenceModel`` (kind "model") with the same configuration."""
    instruments = scenario_instruments() if instruments is None else instruments
    fee_tiers = SCENARIO_FEE_TIERS if fee_tiers is None else fee_tiers
    cls = Engine if kind == "engine" else ReferenceModel
    return cls(instruments, fee_tiers=fee_tiers, **kwargs)


VIEW_FIELDS = ("order_id", "account", "symbol", "side", "order_type", "tif", "price_ticks", "qty_lots",
               "remaining_lots", "filled_lots", "client_order_id", "stp", "ts_ns")


def view_tuple(v) -> tuple:
    """An OrderView (engine's or model's) as a plain tuple, by field name."""
    return tuple(getattr(v, f) for f in VIEW_FIELDS)


def depth_tuple(d) -> tuple:
    return (d.update_id, [tuple(level) for level in d.bids], [tuple(level) for level in d.asks])


def balances_dict(bals) -> dict:
    return {asset: (b.available, b.held) for asset, b in bals.items()}


def event_key(e) -> tuple:
    """Events compare by type as well as fields: OrderCanceled and OrderExpired have the same shape."""
    return (type(e).__name__, *e)
