"""What the venues of a pooled book owe each other, and what each of them physically holds.

A pure ledger (no engine, no clock): :class:`~exchange.liquidity.pooled.PooledVenue` feeds it the facts
(cross-venue fills, fees, deposits and withdrawals, settlement outcomes, defaults) and reads it back.
Amounts are ledger units of each asset, all ints.

Model (reference sim-and-liquidity.md §4.2):

- **Open obligations** are kept *netted* per venue pair and asset: booking "A owes B x" first reduces
  what B owes A in that asset, so for each pair and asset at most one direction is open.
- **Settlement** (:meth:`ObligationLedger.start_settlement`) turns every open net into a batch
  (payer, payee, asset, amount) and moves it *in settlement*: still owed, and not netted against
  obligations booked later (the transfer is already on its way). :meth:`complete` discharges a batch (the
  custody moves from payer to payee); :meth:`fail` books it back as open (netted again next time).
- **Fees** a partner's customers pay go to the pool operator's fee account, which sits on the home venue's
  side, but the money is physically at the partner: the partner *holds them for the operator* (not an
  inter-venue obligation: they carry no credit) until a fee batch (payer the partner, payee home) settles
  them with the other batches.
- **Default** (:meth:`default`): the defaulter's payables (open and in settlement) and the fees it holds are
  written off: each creditor keeps a *claim* it will not see in custody, the defaulter is *released*; its
  batches as payer are dead. What others owe the defaulter stays (its estate is still owed).
- **Custody**: deposits to a venue's customers add to the venue's custody, withdrawals subtract, completed
  batches move it. With the venue's customers' engine balances ``B_V`` (the home venue's side also counts
  every account outside the venues' ranges: the fee account and the operator's) the identity is, per
  asset, ``custody_V == B_V + gap_V`` with ``gap_V`` = payable - receivable (open and in settlement) +
  fees held for the operator (partners) - fees every partner holds (home) - claims + released
  (:meth:`custody_gap`). The gaps sum to zero over the venues, so the custodies sum to the engine's net
  deposits.
- **Usage** (what credit limits are about): per venue and asset, ``sum over counterparties of max(0,
  open net owed) + in settlement owed``, kept incrementally. Along any sequence of settlements and
  failures it never grows; only a booking can raise it, by at most the booked amount.

Complexity: every operation is O(1) dict work except :meth:`start_settlement` (O(open pairs x assets))
and :meth:`default` (O(pairs + batches)).
"""
from __future__ import annotations

from typing import Hashable, NamedTuple, Sequence, TypeVar

__all__ = ["Batch", "WriteOff", "ObligationLedger", "NET", "FEES"]

NET = "net"      # a batch settling the open net of a venue pair in one asset
FEES = "fees"    # a batch remitting the fees a partner held for the pool operator

Pair = tuple[str, str]
K = TypeVar("K", bound=Hashable)


class Batch(NamedTuple):
    """A settlement transfer: ``payer`` sends ``payee`` ``amount`` of ``asset``; ``kind`` NET or FEES."""

    batch_id: int
    payer: str
    payee: str
    asset: str
    amount: int
    kind: str


class WriteOff(NamedTuple):
    """At a default: ``amount`` of ``asset`` the defaulter owed ``creditor`` (open + in settlement for
    kind NET; the operator's fees it held for kind FEES) and will never pay."""

    creditor: str
    asset: str
    amount: int
    kind: str


def _add(table: dict[K, dict[str, int]], key: K, asset: str, amount: int) -> None:
    """table[key][asset] += amount, dropping zeros so that equal ledgers have equal states. Keys are venues
    (usage, fees, claims) or (debtor, creditor) pairs (open and in-flight obligations)."""
    inner = table.setdefault(key, {})
    value = inner.get(asset, 0) + amount
    if value:
        inner[asset] = value
    else:
        inner.pop(asset, None)
        if not inner:
            del table[key]


class ObligationLedger:
    """Obligations, settlement batches, fees held for the operator and custody of a pooled book's venues.

    Args:
        venues: every venue's name, the home venue among them (order fixes every iteration order).
        home: the pool host: the operator's fee account sits on its side.
        assets: the engine's assets (custody is kept for each).

    Raises:
        ValueError: home not among the venues, or a venue named twice.
    """

    def __init__(self, venues: Sequence[str], home: str, assets: Sequence[str]) -> None:
        if home not in venues:
            raise ValueError(f"home venue {home!r} is not among the venues {list(venues)}")
        if len(set(venues)) != len(venues):
            raise ValueError(f"venue names must be unique, got {list(venues)}")
        self.venues: tuple[str, ...] = tuple(venues)
        self.home: str = home
        self.assets: tuple[str, ...] = tuple(sorted(assets))
        self._rank: dict[str, int] = {v: i for i, v in enumerate(self.venues)}
        self._open: dict[Pair, dict[str, int]] = {}          # (debtor, creditor) -> asset -> amount > 0
        self._inflight: dict[Pair, dict[str, int]] = {}      # (payer, payee) -> asset -> live NET batches
        self._batches: dict[int, Batch] = {}                 # live batches by id
        self._dead: dict[int, Batch] = {}                    # batches whose payer defaulted, not yet answered
        self._fees: dict[str, dict[str, int]] = {}           # partner -> asset -> fees held, not in a batch
        self._fees_inflight: dict[str, dict[str, int]] = {}  # partner -> asset -> fees in live FEES batches
        self._usage: dict[str, dict[str, int]] = {}          # venue -> asset -> usage (module docstring)
        self._claims: dict[str, dict[str, int]] = {}         # creditor -> asset -> written off, owed to it
        self._released: dict[str, dict[str, int]] = {}       # defaulter -> asset -> written off, it owed
        self.custody: dict[str, dict[str, int]] = {v: {a: 0 for a in self.assets} for v in self.venues}
        self.defaulted: set[str] = set()
        self._next_batch: int = 1

    # ------------------------------------------------------------------ facts coming in
    def book(self, debtor: str, creditor: str, asset: str, amount: int) -> None:
        """``debtor`` now owes ``creditor`` ``amount`` (> 0) more of ``asset``, netted against what the
        creditor owed the debtor in that asset. O(1).

        Raises:
            ValueError: a defaulted debtor, the same venue on both sides, or amount <= 0.
        """
        if amount <= 0 or debtor == creditor or debtor in self.defaulted:
            raise ValueError(f"cannot book {debtor} owing {creditor} {amount} {asset}: the debtor must be a live "
                             f"venue other than the creditor and the amount positive")
        back = self._open.get((creditor, debtor))
        owed_back = back.get(asset, 0) if back is not None else 0
        if owed_back:
            cut = owed_back if owed_back < amount else amount
            _add(self._open, (creditor, debtor), asset, -cut)
            _add(self._usage, creditor, asset, -cut)
            amount -= cut
        if amount:
            _add(self._open, (debtor, creditor), asset, amount)
            _add(self._usage, debtor, asset, amount)

    def book_fee(self, venue: str, asset: str, amount: int) -> None:
        """A customer of partner ``venue`` paid the operator ``amount`` of ``asset`` in fees; the partner
        holds it until the next fee batch. No-op for the home venue (the fee account is on its side) and
        for amount 0."""
        if amount and venue != self.home:
            _add(self._fees, venue, asset, amount)

    def deposit(self, venue: str, asset: str, amount: int) -> None:
        """A customer of ``venue`` deposited (amount > 0) or withdrew (amount < 0): its custody moves."""
        self.custody[venue][asset] += amount

    # ------------------------------------------------------------------ settlement
    def start_settlement(self) -> list[Batch]:
        """Net every venue pair's open obligations and the fees partners hold into batches, in venue order
        then asset order, and move them in settlement. Returns the new batches (empty if nothing is open).
        O(open pairs x assets)."""
        out: list[Batch] = []
        rank = self._rank
        for pair in sorted(self._open, key=lambda p: (rank[p[0]], rank[p[1]])):
            payer, payee = pair
            for asset, amount in sorted(self._open[pair].items()):
                out.append(self._new_batch(payer, payee, asset, amount, NET))
                _add(self._inflight, pair, asset, amount)
        self._open.clear()   # usage unchanged: max(0, open) moved, unchanged, into "in settlement"
        for venue in self.venues:
            held = self._fees.pop(venue, None)
            if held:
                for asset, amount in sorted(held.items()):
                    out.append(self._new_batch(venue, self.home, asset, amount, FEES))
                    _add(self._fees_inflight, venue, asset, amount)
        return out

    def _new_batch(self, payer: str, payee: str, asset: str, amount: int, kind: str) -> Batch:
        batch = Batch(self._next_batch, payer, payee, asset, amount, kind)
        self._next_batch += 1
        self._batches[batch.batch_id] = batch
        return batch

    def complete(self, batch_id: int) -> str:
        """Batch ``batch_id`` arrived: discharge it and move the custody from payer to payee.

        Returns ``"done"``, ``"dead"`` (its payer defaulted first: nothing changes, the write-off stands) or
        ``"unknown"`` (never started, or already answered: nothing changes).
        """
        batch = self._batches.pop(batch_id, None)
        if batch is None:
            return "dead" if self._dead.pop(batch_id, None) is not None else "unknown"
        _, payer, payee, asset, amount, kind = batch
        if kind == NET:
            _add(self._inflight, (payer, payee), asset, -amount)
            _add(self._usage, payer, asset, -amount)
        else:
            _add(self._fees_inflight, payer, asset, -amount)
        self.custody[payer][asset] -= amount
        self.custody[payee][asset] += amount
        return "done"

    def fail(self, batch_id: int) -> str:
        """Batch ``batch_id`` failed: its amount is open again (netted with what was booked meanwhile).
        Returns ``"failed"``, ``"dead"`` or ``"unknown"`` as :meth:`complete`."""
        batch = self._batches.pop(batch_id, None)
        if batch is None:
            return "dead" if self._dead.pop(batch_id, None) is not None else "unknown"
        _, payer, payee, asset, amount, kind = batch
        if kind == NET:
            _add(self._inflight, (payer, payee), asset, -amount)
            _add(self._usage, payer, asset, -amount)
            self.book(payer, payee, asset, amount)
        else:
            _add(self._fees_inflight, payer, asset, -amount)
            _add(self._fees, payer, asset, amount)
        return "failed"

    # ------------------------------------------------------------------ default
    def default(self, venue: str) -> list[WriteOff]:
        """``venue`` defaulted: write off everything it owes (open and in settlement, per creditor in venue
        order and asset in name order) and the fees it holds for the operator; its batches as payer are
        dead. Returns the write-offs (empty on a second call). O(pairs + batches).

        Raises:
            ValueError: ``venue`` is the home venue (the pool host cannot default here) or unknown.
        """
        if venue == self.home or venue not in self._rank:
            raise ValueError(f"only a partner venue can default, got {venue!r}")
        if venue in self.defaulted:
            return []
        self.defaulted.add(venue)
        owed: dict[tuple[str, str], int] = {}
        for table in (self._open, self._inflight):
            for (debtor, creditor), amounts in list(table.items()):
                if debtor == venue:
                    for asset, amount in amounts.items():
                        owed[(creditor, asset)] = owed.get((creditor, asset), 0) + amount
                    del table[(debtor, creditor)]
        for batch_id in sorted(self._batches):
            batch = self._batches[batch_id]
            if batch.payer == venue:
                self._dead[batch_id] = self._batches.pop(batch_id)
        out: list[WriteOff] = []
        rank = self._rank
        for (creditor, asset) in sorted(owed, key=lambda k: (rank[k[0]], k[1])):
            amount = owed[(creditor, asset)]
            out.append(WriteOff(creditor, asset, amount, NET))
            _add(self._claims, creditor, asset, amount)
            _add(self._released, venue, asset, amount)
        self._usage.pop(venue, None)
        fees: dict[str, int] = {}
        for table2 in (self._fees, self._fees_inflight):
            for asset, amount in table2.pop(venue, {}).items():
                fees[asset] = fees.get(asset, 0) + amount
        for asset in sorted(fees):
            out.append(WriteOff(self.home, asset, fees[asset], FEES))
            _add(self._claims, self.home, asset, fees[asset])
            _add(self._released, venue, asset, fees[asset])
        return out

    # ------------------------------------------------------------------ reads
    def rank(self, venue: str) -> int:
        """The venue's position in :attr:`venues` (the order pairs and reports use)."""
        return self._rank[venue]

    def usage(self, venue: str) -> dict[str, int]:
        """Per asset, what ``venue`` owes net of what each counterparty owes it (open) plus what it has in
        settlement. The ledger's own dict: do not change it. O(1)."""
        return self._usage.get(venue, _EMPTY)

    def owed_by(self, venue: str) -> dict[tuple[str, str], int]:
        """(creditor, asset) -> what ``venue`` owes it, open plus in settlement. O(pairs)."""
        out: dict[tuple[str, str], int] = {}
        for table in (self._open, self._inflight):
            for (debtor, creditor), amounts in table.items():
                if debtor == venue:
                    for asset, amount in amounts.items():
                        out[(creditor, asset)] = out.get((creditor, asset), 0) + amount
        return out

    def fees_held(self, venue: str) -> dict[str, int]:
        """Fees partner ``venue`` holds for the operator, open plus in a batch."""
        out = dict(self._fees.get(venue, {}))
        for asset, amount in self._fees_inflight.get(venue, {}).items():
            out[asset] = out.get(asset, 0) + amount
        return out

    def open_nets(self) -> dict[Pair, dict[str, int]]:
        """(debtor, creditor) -> asset -> open net amount (copies)."""
        return {pair: dict(v) for pair, v in self._open.items()}

    def in_settlement(self) -> dict[Pair, dict[str, int]]:
        """(payer, payee) -> asset -> amount in live NET batches (copies)."""
        return {pair: dict(v) for pair, v in self._inflight.items()}

    def batch(self, batch_id: int) -> Batch | None:
        """A live batch, or None."""
        return self._batches.get(batch_id)

    def batches(self) -> list[Batch]:
        """Live batches, by id."""
        return [self._batches[k] for k in sorted(self._batches)]

    def claims(self, venue: str) -> dict[str, int]:
        return dict(self._claims.get(venue, {}))

    def custody_gap(self, venue: str) -> dict[str, int]:
        """Per asset, ``custody - customers' balances`` the ledger accounts for (module docstring). O(pairs)."""
        gap = {a: 0 for a in self.assets}
        for table in (self._open, self._inflight):
            for (debtor, creditor), amounts in table.items():
                for asset, amount in amounts.items():
                    if debtor == venue:
                        gap[asset] += amount
                    elif creditor == venue:
                        gap[asset] -= amount
        if venue == self.home:
            for partner in self.venues:
                for asset, amount in self.fees_held(partner).items():
                    gap[asset] -= amount
        else:
            for asset, amount in self.fees_held(venue).items():
                gap[asset] += amount
        for asset, amount in self._claims.get(venue, {}).items():
            gap[asset] -= amount
        for asset, amount in self._released.get(venue, {}).items():
            gap[asset] += amount
        return gap

    def state(self) -> dict:
        """The ledger as canonical JSON-able data (for the hub's state hash)."""
        def pairs(table: dict[Pair, dict[str, int]]) -> list:
            return sorted([d, c, a, x] for (d, c), v in table.items() for a, x in v.items())

        def nested(table: dict[str, dict[str, int]]) -> dict:
            return {k: dict(sorted(v.items())) for k, v in sorted(table.items()) if v}

        return {
            "open": pairs(self._open), "in_settlement": pairs(self._inflight),
            "batches": [list(self._batches[k]) for k in sorted(self._batches)],
            "dead": [list(self._dead[k]) for k in sorted(self._dead)],
            "fees": nested(self._fees), "fees_in_settlement": nested(self._fees_inflight),
            "claims": nested(self._claims), "released": nested(self._released),
            "custody": nested(self.custody), "defaulted": sorted(self.defaulted), "next_batch": self._next_batch,
        }

    def _check(self) -> None:
        """Assert the ledger's invariants: one direction per pair and asset, positive amounts, in-settlement
        sums equal to the live batches, usage equal to its definition, and the gaps summing to zero."""
        for table in (self._open, self._inflight):
            for (debtor, creditor), amounts in table.items():
                assert debtor != creditor and amounts, (debtor, creditor, amounts)
                assert all(x > 0 for x in amounts.values()), (debtor, creditor, amounts)
                assert debtor not in self.defaulted, f"defaulted {debtor} still owes {creditor} {amounts}"
        for (debtor, creditor), amounts in self._open.items():
            back = self._open.get((creditor, debtor), {})
            assert not set(amounts) & set(back), f"{debtor}<->{creditor} open both ways in {set(amounts) & set(back)}"
        inflight: dict[Pair, dict[str, int]] = {}
        fees_inflight: dict[str, dict[str, int]] = {}
        for batch in self._batches.values():
            assert batch.amount > 0 and batch.payer not in self.defaulted, batch
            if batch.kind == NET:
                _add(inflight, (batch.payer, batch.payee), batch.asset, batch.amount)
            else:
                assert batch.kind == FEES and batch.payee == self.home, batch
                _add(fees_inflight, batch.payer, batch.asset, batch.amount)
        assert inflight == self._inflight, f"in settlement {self._inflight} != live batches {inflight}"
        assert fees_inflight == self._fees_inflight, (fees_inflight, self._fees_inflight)
        assert not set(self._batches) & set(self._dead)
        usage: dict[str, dict[str, int]] = {}
        for table in (self._open, self._inflight):
            for (debtor, _), amounts in table.items():
                for asset, amount in amounts.items():
                    _add(usage, debtor, asset, amount)
        assert usage == self._usage, f"usage {self._usage} != recomputed {usage}"
        for venue in self.defaulted:
            assert venue not in self._fees and venue not in self._fees_inflight, venue
        totals = {a: 0 for a in self.assets}
        for venue in self.venues:
            for asset, amount in self.custody_gap(venue).items():
                totals[asset] += amount
        assert all(x == 0 for x in totals.values()), f"custody gaps do not cancel out: {totals}"


_EMPTY: dict[str, int] = {}
