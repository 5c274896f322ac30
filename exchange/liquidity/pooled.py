"""Model B, the pooled book (DESIGN.md §4, reference sim-and-liquidity.md §4.2): :class:`PooledVenue`.

One :class:`~exchange.Engine` holds the orders of every venue's customers with global price-time
priority; an account's venue is the :class:`SharingConfig` account range it lies in
(``config.venue_of_account``). Around the engine the hub adds, deterministically and without I/O:

- **Eligibility**: a partner's customers trade only the symbols in ``PartnerSpec.eligible`` (empty: all
  the partner's ``instruments``); the home venue's customers trade everything. Else ``OrderRefused``
  ``NOT_ELIGIBLE``. Accounts in no venue's range (the fee account, the operator) cannot place orders
  (``NO_VENUE``); their balances count on the home venue's side.
- **Frozen venues**: a partner announced DOWN or DEFAULTED (:class:`PartnerStatus`) or whose heartbeat
  stopped for ``heartbeat_timeout_ns`` (the kill switch; treated as DOWN until a heartbeat or an UP
  announcement returns) has every resting order pulled (an engine CancelAll per account, in account
  order) and new orders and amends refused (``VENUE_FROZEN``); cancels still work. STALE is recorded and
  changes nothing here (a pooled book has no mirrored feed to go stale). DEFAULTED is final: later
  announcements for that venue are ignored (counted in ``stats()["ignored_status"]``).
- **Obligations** (:mod:`.obligations`): a fill between customers of two venues leaves the buyer's venue
  owing the seller's the notional (quote) and the seller's owing the buyer's the base
  (two ``ObligationBooked``, ``trade`` = the trade id). Fees are the pool operator's (the fee account, on
  the home venue's side): a partner holds its customers' fees for it and remits them in the settlement
  cycle (a FEES batch). ``SettleDue`` at ``ts >= last settlement + settle_every_ns`` (the first command's
  time stands for the last settlement before the first) nets every pair and asset and starts one batch each
  (``SettlementStarted``); ``SettlementDone`` discharges a batch (``SettlementCompleted``),
  ``SettlementFailed`` books it back as open (``SettlementMissed`` with the reason). An answer for a
  batch whose payer defaulted first, or for an unknown or already answered batch, changes nothing:
  ``SettlementMissed`` ``PAYER_DEFAULTED`` / ``UNKNOWN_BATCH``.
- **Credit** (:mod:`.credit`, which states the exact guarantee): before a partner's order reaches the
  engine, its worst case (:func:`.pool_orders.worst_case`) plus what the venue owes plus what its open
  orders reserve must fit ``PartnerSpec.credit_limit`` (0: the venue may owe nothing). Else, with
  ``credit_policy = "reject"``, ``OrderRefused`` ``CREDIT_LIMIT`` (the message gives the figures); with
  ``"own_venue"`` the order may only trade with its own venue's orders at the front of the book
  (:meth:`PooledVenue._own_venue`). An amend that would reserve more is checked the same way and refused
  under either policy. The home venue hosts the pool and has no limit.
- **Default** (``PartnerStatus`` DEFAULTED): the venue's orders are pulled, it is frozen, and everything
  it owes (open and in settlement) and the fees it holds are written off: one ``ExposureBooked`` per
  creditor and asset with ``amount`` = owed x ``loss_given_default_bps`` / 10000 (rounded up) valued at
  the mark (``kind`` ``"OBLIGATION"`` or ``"FEES"``). Its batches as payer are dead. What others owe it
  stays and settles normally. **Bound**: what is written off as obligations is the venue's usage, which
  valued at the marks of its last admitted credit check is within its limit (:mod:`.credit`); valued at
  the default's marks it can exceed the limit by at most the base it owes x the rise of that base's mark
  since the check. Fees held for the operator are not credit and not bounded by the limit (at most the
  fees of one settlement cycle, or more while fee batches fail).

Events: the engine's events of each command, in order, then the hub's (``ObligationBooked`` after the
fills that caused them); a timed-out heartbeat is processed before the command that notices it.

Conservation (checked by :meth:`PooledVenue._check`; it and ``stats()`` live in :mod:`.pool_report`): per
venue and asset, the venue's custody (what it physically holds) equals its customers' engine balances plus
the ledger's gap (payables - receivables + fees held for the operator - claims on defaulters + debts
written off; see :mod:`.obligations`), and the custodies sum to the engine's net deposits. Nothing leaves
the engine: :meth:`PooledVenue.escrow` is {}.

A refusal (``OrderRefused``) changes nothing: ``state_hash()`` is the same after it (reporting counters
are not state), unless a heartbeat timeout was noticed by the same command. The heartbeat and settlement
clocks start at the first command's ``ts_ns``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from exchange.commands import (AmendOrder, CancelAll, CancelOrder, Deposit, HaltInstrument, ResumeInstrument,
                               SetFeeTier, SubmitOrder, Withdraw, check_types)
from exchange.engine import Depth, Engine, FeeTier, OrderView
from exchange.enums import STP, OrderType, Side, TimeInForce
from exchange.events import (BalanceChanged, BookUpdated, OrderAccepted, OrderAmended, OrderCanceled, OrderExpired,
                             OrderRejected, TradeExecuted)
from exchange.instruments import Instrument

from .engine_reads import EngineReads
from .commands import (ChildFilled, ChildRejected, PartnerHeartbeat, PartnerQuote, PartnerStatus, SettleDue,
                       SettlementDone, SettlementFailed)
from .config import ConfigError, SharingConfig
from .credit import CreditBook, Verdict
from .events import (ExposureBooked, ObligationBooked, OrderRefused, PartnerStateChanged, SettlementCompleted,
                     SettlementMissed, SettlementStarted)
from .health import Health
from .obligations import NET, ObligationLedger
from .pool_orders import own_run, worst_case
from .pool_report import check_pool, pool_stats

__all__ = ["PooledVenue", "CREDIT_LIMIT", "VENUE_FROZEN", "NOT_ELIGIBLE", "NO_VENUE"]

CREDIT_LIMIT = "CREDIT_LIMIT"
VENUE_FROZEN = "VENUE_FROZEN"
NOT_ELIGIBLE = "NOT_ELIGIBLE"
NO_VENUE = "NO_VENUE"
_NEVER = 1 << 63
_ENGINE_PLAIN = frozenset({CancelOrder, CancelAll, Deposit, Withdraw, SetFeeTier, HaltInstrument,
                           ResumeInstrument})
_ENGINE_TYPES = _ENGINE_PLAIN | {SubmitOrder, AmendOrder}
_LIQUIDITY_FIELDS: dict[type, tuple[tuple[str, type], ...]] = {
    PartnerQuote: (("ts_ns", int), ("venue", str), ("symbol", str), ("venue_ts_ns", int), ("bids", tuple),
                   ("asks", tuple)),
    PartnerHeartbeat: (("ts_ns", int), ("venue", str), ("venue_ts_ns", int)),
    PartnerStatus: (("ts_ns", int), ("venue", str), ("health", Health), ("reason", str)),
    ChildFilled: (("ts_ns", int), ("venue", str), ("child_id", int), ("filled_lots", int),
                  ("quote_amount", int), ("fee", int), ("expired_lots", int)),
    ChildRejected: (("ts_ns", int), ("venue", str), ("child_id", int), ("reason", str)),
    SettleDue: (("ts_ns", int),),
    SettlementDone: (("ts_ns", int), ("batch_id", int)),
    SettlementFailed: (("ts_ns", int), ("batch_id", int), ("reason", str)),
}
_FROZEN_HEALTH = (Health.DOWN, Health.DEFAULTED)
_HEALTH_VALUES = frozenset(int(h) for h in Health)


def _check_liquidity_types(command: Any) -> None:
    """Raise TypeError if a liquidity command has a field of the wrong Python type (a shell's bug)."""
    for (name, kind), value in zip(_LIQUIDITY_FIELDS[command.__class__], command):
        if kind is Health:
            ok = type(value) is Health or (type(value) is int and value in _HEALTH_VALUES)
        else:
            ok = type(value) is kind
        if not ok:
            raise TypeError(f"{command.__class__.__name__}.{name} must be {kind.__name__}, got "
                            f"{type(value).__name__} {value!r:.40}")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class PooledVenue(EngineReads):
    """The home venue's engine shared by every venue's customers, with obligations, credit and defaults.

    Args:
        instruments: the pooled book's markets (the home venue's listing; partners' shared symbols must be
            among them, with the same assets).
        config: a ``SharingConfig`` with ``model = "pooled"`` (validated here).
        fee_tiers, default_stp, fee_account: as :class:`exchange.Engine`. The fee account must lie outside
            every partner's account range (it is the pool operator's, on the home venue's side).

    Raises:
        ConfigError: the configuration cannot work (the message names the field).
    """

    def __init__(self, instruments: list[Instrument], config: SharingConfig,
                 fee_tiers: dict[int, FeeTier] | None = None, default_stp: STP = STP.EXPIRE_MAKER,
                 fee_account: int = 0) -> None:
        insts = list(instruments)
        if config.model != "pooled":
            raise ConfigError(f"PooledVenue needs sharing.model = 'pooled', got {config.model!r}")
        config.validate({i.symbol: i for i in insts})
        owner = config.venue_of_account(fee_account)
        if owner is not None and owner != config.home:
            raise ConfigError(f"the fee account {fee_account} lies in partner {owner}'s account range "
                              f"{config.partner(owner).accounts}; it is the pool operator's: move it outside "
                              f"every partner's range")
        self.engine: Engine = Engine(insts, fee_tiers, default_stp, fee_account)
        self.config: SharingConfig = config
        self.home: str = config.home
        self.instruments: dict[str, Instrument] = self.engine.instruments
        self.partners: tuple[str, ...] = tuple(p.name for p in config.partners)
        self.ledger: ObligationLedger = ObligationLedger((self.home,) + self.partners, self.home,
                                                         list(self.engine.assets))
        self.credit: CreditBook = CreditBook(self.engine.instruments,
                                             {p.name: p.credit_limit for p in config.partners})
        self._eligible: dict[str, frozenset[str]] = {
            p.name: frozenset(p.eligible or p.instruments) for p in config.partners}
        self._reject_policy: bool = config.credit_policy == "reject"
        self._vcache: dict[int, str] = {}            # account -> venue ("" for none)
        # Health: what was announced, whether the kill switch tripped, what PartnerStateChanged last said.
        self._announced: dict[str, Health] = {p: Health.UP for p in self.partners}
        self._timed_out: dict[str, bool] = {p: False for p in self.partners}
        self._last_heartbeat: dict[str, int] = {p: 0 for p in self.partners}
        self._shown: dict[str, tuple[Health, bool]] = {p: (Health.UP, True) for p in self.partners}
        self._frozen: set[str] = set()
        self._started: bool = False
        self._last_settle_ns: int = 0
        self._next_deadline: int = -_NEVER
        # Counters for stats().
        self._volume_lots: dict[str, int] = {v: 0 for v in self.ledger.venues}
        self._taker_lots: dict[str, int] = {v: 0 for v in self.ledger.venues}
        venues = self.ledger.venues
        self._pair_keys: dict[tuple[str, str], str] = {
            (a, b): f"{a}|{b}" if venues.index(a) < venues.index(b) else f"{b}|{a}"
            for a in venues for b in venues if a != b}
        self._cross: dict[str, list[int]] = {}       # "a|b" (venue order) -> [fills, lots]
        self._cross_notional: dict[str, dict[str, int]] = {}
        self._refusals: dict[str, dict[str, int]] = {}
        self._own_caps: dict[str, int] = {p: 0 for p in self.partners}
        self._settlements: dict[str, int] = {"started": 0, "fee_batches": 0, "completed": 0, "failed": 0,
                                             "missed": 0}
        self._pulled: dict[str, dict[str, int]] = {p: {"down": 0, "timeout": 0, "default": 0}
                                                   for p in self.partners}
        self._exposure: dict[str, dict[str, Any]] = {}
        self._ignored_status: int = 0

    # ------------------------------------------------------------------ the one entry point
    def handle(self, command: Any) -> list:
        """Apply one engine or liquidity command; return the engine's events followed by the hub's.

        Raises:
            TypeError: not a command, or a mistyped field (nothing changed).
            ValueError: a liquidity command naming an unknown partner or the home venue, or a mirrored-only
                command (ChildFilled, ChildRejected): a shell's bug (nothing changed).
        """
        cls = command.__class__
        out: list = []
        if cls not in _ENGINE_TYPES and cls not in _LIQUIDITY_FIELDS:
            raise TypeError(f"not an engine or liquidity command: {command!r:.80}")
        ts = command[0]
        if ts > self._next_deadline:   # rare: the first command, or a heartbeat deadline passed
            self._typecheck(command)
            if not self._started:
                self._start(ts)
            if ts > self._next_deadline:
                self._expire_heartbeats(ts, out)
        if cls is SubmitOrder:
            self._submit(command, out)
        elif cls is AmendOrder:
            self._amend(command, out)
        elif cls in _ENGINE_PLAIN:
            self._absorb(self.engine.handle(command), out)
        else:
            self._liquidity(command, out)
        return out

    def _typecheck(self, command: Any) -> None:
        if command.__class__ in _ENGINE_TYPES:
            check_types(command)
        else:
            _check_liquidity_types(command)

    def _start(self, ts: int) -> None:
        """The first command: the heartbeat and settlement clocks start at its time."""
        self._started = True
        self._last_settle_ns = ts
        for p in self.partners:
            self._last_heartbeat[p] = ts
        self._reschedule()

    def _venue(self, account: int) -> str:
        """The venue of ``account`` ("" for none). Cached: O(1) after the first lookup of an account."""
        venue = self._vcache.get(account)
        if venue is None:
            venue = self.config.venue_of_account(account) or ""
            self._vcache[account] = venue
        return venue

    # ------------------------------------------------------------------ orders
    def _submit(self, cmd: SubmitOrder, out: list) -> None:
        account = cmd.account
        if type(account) is not int:
            check_types(cmd)
        venue = self._venue(account)
        if venue == self.home:
            self._absorb(self.engine.handle(cmd), out)
            return
        symbol = cmd.symbol
        if symbol not in self.instruments:
            self._absorb(self.engine.handle(cmd), out)   # UNKNOWN_SYMBOL, from the engine
            return
        if not venue or venue in self._frozen or symbol not in self._eligible[venue]:
            check_types(cmd)   # a mistyped command raises rather than being refused
            if not venue:
                self._refuse(cmd, "", NO_VENUE, f"account {account} is in no venue's account range (home "
                             f"{self.config.home_accounts}, partners "
                             f"{ {p.name: p.accounts for p in self.config.partners} }); only venue customers "
                             f"trade", out)
            elif venue in self._frozen:
                self._refuse(cmd, venue, VENUE_FROZEN, self._frozen_message(venue), out)
            else:
                self._refuse(cmd, venue, NOT_ELIGIBLE, f"{venue}'s customers may not trade {symbol}; eligible: "
                             f"{sorted(self._eligible[venue])}", out)
            return
        need = worst_case(self.engine, cmd)
        if need is None:   # malformed: the engine rejects it with the precise reason
            self._absorb(self.engine.handle(cmd), out)
            return
        credit = self.credit
        verdict = credit.check(venue, self.ledger.usage(venue), need.asset, need.amount, symbol,
                               need.sell_price, need.seed_price)
        if verdict.ok:
            # Commit only after the engine took the command: a mistyped one raises there (the engine's type
            # check) and the hub must not have changed either. The marks recorded are those of the check.
            marks = credit.marks_now()
            events = self.engine.handle(cmd)
            credit.admit(venue, need.asset, verdict, marks)
            self._absorb(events, out)
            return
        check_types(cmd)
        if self._reject_policy:
            self._refuse(cmd, venue, CREDIT_LIMIT, self._credit_message(venue, verdict), out)
        else:
            self._own_venue(cmd, venue, verdict, out)

    def _own_venue(self, cmd: SubmitOrder, venue: str, verdict: Verdict, out: list) -> None:
        """``credit_policy = "own_venue"`` for an order over its venue's credit: trade only with the
        contiguous run of its own venue's makers at the front of the opposite side (:func:`own_run`).

        - LIMIT GTC / IOC: an IOC for the run's quantity at the price of the last own-venue maker used;
          then, GTC only, the rest rests at the order's price if it would not cross (another venue's order
          is next) and fits the credit as a resting order, else it is refused (``CREDIT_LIMIT``, saying
          how many lots traded). The user sees two engine orders (the IOC, then the resting rest).
        - FOK: unchanged if the run can fill all of it, else refused.
        - MARKET: its quantity (or quote amount) capped to the run's.
        An IOC or MARKET order cut short also gets an ``OrderRefused`` (``CREDIT_LIMIT``) for the part not sent.
        - LIMIT_MAKER: refused (it can only rest, and resting is what needs the credit).
        A run too small for the instrument's minimum quantity or notional counts as no run.
        """
        self._own_caps[venue] += 1
        ts, account, symbol = cmd.ts_ns, cmd.account, cmd.symbol
        inst = self.instruments[symbol]
        why = self._credit_message(venue, verdict)
        otype = cmd.order_type
        if otype == OrderType.LIMIT_MAKER:
            self._refuse(cmd, venue, CREDIT_LIMIT, why + "; a post-only order can only rest, which needs credit",
                         out)
            return
        buy = cmd.side == Side.BUY
        stp = self.engine.default_stp if cmd.stp is None else STP(cmd.stp)
        bids, asks = self.engine.l3(symbol)
        market = otype == OrderType.MARKET
        run = own_run(asks if buy else bids, buy, 0 if market else cmd.price_ticks, venue, account, stp,
                      self._venue, cmd.qty_lots, cmd.quote_qty if market else 0, inst.quote_units_per_tick_lot)
        none_left = f"{why}; no order of {venue}'s own at the front of the book to trade with instead"
        if market:
            if cmd.qty_lots:
                if run.lots < inst.min_qty_lots:
                    self._refuse(cmd, venue, CREDIT_LIMIT, none_left, out)
                    return
                capped = cmd._replace(qty_lots=run.lots)
                cut = f"{cmd.qty_lots - run.lots} lots"
            else:
                if run.notional <= 0 or run.notional < inst.min_notional:
                    self._refuse(cmd, venue, CREDIT_LIMIT, none_left, out)
                    return
                capped = cmd._replace(quote_qty=run.notional)
                cut = f"{cmd.quote_qty - run.notional} quote units"
            self._absorb(self.engine.handle(capped), out)
            if capped != cmd:
                self._refuse(cmd, venue, CREDIT_LIMIT, f"{why}; capped to what {venue}'s own orders at the "
                             f"front of the book fill, the other {cut} were not sent", out)
            return
        tif = cmd.tif
        if tif == TimeInForce.FOK:
            if run.lots < cmd.qty_lots:
                self._refuse(cmd, venue, CREDIT_LIMIT, f"{why}; {venue}'s own orders at the front of the book "
                             f"fill only {run.lots} of the {cmd.qty_lots} lots this fill-or-kill order needs", out)
                return
            self._absorb(self.engine.handle(cmd), out)
            return
        filled = 0
        traded = False
        if run.lots >= inst.min_qty_lots and inst.notional(run.last_price, run.lots) >= inst.min_notional:
            ioc = SubmitOrder(ts, account, symbol, cmd.side, OrderType.LIMIT, TimeInForce.IOC, run.last_price,
                              run.lots, 0, cmd.client_order_id, cmd.stp)
            events = self.engine.handle(ioc)
            self._absorb(events, out)
            first = events[0]
            if first.__class__ is OrderRejected:
                return
            traded = True
            oid = first.order_id
            for e in events:
                if e.__class__ is TradeExecuted and e.taker_order_id == oid:
                    filled += e.qty_lots
        rest = cmd.qty_lots - filled
        if tif != TimeInForce.GTC:
            if not traded:
                self._refuse(cmd, venue, CREDIT_LIMIT, none_left, out)
            elif run.lots < cmd.qty_lots:
                self._refuse(cmd, venue, CREDIT_LIMIT, f"{why}; capped to the {run.lots} lots {venue}'s own "
                             f"orders at the front of the book fill, the other {cmd.qty_lots - run.lots} were not "
                             f"sent", out)
            return
        if rest == 0:
            return
        price = cmd.price_ticks
        bid, ask = self.engine.best_bid_ask(symbol)
        best = ask if buy else bid
        if best is not None and (best <= price if buy else best >= price):
            self._refuse(cmd, venue, CREDIT_LIMIT, f"{why}; {filled} lots traded with {venue}'s own orders, the "
                         f"other {rest} would trade with another venue's order at {best} ticks", out)
            return
        asset, amount = self.credit.need(symbol, buy, price, rest)
        again = self.credit.check(venue, self.ledger.usage(venue), asset, amount, symbol, 0 if buy else price,
                                  price)
        if not again.ok:
            self._refuse(cmd, venue, CREDIT_LIMIT, f"{self._credit_message(venue, again)}; {filled} lots traded "
                         f"with {venue}'s own orders, the other {rest} cannot rest", out)
            return
        self.credit.admit(venue, asset, again, self.credit.marks_now())
        self._absorb(self.engine.handle(cmd._replace(qty_lots=rest)), out)

    def _amend(self, cmd: AmendOrder, out: list) -> None:
        account = cmd.account
        if type(account) is not int:
            check_types(cmd)
        venue = self._venue(account)
        if venue == self.home:
            self._absorb(self.engine.handle(cmd), out)
            return
        check_types(cmd)
        if venue and venue in self._frozen:
            self._refuse_amend(cmd, venue, VENUE_FROZEN, self._frozen_message(venue), out)
            return
        view = self._find(cmd)
        reservation = None if view is None else self.credit.reservation(view.order_id)
        new_price = cmd.new_price_ticks or (view.price_ticks if view is not None else 0)
        new_total = cmd.new_qty_lots or (view.qty_lots if view is not None else 0)
        inst = self.instruments.get(cmd.symbol)
        if (reservation is None or view is None or inst is None or not inst.valid_price(new_price)
                or not view.filled_lots < new_total <= inst.max_qty_lots):
            self._absorb(self.engine.handle(cmd), out)   # the engine accepts or rejects it as it stands
            return
        asset, amount = self.credit.need(view.symbol, reservation.buy, new_price, new_total - view.filled_lots)
        extra = amount - reservation.amount
        if extra > 0:
            verdict = self.credit.check(venue, self.ledger.usage(venue), asset, extra, view.symbol,
                                        0 if reservation.buy else new_price, new_price)
            if not verdict.ok:
                self._refuse_amend(cmd, venue, CREDIT_LIMIT, self._credit_message(venue, verdict), out)
                return
            self.credit.admit(venue, asset, verdict, self.credit.marks_now())
        self._absorb(self.engine.handle(cmd), out)

    def _find(self, cmd: AmendOrder) -> OrderView | None:
        """The account's open order an amend names (by id, else client id), as the engine finds it."""
        if cmd.order_id:
            view = self.engine.order(cmd.order_id, cmd.account)
        elif cmd.client_order_id:
            view = next((o for o in self.engine.open_orders(cmd.account, cmd.symbol)
                         if o.client_order_id == cmd.client_order_id), None)
        else:
            return None
        return view if view is not None and view.symbol == cmd.symbol else None

    def _refuse(self, cmd: SubmitOrder, venue: str, reason: str, message: str, out: list) -> None:
        out.append(OrderRefused(cmd.ts_ns, cmd.account, cmd.symbol, cmd.client_order_id, reason, message))
        counts = self._refusals.setdefault(venue or "(none)", {})
        counts[reason] = counts.get(reason, 0) + 1

    def _refuse_amend(self, cmd: AmendOrder, venue: str, reason: str, message: str, out: list) -> None:
        out.append(OrderRefused(cmd.ts_ns, cmd.account, cmd.symbol, cmd.client_order_id, reason, message))
        counts = self._refusals.setdefault(venue or "(none)", {})
        counts[reason] = counts.get(reason, 0) + 1

    def _credit_message(self, venue: str, v: Verdict) -> str:
        room = max(0, v.limit - v.owed - v.reserved)
        return (f"{venue} would owe up to {v.owed + v.reserved + v.add} {v.group} ledger units ({v.owed} owed "
                f"+ {v.reserved} reserved by its open orders + {v.add} for this order), over its credit limit "
                f"of {v.limit}; an order adding at most {room} fits, and settlements and cancels free credit")

    def _frozen_message(self, venue: str) -> str:
        health, _ = self._shown[venue]
        why = "its heartbeat stopped" if self._timed_out[venue] and health == Health.DOWN else \
            f"it is {health.name}"
        return f"{venue} is frozen ({why}): its orders were pulled and new ones are refused until it is UP again"

    # ------------------------------------------------------------------ engine events -> hub state
    def _absorb(self, events: list, out: list) -> None:
        """Append the engine's ``events`` to ``out`` and book what they mean for the hub."""
        out.extend(events)
        credit = self.credit
        for e in events:
            cls = e.__class__
            if cls is BookUpdated:
                continue
            if cls is TradeExecuted:
                self._on_trade(e, out)
            elif cls is OrderAccepted:
                if e.order_type != OrderType.MARKET:
                    venue = self._venue(e.account)
                    if venue and venue != self.home:
                        credit.reserve(e.order_id, e.account, venue, e.symbol, e.side == Side.BUY, e.price_ticks,
                                       e.qty_lots)
            elif cls is OrderCanceled or cls is OrderExpired:
                credit.on_end(e.order_id)
            elif cls is OrderAmended:
                credit.on_amend(e.order_id, e.price_ticks, e.remaining_lots)
            elif cls is BalanceChanged:
                self.ledger.deposit(self._venue(e.account) or self.home, e.asset, e.delta)

    def _on_trade(self, e: TradeExecuted, out: list) -> None:
        symbol, qty = e.symbol, e.qty_lots
        credit = self.credit
        credit.on_trade(symbol, e.price_ticks)
        credit.on_fill(e.maker_order_id, qty)
        credit.on_fill(e.taker_order_id, qty)
        if e.aggressor == Side.BUY:
            buyer, seller, buyer_fee, seller_fee = e.taker_account, e.maker_account, e.taker_fee, e.maker_fee
        else:
            buyer, seller, buyer_fee, seller_fee = e.maker_account, e.taker_account, e.maker_fee, e.taker_fee
        home = self.home
        vb = self._venue(buyer) or home
        vs = self._venue(seller) or home
        taker = vb if buyer == e.taker_account else vs
        self._taker_lots[taker] += qty
        self._volume_lots[vb] += qty
        if vs != vb:
            self._volume_lots[vs] += qty
        inst = self.instruments[symbol]
        quote = inst.quote.name
        ledger = self.ledger
        if vb != home:
            ledger.book_fee(vb, quote, buyer_fee)
        if vs != home:
            ledger.book_fee(vs, quote, seller_fee)
        if vb == vs:
            return
        base_amount = qty * inst.lot_units
        ledger.book(vb, vs, quote, e.quote_amount)
        ledger.book(vs, vb, inst.base.name, base_amount)
        out.append(ObligationBooked(e.ts_ns, vb, vs, quote, e.quote_amount, e.seq))
        out.append(ObligationBooked(e.ts_ns, vs, vb, inst.base.name, base_amount, e.seq))
        key = self._pair_keys[(vb, vs)]
        counts = self._cross.get(key)
        if counts is None:
            counts = self._cross[key] = [0, 0]
            self._cross_notional[key] = {}
        counts[0] += 1
        counts[1] += qty
        notional = self._cross_notional[key]
        notional[quote] = notional.get(quote, 0) + e.quote_amount

    # ------------------------------------------------------------------ liquidity commands
    def _liquidity(self, cmd: Any, out: list) -> None:
        _check_liquidity_types(cmd)
        cls = cmd.__class__
        ts = cmd.ts_ns
        if cls is SettleDue:
            self._settle_due(ts, out)
        elif cls is PartnerHeartbeat:
            venue = self._partner_name(cmd.venue)
            self._last_heartbeat[venue] = ts
            if self._timed_out[venue]:
                self._timed_out[venue] = False
                self._update(ts, venue, "HEARTBEAT_RESUMED", out)
            self._reschedule()
        elif cls is PartnerStatus:
            self._status(cmd, out)
        elif cls is SettlementDone:
            outcome = self.ledger.complete(cmd.batch_id)
            if outcome == "done":
                self._settlements["completed"] += 1
                out.append(SettlementCompleted(ts, cmd.batch_id))
            else:
                self._settlements["missed"] += 1
                out.append(SettlementMissed(ts, cmd.batch_id, "PAYER_DEFAULTED" if outcome == "dead"
                                            else "UNKNOWN_BATCH"))
        elif cls is SettlementFailed:
            outcome = self.ledger.fail(cmd.batch_id)
            if outcome == "failed":
                self._settlements["failed"] += 1
                out.append(SettlementMissed(ts, cmd.batch_id, cmd.reason or "FAILED"))
            else:
                self._settlements["missed"] += 1
                out.append(SettlementMissed(ts, cmd.batch_id, "PAYER_DEFAULTED" if outcome == "dead"
                                            else "UNKNOWN_BATCH"))
        elif cls is PartnerQuote:
            self._partner_name(cmd.venue)   # a pooled book mirrors no depth: validated, then ignored
        else:
            raise ValueError(f"{cls.__name__} is a mirrored-model command; a pooled venue routes no children")

    def _partner_name(self, venue: str) -> str:
        if venue not in self._announced:
            raise ValueError(f"unknown partner venue {venue!r}; partners: {list(self.partners)}")
        return venue

    def _settle_due(self, ts: int, out: list) -> None:
        if ts < self._last_settle_ns + self.config.settle_every_ns:
            return
        self._last_settle_ns = ts
        for p in self.partners:
            self.credit.note_usage(p, self.ledger.usage(p))
        for b in self.ledger.start_settlement():
            self._settlements["started"] += 1
            if b.kind != NET:
                self._settlements["fee_batches"] += 1
            out.append(SettlementStarted(ts, b.batch_id, b.payer, b.payee, b.asset, b.amount))

    def _status(self, cmd: PartnerStatus, out: list) -> None:
        venue = self._partner_name(cmd.venue)
        health = Health(cmd.health)
        ts = cmd.ts_ns
        if self._announced[venue] == Health.DEFAULTED:
            self._ignored_status += 1
            return
        self._announced[venue] = health
        if health == Health.UP:   # an announcement is a sign of life: the heartbeat clock restarts
            self._last_heartbeat[venue] = ts
            self._timed_out[venue] = False
        self._update(ts, venue, "ANNOUNCED", out)
        if health == Health.DEFAULTED:
            self._default(ts, venue, out)
        self._reschedule()

    def _update(self, ts: int, venue: str, reason: str, out: list) -> None:
        """Emit PartnerStateChanged if what the venue shows changed; pull its orders when it freezes."""
        announced = self._announced[venue]
        if announced in _FROZEN_HEALTH:
            shown = (announced, False)
        elif self._timed_out[venue]:
            shown = (Health.DOWN, False)
        else:
            shown = (announced, True)
        before = self._shown[venue]
        if shown == before:
            return
        self._shown[venue] = shown
        out.append(PartnerStateChanged(ts, venue, shown[0], shown[1], reason))
        if shown[1]:
            self._frozen.discard(venue)
        else:
            self._frozen.add(venue)
            cause = ("default" if announced == Health.DEFAULTED else "down" if announced == Health.DOWN
                     else "timeout")
            self._pull(ts, venue, cause, out)

    def _pull(self, ts: int, venue: str, cause: str, out: list) -> None:
        """Cancel every open order of ``venue``'s customers (CancelAll per account, in account order)."""
        for account in self.credit.accounts_with_orders(venue):
            events = self.engine.handle(CancelAll(ts, account))
            self._pulled[venue][cause] += sum(1 for e in events if e.__class__ is OrderCanceled)
            self._absorb(events, out)

    def _default(self, ts: int, venue: str, out: list) -> None:
        self._pull(ts, venue, "default", out)   # already pulled if it was frozen: then nothing is left
        lgd = self.config.loss_given_default_bps
        record = self._exposure.setdefault(venue, {"ts_ns": ts, "ead": {}, "loss": {}, "by_creditor": {}})
        for w in self.ledger.default(venue):
            loss = _ceil_div(w.amount * lgd, 10_000)
            kind = "OBLIGATION" if w.kind == NET else "FEES"
            group = self._group(w.asset)
            value = self.credit.value(w.asset, loss, group, self._marks())
            out.append(ExposureBooked(ts, venue, w.creditor, w.asset, loss, value, kind))
            ead = self.credit.value(w.asset, w.amount, group, self._marks())
            for name, x in (("ead", ead), ("loss", value)):
                record[name][group] = record[name].get(group, 0) + x
            by = record["by_creditor"].setdefault(w.creditor, {})
            by[f"{w.asset}:{kind}"] = by.get(f"{w.asset}:{kind}", 0) + w.amount

    def _marks(self) -> dict[str, int]:
        return {s: self.credit.mark(s) for s in self.instruments}

    def _group(self, asset: str) -> str:
        groups = self.credit.groups_of(asset)
        return groups[0] if groups else asset

    def _expire_heartbeats(self, ts: int, out: list) -> None:
        timeout = self.config.heartbeat_timeout_ns
        for p in self.partners:
            if (not self._timed_out[p] and self._announced[p] not in _FROZEN_HEALTH
                    and ts > self._last_heartbeat[p] + timeout):
                self._timed_out[p] = True
                self._update(ts, p, "HEARTBEAT_TIMEOUT", out)
        self._reschedule()

    def _reschedule(self) -> None:
        """The earliest time a heartbeat deadline can pass (handle compares every command's ts with it)."""
        timeout = self.config.heartbeat_timeout_ns
        deadlines = [self._last_heartbeat[p] + timeout for p in self.partners
                     if not self._timed_out[p] and self._announced[p] not in _FROZEN_HEALTH]
        self._next_deadline = min(deadlines) if deadlines else _NEVER

    # ------------------------------------------------------------------ hub reads
    def venue_of(self, account: int) -> str | None:
        """The venue ``account`` belongs to (None: no venue's range)."""
        return self._venue(account) or None

    def health(self, venue: str) -> Health:
        """What the last PartnerStateChanged said (UP for the home venue)."""
        return Health.UP if venue == self.home else self._shown[self._partner_name(venue)][0]

    def is_frozen(self, venue: str) -> bool:
        return venue in self._frozen

    def escrow(self) -> dict[str, int]:
        """Assets the hub holds outside engine balances: none in a pooled book."""
        return {}

    def stats(self) -> dict:
        """JSON-able figures for reports (:func:`.pool_report.pool_stats` says what is in it)."""
        return pool_stats(self)

    # ------------------------------------------------------------------ engine reads

    def depth(self, symbol: str, limit: int = 100) -> Depth:
        return self.engine.depth(symbol, limit)

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        return self.engine.best_bid_ask(symbol)

    # ------------------------------------------------------------------ state and invariants
    def state(self) -> dict:
        """The engine's state and the hub's, canonical and JSON-able: everything later behaviour depends
        on. Reporting counters (:meth:`stats`) are not state, so a refused order leaves it unchanged."""
        return {
            "engine": self.engine.state(),
            "pooled": {
                "announced": {p: int(h) for p, h in self._announced.items()},
                "timed_out": dict(self._timed_out),
                "last_heartbeat_ns": dict(self._last_heartbeat),
                "shown": {p: [int(h), r] for p, (h, r) in self._shown.items()},
                "started": self._started,
                "last_settle_ns": self._last_settle_ns,
                "ledger": self.ledger.state(),
                "credit": self.credit.state(),
            },
        }

    def state_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`state`."""
        blob = json.dumps(self.state(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def _check(self) -> None:
        """Assert the engine's invariants and the hub's (:func:`.pool_report.check_pool`)."""
        check_pool(self)
