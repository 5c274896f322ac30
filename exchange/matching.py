"""The matching loop and trade settlement (CONTRACT.md, "Matching"), and the per-command book update.

Functions, not methods: they take the engine and the book explicitly so the loop can bind everything it
touches to locals once. Complexity: O(fills + levels emptied x log levels).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .book import Order, OrderBook, buy_hold, fee
from .enums import STP, EndReason, OrderType, Side, TimeInForce
from .events import BookUpdated, TradeExecuted

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["take", "can_fill", "flush"]

_BUY: Final = Side.BUY
_MARKET: Final = OrderType.MARKET
_GTC: Final = TimeInForce.GTC
_EXPIRE_TAKER: Final = STP.EXPIRE_TAKER
_EXPIRE_BOTH: Final = STP.EXPIRE_BOTH
_EXPIRE_MAKER: Final = STP.EXPIRE_MAKER
_SELF_TRADE: Final = EndReason.SELF_TRADE
_INSUFFICIENT_FUNDS: Final = EndReason.INSUFFICIENT_FUNDS
_IOC_REMAINDER: Final = EndReason.IOC_REMAINDER
_FRONT_POPS_BEFORE_REPACK: Final = 64


def take(eng: "Engine", book: OrderBook, o: Order, ts: int, events: list, quote_left: int) -> None:
    """Match taker ``o`` (accepted, its hold taken) against the opposite side, then rest or end it.

    ``quote_left`` is the quote amount still to trade for a MARKET order by quote (0 otherwise).
    """
    k = book.k
    lot = book.lot
    fee_cell = book.fee_cell
    buy = o.side is _BUY
    if buy:
        levels, dirty = book.asks, book.dirty_asks
    else:
        levels, dirty = book.bids, book.dirty_bids
    market = o.order_type is _MARKET
    by_quote = market and not o.qty
    limit = o.price
    rem = o.remaining
    acct = o.account
    stp = o.stp
    taker_bps = o.taker_bps
    symbol = o.symbol
    oid = o.order_id
    aggressor = o.side
    end_reason = None
    done = False
    while not done:
        level = book.best_ask_level() if buy else book.best_bid_level()
        if level is None:
            break
        best = level.price
        if not market and (best > limit if buy else best < limit):
            break
        if level.key not in dirty:
            dirty[level.key] = level.total
        orders = level.orders
        while orders:
            for m in orders.values():   # the oldest; compiled, a C dict walk (next(iter()) built two objects)
                break
            if stp and m.account == acct:
                if stp is _EXPIRE_TAKER:
                    end_reason = _SELF_TRADE
                    done = True
                    break
                del orders[m.key]
                m.level = None
                level.front_pops += 1
                level.total -= m.remaining
                eng._end(m, ts, events, _SELF_TRADE)
                if stp is _EXPIRE_BOTH:
                    end_reason = _SELF_TRADE
                    done = True
                    break
                continue
            mrem = m.remaining
            if by_quote:
                q = quote_left // (best * k)
                if q == 0:
                    done = True
                    break
                if q > mrem:
                    q = mrem
                if not buy:
                    q_funds = o.hold // lot
                    if q_funds == 0:
                        end_reason = _INSUFFICIENT_FUNDS
                        done = True
                        break
                    if q > q_funds:
                        q = q_funds
            else:
                q = rem if rem < mrem else mrem
                if market and buy:
                    # Market buy by quantity: spend at most the budget (fees included).
                    unit = best * k
                    cost = q * unit
                    if cost + fee(cost, taker_bps) > o.hold:
                        q = o.hold * 10000 // (unit * (10000 + taker_bps))
                        cost = (q + 1) * unit
                        if cost + fee(cost, taker_bps) <= o.hold:
                            q += 1
                        if q == 0:
                            end_reason = _INSUFFICIENT_FUNDS
                            done = True
                            break
            n = best * (q * k)
            taker_fee = fee(n, taker_bps)
            maker_fee = fee(n, m.maker_bps)
            base = q * lot
            fee_cell.available += taker_fee + maker_fee
            if buy:
                cell = o.quote_cell
                if market:
                    spend = n + taker_fee
                    o.hold -= spend
                    cell.held -= spend
                else:
                    hold = buy_hold(limit, rem - q, k, o.hold_bps)
                    freed = o.hold - hold
                    cell.held -= freed
                    cell.available += freed - n - taker_fee
                    o.hold = hold
                o.base_cell.available += base
                m.hold -= base
                m.base_cell.held -= base
                m.quote_cell.available += n - maker_fee
            else:
                o.hold -= base
                o.base_cell.held -= base
                o.quote_cell.available += n - taker_fee
                m.base_cell.available += base
                cell = m.quote_cell
                hold = buy_hold(m.price, mrem - q, k, m.hold_bps)
                freed = m.hold - hold
                cell.held -= freed
                cell.available += freed - n - maker_fee
                m.hold = hold
            eng._seq = seq = eng._seq + 1
            events.append(TradeExecuted(seq, ts, symbol, best, q, n, aggressor, m.order_id, m.account, oid,
                                        acct, maker_fee, taker_fee))
            m.filled += q
            o.filled += q
            level.total -= q
            if mrem == q:
                del orders[m.key]
                m.level = None
                level.front_pops += 1
                owner = m.owner
                del owner.orders[m.key]
                if m.client_order_id:
                    del owner.cids[m.client_order_id]
                m.remaining = 0
            else:
                m.remaining = mrem - q
            if by_quote:
                quote_left -= n
                if not quote_left:
                    done = True
                    break
            else:
                rem -= q
                if not rem:
                    done = True
                    break
        if not orders:
            del levels[level.key]
        elif level.front_pops > _FRONT_POPS_BEFORE_REPACK and level.front_pops > len(orders):
            book.compact_level(level)
    o.remaining = rem
    if end_reason is not None:
        eng._end(o, ts, events, end_reason)
    elif market:
        if quote_left if by_quote else rem:
            eng._end(o, ts, events, _IOC_REMAINDER)
        elif o.hold:
            # Filled: what the budget did not spend goes back without an event.
            cell = o.quote_cell if buy else o.base_cell
            cell.available += o.hold
            cell.held -= o.hold
            o.hold = 0
    elif rem:
        if o.tif is _GTC:
            same_dirty = book.dirty_bids if buy else book.dirty_asks
            if limit not in same_dirty:
                same_level = (book.bids if buy else book.asks).get(limit)
                same_dirty[limit] = same_level.total if same_level is not None else 0
            eng._place(book, o)
        else:
            eng._end(o, ts, events, _IOC_REMAINDER)


def can_fill(book: OrderBook, o: Order) -> bool:
    """Whether FOK order ``o`` could fill completely without expiring anything (CONTRACT.md, FOK).
    O(levels log levels) for the crossing levels: FOK orders are rare."""
    need = o.qty
    if o.side is _BUY:
        levels = book.asks
        prices = sorted(p for p in levels if p <= o.price)
    else:
        levels = book.bids
        prices = sorted((p for p in levels if p >= o.price), reverse=True)
    stp, acct = o.stp, o.account
    for p in prices:
        for m in levels[p].orders.values():
            if stp and m.account == acct:
                if stp is _EXPIRE_MAKER:
                    continue
                return False
            need -= m.remaining
            if need <= 0:
                return True
    return False


def _changes(dirty: dict, levels: dict, best_first_descending: bool) -> tuple:
    """(price, new total) for each dirty level whose total changed, in book order; clears ``dirty``."""
    changes = []
    for key, before in dirty.items():
        level = levels.get(key)
        now = level.total if level is not None else 0
        if now != before:
            changes.append((key, now))
    dirty.clear()
    if len(changes) > 1:
        changes.sort(reverse=best_first_descending)
    return tuple(changes)


def flush(eng: "Engine", book: OrderBook, ts: int, events: list) -> None:
    """Emit one BookUpdated for the levels whose total changed during this command, if any."""
    bids = _changes(book.dirty_bids, book.bids, True) if book.dirty_bids else ()
    asks = _changes(book.dirty_asks, book.asks, False) if book.dirty_asks else ()
    if bids or asks:
        book.update_id += 1
        eng._seq = seq = eng._seq + 1
        events.append(BookUpdated(seq, ts, book.symbol, book.update_id, bids, asks))
