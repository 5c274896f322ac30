"""Columnar recording of a run's market data: trades, L1 changes and periodic L2 snapshots.

Memory: per symbol, one numpy array per column, grown by doubling (amortised O(1) per event, ~8 bytes
per column value, no Python object per event; DESIGN.md §5, reference §4.6 "bounded, columnar sinks").

Columns (all int64 but ``side``, int8; prices in the instrument's price ticks, quantities in lots):

- trades: ``ts_ns, price_ticks, qty_lots, side`` (side 1 = the taker bought, 2 = the taker sold);
- l1: ``ts_ns, bid, bid_qty, ask, ask_qty`` (0 when that side is empty); a state equal to the last one
  recorded is not stored again (it adds nothing to previous-tick sampling);
- l2: ``ts_ns`` (n,) and ``bid_px, bid_qty, ask_px, ask_qty`` (n, levels), best level first, zero-padded.
  A snapshot is kept at most once per ``l2_every_ns`` grid slot: the first offered at or after each
  multiple of ``l2_every_ns``; ``l2_due`` lets the caller skip building snapshots that would be dropped.

Files (``save``), in the run directory:

- ``trades.npz``, ``l1.npz``, ``l2.npz``: numpy zip archives with one array per ``"<symbol>/<column>"``
  and ``"_meta"`` (the JSON below as a 0-d string array), readable with ``numpy.load(path)`` (no pickle);
- ``recording.json``: format, symbols, columns and their units, and each symbol's decimal-string scale
  ``{"price_unit": "1000", "lot_size": "0.0001"}``: price = ``price_ticks × price_unit`` quote per base,
  quantity = ``qty_lots × lot_size`` base.

The archives are byte-identical for identical data: zip entries carry a fixed 1980-01-01 timestamp and
are written in sorted order (``numpy.savez`` would stamp the wall-clock time).
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

FORMAT = "bdax-sim-recording/1"
FILES = {"trades": "trades.npz", "l1": "l1.npz", "l2": "l2.npz"}
META_FILE = "recording.json"
TRADE_COLUMNS = (("ts_ns", np.int64), ("price_ticks", np.int64), ("qty_lots", np.int64), ("side", np.int8))
L1_COLUMNS = (("ts_ns", np.int64), ("bid", np.int64), ("bid_qty", np.int64), ("ask", np.int64),
              ("ask_qty", np.int64))
L2_SIDES = ("bid_px", "bid_qty", "ask_px", "ask_qty")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_INITIAL_ROWS = 1024


class RecorderError(ValueError):
    """A recording call or file was invalid; the message names the symbol, field and fix."""


class _Columns:
    """Growable columns of one table: ``arrays[i][:n]`` is column i. Amortised O(1) append by doubling;
    a 2-d column (width > 1) grows along its first axis."""

    __slots__ = ("names", "arrays", "n")

    def __init__(self, spec: tuple[tuple[str, type], ...], width: int = 0) -> None:
        self.names = tuple(name for name, _ in spec)
        self.arrays = [np.zeros((_INITIAL_ROWS, width) if width and name != "ts_ns" else _INITIAL_ROWS, dtype)
                       for name, dtype in spec]
        self.n = 0

    def reserve(self) -> int:
        """Index of the next row, growing every column when full."""
        i = self.n
        if i == self.arrays[0].shape[0]:
            self.arrays = [np.concatenate([a, np.zeros_like(a)]) for a in self.arrays]
        return i

    def view(self) -> dict[str, np.ndarray]:
        out = {}
        for name, a in zip(self.names, self.arrays):
            v = a[: self.n]
            v.flags.writeable = False
            out[name] = v
        return out

    @classmethod
    def from_arrays(cls, spec: tuple[tuple[str, type], ...], cols: dict[str, np.ndarray]) -> "_Columns":
        self = cls.__new__(cls)
        self.names = tuple(name for name, _ in spec)
        self.arrays = [np.array(cols[name], dtype=dtype) for name, dtype in spec]  # own, writable copies
        self.n = int(self.arrays[0].shape[0])
        return self


class Recorder:
    """Records trades, L1 changes and L2 snapshots of ``symbols`` as columns.

    Calls for one symbol must come in non-decreasing ``ts_ns`` (the simulator's clock); a call for an
    unknown symbol or with invalid fields raises RecorderError and records nothing.
    """

    def __init__(self, symbols: list[str], l2_levels: int = 10, l2_every_ns: int = 1_000_000_000) -> None:
        if isinstance(symbols, str) or not symbols or not all(isinstance(s, str) and s for s in symbols):
            raise RecorderError(f"symbols must be a non-empty list of symbol names, got {symbols!r}")
        if len(set(symbols)) != len(symbols):
            raise RecorderError(f"symbols must be distinct, got {symbols!r}")
        if any("/" in s for s in symbols):
            raise RecorderError(f"symbol names may not contain '/' (used in archive keys), got {symbols!r}")
        if not isinstance(l2_levels, int) or l2_levels < 1:
            raise RecorderError(f"l2_levels must be a positive int, got {l2_levels!r}")
        if not isinstance(l2_every_ns, int) or l2_every_ns < 1:
            raise RecorderError(f"l2_every_ns must be a positive int of nanoseconds, got {l2_every_ns!r}")
        self.symbols = list(symbols)
        self.l2_levels = l2_levels
        self.l2_every_ns = l2_every_ns
        self.price_scale: dict[str, tuple[str, str]] = {}
        self._trades = {s: _Columns(TRADE_COLUMNS) for s in symbols}
        self._l1 = {s: _Columns(L1_COLUMNS) for s in symbols}
        self._l2 = {s: _Columns((("ts_ns", np.int64),) + tuple((c, np.int64) for c in L2_SIDES), l2_levels)
                    for s in symbols}
        self._l1_last: dict[str, tuple[int, int, int, int] | None] = {s: None for s in symbols}
        self._last_ts = {s: -(2**63) for s in symbols}
        self._l2_next = {s: -(2**63) for s in symbols}

    # ------------------------------------------------------------------ recording (hot path)

    def _clock(self, symbol: str, ts_ns: int) -> None:
        last = self._last_ts.get(symbol)
        if last is None:
            raise RecorderError(f"symbol {symbol!r} is not recorded (recording {self.symbols})")
        if ts_ns < last:
            raise RecorderError(f"{symbol}: ts_ns {ts_ns} is before the previous record's {last}; "
                                "record events in simulator time order")
        self._last_ts[symbol] = ts_ns

    def on_trade(self, symbol: str, ts_ns: int, price_ticks: int, qty_lots: int, taker_side: int) -> None:
        """Record one fill. ``taker_side``: 1 the taker bought, 2 the taker sold. O(1) amortised."""
        if taker_side != 1 and taker_side != 2:
            raise RecorderError(f"{symbol}: taker_side must be 1 (buy) or 2 (sell), got {taker_side!r}")
        if price_ticks <= 0 or qty_lots <= 0:
            raise RecorderError(f"{symbol}: a trade needs positive price_ticks and qty_lots, "
                                f"got {price_ticks!r} x {qty_lots!r}")
        self._clock(symbol, ts_ns)
        cols = self._trades[symbol]
        i = cols.reserve()
        a = cols.arrays
        a[0][i] = ts_ns
        a[1][i] = price_ticks
        a[2][i] = qty_lots
        a[3][i] = taker_side
        cols.n = i + 1

    def on_l1(self, symbol: str, ts_ns: int, bid_ticks: int, bid_lots: int, ask_ticks: int,
              ask_lots: int) -> None:
        """Record the best bid/ask after a change (0 for an empty side). An unchanged state is skipped."""
        if bid_ticks < 0 or bid_lots < 0 or ask_ticks < 0 or ask_lots < 0:
            raise RecorderError(f"{symbol}: L1 fields must be >= 0 (0 = empty side), got "
                                f"{bid_ticks}/{bid_lots} x {ask_ticks}/{ask_lots}")
        self._clock(symbol, ts_ns)
        state = (bid_ticks, bid_lots, ask_ticks, ask_lots)
        if state == self._l1_last[symbol]:
            return
        self._l1_last[symbol] = state
        cols = self._l1[symbol]
        i = cols.reserve()
        a = cols.arrays
        a[0][i] = ts_ns
        a[1][i] = bid_ticks
        a[2][i] = bid_lots
        a[3][i] = ask_ticks
        a[4][i] = ask_lots
        cols.n = i + 1

    def l2_due(self, symbol: str, ts_ns: int) -> bool:
        """True if ``on_l2`` at ``ts_ns`` would be kept (lets the caller skip building the snapshot)."""
        return ts_ns >= self._l2_next[symbol]

    def on_l2(self, symbol: str, ts_ns: int, bids: list[tuple[int, int]],
              asks: list[tuple[int, int]]) -> None:
        """Offer an L2 snapshot (best level first, (price_ticks, qty_lots) pairs); kept if due, the first
        ``l2_levels`` levels of each side stored."""
        if symbol not in self._l2_next:
            raise RecorderError(f"symbol {symbol!r} is not recorded (recording {self.symbols})")
        if ts_ns < self._l2_next[symbol]:
            return
        for name, side in (("bids", bids), ("asks", asks)):
            for p, q in side[: self.l2_levels]:
                if p <= 0 or q <= 0:
                    raise RecorderError(f"{symbol}: L2 {name} levels need positive (price_ticks, qty_lots), "
                                        f"got {(p, q)!r}")
        self._clock(symbol, ts_ns)
        cols = self._l2[symbol]
        i = cols.reserve()
        a = cols.arrays
        a[0][i] = ts_ns
        for side, (px, qty) in ((bids, (a[1], a[2])), (asks, (a[3], a[4]))):
            for j, (p, q) in enumerate(side[: self.l2_levels]):
                px[i, j] = p
                qty[i, j] = q
        cols.n = i + 1
        self._l2_next[symbol] = (ts_ns // self.l2_every_ns + 1) * self.l2_every_ns

    # ------------------------------------------------------------------ reads

    def trades(self, symbol: str) -> dict[str, np.ndarray]:
        """Read-only column views ``ts_ns, price_ticks, qty_lots, side`` (valid after later appends)."""
        return self._table(self._trades, symbol).view()

    def l1(self, symbol: str) -> dict[str, np.ndarray]:
        """Read-only column views ``ts_ns, bid, bid_qty, ask, ask_qty``."""
        return self._table(self._l1, symbol).view()

    def l2(self, symbol: str) -> dict[str, np.ndarray]:
        """Read-only views ``ts_ns`` (n,) and ``bid_px, bid_qty, ask_px, ask_qty`` (n, l2_levels)."""
        return self._table(self._l2, symbol).view()

    def _table(self, tables: dict[str, _Columns], symbol: str) -> _Columns:
        try:
            return tables[symbol]
        except KeyError:
            raise RecorderError(f"symbol {symbol!r} is not recorded (recording {self.symbols})") from None

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per symbol and table."""
        return {s: {"trades": self._trades[s].n, "l1": self._l1[s].n, "l2": self._l2[s].n}
                for s in self.symbols}

    # ------------------------------------------------------------------ files

    def save(self, run_dir: Path, price_scale: dict[str, tuple[str, str]]) -> None:
        """Write ``trades.npz``, ``l1.npz``, ``l2.npz`` and ``recording.json`` into ``run_dir`` (created).

        ``price_scale[symbol] = (price_unit, lot_size)`` as decimal strings, for every recorded symbol.
        Files are written to a temporary name and renamed, so a reader never sees half a file.
        """
        scale = _check_scale(price_scale, self.symbols)
        self.price_scale = {s: scale[s] for s in self.symbols}
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        meta = self._meta()
        meta_text = json.dumps(meta, sort_keys=True, indent=2) + "\n"
        for table, store in (("trades", self._trades), ("l1", self._l1), ("l2", self._l2)):
            arrays = {f"{s}/{name}": col for s in self.symbols for name, col in store[s].view().items()}
            arrays["_meta"] = np.array(meta_text)
            _write_npz(run_dir / FILES[table], arrays)
        _atomic_write(run_dir / META_FILE, meta_text.encode())

    def _meta(self) -> dict:
        return {
            "format": FORMAT,
            "symbols": self.symbols,
            "files": FILES,
            "columns": {
                "trades": {"ts_ns": "ns", "price_ticks": "price ticks", "qty_lots": "lots",
                           "side": "taker side: 1 buy, 2 sell"},
                "l1": {"ts_ns": "ns", "bid": "price ticks, 0 = empty", "bid_qty": "lots",
                       "ask": "price ticks, 0 = empty", "ask_qty": "lots"},
                "l2": {"ts_ns": "ns", "bid_px": "price ticks (n, levels), 0 = no level", "bid_qty": "lots",
                       "ask_px": "price ticks (n, levels), 0 = no level", "ask_qty": "lots"},
            },
            "price_scale": {s: {"price_unit": p, "lot_size": q} for s, (p, q) in self.price_scale.items()},
            "l2_levels": self.l2_levels,
            "l2_every_ns": self.l2_every_ns,
            "rows": self.counts(),
        }

    @classmethod
    def load(cls, run_dir: Path) -> "Recorder":
        """Read a run directory written by ``save`` back into a Recorder (with ``price_scale`` set).

        Raises RecorderError if a file is missing, of another format, or inconsistent.
        """
        run_dir = Path(run_dir)
        meta_path = run_dir / META_FILE
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise RecorderError(f"{meta_path} not found: not a recorded run directory") from None
        except ValueError as exc:
            raise RecorderError(f"{meta_path} is not valid JSON: {exc}") from None
        if meta.get("format") != FORMAT:
            raise RecorderError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        rec = cls(list(meta["symbols"]), int(meta["l2_levels"]), int(meta["l2_every_ns"]))
        rec.price_scale = {s: (v["price_unit"], v["lot_size"]) for s, v in meta["price_scale"].items()}
        l2_spec = (("ts_ns", np.int64),) + tuple((c, np.int64) for c in L2_SIDES)
        for table, spec, store in (("trades", TRADE_COLUMNS, rec._trades), ("l1", L1_COLUMNS, rec._l1),
                                   ("l2", l2_spec, rec._l2)):
            path = run_dir / FILES[table]
            if not path.exists():
                raise RecorderError(f"{path} not found (recording.json lists it)")
            with np.load(path, allow_pickle=False) as z:
                for s in rec.symbols:
                    try:
                        cols = {name: z[f"{s}/{name}"] for name, _ in spec}
                    except KeyError as exc:
                        raise RecorderError(f"{path}: missing column {exc} for {s}") from None
                    store[s] = _Columns.from_arrays(spec, cols)
                    if store[s].n != meta["rows"][s][table]:
                        raise RecorderError(f"{path}: {s} has {store[s].n} rows, recording.json says "
                                            f"{meta['rows'][s][table]}")
        for s in rec.symbols:
            ts = [rec._trades[s], rec._l1[s], rec._l2[s]]
            rec._last_ts[s] = max((int(c.arrays[0][c.n - 1]) for c in ts if c.n), default=-(2**63))
            l1 = rec._l1[s]
            if l1.n:
                last = [int(l1.arrays[k][l1.n - 1]) for k in range(1, 5)]
                rec._l1_last[s] = (last[0], last[1], last[2], last[3])
            l2 = rec._l2[s]
            if l2.n:
                rec._l2_next[s] = (int(l2.arrays[0][l2.n - 1]) // rec.l2_every_ns + 1) * rec.l2_every_ns
        return rec


def to_prices(price_ticks: np.ndarray, price_unit: str) -> np.ndarray:
    """Ticks as float prices, for analysis and plots only (never back into an engine)."""
    return np.asarray(price_ticks, dtype=np.float64) * float(Decimal(price_unit))


def format_price(price_ticks: int, price_unit: str) -> str:
    """One price as an exact decimal string."""
    return str(int(price_ticks) * Decimal(price_unit))


def _check_scale(price_scale: dict, symbols: list[str]) -> dict[str, tuple[str, str]]:
    if not isinstance(price_scale, dict):
        raise RecorderError("price_scale must be a dict {symbol: (price_unit, lot_size)} of decimal strings")
    out = {}
    for s in symbols:
        if s not in price_scale:
            raise RecorderError(f"price_scale has no entry for {s!r}: give (price_unit, lot_size), "
                                "e.g. instrument.price_unit and instrument.lot_size as strings")
        pair = price_scale[s]
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise RecorderError(f"price_scale[{s!r}] must be (price_unit, lot_size), got {pair!r}")
        for what, text in zip(("price_unit", "lot_size"), pair):
            try:
                d = Decimal(str(text))
            except InvalidOperation:
                d = Decimal("NaN")
            if not isinstance(text, (str, Decimal)) or not d.is_finite() or d <= 0:
                raise RecorderError(f"price_scale[{s!r}] {what} must be a positive decimal string, "
                                    f"got {text!r}")
        out[s] = (str(pair[0]), str(pair[1]))
    return out


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A numpy-loadable zip with fixed entry timestamps and sorted entries, so the bytes depend only on
    the data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            arr = np.asarray(arrays[key])
            # (np.ascontiguousarray would turn the 0-d "_meta" into shape (1,))
            arr = arr if arr.flags.c_contiguous else arr.copy()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    _atomic_write(path, buf.getvalue())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
