"""The shared-liquidity part of a scenario: ``[sharing]``, the partner keys of ``[venues.<name>]`` and
``[[schedule]]``, validated into a :class:`LiquiditySpec` (attached as ``scenario.liquidity``).

Layout (every key checked; unknown keys are errors with a did-you-mean)::

    [sharing]     model = "isolated" | "mirrored" | "pooled", quote_max_age = "2s", heartbeat_timeout = "3s",
                  settle_every = "1m", transfer_delay = "20m", settlement_fail_prob = 0.0, haircut_bps,
                  no_trade_through, stale_policy, settlement, credit_policy, loss_given_default_bps,
                  max_child_notional = "50000" (quote), inventory_cap_lots, halt_on_partner_halt,
                  operator_funds = { BTC = "10", USDT = "1000000" } (the operator's home inventory),
                  premium_sigma_bps = 8, premium_half_life = "10m" (each venue's local premium on the
                  fundamental: an OU process per venue and symbol, segmented demand; 0: every venue's
                  agents see the same value)
    [venues.binance]  symbols, maker_bps, taker_bps (as any venue) and
                  instruments = { "BTC-USDT" = { tick_size = "0.01", lot_size = "0.00001" } },
                  link = "tokyo" (a [latency] profile: home <-> partner feed and order latency),
                  feed_every = "100ms", feed_levels = 20, heartbeat_every = "500ms",
                  prefund = { USDT = "500000" }, credit_limit = "2000000" (quote), eligible = ["BTC-USDT"],
                  flow_scale = 20 (clone every home agent group here with its flow x 20)
    [[schedule]]  at = "30m", venue = "ftx", action = "stale" | "down" | "default" | "up" | "latency" |
                  "crash" | "halt" | "resume", and per action: until, factor, what (feed|order|both),
                  symbol, drop, over

Accounts: home agent groups keep their blocks (``sim.build``: group ``i`` trades for ``(i + 1) *
ACCOUNT_BLOCK + member``); the groups at partner number ``j`` (1-based, file order) trade for ``j *
VENUE_SPAN + (k + 1) * ACCOUNT_BLOCK + member`` (``k``: the group's index among that venue's groups), so
each venue owns the account range a pooled book tags orders by. The operator trades for
``OPERATOR_ACCOUNT`` everywhere (below every agent range).

Flow cloning (``flow_scale = s``): each home group whose symbol the partner lists gets a twin
``<group>-<partner>`` at the partner, with its own random stream (derived from the twin's name, so adding
a partner changes no other stream) and accounts; its flow is ``s`` times the home group's (Poisson rates
or member counts times ``s``; a market maker's size, position limit and funds times ``s``), quantities
are converted to the partner's lot (the same base amount; under pooled they stay in home lots: the twin
trades on the home book), price-step parameters are kept (a finer tick gives a tighter book, as on the
large venues).
"""
from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from exchange import Instrument, InstrumentError
from exchange.liquidity.config import (CREDIT_POLICIES, MODELS, SETTLEMENTS, STALE_POLICIES, ConfigError,
                                       PartnerSpec, SharingConfig)

from ..scenario import (F, NS, GroupSpec, Scenario, ScenarioError, _check_keys, _fail, _fields, boolean,
                        decimal_text, duration, integer, number, string)

__all__ = ["LiquiditySpec", "PartnerSetup", "ScheduleEntry", "parse_liquidity", "ACTIONS", "VENUE_SPAN",
           "OPERATOR_ACCOUNT"]

VENUE_SPAN = 10**11          # accounts per venue (pooled ranges)
OPERATOR_ACCOUNT = 1_000     # the operator's account at home and at every partner
ACCOUNT_BLOCK = 10_000_000   # as sim.build.ACCOUNT_BLOCK (not imported: build imports this module's users)
ACTIONS = ("stale", "down", "default", "up", "latency", "crash", "halt", "resume")


def _table(v: Any, path: str) -> dict:
    if not isinstance(v, dict):
        raise _fail(path, 'a table of asset = "amount", e.g. { BTC = "1", USDT = "100000" }', v)
    return v


def _str_list(v: Any, path: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _fail(path, 'a list of symbols, e.g. ["BTC-USDT"]', v)
    return list(v)


SHARING = {"model": F(string(MODELS)), "quote_max_age": F(duration, 2 * NS), "heartbeat_timeout": F(duration, 3 * NS),
           "settle_every": F(duration, 60 * NS), "transfer_delay": F(duration, 1200 * NS),
           "settlement_fail_prob": F(number(0, 1), 0.0), "haircut_bps": F(integer(1, 10_000), 10_000),
           "no_trade_through": F(boolean, True), "stale_policy": F(string(STALE_POLICIES), "reroute"),
           "settlement": F(string(SETTLEMENTS), "agency"), "credit_policy": F(string(CREDIT_POLICIES), "reject"),
           "loss_given_default_bps": F(integer(0, 10_000), 10_000), "max_child_notional": F(decimal_text, "0"),
           "inventory_cap_lots": F(integer(0), 0), "operator_funds": F(_table, {}),
           "halt_on_partner_halt": F(boolean, False), "premium_sigma_bps": F(number(0), 0.0),
           "premium_half_life": F(duration, 600 * NS)}
PARTNER = {"instruments": F(lambda v, p: v, {}), "link": F(string(), "default"), "feed_every": F(duration, NS // 10),
           "feed_levels": F(integer(1, 1000), 20), "heartbeat_every": F(duration, NS // 2),
           "prefund": F(_table, {}), "credit_limit": F(decimal_text, "0"), "eligible": F(_str_list, []),
           "flow_scale": F(number(0), 0.0)}
OVERRIDE = {"tick_size": F(decimal_text), "lot_size": F(decimal_text), "min_notional": F(decimal_text, None)}
SCHEDULE = {"at": F(duration), "venue": F(string()), "action": F(string(ACTIONS)), "until": F(duration, None),
            "factor": F(number(1), None), "what": F(string(("feed", "order", "both")), "both"),
            "symbol": F(string(), None), "drop": F(number(0, 1, open_lo=True), None), "over": F(duration, None)}


@dataclass(frozen=True)
class PartnerSetup:
    """How the simulation runs one partner venue (the engine-facing terms are in ``SharingConfig``)."""

    name: str
    link: str
    feed_every_ns: int
    feed_levels: int
    heartbeat_every_ns: int
    flow_scale: float
    accounts: tuple[int, int]


@dataclass(frozen=True)
class ScheduleEntry:
    """One scheduled event (see the module docstring); unused fields are None."""

    at_ns: int
    venue: str
    action: str
    until_ns: int | None = None
    factor: float | None = None
    what: str = "both"
    symbol: str | None = None
    drop: float | None = None
    over_ns: int | None = None


@dataclass
class LiquiditySpec:
    """A validated shared-liquidity setup."""

    model: str
    config: SharingConfig
    partners: dict[str, PartnerSetup]
    schedule: list[ScheduleEntry]
    transfer_delay_ns: int
    settlement_fail_prob: float
    operator_funds: dict[str, int]
    halt_on_partner_halt: bool
    premium_sigma_bps: float = 0.0      # each venue's local premium on the fundamental (0: none)
    premium_half_life_ns: int = 600 * NS
    events: dict[str, int] = field(default_factory=dict)   # named schedule times for reports

    @property
    def home(self) -> str:
        return self.config.home


def parse_liquidity(raw: dict, sc: Scenario) -> None:
    """Validate the shared-liquidity sections of ``raw`` into ``sc.liquidity`` (and the partners' instrument
    overrides into ``sc.venue_instruments``, their cloned agent groups into ``sc.groups``).

    Raises:
        ScenarioError: naming the field and what to change.
    """
    if "sharing" not in raw:
        raise ScenarioError("schedule: a [[schedule]] needs a [sharing] section (partner venues to act on)")
    s = _fields(raw["sharing"], SHARING, "sharing")
    home = sc.home_venue
    home_inst = sc.instruments_at(home)
    quote = sc.instruments[sc.home_symbol].quote
    for key in raw.get("venues", {}).get(home, {}):
        if key in PARTNER:
            raise ScenarioError(f"venues.{home}.{key}: a partner-venue key, but {home!r} is the home venue "
                                "(put it on a partner's [venues.<name>] table)")
    partners_raw = {n: t for n, t in raw.get("venues", {}).items() if n != home}
    if not partners_raw:
        raise ScenarioError("venues: a [sharing] scenario needs at least one partner venue besides the home "
                            f"venue {home!r}, e.g. [venues.binance]")
    setups: dict[str, PartnerSetup] = {}
    specs: list[PartnerSpec] = []
    for j, (name, table) in enumerate(partners_raw.items(), start=1):
        p = f"venues.{name}"
        if not name.isidentifier():
            raise ScenarioError(f"{p}: a partner venue's name must be letters, digits and _, got {name!r}")
        t = _fields({k: v for k, v in table.items() if k in PARTNER}, PARTNER, p)
        if t["link"] not in sc.latency:
            raise ScenarioError(f"{p}.link: unknown latency profile {t['link']!r}; defined: {', '.join(sc.latency)}")
        own: dict[str, Instrument] = {}
        for sym, o in _check_keys(t["instruments"], tuple(sc.venues[name]["symbols"]), f"{p}.instruments").items():
            o = _fields(o, OVERRIDE, f"{p}.instruments.{sym}")
            base = sc.instruments[sym]
            try:
                own[sym] = Instrument.define(sym, base.base, base.quote, tick_size=o["tick_size"],
                                             lot_size=o["lot_size"],
                                             min_notional=o["min_notional"] or str(_dec(base.min_notional,
                                                                                         base.quote.decimals)))
            except InstrumentError as exc:
                raise ScenarioError(f"{p}.instruments.{sym}: {exc}") from None
        if own:
            sc.venue_instruments[name] = own
        listed = sc.instruments_at(name)
        shared = {sym: inst for sym, inst in listed.items() if sym in home_inst}
        for sym in t["eligible"]:
            if sym not in shared:
                raise ScenarioError(f"{p}.eligible: {sym!r} is not listed both here and at {home!r}; "
                                    f"shared: {sorted(shared)}")
        prefund = _amounts(t["prefund"], sc, f"{p}.prefund")
        try:
            credit = quote.to_units(t["credit_limit"])
        except ValueError as exc:
            raise ScenarioError(f"{p}.credit_limit: {exc}") from None
        accounts = (j * VENUE_SPAN, (j + 1) * VENUE_SPAN)
        v = sc.venues[name]
        specs.append(PartnerSpec(name=name, instruments=shared, taker_bps=v["taker_bps"], maker_bps=v["maker_bps"],
                                 operator_account=OPERATOR_ACCOUNT, prefund=prefund, credit_limit=credit,
                                 accounts=accounts, eligible=frozenset(t["eligible"]), feed_levels=t["feed_levels"]))
        setups[name] = PartnerSetup(name, t["link"], t["feed_every"], t["feed_levels"], t["heartbeat_every"],
                                    t["flow_scale"], accounts)
    try:
        max_child = quote.to_units(s["max_child_notional"])
    except ValueError as exc:
        raise ScenarioError(f"sharing.max_child_notional: {exc}") from None
    config = SharingConfig(
        model=s["model"], home=home, partners=tuple(specs), haircut_bps=s["haircut_bps"],
        no_trade_through=s["no_trade_through"], stale_policy=s["stale_policy"], settlement=s["settlement"],
        operator_account=OPERATOR_ACCOUNT, max_child_notional=max_child, inventory_cap_lots=s["inventory_cap_lots"],
        quote_max_age_ns=s["quote_max_age"], heartbeat_timeout_ns=s["heartbeat_timeout"],
        home_accounts=(ACCOUNT_BLOCK, VENUE_SPAN), settle_every_ns=s["settle_every"],
        credit_policy=s["credit_policy"], loss_given_default_bps=s["loss_given_default_bps"])
    try:
        config.validate(home_inst)
    except ConfigError as exc:
        raise ScenarioError(f"sharing: {exc}") from None
    schedule = _schedule(raw.get("schedule", []), sc, setups)
    for e in schedule:
        if s["model"] == "pooled" and e.action in ("stale", "halt", "resume"):
            raise ScenarioError(f"schedule (at {e.at_ns / NS:g}s, {e.venue}): {e.action!r} acts on a partner's own "
                                "book or feed, which a pooled run does not have; use down/default/latency, or "
                                "model = \"mirrored\"")
    sc.liquidity = LiquiditySpec(
        model=s["model"], config=config, partners=setups, schedule=schedule, transfer_delay_ns=s["transfer_delay"],
        settlement_fail_prob=s["settlement_fail_prob"], operator_funds=_amounts(s["operator_funds"], sc,
                                                                                 "sharing.operator_funds"),
        halt_on_partner_halt=s["halt_on_partner_halt"], premium_sigma_bps=s["premium_sigma_bps"],
        premium_half_life_ns=s["premium_half_life"],
        events=_event_names(schedule))
    _place_groups(sc, setups)


def _event_names(schedule: list[ScheduleEntry]) -> dict[str, int]:
    """``{"ftx.stale": ts, "binance.latency": ts, "binance.latency.end": until, ...}`` (a repeated name gets
    ``#2``, ``#3``...), the schedule's times for reports."""
    out: dict[str, int] = {}
    for e in schedule:
        items = [(f"{e.venue}.{e.action}", e.at_ns)]
        if e.until_ns is not None:
            items.append((f"{e.venue}.{e.action}.end", e.until_ns))
        for name, ts in items:
            key, n = name, 1
            while key in out:
                n += 1
                key = f"{name}#{n}"
            out[key] = ts
    return out


def _dec(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def _amounts(table: dict, sc: Scenario, path: str) -> dict[str, int]:
    out = {}
    for asset, amount in table.items():
        if asset not in sc.assets:
            raise ScenarioError(f"{path}.{asset}: unknown asset; defined: {', '.join(sc.assets)}")
        try:
            out[asset] = sc.assets[asset].to_units(decimal_text(amount, f"{path}.{asset}"))
        except ValueError as exc:
            raise ScenarioError(f"{path}.{asset}: {exc}") from None
    return out


def _schedule(items: Any, sc: Scenario, setups: dict[str, PartnerSetup]) -> list[ScheduleEntry]:
    if not isinstance(items, list):
        raise _fail("schedule", "an array of tables ([[schedule]] entries)", items)
    out = []
    for i, item in enumerate(items):
        p = f"schedule[{i}]"
        e = _fields(item, SCHEDULE, p)
        a, venue = e["action"], e["venue"]
        if venue not in setups:
            near = difflib.get_close_matches(venue, list(setups), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; partners: {', '.join(setups)}"
            raise ScenarioError(f"{p}.venue: {venue!r} is not a partner venue{hint}")
        if e["at"] >= sc.duration_ns:
            raise ScenarioError(f"{p}.at: {e['at'] / NS:g}s is not within the run ({sc.duration_ns / NS:g}s)")
        need = {"latency": ("until", "factor"), "crash": ("symbol", "drop", "over"), "halt": ("symbol",),
                "resume": ("symbol",)}.get(a, ())
        for key in need:
            if e[key] is None:
                raise ScenarioError(f"{p}.{key}: missing (required for action {a!r})")
        extra = [k for k in ("until", "factor", "symbol", "drop", "over") if e[k] is not None and k not in need]
        if extra:
            raise ScenarioError(f"{p}.{extra[0]}: not used by action {a!r} (it takes {', '.join(need) or 'no options'})")
        if a == "latency" and e["until"] <= e["at"]:
            raise ScenarioError(f"{p}.until: must be after at ({e['at'] / NS:g}s), got {e['until'] / NS:g}s")
        if e["symbol"] is not None and e["symbol"] not in sc.instruments_at(venue):
            raise ScenarioError(f"{p}.symbol: {e['symbol']!r} is not listed at {venue!r}")
        if a == "crash" and e["symbol"] not in sc.fundamentals and e["symbol"] != sc.home_symbol:
            raise ScenarioError(f"{p}.symbol: a crash moves a fundamental; give {e['symbol']!r} one in "
                                f"[fundamentals.\"{e['symbol']}\"]")
        out.append(ScheduleEntry(e["at"], venue, a, e["until"], e["factor"], e["what"], e["symbol"], e["drop"],
                                 e["over"]))
    out.sort(key=lambda x: x.at_ns)   # stable: entries at one time keep file order
    return out


# Parameters in lots (converted to a partner's lot) and flow parameters (times flow_scale), per agent kind.
_LOT_PARAMS = {"zero_intelligence": ("size_lots",), "noise": ("min_lots", "max_lots"),
               "market_maker": ("size_lots", "max_position_lots", "take_lots"), "momentum": ("size_lots",),
               "value": ("size_lots", "max_lots"), "execution": ("qty_lots",), "metaorders": ("child_lots",),
               "arbitrage": ()}
_RATE_PARAMS = {"zero_intelligence": ("limit_rate", "market_rate"), "noise": ("rate_per_s",),
                "metaorders": ("arrival_rate_per_hour",)}
_SIZE_SCALED = {"market_maker": ("size_lots", "max_position_lots", "take_lots"), "execution": ("qty_lots",)}
_COUNT_SCALED = ("zero_intelligence", "noise", "value", "momentum", "metaorders")


def _place_groups(sc: Scenario, setups: dict[str, PartnerSetup]) -> None:
    """Give partner groups their venue's account range and add the flow_scale twins."""
    home = sc.home_venue
    by_name = {g.name for g in sc.groups}
    home_groups = [g for g in sc.groups if g.venue == home and g.kind != "arbitrage"]
    clones: list[GroupSpec] = []
    for name, setup in setups.items():
        if setup.flow_scale <= 0:
            continue
        listed = sc.instruments_at(name)
        for g in home_groups:
            if g.symbol not in listed:
                continue
            twin = f"{g.name}-{name}"
            if twin in by_name:
                raise ScenarioError(f"agents.{twin}: the name of the flow_scale twin of {g.name!r} at {name!r}; "
                                    "rename the group or drop venues.{name}.flow_scale")
            # Under pooled the twin trades on the home book, in home units.
            pooled = sc.liquidity is not None and sc.liquidity.model == "pooled"
            inst = sc.instruments_at(home)[g.symbol] if pooled else listed[g.symbol]
            clones.append(_twin(g, twin, name, setup.flow_scale, sc.instruments_at(home)[g.symbol], inst))
    sc.groups.extend(clones)
    if sc.liquidity is not None and sc.liquidity.model == "pooled":
        for g in sc.groups:
            if g.venue != home and g.symbol not in sc.instruments_at(home):
                raise ScenarioError(f"agents.{g.name}.symbol: {g.symbol!r} is not listed at the home venue "
                                    f"{home!r}, and a pooled run has one book, at home")
    index: dict[str, int] = {}
    for i, g in enumerate(sc.groups):
        if g.venue == home:
            continue
        k = index.get(g.venue, 0)
        index[g.venue] = k + 1
        sc.groups[i] = replace(g, account_base=setups[g.venue].accounts[0] + (k + 1) * ACCOUNT_BLOCK)


def _twin(g: GroupSpec, name: str, venue: str, scale: float, home_inst: Instrument,
          inst: Instrument) -> GroupSpec:
    lot_ratio = int(home_inst.lot_size / inst.lot_size)
    params = copy.deepcopy(g.params)
    count, funds = g.count, dict(g.funds)
    for key in _RATE_PARAMS.get(g.kind, ()):
        if params.get(key) is not None:
            params[key] = params[key] * scale
    if g.kind in _COUNT_SCALED:
        count = max(1, int(round(g.count * scale)))
    for key in _SIZE_SCALED.get(g.kind, ()):
        params[key] = int(round(params[key] * scale))
    if g.kind == "market_maker":
        funds = {a: int(v * scale) for a, v in funds.items()}
    for key in _LOT_PARAMS.get(g.kind, ()):
        params[key] = params[key] * lot_ratio
    if g.kind == "noise" and params.get("rate_per_s") is None:
        pass   # one trade per member per run: the scaled count scales the flow
    return replace(g, name=name, venue=venue, count=count, funds=funds, params=params)
