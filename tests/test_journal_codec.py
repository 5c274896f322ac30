"""The command codec and the record framing: round trips, enum restoration, refusals."""
from __future__ import annotations

import re
from enum import IntEnum

import hypothesis.strategies as st
import pytest
from hypothesis import given

from exchange import (STP, AmendOrder, CancelAll, CancelOrder, Deposit, HaltInstrument, OrderType,
                      ResumeInstrument, SetFeeTier, Side, SubmitOrder, TimeInForce, Withdraw)
from exchange.commands import COMMAND_TYPES
from exchange.journal.codec import CodecError, decode, decode_batch, encode, encode_batch
from exchange.journal.segments import frame, scan_segment, segment_header
from test_journal_streams import random_commands

i64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=40)
symbol = st.sampled_from(["BTC-USDT", "ETH-KRW", ""]) | text
enum_or_int = lambda e: st.sampled_from(list(e)) | st.integers(-5, 300)  # noqa: E731 - invalid values too

commands = st.one_of(
    st.builds(Deposit, i64, i64, text, i64),
    st.builds(Withdraw, i64, i64, text, i64),
    st.builds(SetFeeTier, i64, i64, i64),
    st.builds(SubmitOrder, i64, i64, symbol, enum_or_int(Side), enum_or_int(OrderType),
              enum_or_int(TimeInForce), i64, i64, i64, text, st.none() | enum_or_int(STP)),
    st.builds(CancelOrder, i64, i64, symbol, i64, text),
    st.builds(CancelAll, i64, i64, st.none() | symbol),
    st.builds(AmendOrder, i64, i64, symbol, i64, i64, i64, text),
    st.builds(HaltInstrument, i64, symbol, st.booleans()),
    st.builds(ResumeInstrument, i64, symbol),
)


def _same(back, original) -> bool:
    """Equal values of the same types, except that a valid enum value given as a plain int comes back as
    its member (the engine takes either, CONTRACT.md "Typed commands")."""
    return back == original and type(back) is type(original) and all(
        type(x) is type(y) or (isinstance(x, IntEnum) and type(y) is int) for x, y in zip(back, original))


@given(commands)
def test_round_trip_keeps_class_values_and_enum_types(command):
    assert _same(decode(encode(command)), command)


def test_every_command_type_round_trips_from_a_real_stream():
    stream = random_commands(11, 600)
    assert {type(c) for c in stream} == set(COMMAND_TYPES.values())
    for command in stream:
        assert _same(decode(encode(command)), command)


def test_invalid_enum_values_come_back_as_the_ints_they_were():
    # The engine rejects side=7 with INVALID_ORDER_SPEC; replay must hand it the same 7, not fail.
    cmd = SubmitOrder(1, 2, "BTC-USDT", 7, OrderType.LIMIT, 9, 100, 5, stp=42)
    back = decode(encode(cmd))
    assert back == cmd and back.side == 7 and type(back.side) is int and back.order_type is OrderType.LIMIT
    assert back.stp == 42 and type(back.tif) is int


def test_a_submit_order_is_compact():
    cmd = SubmitOrder(1_700_000_000_123_456_789, 1234, "BTC-KRW", Side.BUY, OrderType.LIMIT, TimeInForce.GTC,
                      95_000, 37)
    assert len(encode(cmd)) <= 40


@pytest.mark.parametrize("payload, message", [
    (b"\xc1", "not msgpack"),
    (b"\x93\x63\x01\x02", "unknown command tag 99"),
    (b"\x92\x09\x01", "ResumeInstrument needs 2 fields"),
    (b"\x05", "not [tag, *fields]"),
    (b"\x90", "not [tag, *fields]"),
])
def test_decode_refuses_what_is_not_an_encoded_command(payload, message):
    with pytest.raises(CodecError, match=re.escape(message)):
        decode(payload)


def test_encode_refuses_what_is_not_a_command():
    with pytest.raises(CodecError, match="not a command type"):
        encode((1, 2, 3))
    with pytest.raises(CodecError, match="cannot encode"):
        encode(Deposit(1, 2, "BTC", object()))


@given(st.lists(commands, max_size=20))
def test_batch_round_trip_is_the_elements_round_trips(batch):
    payload = encode_batch(batch)
    back = decode_batch(payload)
    assert len(back) == len(batch) and all(_same(x, y) for x, y in zip(back, batch))
    # A frame's payload is a msgpack array of exactly the bytes each command encodes to on its own.
    assert payload.endswith(b"".join(encode(c) for c in batch))


def test_decode_batch_refuses_what_is_not_an_array_of_commands():
    with pytest.raises(CodecError, match="not an array"):
        decode_batch(b"\x05")
    with pytest.raises(CodecError, match="unknown command tag"):
        decode_batch(b"\x91\x91\x63")
    with pytest.raises(CodecError, match="not a command type"):
        encode_batch([Deposit(1, 2, "BTC", 3), (1, 2)])


def test_frames_scan_back(tmp_path):
    stream = random_commands(12, 50)
    data = (segment_header(1) + frame(1, 20, encode_batch(stream[:20]))
            + frame(21, 30, encode_batch(stream[20:])))
    path = tmp_path / "journal-000000000001.seg"
    info = scan_segment(path, data, last=True)
    assert (info.first_seq, info.count, info.valid_end, info.torn_bytes) == (1, 50, len(data), 0)
    assert list(info.seqs) == [1, 21] and info.last_seq == 50


def test_liquidity_commands_round_trip_with_their_depth_levels_as_tuples():
    from exchange.liquidity import ChildFilled, Health, PartnerQuote, PartnerStatus, SettlementFailed
    cmds = [PartnerQuote(1, "binance", "BTC-USDT", 0, ((10, 2), (9, 3)), ()),
            PartnerStatus(2, "ftx", Health.DEFAULTED, "chapter 11"),
            ChildFilled(3, "huobi", 7, 5, 500, 1, 0), SettlementFailed(4, 9, "payer down")]
    for c in cmds:
        assert decode(encode(c)) == c
    assert decode_batch(encode_batch(cmds)) == cmds
    assert type(decode(encode(cmds[0])).bids[0]) is tuple
    with pytest.raises(CodecError, match="not a list of levels"):
        decode(encode(PartnerQuote(1, "b", "S", 0, 5, ())))   # type: ignore[arg-type]
