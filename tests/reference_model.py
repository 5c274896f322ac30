"""A naive, obviously correct reference implementation of ``exchange/CONTRACT.md``.

The differential tests drive the real engine and this model with the same commands and demand identical
events and state (STYLE.md habit 3: every optimised structure has a naive twin in ``tests/``). It was
written from the contract alone, never from ``exchange/engine.py``, so that the two implementations only
agree where the contract makes them agree.

Everything here is plain: a book is one Python list of resting orders in arrival order, priority is a
stable sort of that list by price, every lookup is a linear scan, balances are ``[available, held]``
pairs changed by explicit deltas. Readable over fast: it is O(orders) per step and proud of it.

Where the contract can be read two ways, the reading chosen is marked ``AMBIGUITY:`` below.
"""
from __future__ import annotations

from exchange.commands import (AmendOrder, CancelAll, CancelOrder, Deposit, HaltInstrument,
                               ResumeInstrument, SetFeeTier, SubmitOrder, Withdraw)
from exchange.enums import STP, EndReason, OrderType, RejectReason, Side, TimeInForce
from exchange.events import (BalanceChanged, BookUpdated, CommandRejected, FeeTierChanged,
                             InstrumentHalted, InstrumentResumed, OrderAccepted, OrderAmended,
                             OrderCanceled, OrderExpired, OrderRejected, TradeExecuted)
from exchange.engine import Balance, Depth, FeeTier, OrderView
from exchange.instruments import MAX_AMOUNT, Instrument

__all__ = ["ReferenceModel", "FeeTier", "Balance", "Depth", "OrderView", "fee"]

R = RejectReason


# The read types are the contract's data shapes (CONTRACT.md, Reads), shared with the engine; only the
# behaviour is implemented twice.


def fee(notional: int, bps: int) -> int:
    """CONTRACT "Numbers": rounded down, the fraction stays with the payer."""
    return notional * bps // 10000


def _is_enum_value(enum_cls: type, value: object) -> bool:
    try:
        enum_cls(value)
    except (ValueError, TypeError):
        return False
    return True


_INT, _STR, _ENUM, _OPT_STR, _OPT_ENUM, _FLAG = "int", "str", "enum", "str|None", "enum|None", "bool"
_FIELD_TYPES = {
    Deposit: (_INT, _INT, _STR, _INT),
    Withdraw: (_INT, _INT, _STR, _INT),
    SetFeeTier: (_INT, _INT, _INT),
    SubmitOrder: (_INT, _INT, _STR, _ENUM, _ENUM, _ENUM, _INT, _INT, _INT, _STR, _OPT_ENUM),
    CancelOrder: (_INT, _INT, _STR, _INT, _STR),
    CancelAll: (_INT, _INT, _OPT_STR),
    AmendOrder: (_INT, _INT, _STR, _INT, _INT, _INT, _STR),
    HaltInstrument: (_INT, _STR, _FLAG),
    ResumeInstrument: (_INT, _STR),
}


def _check_types(cmd) -> None:
    """CONTRACT "Typed commands": int fields are ints (not bools or floats), str fields strs, enum fields
    an enum member or its int value (an unknown value is a reject, not a type error).

    AMBIGUITY: an IntEnum member in a plain int field (``qty_lots=Side.BUY``) is read as mistyped, and a
    str in an enum field (``side="BUY"``) too; the contract only names bools and floats.
    """
    kinds = _FIELD_TYPES.get(type(cmd))
    if kinds is None:
        raise TypeError(f"not a command: {cmd!r}")
    for value, kind in zip(cmd, kinds):
        if kind == _INT:
            ok = type(value) is int
        elif kind == _STR:
            ok = type(value) is str
        elif kind == _OPT_STR:
            ok = value is None or type(value) is str
        elif kind == _FLAG:
            ok = type(value) in (bool, int)
        else:
            ok = (kind == _OPT_ENUM and value is None) or (isinstance(value, int) and type(value) is not bool)
        if not ok:
            raise TypeError(f"{type(cmd).__name__}: {value!r} is not a {kind}")


class _Order:
    """An order while it is being matched or while it rests. Plain mutable record."""

    def __init__(self, order_id, account, symbol, side, order_type, tif, price, qty, quote_qty,
                 client_order_id, stp, ts_ns, maker_bps, taker_bps):
        self.order_id = order_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price = price              # 0 for MARKET
        self.qty = qty                  # total lots (0 for a MARKET by quote)
        self.remaining = qty            # lots still open
        self.quote_qty = quote_qty      # MARKET by quote only
        self.remaining_quote = quote_qty
        self.client_order_id = client_order_id
        self.stp = stp
        self.ts_ns = ts_ns
        self.maker_bps = maker_bps
        self.taker_bps = taker_bps
        self.budget = 0                 # MARKET only: what its command-long hold still holds

    @property
    def filled(self) -> int:
        return self.qty - self.remaining

    @property
    def is_market(self) -> bool:
        return self.order_type == OrderType.MARKET

    @property
    def by_quote(self) -> bool:
        return self.is_market and self.quote_qty > 0

    def view(self) -> OrderView:
        return OrderView(self.order_id, self.account, self.symbol, self.side, self.order_type, self.tif,
                         self.price, self.qty, self.remaining, self.filled, self.client_order_id, self.stp,
                         self.ts_ns)


class ReferenceModel:
    """Same constructor and public surface as ``exchange.Engine`` (the parts the tests use)."""

    def __init__(self, instruments: list[Instrument], fee_tiers=None, default_stp: STP = STP.EXPIRE_MAKER,
                 fee_account: int = 0):
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.fee_tiers = dict(fee_tiers) if fee_tiers is not None else {0: FeeTier(10, 10)}
        self.default_stp = default_stp
        self.fee_account = fee_account
        assets = set()
        for inst in instruments:
            assets.add(inst.base.name)
            assets.add(inst.quote.name)
        self.assets = sorted(assets)
        self.balances_: dict[int, dict[str, list[int]]] = {}   # account -> asset -> [available, held]
        self.tiers: dict[int, int] = {}
        self._open_account(fee_account)
        self.books: dict[str, list[_Order]] = {s: [] for s in self.instruments}  # resting, arrival order
        self.halted: set[str] = set()
        self.update_ids = {s: 0 for s in self.instruments}
        self.deposited = {a: 0 for a in self.assets}
        self.withdrawn = {a: 0 for a in self.assets}
        self.last_seq = 0
        self._ts = 0
        self._out: list = []

    # ------------------------------------------------------------------ reads

    def depth(self, symbol: str, limit: int = 100) -> Depth:
        bids, asks = self._levels(symbol)
        bid_list = sorted(bids.items(), key=lambda pq: -pq[0])[:limit]
        ask_list = sorted(asks.items())[:limit]
        return Depth(self.update_ids[symbol], bid_list, ask_list)

    def best_bid_ask(self, symbol: str):
        bids, asks = self._levels(symbol)
        return (max(bids) if bids else None, min(asks) if asks else None)

    def l3(self, symbol: str):
        return ([o.view() for o in self._priority(symbol, Side.BUY)],
                [o.view() for o in self._priority(symbol, Side.SELL)])

    def order(self, order_id: int):
        for book in self.books.values():
            for o in book:
                if o.order_id == order_id:
                    return o.view()
        return None

    def open_orders(self, account: int, symbol: str | None = None) -> list[OrderView]:
        found = [o for s, book in self.books.items() for o in book
                 if o.account == account and (symbol is None or s == symbol)]
        return [o.view() for o in sorted(found, key=lambda o: o.order_id)]

    def balances(self, account: int) -> dict[str, Balance]:
        if account not in self.balances_:
            return {}
        return {a: Balance(av, held) for a, (av, held) in self.balances_[account].items()}

    def accounts(self) -> list[int]:
        return sorted(self.balances_)

    def totals(self) -> dict[str, int]:
        return {a: sum(b[a][0] + b[a][1] for b in self.balances_.values()) for a in self.assets}

    def net_deposits(self) -> dict[str, int]:
        return {a: self.deposited[a] - self.withdrawn[a] for a in self.assets}

    def hold_of(self, o: _Order) -> tuple[str, int]:
        """CONTRACT "Holds": (asset, amount) a *resting* order holds."""
        inst = self.instruments[o.symbol]
        if o.side == Side.BUY:
            return inst.quote.name, self._buy_hold(inst, o.price, o.remaining, o)
        return inst.base.name, o.remaining * inst.lot_units

    def _check(self) -> None:
        """The model's own invariants (the tests check the engine's from the outside as well)."""
        held = {acc: {a: 0 for a in self.assets} for acc in self.balances_}
        for book in self.books.values():
            for o in book:
                asset, amount = self.hold_of(o)
                held[o.account][asset] += amount
        for acc, bal in self.balances_.items():
            for a, (av, h) in bal.items():
                assert av >= 0 and h == held[acc][a], (acc, a, av, h, held[acc][a])
        assert self.totals() == self.net_deposits()

    # ------------------------------------------------------------------ the one entry point

    def handle(self, cmd) -> list:
        """Apply one command and return its events (CONTRACT.md). A mistyped command raises TypeError
        and changes nothing (CONTRACT "Typed commands")."""
        _check_types(cmd)
        self._out = []
        self._ts = cmd.ts_ns
        before = {s: self._levels(s) for s in self.instruments}
        if isinstance(cmd, SubmitOrder):
            self._submit(cmd)
        elif isinstance(cmd, CancelOrder):
            self._cancel(cmd)
        elif isinstance(cmd, CancelAll):
            self._cancel_all(cmd)
        elif isinstance(cmd, AmendOrder):
            self._amend(cmd)
        elif isinstance(cmd, Deposit):
            self._deposit(cmd)
        elif isinstance(cmd, Withdraw):
            self._withdraw(cmd)
        elif isinstance(cmd, SetFeeTier):
            self._set_fee_tier(cmd)
        elif isinstance(cmd, HaltInstrument):
            self._halt(cmd)
        elif isinstance(cmd, ResumeInstrument):
            self._resume(cmd)
        else:  # pragma: no cover - _check_types refused it already
            raise TypeError(f"not a command: {cmd!r}")
        # CONTRACT "Book updates": after the other events, one per changed symbol, in name order.
        for symbol in sorted(self.instruments):
            old_bids, old_asks = before[symbol]
            new_bids, new_asks = self._levels(symbol)
            bids = tuple((p, new_bids.get(p, 0)) for p in sorted(set(old_bids) | set(new_bids), reverse=True)
                         if old_bids.get(p, 0) != new_bids.get(p, 0))
            asks = tuple((p, new_asks.get(p, 0)) for p in sorted(set(old_asks) | set(new_asks))
                         if old_asks.get(p, 0) != new_asks.get(p, 0))
            if bids or asks:
                self.update_ids[symbol] += 1
                self._emit(BookUpdated, symbol, self.update_ids[symbol], bids, asks)
        return self._out

    # ------------------------------------------------------------------ helpers

    def _emit(self, cls, *fields) -> int:
        self.last_seq += 1
        self._out.append(cls(self.last_seq, self._ts, *fields))
        return self.last_seq

    def _reject(self, cmd, reason: RejectReason) -> None:
        account = getattr(cmd, "account", -1)
        self._emit(CommandRejected, type(cmd).__name__, account, reason)

    def _open_account(self, account: int) -> None:
        if account not in self.balances_:
            self.balances_[account] = {a: [0, 0] for a in self.assets}
            self.tiers[account] = 0

    def _bal(self, account: int, asset: str) -> list[int]:
        return self.balances_[account][asset]

    def _hold(self, account: int, asset: str, amount: int) -> None:
        """Move ``amount`` from available to held (negative: back)."""
        b = self._bal(account, asset)
        b[0] -= amount
        b[1] += amount
        assert b[0] >= 0 and b[1] >= 0, (account, asset, b)

    def _levels(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for o in self.books[symbol]:
            side = bids if o.side == Side.BUY else asks
            side[o.price] = side.get(o.price, 0) + o.remaining
        return bids, asks

    def _priority(self, symbol: str, side: Side) -> list[_Order]:
        """Orders of one side, best price first; the sort is stable, so arrival order within a level."""
        orders = [o for o in self.books[symbol] if o.side == side]
        if side == Side.BUY:
            return sorted(orders, key=lambda o: -o.price)
        return sorted(orders, key=lambda o: o.price)

    def _buy_hold(self, inst: Instrument, price: int, lots: int, o_or_bps) -> int:
        """H(p, r) = N + fee(N, max(maker_bps, taker_bps))."""
        if isinstance(o_or_bps, int):
            bps = o_or_bps
        else:
            bps = max(o_or_bps.maker_bps, o_or_bps.taker_bps)
        n = inst.notional(price, lots)
        return n + fee(n, bps)

    def _crosses(self, side: Side, limit_price: int, maker_price: int) -> bool:
        return maker_price <= limit_price if side == Side.BUY else maker_price >= limit_price

    def _would_take(self, symbol: str, side: Side, price: int) -> bool:
        bid, ask = self.best_bid_ask(symbol)
        if side == Side.BUY:
            return ask is not None and price >= ask
        return bid is not None and price <= bid

    def _find(self, account: int, symbol: str, order_id: int, client_order_id: str):
        """CONTRACT "CancelOrder": by order_id if non-zero, else by client_order_id, among the
        account's open orders on that symbol.

        AMBIGUITY: order_id 0 with client_order_id "" is read as "no order named" (UNKNOWN_ORDER), even
        if the account has open orders without a client id: "" means none (commands.py).
        """
        for o in self.books[symbol]:
            if o.account != account:
                continue
            if order_id != 0:
                if o.order_id == order_id:
                    return o
            elif client_order_id != "" and o.client_order_id == client_order_id:
                return o
        return None

    def _remove(self, o: _Order) -> None:
        self.books[o.symbol].remove(o)

    def _release_resting(self, o: _Order) -> None:
        asset, amount = self.hold_of(o)
        self._hold(o.account, asset, -amount)

    def _end_resting(self, o: _Order, cls, reason: EndReason) -> None:
        """Cancel or expire a resting order: event, hold released, off the book."""
        self._emit(cls, o.order_id, o.account, o.symbol, o.remaining, reason)
        self._release_resting(o)
        self._remove(o)

    # ------------------------------------------------------------------ SubmitOrder

    def _submit_reason(self, c: SubmitOrder):
        """CONTRACT "SubmitOrder: checks, first failing wins"; None if the order is accepted."""
        inst = self.instruments.get(c.symbol)
        if inst is None:
            return R.UNKNOWN_SYMBOL
        if c.account not in self.balances_:
            return R.UNKNOWN_ACCOUNT
        # 3. spec
        if not (_is_enum_value(Side, c.side) and _is_enum_value(OrderType, c.order_type)
                and _is_enum_value(TimeInForce, c.tif) and (c.stp is None or _is_enum_value(STP, c.stp))):
            return R.INVALID_ORDER_SPEC
        if c.order_type == OrderType.LIMIT:
            spec_ok = c.quote_qty == 0
        elif c.order_type == OrderType.LIMIT_MAKER:
            spec_ok = c.tif == TimeInForce.GTC and c.quote_qty == 0
        else:
            # AMBIGUITY: commands.py says a MARKET may be IOC or FOK; CONTRACT.md says tif IOC. The
            # contract wins: a MARKET FOK is INVALID_ORDER_SPEC.
            spec_ok = (c.tif == TimeInForce.IOC and c.price_ticks == 0
                       and ((c.qty_lots > 0 and c.quote_qty == 0) or (c.quote_qty > 0 and c.qty_lots == 0)))
        if not spec_ok or len(c.client_order_id) > 36:
            return R.INVALID_ORDER_SPEC
        # 4. numbers
        if c.order_type != OrderType.MARKET:
            if not inst.valid_price(c.price_ticks):
                return R.INVALID_PRICE
            if not inst.min_qty_lots <= c.qty_lots <= inst.max_qty_lots:
                return R.INVALID_QUANTITY
            if inst.notional(c.price_ticks, c.qty_lots) < inst.min_notional:
                return R.MIN_NOTIONAL
        elif c.qty_lots > 0:
            if not inst.min_qty_lots <= c.qty_lots <= inst.max_qty_lots:
                return R.INVALID_QUANTITY
        else:
            if c.quote_qty > MAX_AMOUNT:
                return R.INVALID_QUANTITY
            if c.quote_qty < inst.min_notional:
                return R.MIN_NOTIONAL
        # 5.
        if c.symbol in self.halted:
            return R.INSTRUMENT_HALTED
        # 6. AMBIGUITY: "used by an open order of the account" is read as any symbol, not only this one
        # (cancel-by-client-id looks on one symbol only).
        if c.client_order_id != "" and any(o.account == c.account and o.client_order_id == c.client_order_id
                                           for book in self.books.values() for o in book):
            return R.DUPLICATE_CLIENT_ORDER_ID
        # 7. funds
        maker_bps, taker_bps = self._tier_bps(c.account)
        quote = self._bal(c.account, inst.quote.name)[0]
        base = self._bal(c.account, inst.base.name)[0]
        if c.side == Side.BUY:
            if c.order_type != OrderType.MARKET:
                need_ok = self._buy_hold(inst, c.price_ticks, c.qty_lots, max(maker_bps, taker_bps)) <= quote
            elif c.quote_qty > 0:
                need_ok = c.quote_qty + fee(c.quote_qty, taker_bps) <= quote
            else:
                need_ok = quote > 0
        else:
            if c.order_type == OrderType.MARKET and c.quote_qty > 0:
                need_ok = base > 0
            else:
                need_ok = c.qty_lots * inst.lot_units <= base
        if not need_ok:
            return R.INSUFFICIENT_FUNDS
        # 8.
        if c.order_type == OrderType.LIMIT_MAKER and self._would_take(c.symbol, c.side, c.price_ticks):
            return R.WOULD_TAKE
        return None

    def _tier_bps(self, account: int) -> tuple[int, int]:
        tier = self.fee_tiers[self.tiers[account]]
        return tier.maker_bps, tier.taker_bps

    def _submit(self, c: SubmitOrder) -> None:
        reason = self._submit_reason(c)
        if reason is not None:
            self._emit(OrderRejected, c.account, c.symbol, c.client_order_id, reason)
            return
        inst = self.instruments[c.symbol]
        stp = self.default_stp if c.stp is None else c.stp
        order_id = self.last_seq + 1  # CONTRACT "Sequencing": the seq of its OrderAccepted
        self._emit(OrderAccepted, order_id, c.account, c.symbol, c.side, c.order_type, c.tif, c.price_ticks,
                   c.qty_lots, c.quote_qty, c.client_order_id, stp)
        maker_bps, taker_bps = self._tier_bps(c.account)
        o = _Order(order_id, c.account, c.symbol, c.side, c.order_type, c.tif, c.price_ticks, c.qty_lots,
                   c.quote_qty, c.client_order_id, stp, c.ts_ns, maker_bps, taker_bps)
        # Take the hold (CONTRACT "Holds").
        if o.is_market:
            if o.side == Side.BUY:
                if o.by_quote:
                    o.budget = o.quote_qty + fee(o.quote_qty, taker_bps)
                else:
                    o.budget = self._bal(o.account, inst.quote.name)[0]
                self._hold(o.account, inst.quote.name, o.budget)
            else:
                if o.by_quote:
                    o.budget = self._bal(o.account, inst.base.name)[0]
                else:
                    o.budget = o.qty * inst.lot_units
                self._hold(o.account, inst.base.name, o.budget)
        else:
            asset, amount = self.hold_of(o)
            self._hold(o.account, asset, amount)

        if o.tif == TimeInForce.FOK and not self._fok_can_fill(o):
            self._end_taker(o, EndReason.FOK_UNFILLED)
            return
        self._take(o)

    def _fok_can_fill(self, t: _Order) -> bool:
        """CONTRACT "FOK": count what the walk could trade without expiring anything."""
        count = 0
        for m in self._priority(t.symbol, Side.SELL if t.side == Side.BUY else Side.BUY):
            if not self._crosses(t.side, t.price, m.price):
                break
            if m.account == t.account and t.stp != STP.NONE:
                if t.stp == STP.EXPIRE_MAKER:
                    continue
                break
            count += m.remaining
        return count >= t.qty

    # ------------------------------------------------------------------ matching

    def _taker_left(self, t: _Order) -> bool:
        return t.remaining_quote > 0 if t.by_quote else t.remaining > 0

    def _end_taker(self, t: _Order, reason: EndReason) -> None:
        """OrderExpired for the taker, and its hold or budget back to available."""
        self._emit(OrderExpired, t.order_id, t.account, t.symbol, 0 if t.by_quote else t.remaining, reason)
        self._release_taker(t)

    def _release_taker(self, t: _Order) -> None:
        inst = self.instruments[t.symbol]
        if t.is_market:
            asset = inst.quote.name if t.side == Side.BUY else inst.base.name
            self._hold(t.account, asset, -t.budget)
            t.budget = 0
        else:
            self._release_resting(t)

    def _take(self, t: _Order) -> None:
        """Match ``t`` as taker (CONTRACT "Matching"), then apply the remainder rule."""
        inst = self.instruments[t.symbol]
        k = inst.quote_units_per_tick_lot
        opposite = Side.SELL if t.side == Side.BUY else Side.BUY
        while self._taker_left(t):
            makers = self._priority(t.symbol, opposite)
            if not makers:
                break
            m = makers[0]
            if not t.is_market and not self._crosses(t.side, t.price, m.price):
                break
            # AMBIGUITY: self-trade prevention is checked before the quantity cap, so a market order whose
            # budget or quote cannot buy one more lot still expires (EXPIRE_MAKER/BOTH) its own next maker.
            if m.account == t.account and t.stp != STP.NONE:
                if t.stp == STP.EXPIRE_TAKER:
                    self._end_taker(t, EndReason.SELF_TRADE)
                    return
                self._end_resting(m, OrderExpired, EndReason.SELF_TRADE)
                if t.stp == STP.EXPIRE_BOTH:
                    self._end_taker(t, EndReason.SELF_TRADE)
                    return
                continue
            # quantity
            if t.is_market and t.by_quote:
                q_quote = t.remaining_quote // (m.price * k)
                if q_quote == 0:
                    # AMBIGUITY: for a MARKET SELL by quote where both the quote left and the base budget
                    # allow 0 lots, the quote wins: stop, and the remainder rule applies.
                    break
                q = min(m.remaining, q_quote)
                if t.side == Side.SELL:
                    q_base = t.budget // inst.lot_units
                    if q_base == 0:
                        self._end_taker(t, EndReason.INSUFFICIENT_FUNDS)
                        return
                    q = min(q, q_base)
            else:
                q = min(m.remaining, t.remaining)
                if t.is_market and t.side == Side.BUY:
                    q = self._affordable_lots(inst, m.price, q, t.taker_bps, t.budget)
                    if q == 0:
                        self._end_taker(t, EndReason.INSUFFICIENT_FUNDS)
                        return
            self._trade(inst, t, m, q)
        # remainder
        if t.is_market or t.tif != TimeInForce.GTC:
            if self._taker_left(t):
                self._end_taker(t, EndReason.IOC_REMAINDER)
            else:
                self._release_taker(t)   # a market order's unspent budget; nothing for a filled limit
        elif t.remaining > 0:
            self.books[t.symbol].append(t)  # at the back of its level; it keeps its hold H(p, r)

    @staticmethod
    def _affordable_lots(inst: Instrument, price: int, most: int, bps: int, budget: int) -> int:
        """The largest q <= most with N(price, q) + fee(N, bps) <= budget (cost grows with q): bisection."""
        def cost(q: int) -> int:
            n = inst.notional(price, q)
            return n + fee(n, bps)
        lo, hi = 0, most          # cost(lo) fits; find the last q that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if cost(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _trade(self, inst: Instrument, t: _Order, m: _Order, q: int) -> None:
        """CONTRACT "Trade": at the maker's price, settle both sides, fees to the fee account."""
        n = inst.notional(m.price, q)
        maker_fee = fee(n, m.maker_bps)
        taker_fee = fee(n, t.taker_bps)
        self._emit(TradeExecuted, t.symbol, m.price, q, n, t.side, m.order_id, m.account, t.order_id,
                   t.account, maker_fee, taker_fee)
        quote, base = inst.quote.name, inst.base.name
        base_amount = q * inst.lot_units
        if t.side == Side.BUY:
            buyer, buyer_fee, seller, seller_fee = t, taker_fee, m, maker_fee
        else:
            buyer, buyer_fee, seller, seller_fee = m, maker_fee, t, taker_fee
        # buyer pays N + fee out of its hold or budget and gets the base
        pay = n + buyer_fee
        if buyer.is_market:
            buyer.budget -= pay
            assert buyer.budget >= 0
            self._bal(buyer.account, quote)[1] -= pay
        else:
            old_hold = self._buy_hold(inst, buyer.price, buyer.remaining, buyer)
            new_hold = self._buy_hold(inst, buyer.price, buyer.remaining - q, buyer)
            b = self._bal(buyer.account, quote)
            b[1] -= old_hold - new_hold
            b[0] += old_hold - new_hold - pay
            assert b[0] >= 0 and old_hold - new_hold - pay >= 0
        self._bal(buyer.account, base)[0] += base_amount
        # seller's base hold or budget falls by the base amount; it gets N - fee
        if seller.is_market:
            seller.budget -= base_amount
            assert seller.budget >= 0
        self._bal(seller.account, base)[1] -= base_amount
        self._bal(seller.account, quote)[0] += n - seller_fee
        self._bal(self.fee_account, quote)[0] += maker_fee + taker_fee
        # quantities
        m.remaining -= q
        if t.by_quote:
            t.remaining_quote -= n
        else:
            t.remaining -= q
        if m.remaining == 0:
            self._remove(m)

    # ------------------------------------------------------------------ cancel / amend

    def _cancel(self, c: CancelOrder) -> None:
        if c.symbol not in self.instruments:
            return self._reject(c, R.UNKNOWN_SYMBOL)
        if c.account not in self.balances_:
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        o = self._find(c.account, c.symbol, c.order_id, c.client_order_id)
        if o is None:
            return self._reject(c, R.UNKNOWN_ORDER)
        self._end_resting(o, OrderCanceled, EndReason.USER)

    def _cancel_all(self, c: CancelAll) -> None:
        if c.symbol is not None and c.symbol not in self.instruments:
            return self._reject(c, R.UNKNOWN_SYMBOL)
        if c.account not in self.balances_:
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        mine = [o for s, book in self.books.items() for o in book
                if o.account == c.account and (c.symbol is None or s == c.symbol)]
        if not mine:
            return self._reject(c, R.UNKNOWN_ORDER)
        for o in sorted(mine, key=lambda o: o.order_id):
            self._end_resting(o, OrderCanceled, EndReason.USER)

    def _amend(self, c: AmendOrder) -> None:
        inst = self.instruments.get(c.symbol)
        if inst is None:
            return self._reject(c, R.UNKNOWN_SYMBOL)
        if c.account not in self.balances_:
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        o = self._find(c.account, c.symbol, c.order_id, c.client_order_id)
        if o is None:
            return self._reject(c, R.UNKNOWN_ORDER)
        if c.symbol in self.halted:
            return self._reject(c, R.INSTRUMENT_HALTED)
        if c.new_price_ticks != 0 and not inst.valid_price(c.new_price_ticks):
            return self._reject(c, R.INVALID_PRICE)   # includes a negative price
        if c.new_qty_lots < 0:
            return self._reject(c, R.INVALID_QUANTITY)
        new_price = c.new_price_ticks or o.price
        new_qty = c.new_qty_lots or o.qty
        if c.new_qty_lots != 0 and (new_qty <= o.filled or new_qty < inst.min_qty_lots
                                    or new_qty > inst.max_qty_lots):
            return self._reject(c, R.INVALID_QUANTITY)
        if inst.notional(new_price, new_qty) < inst.min_notional:
            return self._reject(c, R.MIN_NOTIONAL)
        if o.order_type == OrderType.LIMIT_MAKER and self._would_take(c.symbol, o.side, new_price):
            return self._reject(c, R.WOULD_TAKE)
        new_remaining = new_qty - o.filled
        asset, old_hold = self.hold_of(o)
        if o.side == Side.BUY:
            new_hold = self._buy_hold(inst, new_price, new_remaining, o)
        else:
            new_hold = new_remaining * inst.lot_units
        if new_hold - old_hold > self._bal(o.account, asset)[0]:
            return self._reject(c, R.INSUFFICIENT_FUNDS)
        # AMBIGUITY: an amend that changes nothing (both fields 0, or equal to the current values) is
        # accepted: OrderAmended with kept_priority True, and no BookUpdated.
        kept = new_price == o.price and new_qty <= o.qty
        self._emit(OrderAmended, o.order_id, o.account, o.symbol, new_price, new_qty, new_remaining, kept)
        self._hold(o.account, asset, new_hold - old_hold)
        o.price, o.qty, o.remaining = new_price, new_qty, new_remaining
        if not kept:
            # Leaves its level, matches as a GTC taker with its own stp and fee rates, rests at the back.
            # AMBIGUITY: OrderView.ts_ns stays the SubmitOrder's ts_ns after an amend.
            self._remove(o)
            self._take(o)

    # ------------------------------------------------------------------ accounts and instruments

    def _deposit(self, c: Deposit) -> None:
        if c.asset not in self.assets:
            return self._reject(c, R.UNKNOWN_ASSET)
        if c.amount <= 0 or c.amount > MAX_AMOUNT or c.account < 0:
            return self._reject(c, R.INVALID_AMOUNT)
        if c.account in self.balances_:
            av, held = self._bal(c.account, c.asset)
            if av + held + c.amount > MAX_AMOUNT:
                return self._reject(c, R.BALANCE_LIMIT)
        self._open_account(c.account)
        b = self._bal(c.account, c.asset)
        b[0] += c.amount
        self.deposited[c.asset] += c.amount
        self._emit(BalanceChanged, c.account, c.asset, c.amount, b[0])

    def _withdraw(self, c: Withdraw) -> None:
        if c.asset not in self.assets:
            return self._reject(c, R.UNKNOWN_ASSET)
        # AMBIGUITY: Deposit's INVALID_AMOUNT includes "account < 0" (a deposit creates the account);
        # Withdraw's is read as the amount alone: a negative account was never created, so it is
        # UNKNOWN_ACCOUNT.
        if c.amount <= 0 or c.amount > MAX_AMOUNT:
            return self._reject(c, R.INVALID_AMOUNT)
        if c.account not in self.balances_:
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        b = self._bal(c.account, c.asset)
        if c.amount > b[0]:
            return self._reject(c, R.INSUFFICIENT_FUNDS)
        b[0] -= c.amount
        self.withdrawn[c.asset] += c.amount
        self._emit(BalanceChanged, c.account, c.asset, -c.amount, b[0])

    def _set_fee_tier(self, c: SetFeeTier) -> None:
        if c.account not in self.balances_:
            return self._reject(c, R.UNKNOWN_ACCOUNT)
        if c.tier not in self.fee_tiers:
            return self._reject(c, R.UNKNOWN_FEE_TIER)
        # AMBIGUITY: setting the tier an account already has is not NOTHING_TO_CHANGE; it is accepted.
        self.tiers[c.account] = c.tier
        self._emit(FeeTierChanged, c.account, c.tier)

    def _halt(self, c: HaltInstrument) -> None:
        if c.symbol not in self.instruments:
            return self._reject(c, R.UNKNOWN_SYMBOL)
        if c.symbol in self.halted:
            return self._reject(c, R.NOTHING_TO_CHANGE)
        self.halted.add(c.symbol)
        self._emit(InstrumentHalted, c.symbol)
        if c.expire_orders:
            for o in sorted(self.books[c.symbol], key=lambda o: o.order_id):
                self._end_resting(o, OrderExpired, EndReason.HALT)

    def _resume(self, c: ResumeInstrument) -> None:
        if c.symbol not in self.instruments:
            return self._reject(c, R.UNKNOWN_SYMBOL)
        if c.symbol not in self.halted:
            return self._reject(c, R.NOTHING_TO_CHANGE)
        self.halted.discard(c.symbol)
        self._emit(InstrumentResumed, c.symbol)
