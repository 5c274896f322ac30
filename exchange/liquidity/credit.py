"""Pre-trade credit of a pooled book's partner venues: marks, what open orders reserve, the admission check.

**Usage** of a venue is, per asset, what it owes net per counterparty plus what it has in settlement
(:meth:`ObligationLedger.usage`). **Reserved** is, per asset, the most its open orders could still add to
it if every lot filled against another venue: a buy its notional at its limit price (quote; a fill at a
better price books less, fees are not obligations), a sell its base. A fill moves at most what it
consumes from reserved into usage, in the same asset, so ``usage + reserved`` (a vector of amounts) never
grows except when the check below admits an order; settlements, failures and cancels only shrink it.

**Valuation groups.** A limit is a number of ledger units of a quote asset. Every quote asset ``g`` of the
book's instruments is a group and the limit applies to each group on its own (one group in a one-quote
book): an amount of ``g`` counts at face, an amount of an asset that is the base of symbols quoted in ``g``
counts at the highest of those symbols' marks, rounded up; other assets do not count in ``g``.
The **mark** of a symbol is its last trade price; before its first trade, the highest limit price of the
orders admitted on it (so a resting sell is never valued below its own price while nothing has traded).

**Admission** of an order that could add ``x`` of asset ``a`` (:meth:`CreditBook.check`): for every group
``g`` ``a`` counts in, ``value_g(usage) + value_g(reserved) + value_g(x) <= limit`` at the current marks,
where a sell's base counts at ``max(limit price, mark)`` (a market sell's at ``max(best bid, mark)``).
Admitting records, per venue and group, the marks the check used.

**Guarantee** (tested): for every partner venue and group, at all times, ``value_g(usage + reserved)``
at the marks of the venue's last admitted check in that group is ``<= limit``; in particular no fill
takes usage over the limit valued at those marks, and what a default writes off (usage) is bounded by it.
Not guaranteed: the value at *today's* marks. When the mark of a base the venue owes rises by ``d`` ticks
after the check, usage valued at the new mark can exceed the limit by up to ``owed base x d`` (in quote
units); the next order of that venue is then refused until settlements, cancels or a falling mark bring
it back under. Fees a partner holds for the operator are not credit (they are bounded by fee rates times
the volume between two settlements).
"""
from __future__ import annotations

from typing import NamedTuple

from exchange.instruments import Instrument

__all__ = ["Reservation", "Verdict", "CreditBook"]


class Reservation:
    """What one open limit order of a partner venue reserves: ``amount`` of ``asset`` (buy: quote notional
    of the remaining lots at the limit price; sell: base of the remaining lots)."""

    __slots__ = ("order_id", "account", "venue", "symbol", "buy", "price", "remaining", "asset", "amount")

    def __init__(self, order_id: int, account: int, venue: str, symbol: str, buy: bool, price: int,
                 remaining: int, asset: str, amount: int) -> None:
        self.order_id = order_id
        self.account = account
        self.venue = venue
        self.symbol = symbol
        self.buy = buy
        self.price = price
        self.remaining = remaining
        self.asset = asset
        self.amount = amount


class Verdict(NamedTuple):
    """The outcome of a credit check. When refused, ``group`` is the first group over its limit with the
    values (quote ledger units of that group) that made it so."""

    ok: bool
    group: str
    owed: int
    reserved: int
    add: int
    limit: int
    seed_symbol: str   # "" or the untraded symbol whose seed mark admitting raises to seed_price
    seed_price: int


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class CreditBook:
    """Marks, reservations and admission checks for the partner venues of a pooled book.

    Args:
        instruments: the book's instruments by symbol.
        limits: partner venue -> credit limit (ledger units of each group's quote asset; 0: no credit).
    """

    def __init__(self, instruments: dict[str, Instrument], limits: dict[str, int]) -> None:
        self.instruments: dict[str, Instrument] = dict(instruments)
        self.limits: dict[str, int] = dict(limits)
        # asset -> group -> symbols (base asset, quoted in group); a quote asset maps to itself with [].
        self._priced: dict[str, dict[str, list[str]]] = {}
        for symbol in sorted(self.instruments):
            inst = self.instruments[symbol]
            self._priced.setdefault(inst.quote.name, {}).setdefault(inst.quote.name, [])
        for symbol in sorted(self.instruments):
            inst = self.instruments[symbol]
            self._priced.setdefault(inst.base.name, {}).setdefault(inst.quote.name, []).append(symbol)
        # (asset, group) -> (symbol, quote units per tick-lot, base units per lot) per pricing symbol.
        self._pricing: dict[tuple[str, str], list[tuple[str, int, int]]] = {
            (asset, group): [(s, self.instruments[s].quote_units_per_tick_lot, self.instruments[s].lot_units)
                             for s in symbols]
            for asset, by_group in self._priced.items() for group, symbols in by_group.items()}
        self._marks: dict[str, int] = {}          # symbol -> mark (ticks)
        self._traded: set[str] = set()            # symbols whose mark is a trade price
        self._orders: dict[int, Reservation] = {}
        self._by_venue: dict[str, dict[int, Reservation]] = {v: {} for v in self.limits}
        self._reserved: dict[str, dict[str, int]] = {v: {} for v in self.limits}
        self._check_marks: dict[tuple[str, str], dict[str, int]] = {}   # (venue, group) -> marks
        self.max_usage: dict[str, dict[str, int]] = {v: {} for v in self.limits}

    # ------------------------------------------------------------------ marks
    def mark(self, symbol: str) -> int:
        """The symbol's mark in ticks (0: no trade and no admitted order yet)."""
        return self._marks.get(symbol, 0)

    def on_trade(self, symbol: str, price: int) -> None:
        self._marks[symbol] = price
        self._traded.add(symbol)

    def groups_of(self, asset: str) -> list[str]:
        """The groups ``asset`` counts in."""
        return list(self._priced.get(asset, {}))

    def groups(self) -> list[str]:
        return sorted({g for by_group in self._priced.values() for g in by_group})

    def value(self, asset: str, amount: int, group: str, marks: dict[str, int]) -> int:
        """``amount`` of ``asset`` in ledger units of ``group`` at ``marks``, rounded up (0 if it does not
        count in the group). O(symbols of the asset in the group)."""
        if asset == group:
            return amount
        best = 0
        for symbol, k, lot in self._pricing.get((asset, group), ()):
            v = -(-amount * marks.get(symbol, 0) * k // lot)
            if v > best:
                best = v
        return best

    def value_of(self, amounts: dict[str, int], group: str, marks: dict[str, int]) -> int:
        total = 0
        for asset, amount in amounts.items():
            if amount > 0:
                total += self.value(asset, amount, group, marks)
        return total

    # ------------------------------------------------------------------ the check
    def check(self, venue: str, usage: dict[str, int], asset: str, amount: int, symbol: str,
              sell_price: int, seed_price: int) -> Verdict:
        """Could ``venue`` take on an order adding up to ``amount`` of ``asset``? (module docstring)

        Args:
            usage: the venue's usage vector (from the obligation ledger).
            symbol: the order's symbol; ``sell_price`` the price a sell's base counts at, at least (0 for a
                buy); ``seed_price`` the price that seeds the symbol's mark if it has never traded (a limit
                order's price, a market sell's best bid, or 0).
        Returns:
            a Verdict; pass it to :meth:`admit` if the order goes ahead. O(assets owed or reserved).
        """
        marks = self._marks
        seed_symbol = ""
        if seed_price > 0 and symbol not in self._traded and seed_price > marks.get(symbol, 0):
            marks = dict(marks)
            marks[symbol] = seed_price
            seed_symbol = symbol
        limit = self.limits[venue]
        combined = self.committed(venue, usage)
        inst = self.instruments[symbol]
        first = Verdict(True, "", 0, 0, 0, limit, seed_symbol, seed_price)
        for group in self._priced.get(asset, {}):
            # usage + reserved is valued as one vector (one rounding per asset): that sum is what never
            # grows between checks, so the guarantee is about its value.
            total = self.value_of(combined, group, marks)
            owed = self.value_of(usage, group, marks)
            if sell_price and asset == inst.base.name and group == inst.quote.name:
                price = max(sell_price, marks.get(symbol, 0))
                add = _ceil_div(amount * price * inst.quote_units_per_tick_lot, inst.lot_units)
            else:
                add = self.value(asset, amount, group, marks)
            highs = self.max_usage[venue]
            if owed > highs.get(group, 0):
                highs[group] = owed
            if total + add > limit:
                return Verdict(False, group, owed, total - owed, add, limit, seed_symbol, seed_price)
            if not first.group:
                first = Verdict(True, group, owed, total - owed, add, limit, seed_symbol, seed_price)
        return first

    def committed(self, venue: str, usage: dict[str, int]) -> dict[str, int]:
        """Per asset, ``usage + reserved`` of ``venue`` (a new dict)."""
        combined = dict(usage)
        for asset, amount in self._reserved[venue].items():
            combined[asset] = combined.get(asset, 0) + amount
        return combined

    def marks_now(self) -> dict[str, int]:
        """A copy of the current marks (what :meth:`admit` records)."""
        return dict(self._marks)

    def admit(self, venue: str, asset: str, verdict: Verdict, marks: dict[str, int]) -> None:
        """Record an admitted check: seed an untraded symbol's mark, and remember for every group ``asset``
        counts in the marks the check used (``marks``: :meth:`marks_now` taken with the check, before any
        trade of the admitted order; this method keeps it)."""
        if verdict.seed_symbol and verdict.seed_symbol not in self._traded:
            self._marks[verdict.seed_symbol] = verdict.seed_price
            marks[verdict.seed_symbol] = verdict.seed_price
        for group in self._priced.get(asset, {}):
            self._check_marks[(venue, group)] = marks

    def check_marks(self, venue: str, group: str) -> dict[str, int] | None:
        """The marks of ``venue``'s last admitted check in ``group`` (None: none yet)."""
        marks = self._check_marks.get((venue, group))
        return None if marks is None else dict(marks)

    def note_usage(self, venue: str, usage: dict[str, int]) -> None:
        """Track the highest value of ``venue``'s usage at the current marks, per group (for reports; the
        hub samples it at every check and settlement tick, not at every fill, which would cost a valuation
        per fill on the hot path)."""
        highs = self.max_usage[venue]
        for group in {g for asset in usage for g in self._priced.get(asset, {})}:
            v = self.value_of(usage, group, self._marks)
            if v > highs.get(group, 0):
                highs[group] = v

    # ------------------------------------------------------------------ reservations
    def reserve(self, order_id: int, account: int, venue: str, symbol: str, buy: bool, price: int,
                remaining: int) -> None:
        """An order of partner ``venue`` was accepted (a limit order: it may rest). O(1)."""
        inst = self.instruments[symbol]
        if buy:
            asset, amount = inst.quote.name, price * remaining * inst.quote_units_per_tick_lot
        else:
            asset, amount = inst.base.name, remaining * inst.lot_units
        r = Reservation(order_id, account, venue, symbol, buy, price, remaining, asset, amount)
        self._orders[order_id] = r
        self._by_venue[venue][order_id] = r
        self._bump(venue, asset, amount)

    def need(self, symbol: str, buy: bool, price: int, remaining: int) -> tuple[str, int]:
        """(asset, amount) a limit order of ``remaining`` lots at ``price`` reserves."""
        inst = self.instruments[symbol]
        if buy:
            return inst.quote.name, price * remaining * inst.quote_units_per_tick_lot
        return inst.base.name, remaining * inst.lot_units

    def _bump(self, venue: str, asset: str, amount: int) -> None:
        reserved = self._reserved[venue]
        value = reserved.get(asset, 0) + amount
        if value:
            reserved[asset] = value
        else:
            del reserved[asset]

    def on_fill(self, order_id: int, qty: int) -> None:
        """``qty`` lots of a reserved order traded. O(1); no-op for orders without a reservation."""
        r = self._orders.get(order_id)
        if r is None:
            return
        inst = self.instruments[r.symbol]
        cut = r.price * qty * inst.quote_units_per_tick_lot if r.buy else qty * inst.lot_units
        r.remaining -= qty
        r.amount -= cut
        self._bump(r.venue, r.asset, -cut)
        if r.remaining == 0:
            del self._orders[order_id]
            del self._by_venue[r.venue][order_id]

    def on_end(self, order_id: int) -> None:
        """A reserved order was canceled or expired: release what it reserved. O(1)."""
        r = self._orders.pop(order_id, None)
        if r is not None:
            del self._by_venue[r.venue][order_id]
            self._bump(r.venue, r.asset, -r.amount)

    def on_amend(self, order_id: int, price: int, remaining: int) -> None:
        """A reserved order now has ``remaining`` lots at ``price``. O(1)."""
        r = self._orders.get(order_id)
        if r is None:
            return
        self.on_end(order_id)
        self.reserve(order_id, r.account, r.venue, r.symbol, r.buy, price, remaining)

    def reservation(self, order_id: int) -> Reservation | None:
        return self._orders.get(order_id)

    def reserved(self, venue: str) -> dict[str, int]:
        """Per asset, what ``venue``'s open orders reserve (a copy)."""
        return dict(self._reserved[venue])

    def accounts_with_orders(self, venue: str) -> list[int]:
        """Accounts of ``venue`` with open (reserved) orders, ascending."""
        return sorted({r.account for r in self._by_venue[venue].values()})

    def open_count(self, venue: str) -> int:
        return len(self._by_venue[venue])

    def state(self) -> dict:
        """Marks and check marks (reservations are a function of the engine's open orders)."""
        return {
            "marks": dict(sorted(self._marks.items())), "traded": sorted(self._traded),
            "check_marks": sorted([v, g, sorted(m.items())] for (v, g), m in self._check_marks.items()),
        }

    def _check(self, expected: dict[int, tuple[str, str, bool, int, int]]) -> None:
        """Assert the reservations equal ``expected`` (order_id -> venue, symbol, buy, price, remaining,
        from the engine's open orders) and the per-venue sums match them."""
        got = {oid: (r.venue, r.symbol, r.buy, r.price, r.remaining) for oid, r in self._orders.items()}
        assert got == expected, f"reservations {got} != open orders of partner venues {expected}"
        sums: dict[str, dict[str, int]] = {v: {} for v in self.limits}
        for oid, r in self._orders.items():
            assert (r.asset, r.amount) == self.need(r.symbol, r.buy, r.price, r.remaining), oid
            assert self._by_venue[r.venue].get(oid) is r, oid
            sums[r.venue][r.asset] = sums[r.venue].get(r.asset, 0) + r.amount
        assert sum(len(x) for x in self._by_venue.values()) == len(self._orders)
        assert sums == self._reserved, f"reserved {self._reserved} != sum of reservations {sums}"
