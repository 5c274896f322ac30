"""Builders for the pooled-venue tests: readable instruments (1 tick = 1 QUOTE, 1 lot = 1 BASE, so a
notional is price x quantity), three venues and a fed PooledVenue.

Venues: ``busan`` (home, accounts 1..99), ``binance`` (100..199) and ``ftx`` (200..299, eligible for
BASE-QUOTE only). The fee account is 0, outside every range. Fees: maker 10 bps, taker 20 bps.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from exchange import (Asset, Deposit, FeeTier, Instrument, OrderType, Side, SubmitOrder,  # noqa: E402
                      TimeInForce)
from exchange.liquidity.config import PartnerSpec, SharingConfig  # noqa: E402
from exchange.liquidity.pooled import PooledVenue  # noqa: E402

HOME, BINANCE, FTX = "busan", "binance", "ftx"
SYMBOL, ALT = "BASE-QUOTE", "ALT-QUOTE"
H1, H2 = 1, 2          # home customers
B1, B2 = 101, 102      # binance customers
F1, F2 = 201, 202      # ftx customers
FEES = FeeTier(maker_bps=10, taker_bps=20)


def pool_instruments() -> list[Instrument]:
    base, quote, alt = Asset("BASE", 0), Asset("QUOTE", 0), Asset("ALT", 0)
    return [
        Instrument.define(SYMBOL, base, quote, tick_size="1", lot_size="1", min_notional="10",
                          max_price="100000", max_qty="1000"),
        Instrument.define(ALT, alt, quote, tick_size="1", lot_size="1", max_price="100000", max_qty="1000"),
    ]


def pool_config(policy: str = "reject", binance_limit: int = 50_000, ftx_limit: int = 20_000,
                settle_every_ns: int = 100, heartbeat_timeout_ns: int = 1_000,
                loss_given_default_bps: int = 6_000) -> SharingConfig:
    by_symbol = {i.symbol: i for i in pool_instruments()}
    return SharingConfig(
        model="pooled", home=HOME,
        partners=(
            PartnerSpec(BINANCE, instruments=dict(by_symbol), credit_limit=binance_limit, accounts=(100, 200)),
            PartnerSpec(FTX, instruments=dict(by_symbol), credit_limit=ftx_limit, accounts=(200, 300),
                        eligible=frozenset({SYMBOL})),
        ),
        home_accounts=(1, 100), settle_every_ns=settle_every_ns, heartbeat_timeout_ns=heartbeat_timeout_ns,
        credit_policy=policy, loss_given_default_bps=loss_given_default_bps)


def make_pool(policy: str = "reject", fund: bool = True, **kwargs) -> PooledVenue:
    """A PooledVenue over :func:`pool_instruments`; with ``fund`` every test account gets 10^6 of each
    asset at ts 0 (which also starts the hub's clocks at 0)."""
    pool = PooledVenue(pool_instruments(), pool_config(policy, **kwargs), fee_tiers={0: FEES})
    if fund:
        for account in (H1, H2, B1, B2, F1, F2):
            for asset in ("BASE", "QUOTE", "ALT"):
                pool.handle(Deposit(0, account, asset, 1_000_000))
    return pool


def limit(ts: int, account: int, side: Side, price: int, qty: int, tif: TimeInForce = TimeInForce.GTC,
          symbol: str = SYMBOL, cid: str = "") -> SubmitOrder:
    return SubmitOrder(ts, account, symbol, side, OrderType.LIMIT, tif, price, qty, 0, cid)


def market(ts: int, account: int, side: Side, qty: int = 0, quote: int = 0, symbol: str = SYMBOL) -> SubmitOrder:
    return SubmitOrder(ts, account, symbol, side, OrderType.MARKET, TimeInForce.IOC, 0, qty, quote)


def of(events: list, cls: type) -> list:
    """The events of one class, in order."""
    return [e for e in events if type(e) is cls]
