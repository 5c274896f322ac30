"""Scenarios: TOML files describing a run, loaded and validated into a :class:`Scenario`.

Layout (every key below is checked; unknown keys are errors with a did-you-mean)::

    [run]         name, description, duration ("8h", "90m", "45s" or seconds), seed, warmup
    [assets]      NAME = decimals
    [instruments."BTC-KRW"]  base, quote, tick_size | tick_table, lot_size, min_notional, start_price
    [venues.busan]           symbols, maker_bps, taker_bps, home (exactly one venue is home)
    [fundamental]            (optional) sigma_per_min_bps, half_life, vol_timescales, vol_of_vol,
                             jump_rate_per_hour, jump_sigma_bps, dt_ms
    [latency.NAME]           order_base_us, order_jitter_us, feed_base_us, feed_jitter_us, jitter,
                             sigma, alpha, max_ms
    [agents.GROUP]           kind, count, venue, symbol, latency, compute_delay_us, funds, + the
                             kind's parameters (see KIND_PARAMS)
    [record]                 l2_levels, l2_every_s

Errors name the field: ``agents.noise.count: must be a positive integer, got -3``. ``--set`` overrides
(``agents.noise.count=2000``) are applied to the parsed TOML before validation, so they are checked by the
same rules. Amounts and prices are decimal strings (TOML numbers are accepted and read exactly as written
for integers); they become integer units here, at the edge (DESIGN.md §2).
"""
from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from exchange import Asset, FeeTier, Instrument, InstrumentError

from .latency import JITTER_KINDS, JitterSpec

__all__ = ["Scenario", "ScenarioError", "GroupSpec", "load_scenario", "parse_scenario", "scenario_dir",
           "list_scenarios", "apply_overrides", "parse_duration", "KIND_PARAMS"]

NS = 1_000_000_000


class ScenarioError(ValueError):
    """A scenario that cannot run, with the dotted path of the offending field."""


def scenario_dir() -> Path:
    return Path(__file__).with_name("scenarios")


def list_scenarios() -> dict[str, Path]:
    """Shipped scenarios by name."""
    return {p.stem: p for p in sorted(scenario_dir().glob("*.toml"))}


# ---------------------------------------------------------------------------------------- field checks
_REQ = object()


@dataclass(frozen=True)
class F:
    """One field: a converter (value, path) -> value, and a default (``_REQ``: required)."""

    conv: Callable[[Any, str], Any]
    default: Any = _REQ


def _fail(path: str, what: str, got: Any) -> ScenarioError:
    return ScenarioError(f"{path}: must be {what}, got {got!r}")


def integer(lo: int | None = None, hi: int | None = None) -> Callable[[Any, str], int]:
    def conv(v: Any, path: str) -> int:
        what = ("a positive integer" if lo == 1 and hi is None else "a non-negative integer" if lo == 0 and hi is None
                else f"an integer in {lo}..{hi}" if lo is not None and hi is not None else "an integer")
        if type(v) is not int or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _fail(path, what, v)
        return v
    return conv


def number(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False) -> Callable[[Any, str], float]:
    def conv(v: Any, path: str) -> float:
        if type(v) not in (int, float) or not math.isfinite(v):
            raise _fail(path, "a number", v)
        bad = (lo is not None and (v <= lo if open_lo else v < lo)) or (hi is not None and v > hi)
        if bad:
            rng = f"{'>' if open_lo else '>='} {lo}" if hi is None else f"in {'(' if open_lo else '['}{lo}, {hi}]"
            raise _fail(path, f"a number {rng}", v)
        return float(v)
    return conv


def string(choices: tuple[str, ...] | None = None) -> Callable[[Any, str], str]:
    def conv(v: Any, path: str) -> str:
        if not isinstance(v, str) or (choices is not None and v not in choices):
            raise _fail(path, f"one of {', '.join(repr(c) for c in choices)}" if choices else "a string", v)
        return v
    return conv


def boolean(v: Any, path: str) -> bool:
    if type(v) is not bool:
        raise _fail(path, "true or false", v)
    return v


def decimal_text(v: Any, path: str) -> str:
    """A decimal given as a string ("0.0001") or an integer; floats are refused (binary rounding)."""
    if type(v) is int:
        return str(v)
    if isinstance(v, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", v.strip()):
        return v.strip()
    raise _fail(path, 'a non-negative decimal string such as "0.0001" (floats would round)', v)


_DUR = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_NS = {"ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS, "d": 86400 * NS}


def parse_duration(v: Any, path: str = "duration") -> int:
    """``"6.5h"``, ``"90m"``, ``"45s"``, ``"250ms"``, ``"2d"`` or a number of seconds -> integer ns (> 0)."""
    if type(v) in (int, float) and math.isfinite(v) and v > 0:
        return int(round(v * NS))
    if isinstance(v, str):
        m = _DUR.match(v)
        if m:
            ns = int(round(float(m.group(1)) * _UNIT_NS[m.group(2)]))
            if ns > 0:
                return ns
    raise _fail(path, 'a positive duration such as "6.5h", "90m", "45s" or a number of seconds', v)


def duration(v: Any, path: str) -> int:
    return parse_duration(v, path)


def float_list(v: Any, path: str) -> list[float]:
    if not isinstance(v, list) or not all(type(x) in (int, float) and x > 0 for x in v):
        raise _fail(path, "a list of positive numbers", v)
    return [float(x) for x in v]


def name_list(v: Any, path: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _fail(path, 'a list of names, e.g. ["binance", "huobi"]', v)
    return list(v)


def _check_keys(table: Any, allowed: dict[str, Any] | tuple[str, ...], path: str) -> dict:
    if not isinstance(table, dict):
        raise _fail(path, "a table", table)
    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(sorted(allowed))}"
            raise ScenarioError(f"{path + '.' if path else ''}{key}: unknown key{hint}")
    return table


def _fields(table: Any, spec: dict[str, F], path: str) -> dict[str, Any]:
    _check_keys(table, spec, path)
    out = {}
    for key, f in spec.items():
        p = f"{path}.{key}" if path else key
        if key in table:
            out[key] = f.conv(table[key], p)
        elif f.default is _REQ:
            raise ScenarioError(f"{p}: missing (required)")
        else:
            out[key] = copy.deepcopy(f.default)
    return out


# ---------------------------------------------------------------------------------------- the schema
RUN = {"name": F(string(), None), "description": F(string(), ""), "duration": F(duration),
       "seed": F(integer(0, 2**63 - 1), 1), "warmup": F(duration, None)}
INSTRUMENT = {"base": F(string()), "quote": F(string()), "tick_size": F(decimal_text, None),
              "tick_table": F(lambda v, p: v, None), "lot_size": F(decimal_text),
              "min_notional": F(decimal_text, "0"), "start_price": F(decimal_text)}
VENUE = {"symbols": F(lambda v, p: v), "maker_bps": F(integer(0, 10000), 10),
         "taker_bps": F(integer(0, 10000), 10), "home": F(boolean, False)}
# Partner-venue keys of a shared-liquidity scenario (sim.liquidity.spec checks them; refused without [sharing]).
PARTNER_KEYS = ("instruments", "link", "feed_every", "feed_levels", "heartbeat_every", "prefund", "credit_limit",
                "eligible", "flow_scale")
FUNDAMENTAL = {"sigma_per_min_bps": F(number(0, open_lo=True)), "half_life": F(duration, 30 * 86400 * NS),
               "vol_timescales": F(float_list, []), "vol_of_vol": F(number(0), 0.0),
               "jump_rate_per_hour": F(number(0), 0.0), "jump_sigma_bps": F(number(0), 0.0),
               "dt_ms": F(integer(1, 60_000), 1000)}
LATENCY = {"order_base_us": F(number(0), 1000.0), "order_jitter_us": F(number(0), 0.0),
           "feed_base_us": F(number(0), 1000.0), "feed_jitter_us": F(number(0), 0.0),
           "jitter": F(string(JITTER_KINDS), "lognormal"), "sigma": F(number(0, open_lo=True), 1.0),
           "alpha": F(number(1, open_lo=True), 2.5), "max_ms": F(number(0, open_lo=True), 5000.0)}
RECORD = {"l2_levels": F(integer(1, 1000), 10), "l2_every_s": F(number(0, open_lo=True), 1.0)}
GROUP_COMMON = {"kind": F(string()), "count": F(integer(1), 1), "venue": F(string(), None),
                "symbol": F(string(), None), "latency": F(string(), "default"),
                "compute_delay_us": F(number(0), 0.0), "funds": F(lambda v, p: v, {})}
_EL = F(number(0), 0.0)   # activity_elasticity
KIND_PARAMS: dict[str, dict[str, F]] = {
    "zero_intelligence": {"limit_rate": F(number(0)), "market_rate": F(number(0)),
                          "cancel_rate": F(number(0)), "size_lots": F(integer(1)),
                          "width_steps": F(integer(1), 10), "activity_elasticity": _EL},
    "noise": {"rate_per_s": F(number(0), None), "min_lots": F(integer(1), 1), "max_lots": F(integer(1), 1000),
              "size_alpha": F(number(0, open_lo=True), 1.5), "buy_prob": F(number(0, 1), 0.5),
              "activity_elasticity": _EL},
    "market_maker": {"levels": F(integer(1, 50), 2), "size_lots": F(integer(1)),
                     "spacing_steps": F(integer(1), 1), "min_half_spread_steps": F(number(0), 0.5),
                     "vol_spread": F(number(0), 0.0), "skew_steps": F(number(0), 2.0),
                     "max_position_lots": F(integer(1)), "anchor": F(number(0, 1), 1.0),
                     "refresh_ms": F(integer(1), 1000), "min_requote_ms": F(integer(0), 100),
                     "take_lots": F(integer(0), 0), "take_edge_steps": F(number(0), 1.0)},
    "momentum": {"wake_rate_per_agent": F(number(0, open_lo=True)), "fast_s": F(number(0, open_lo=True)),
                 "slow_s": F(number(0, open_lo=True)), "threshold_bps": F(number(0), 1.0),
                 "size_lots": F(integer(1)), "sample_ms": F(integer(1), 1000), "activity_elasticity": _EL},
    "value": {"wake_rate_per_agent": F(number(0, open_lo=True)), "obs_noise_bps": F(number(0), 0.0),
              "threshold_bps": F(number(0, open_lo=True)), "size_lots": F(integer(1)),
              "max_lots": F(integer(1), 1_000_000), "passive_prob": F(number(0, 1), 0.5),
              "activity_elasticity": _EL},
    "execution": {"side": F(string(("buy", "sell"))), "qty_lots": F(integer(1)), "start": F(duration),
                  "length": F(duration), "slices": F(integer(1))},
    "metaorders": {"arrival_rate_per_hour": F(number(0)), "size_alpha": F(number(0, open_lo=True), 1.5),
                   "min_children": F(integer(1), 1), "max_children": F(integer(1), 10_000),
                   "child_lots": F(integer(1)), "child_interval_s": F(number(0, open_lo=True)),
                   "activity_elasticity": _EL},
    # Cross-venue arbitrage (shared-liquidity scenarios; sim.agents.arbitrage): partners = [] watches them all.
    "arbitrage": {"partners": F(name_list, []),
                  "threshold_bps": F(number(0), 2.0), "max_lots": F(integer(1)),
                  "max_inventory_lots": F(integer(0), 0), "rebalance_every": F(duration, 60 * NS),
                  "transfer_delay": F(duration, None), "min_gap_ms": F(integer(0), 20)},
}
TOP = ("run", "assets", "instruments", "venues", "fundamental", "fundamentals", "latency", "agents", "record",
       "sharing", "schedule")


@dataclass
class GroupSpec:
    """One agent group, validated: common fields plus ``params`` for its kind's class."""

    name: str
    kind: str
    count: int
    venue: str
    symbol: str
    latency: str
    compute_ns: int
    funds: dict[str, int]
    params: dict[str, Any]
    account_base: int | None = None   # first account (None: the block of its index, see sim.build)


@dataclass
class Scenario:
    """A validated scenario: everything a run needs, in integer units where it reaches the engine."""

    name: str
    description: str
    duration_ns: int
    seed: int
    warmup_ns: int
    assets: dict[str, Asset]
    instruments: dict[str, Instrument]
    start_price: dict[str, int]
    venues: dict[str, dict[str, Any]]
    home_venue: str
    fundamental: dict[str, Any] | None
    latency: dict[str, tuple[JitterSpec, JitterSpec]]
    groups: list[GroupSpec]
    l2_levels: int
    l2_every_ns: int
    raw: dict = field(repr=False, default_factory=dict)
    # Shared liquidity (sim.liquidity.spec.LiquiditySpec), None for a plain run; per-venue instrument
    # overrides (a partner's own tick and lot) and per-symbol fundamentals besides the home symbol's.
    liquidity: Any = None
    venue_instruments: dict[str, dict[str, Instrument]] = field(default_factory=dict)
    fundamentals: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def home_symbol(self) -> str:
        return self.venues[self.home_venue]["symbols"][0]

    def instruments_at(self, venue: str) -> dict[str, Instrument]:
        """The instruments ``venue`` lists, with its own tick and lot where it overrides them."""
        own = self.venue_instruments.get(venue, {})
        return {s: own.get(s, self.instruments[s]) for s in self.venues[venue]["symbols"]}

    def start_price_at(self, venue: str, symbol: str) -> int:
        """The symbol's start price in ``venue``'s ticks (exact for the shipped scenarios: the home tick is a
        whole multiple of each partner's; otherwise rounded down to the venue's tick)."""
        inst = self.instruments_at(venue)[symbol]
        base = self.instruments[symbol]
        if inst is base:
            return self.start_price[symbol]
        ratio = base.price_unit / inst.price_unit
        return int(self.start_price[symbol] * ratio)

    def fee_tiers(self, venue: str) -> dict[int, FeeTier]:
        v = self.venues[venue]
        return {0: FeeTier(maker_bps=v["maker_bps"], taker_bps=v["taker_bps"])}


# ---------------------------------------------------------------------------------------- parsing
def load_scenario(name_or_path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load a shipped scenario by name (``busan``) or a TOML file by path, apply ``key.path=value``
    overrides, validate.

    Raises:
        ScenarioError: unknown scenario, unreadable TOML, or any invalid field (named in the message).
    """
    path = Path(name_or_path)
    shipped = list_scenarios()
    if str(name_or_path) in shipped:
        path = shipped[str(name_or_path)]
    elif not path.is_file():
        near = difflib.get_close_matches(str(name_or_path), list(shipped), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ScenarioError(f"no scenario {str(name_or_path)!r}: not a shipped scenario "
                            f"({', '.join(shipped)}) nor a file{hint}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from None
    raw.setdefault("run", {}).setdefault("name", path.stem)
    if overrides:
        raw = apply_overrides(raw, overrides)
    return parse_scenario(raw)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """``["agents.noise.count=2000", 'run.duration="2h"']`` applied to a copy of ``raw``. The value is
    read as a TOML value (so ``2000`` is an int, ``"2h"`` a string, ``[1, 2]`` a list); text that is not
    valid TOML is taken as a string (``run.duration=2h``)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ScenarioError(f"--set {item!r}: expected key.path=value, e.g. agents.noise.count=2000")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        parts = key.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                raise ScenarioError(f"--set {item!r}: {'.'.join(parts[:i + 1])} is not a table")
            node = nxt
        node[parts[-1]] = value
    return out


def parse_scenario(raw: dict) -> Scenario:
    """Validate a parsed TOML document into a :class:`Scenario` (see the module docstring)."""
    _check_keys(raw, TOP, "")
    run = _fields(raw.get("run", {}), RUN, "run")
    name = run["name"] or "scenario"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise _fail("run.name", "letters, digits, '_', '.', '-' (it names the output directory)", name)

    assets: dict[str, Asset] = {}
    for aname, dec in _check_keys(raw.get("assets", {}), tuple(raw.get("assets", {})), "assets").items():
        decimals = integer(0, 18)(dec, f"assets.{aname}")
        try:
            assets[aname] = Asset(aname, decimals)
        except InstrumentError as exc:
            raise ScenarioError(f"assets.{aname}: {exc}") from None
    if not assets:
        raise ScenarioError("assets: missing: define each asset's decimals, e.g. BTC = 8")

    instruments: dict[str, Instrument] = {}
    start_price: dict[str, int] = {}
    inst_raw = raw.get("instruments", {})
    if not isinstance(inst_raw, dict) or not inst_raw:
        raise ScenarioError('instruments: missing: define at least one, e.g. [instruments."BTC-KRW"]')
    for sym, table in inst_raw.items():
        p = f"instruments.{sym}"
        spec = _fields(table, INSTRUMENT, p)
        for side in ("base", "quote"):
            if spec[side] not in assets:
                raise ScenarioError(f"{p}.{side}: unknown asset {spec[side]!r}; defined: {', '.join(assets)}")
        table_arg = None
        if spec["tick_table"] is not None:
            tt = spec["tick_table"]
            if (not isinstance(tt, list) or not tt
                    or not all(isinstance(r, list) and len(r) == 2 for r in tt)):
                raise _fail(f"{p}.tick_table", 'a list of ["floor", "tick"] pairs', tt)
            table_arg = [(decimal_text(a, f"{p}.tick_table[{i}][0]"), decimal_text(b, f"{p}.tick_table[{i}][1]"))
                         for i, (a, b) in enumerate(tt)]
        try:
            inst = Instrument.define(sym, assets[spec["base"]], assets[spec["quote"]],
                                     tick_size=spec["tick_size"], tick_table=table_arg,
                                     lot_size=spec["lot_size"], min_notional=spec["min_notional"])
            sp = inst.price_to_ticks(spec["start_price"])
        except (InstrumentError, ValueError) as exc:
            raise ScenarioError(f"{p}: {exc}") from None
        if not inst.valid_price(sp):
            raise ScenarioError(f"{p}.start_price: {spec['start_price']} is not on the instrument's tick")
        instruments[sym] = inst
        start_price[sym] = sp

    venues: dict[str, dict[str, Any]] = {}
    ven_raw = raw.get("venues", {})
    if not isinstance(ven_raw, dict) or not ven_raw:
        raise ScenarioError("venues: missing: define at least one, e.g. [venues.busan] symbols = [\"BTC-KRW\"]")
    for vname, table in ven_raw.items():
        p = f"venues.{vname}"
        if isinstance(table, dict):
            extra = [k for k in table if k in PARTNER_KEYS]
            if extra and "sharing" not in raw:
                raise ScenarioError(f"{p}.{extra[0]}: a partner-venue key, only meaningful with a [sharing] "
                                    f"section (add [sharing] model = \"isolated\" | \"mirrored\" | \"pooled\")")
            table = {k: v for k, v in table.items() if k not in PARTNER_KEYS}
        v = _fields(table, VENUE, p)
        syms = v["symbols"]
        if not isinstance(syms, list) or not syms or not all(isinstance(s, str) for s in syms):
            raise _fail(f"{p}.symbols", "a non-empty list of instrument symbols", syms)
        for s in syms:
            if s not in instruments:
                raise ScenarioError(f"{p}.symbols: unknown instrument {s!r}; defined: {', '.join(instruments)}")
        venues[vname] = v
    homes = [n for n, v in venues.items() if v["home"]] or ([next(iter(venues))] if len(venues) == 1 else [])
    if len(homes) != 1:
        raise ScenarioError(f"venues: exactly one venue must have home = true, got {homes or 'none'}")
    home = homes[0]

    fundamental = None
    if "fundamental" in raw:
        fundamental = _fields(raw["fundamental"], FUNDAMENTAL, "fundamental")

    latency: dict[str, tuple[JitterSpec, JitterSpec]] = {}
    lat_raw = raw.get("latency", {"default": {}})
    if not isinstance(lat_raw, dict):
        raise _fail("latency", "a table of named latency profiles", lat_raw)
    lat_raw.setdefault("default", {})
    for lname, table in lat_raw.items():
        lt = _fields(table, LATENCY, f"latency.{lname}")
        mx = int(lt["max_ms"] * 1e6)
        try:
            latency[lname] = tuple(JitterSpec(int(lt[f"{d}_base_us"] * 1e3), int(lt[f"{d}_jitter_us"] * 1e3),
                                              lt["jitter"], lt["sigma"], lt["alpha"], mx)
                                   for d in ("order", "feed"))  # type: ignore[assignment]
        except ValueError as exc:
            raise ScenarioError(f"latency.{lname}: {exc}") from None

    groups = _parse_groups(raw.get("agents", {}), venues, home, instruments, assets, latency, fundamental)
    rec = _fields(raw.get("record", {}), RECORD, "record")
    warmup = run["warmup"] if run["warmup"] is not None else 0
    if warmup >= run["duration"]:
        raise ScenarioError(f"run.warmup: must be shorter than run.duration, got {warmup / NS:g}s >= "
                            f"{run['duration'] / NS:g}s")
    sc = Scenario(name=name, description=run["description"], duration_ns=run["duration"], seed=run["seed"],
                  warmup_ns=warmup, assets=assets, instruments=instruments, start_price=start_price,
                  venues=venues, home_venue=home, fundamental=fundamental, latency=latency, groups=groups,
                  l2_levels=rec["l2_levels"], l2_every_ns=int(rec["l2_every_s"] * NS), raw=raw)
    if "fundamentals" in raw:
        for sym, table in _check_keys(raw["fundamentals"], tuple(instruments), "fundamentals").items():
            if sym == sc.home_symbol:
                raise ScenarioError(f"fundamentals.{sym}: the home symbol's fundamental is [fundamental]")
            sc.fundamentals[sym] = _fields(table, FUNDAMENTAL, f"fundamentals.{sym}")
    if "sharing" in raw or "schedule" in raw:
        from .liquidity.spec import parse_liquidity   # only shared-liquidity scenarios need it
        parse_liquidity(raw, sc)
    return sc


def _parse_groups(agents: Any, venues: dict, home: str, instruments: dict, assets: dict, latency: dict,
                  fundamental: dict | None) -> list[GroupSpec]:
    if not isinstance(agents, dict) or not agents:
        raise ScenarioError("agents: missing: define at least one group, e.g. [agents.noise] kind = \"noise\"")
    groups = []
    for gname, table in agents.items():
        p = f"agents.{gname}"
        if not re.fullmatch(r"[A-Za-z0-9_-]+", gname):
            raise ScenarioError(f"{p}: group names are letters, digits, '_' and '-'")
        if not isinstance(table, dict):
            raise _fail(p, "a table", table)
        kind = table.get("kind")
        if kind not in KIND_PARAMS:
            near = difflib.get_close_matches(str(kind), list(KIND_PARAMS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ScenarioError(f"{p}.kind: must be one of {', '.join(KIND_PARAMS)}, got {kind!r}{hint}")
        spec = {**GROUP_COMMON, **KIND_PARAMS[kind]}
        g = _fields(table, spec, p)
        venue = g["venue"] or home
        if venue not in venues:
            raise ScenarioError(f"{p}.venue: unknown venue {venue!r}; defined: {', '.join(venues)}")
        symbol = g["symbol"] or venues[venue]["symbols"][0]
        if symbol not in venues[venue]["symbols"]:
            raise ScenarioError(f"{p}.symbol: {symbol!r} is not listed at venue {venue!r}")
        if g["latency"] not in latency:
            raise ScenarioError(f"{p}.latency: unknown latency profile {g['latency']!r}; defined: "
                                f"{', '.join(latency)}")
        if kind in ("value",) and fundamental is None:
            raise ScenarioError(f"{p}.kind: value traders need a [fundamental] section")
        funds_raw = g["funds"]
        if not isinstance(funds_raw, dict):
            raise _fail(f"{p}.funds", 'a table of asset = "amount", e.g. { BTC = "1", KRW = "100000000" }', funds_raw)
        funds = {}
        for asset, amount in funds_raw.items():
            if asset not in assets:
                raise ScenarioError(f"{p}.funds.{asset}: unknown asset; defined: {', '.join(assets)}")
            try:
                funds[asset] = assets[asset].to_units(decimal_text(amount, f"{p}.funds.{asset}"))
            except ValueError as exc:
                raise ScenarioError(f"{p}.funds.{asset}: {exc}") from None
        params = {k: g[k] for k in KIND_PARAMS[kind]}
        _check_kind(kind, params, p)
        groups.append(GroupSpec(gname, kind, g["count"], venue, symbol, g["latency"],
                                int(g["compute_delay_us"] * 1000), funds, params))
    return groups


def _check_kind(kind: str, params: dict, p: str) -> None:
    """Cross-field rules a single field's check cannot see."""
    if kind == "noise" and params["min_lots"] > params["max_lots"]:
        raise ScenarioError(f"{p}.max_lots: must be >= min_lots ({params['min_lots']}), got {params['max_lots']}")
    if kind == "metaorders" and params["min_children"] > params["max_children"]:
        raise ScenarioError(f"{p}.max_children: must be >= min_children ({params['min_children']}), "
                            f"got {params['max_children']}")
    if kind == "momentum" and params["fast_s"] >= params["slow_s"]:
        raise ScenarioError(f"{p}.slow_s: must be longer than fast_s ({params['fast_s']}), got {params['slow_s']}")
    if kind == "value" and params["size_lots"] > params["max_lots"]:
        raise ScenarioError(f"{p}.max_lots: must be >= size_lots ({params['size_lots']}), got {params['max_lots']}")
