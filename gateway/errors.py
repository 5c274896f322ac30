"""Binance-shaped errors: ``{"code": <negative int>, "msg": "..."}`` with an HTTP 4xx status.

:class:`BinanceError` is raised anywhere in the gateway (parameter parsing, auth, rate limits, engine
rejects); the handler installed by :func:`install_handlers` turns it into the REST answer, and the
WebSocket API wraps the same code and message as ``{"id", "status", "error": {"code", "msg"}}``.

Codes and messages follow Binance's spot error list (developers.binance.com, "Error Codes"); where ccxt
matches on the message text (binance-compat §8.6) the text is Binance's exactly. Every engine
:class:`~exchange.RejectReason` maps to exactly one (code, message): :data:`REJECT_ERRORS`.
"""
from __future__ import annotations

from exchange import RejectReason

__all__ = ["BinanceError", "REJECT_ERRORS", "reject_error", "install_handlers", "bad_param",
           "missing_param", "INSUFFICIENT_BALANCE_MSG"]

INSUFFICIENT_BALANCE_MSG = "Account has insufficient balance for requested action."

_R = RejectReason
# One (code, msg) per reason. ccxt maps -2010 + INSUFFICIENT_BALANCE_MSG to InsufficientFunds, other -2010
# to InvalidOrder, -1013 with the filter name to InvalidOrder, -2011 to OrderNotFound, -1121 to BadSymbol.
REJECT_ERRORS: dict[RejectReason, tuple[int, str]] = {
    _R.UNKNOWN_SYMBOL: (-1121, "Invalid symbol."),
    _R.UNKNOWN_ASSET: (-1100, "Illegal characters found in parameter 'asset'; unknown asset."),
    _R.INVALID_PRICE: (-1013, "Filter failure: PRICE_FILTER"),
    _R.INVALID_QUANTITY: (-1013, "Filter failure: LOT_SIZE"),
    _R.MIN_NOTIONAL: (-1013, "Filter failure: NOTIONAL"),
    _R.INVALID_ORDER_SPEC: (-1106, "Order parameters are inconsistent for this order type."),
    _R.INVALID_AMOUNT: (-1111, "Amount must be positive and within the ledger's range."),
    _R.UNKNOWN_FEE_TIER: (-1100, "Illegal characters found in parameter 'tier'; unknown fee tier."),
    _R.INSUFFICIENT_FUNDS: (-2010, INSUFFICIENT_BALANCE_MSG),
    _R.BALANCE_LIMIT: (-2010, "Balance would exceed the ledger's maximum."),
    _R.INSTRUMENT_HALTED: (-2010, "Market is closed."),
    _R.WOULD_TAKE: (-2010, "Order would immediately match and take."),
    _R.UNKNOWN_ORDER: (-2011, "Unknown order sent."),
    _R.NOTHING_TO_CHANGE: (-2010, "Nothing to change: the instrument is already in that state."),
    _R.UNKNOWN_ACCOUNT: (-2010, "Account has no balances yet; deposit before trading."),
    _R.DUPLICATE_CLIENT_ORDER_ID: (-2010, "Duplicate order sent."),
}
assert set(REJECT_ERRORS) == set(RejectReason), "every RejectReason needs exactly one (code, msg)"
assert len(set(REJECT_ERRORS.values())) == len(REJECT_ERRORS), "each reject maps to its own message"


class BinanceError(Exception):
    """An error answered in Binance's shape. ``http_status`` is 400 unless said otherwise (401 for
    unknown keys and permissions, 429 for rate limits, 5xx for the server's own failures)."""

    def __init__(self, code: int, msg: str, http_status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = headers or {}

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def reject_error(reason: int) -> BinanceError:
    """The BinanceError for an engine reject reason."""
    code, msg = REJECT_ERRORS[RejectReason(reason)]
    return BinanceError(code, msg)


def missing_param(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def bad_param(name: str, why: str = "") -> BinanceError:
    """-1100 for a parameter whose value cannot be read; ``why`` says what a valid one looks like."""
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'" + (f"; {why}" if why else "."))


def install_handlers(app) -> None:
    """Answer BinanceError and FastAPI's own validation errors in Binance's shape."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    async def on_binance(_request, exc: BinanceError):
        return JSONResponse(exc.body(), status_code=exc.http_status, headers=exc.headers)

    async def on_validation(_request, exc: RequestValidationError):
        errors = exc.errors()
        loc = errors[0].get("loc", ()) if errors else ()
        name = str(loc[-1]) if loc else "?"
        return JSONResponse(bad_param(name, "the value is not valid.").body(), status_code=400)

    app.add_exception_handler(BinanceError, on_binance)
    app.add_exception_handler(RequestValidationError, on_validation)
