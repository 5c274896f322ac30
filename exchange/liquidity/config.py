"""How a home venue shares liquidity: the model and its knobs, and each partner's terms. Integers only
(bps, ledger units, nanoseconds); the scenario files (sim/) and the gateway's config parse decimal strings
into these and report errors by field; :meth:`SharingConfig.validate` checks what only the whole can.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from exchange.instruments import Instrument

__all__ = ["Model", "MODELS", "StalePolicy", "STALE_POLICIES", "Settlement", "SETTLEMENTS", "CreditPolicy",
           "CREDIT_POLICIES", "PartnerSpec", "SharingConfig", "ConfigError"]

Model = str            # "isolated" | "mirrored" | "pooled"
MODELS = ("isolated", "mirrored", "pooled")
StalePolicy = str      # what happens to the part of a routed order whose child failed
STALE_POLICIES = ("reroute", "rest", "expire")
Settlement = str       # mirrored: "agency" (user gets the partner's fill) | "principal" (operator fills, hedges)
SETTLEMENTS = ("agency", "principal")
CreditPolicy = str     # pooled: an order that would exceed its venue's credit is "reject"ed or "own_venue" only
CREDIT_POLICIES = ("reject", "own_venue")


class ConfigError(ValueError):
    """A sharing configuration that cannot work; the message names the field and the fix."""


@dataclass(frozen=True)
class PartnerSpec:
    """One partner venue as the home venue sees it.

    Args:
        name: the venue's name (``"binance"``).
        instruments: the partner's listing of each shared symbol (its own tick and lot). A home price or
            quantity must be exactly representable there: the home tick and lot must be whole multiples of
            the partner's (checked by :meth:`SharingConfig.validate`).
        taker_bps, maker_bps: the partner's fees (what the operator pays on children).
        operator_account: the operator's account at the partner (mirrored: children trade for it).
        prefund: mirrored: what the operator holds at the partner at the start, per asset (ledger units).
            Children are sized to it; it is lost if the partner defaults.
        credit_limit: pooled: the most the venue may owe the others, net, in quote ledger units.
        accounts: pooled: the account id range ``[lo, hi)`` of this venue's customers in the shared book.
        eligible: symbols this venue may share (empty: all shared symbols).
        feed_levels: levels per side the partner's depth feed carries.
    """

    name: str
    instruments: dict[str, Instrument]
    taker_bps: int = 10
    maker_bps: int = 10
    operator_account: int = 0
    prefund: dict[str, int] = field(default_factory=dict)
    credit_limit: int = 0
    accounts: tuple[int, int] = (0, 0)
    eligible: frozenset[str] = frozenset()
    feed_levels: int = 20


@dataclass(frozen=True)
class SharingConfig:
    """The home venue's sharing model and its parameters.

    Mirrored: ``haircut_bps`` (share of a partner's displayed quantity shown and routable, 1..10000),
    ``no_trade_through`` (never fill at home worse than a displayed, routable partner price),
    ``stale_policy`` for what a failed child leaves, ``settlement`` agency or principal,
    ``operator_account`` (the operator's home account: the counterparty of routed fills at home),
    ``max_child_notional`` (quote ledger units, 0: no cap), ``inventory_cap_lots`` (principal: the most
    base the operator may be long or short across venues), ``quote_max_age_ns`` (a snapshot older than
    this, by partner time against the hub's clock, is not shown: the partner is STALE),
    ``heartbeat_timeout_ns`` (the kill switch: no heartbeat for this long and the partner is pulled).

    Pooled: ``home_accounts`` (``[lo, hi)`` of the home venue's customers), ``settle_every_ns``,
    ``credit_policy``, ``loss_given_default_bps``.
    """

    model: Model
    home: str
    partners: tuple[PartnerSpec, ...] = ()
    haircut_bps: int = 10_000
    no_trade_through: bool = True
    stale_policy: StalePolicy = "reroute"
    settlement: Settlement = "agency"
    operator_account: int = 0
    max_child_notional: int = 0
    inventory_cap_lots: int = 0
    quote_max_age_ns: int = 2_000_000_000
    heartbeat_timeout_ns: int = 3_000_000_000
    home_accounts: tuple[int, int] = (0, 0)
    settle_every_ns: int = 60_000_000_000
    credit_policy: CreditPolicy = "reject"
    loss_given_default_bps: int = 10_000

    def partner(self, name: str) -> PartnerSpec:
        for p in self.partners:
            if p.name == name:
                return p
        raise KeyError(f"no partner venue {name!r}; partners: {[p.name for p in self.partners]}")

    def validate(self, home_instruments: dict[str, Instrument]) -> None:
        """Check the whole against the home venue's instruments.

        Raises:
            ConfigError: naming the field and what to change.
        """
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(self.model in MODELS, f"sharing.model must be one of {MODELS}, got {self.model!r}")
        need(self.stale_policy in STALE_POLICIES,
             f"sharing.stale_policy must be one of {STALE_POLICIES}, got {self.stale_policy!r}")
        need(self.settlement in SETTLEMENTS,
             f"sharing.settlement must be one of {SETTLEMENTS}, got {self.settlement!r}")
        need(self.credit_policy in CREDIT_POLICIES,
             f"sharing.credit_policy must be one of {CREDIT_POLICIES}, got {self.credit_policy!r}")
        need(1 <= self.haircut_bps <= 10_000, f"sharing.haircut_bps must be 1..10000, got {self.haircut_bps}")
        need(0 <= self.loss_given_default_bps <= 10_000,
             f"sharing.loss_given_default_bps must be 0..10000, got {self.loss_given_default_bps}")
        for name in ("max_child_notional", "inventory_cap_lots"):
            need(getattr(self, name) >= 0, f"sharing.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("quote_max_age_ns", "heartbeat_timeout_ns", "settle_every_ns"):
            need(getattr(self, name) > 0, f"sharing.{name} must be > 0, got {getattr(self, name)}")
        names = [p.name for p in self.partners]
        need(len(set(names)) == len(names), f"partner venue names must be unique, got {names}")
        need(self.home not in names, f"the home venue {self.home!r} cannot also be a partner")
        ranges = [(self.home, self.home_accounts)] + [(p.name, p.accounts) for p in self.partners]
        for p in self.partners:
            need(p.name.isidentifier(), f"partner name {p.name!r} must be letters, digits and _")
            need(0 <= p.taker_bps <= 10_000 and 0 <= p.maker_bps <= 10_000,
                 f"partners.{p.name}: fees must be 0..10000 bps")
            need(p.credit_limit >= 0, f"partners.{p.name}.credit_limit must be >= 0")
            need(p.feed_levels >= 1, f"partners.{p.name}.feed_levels must be >= 1")
            need(all(v >= 0 for v in p.prefund.values()), f"partners.{p.name}.prefund must be >= 0")
            for symbol in p.eligible:
                need(symbol in p.instruments, f"partners.{p.name}.eligible lists {symbol!r}, which it does "
                     f"not list among its instruments {sorted(p.instruments)}")
            for symbol, theirs in p.instruments.items():
                ours = home_instruments.get(symbol)
                need(ours is not None, f"partners.{p.name} lists {symbol!r}, which the home venue does not "
                     f"list ({sorted(home_instruments)})")
                assert ours is not None
                need(ours.base == theirs.base and ours.quote == theirs.quote,
                     f"partners.{p.name}.{symbol}: assets {theirs.base}/{theirs.quote} differ from home's "
                     f"{ours.base}/{ours.quote}; a shared symbol must mean the same assets everywhere")
                need((ours.lot_size / theirs.lot_size) % 1 == 0,
                     f"partners.{p.name}.{symbol}: the home lot {ours.lot_size} must be a whole multiple of "
                     f"the partner's lot {theirs.lot_size}, so every home quantity is one the partner takes")
                need((ours.price_unit / theirs.price_unit) % 1 == 0,
                     f"partners.{p.name}.{symbol}: the home price unit {ours.price_unit} must be a whole "
                     f"multiple of the partner's {theirs.price_unit}")
        if self.model == "pooled":
            for venue, (lo, hi) in ranges:
                need(0 <= lo < hi, f"{venue}: pooled venues need an account range [lo, hi) with lo < hi, "
                     f"got [{lo}, {hi})")
            spans = sorted(r for _, r in ranges)
            for (a_lo, a_hi), (b_lo, b_hi) in zip(spans, spans[1:]):
                need(a_hi <= b_lo, f"pooled account ranges overlap: [{a_lo}, {a_hi}) and [{b_lo}, {b_hi})")

    def venue_of_account(self, account: int) -> str | None:
        """Pooled: which venue an account belongs to (None: no venue's range; the operator's accounts)."""
        lo, hi = self.home_accounts
        if lo <= account < hi:
            return self.home
        for p in self.partners:
            lo, hi = p.accounts
            if lo <= account < hi:
                return p.name
        return None
