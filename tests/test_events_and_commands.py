"""exchange/events.py and exchange/commands.py: the reading surface of events, the typing rule of commands,
and the stable tags journals depend on."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from exchange import commands as C
from exchange import events as E
from exchange.commands import check_types
from exchange.enums import STP, EndReason, OrderType, RejectReason, Side, TimeInForce


def trade(**changes):
    fields = dict(seq=7, ts_ns=1, symbol="BTC-KRW", price_ticks=100, qty_lots=2, quote_amount=200,
                  aggressor=Side.BUY, maker_order_id=3, maker_account=1, taker_order_id=7, taker_account=2,
                  maker_fee=1, taker_fee=2)
    fields.update(changes)
    return E.TradeExecuted(*fields.values())


def test_events_read_like_namedtuples():
    ev = trade()
    assert ev._fields[:3] == ("seq", "ts_ns", "symbol") and len(ev) == 13
    assert list(ev) == list(ev.astuple()) and ev._asdict()["quote_amount"] == 200
    assert ev == trade() and hash(ev) == hash(trade()) and ev != trade(qty_lots=3)
    assert ev != tuple(ev)                       # an event equals only an event of its own type
    assert repr(ev).startswith("TradeExecuted(seq=7, ts_ns=1, symbol='BTC-KRW'")


def test_every_event_lists_its_fields_in_constructor_order():
    # Checked on the source (ast), so it holds for the compiled build too: _fields, __slots__ and the
    # constructor's parameters must be the same names in the same order.
    source = Path(__file__).resolve().parents[1] / "exchange" / "events.py"
    classes = {node.name: node for node in ast.parse(source.read_text()).body if isinstance(node, ast.ClassDef)}
    for cls in E.EVENT_TYPES.values():
        node = classes[cls.__name__]
        assigned = {}
        init = None
        for item in node.body:
            if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
                assigned[item.targets[0].id] = ast.literal_eval(item.value)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                assigned[item.target.id] = ast.literal_eval(item.value)
            elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
                init = [a.arg for a in item.args.args[1:]]
        assert init == list(assigned["__slots__"]) == list(assigned["_fields"]) == list(cls._fields), cls


def test_compiled_events_are_read_only():
    ev = trade()
    if E.__file__.endswith(".py"):
        pytest.skip("interpreted: Final is a promise, not enforced")
    with pytest.raises(AttributeError):
        ev.qty_lots = 5  # type: ignore[misc]


def test_tags_are_stable():
    # Journals on disk store these numbers: renumbering one breaks every existing journal.
    assert {t: c.__name__ for t, c in C.COMMAND_TYPES.items()} == {
        1: "Deposit", 2: "Withdraw", 3: "SetFeeTier", 4: "SubmitOrder", 5: "CancelOrder", 6: "CancelAll",
        7: "AmendOrder", 8: "HaltInstrument", 9: "ResumeInstrument"}
    assert [c.__name__ for c in E.EVENT_TYPES.values()][:4] == [
        "OrderAccepted", "OrderRejected", "CommandRejected", "TradeExecuted"]


def test_reject_reasons_are_numbered_by_stage():
    stages = {r.name: r.stage.name for r in RejectReason}
    assert stages["INVALID_PRICE"] == "VALIDATION" and stages["INSUFFICIENT_FUNDS"] == "FUNDS"
    assert stages["WOULD_TAKE"] == "MATCHING" and stages["DUPLICATE_CLIENT_ORDER_ID"] == "ACCOUNT"
    assert len({r.value for r in RejectReason}) == len(RejectReason)


@pytest.mark.parametrize("command, field", [
    (C.Deposit(0, 1, "BTC", 1.5), "amount"),
    (C.Deposit(0, True, "BTC", 1), "account"),
    (C.SubmitOrder(0, 1, "X", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, "100", 1), "price_ticks"),
    (C.CancelOrder(0, 1, None, 5), "symbol"),
    (C.AmendOrder(0, 1, "X", 5, None), "new_qty_lots"),
    (C.HaltInstrument(None, "X"), "ts_ns"),
])
def test_check_types_names_the_mistyped_field(command, field):
    with pytest.raises(TypeError, match=f"{type(command).__name__}.{field} must be"):
        check_types(command)


def test_check_types_accepts_well_typed_commands_and_enum_ints():
    check_types(C.SubmitOrder(0, 1, "X", 1, 1, 1, 100, 1, 0, "c1", None))
    check_types(C.SubmitOrder(0, 1, "X", Side.SELL, OrderType.MARKET, TimeInForce.IOC, 0, 0, 5, "", STP.NONE))
    check_types(C.CancelAll(0, 1, None))
    check_types(C.HaltInstrument(0, "X", True))
    with pytest.raises(TypeError, match="not an engine command"):
        check_types(("not", "a", "command"))
    assert EndReason.USER == 1
