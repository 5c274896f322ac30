"""Fan-out (gateway/fanout.py) and the hub's backpressure: a stalled client is dropped with a reason,
every other client gets every message, and publishing never waits."""
from __future__ import annotations

import asyncio
import json

import pytest

from exchange import Side
from gateway import wsdirect
from gateway.fanout import FanoutStats, Outbox
from gateway.streams import StreamLimits, _Conn
from market_helpers import MarketHarness

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class FakeSocket:
    """A client: ``stalled`` ones never finish a send (a peer that stopped reading)."""

    def __init__(self, stalled: bool = False) -> None:
        self.stalled = stalled
        self.got: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.got.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_outbox_drops_a_stalled_client_and_keeps_a_healthy_one():
    async def main():
        stats = FanoutStats()
        slow_sock, fast_sock = FakeSocket(stalled=True), FakeSocket()
        dropped = []
        slow = Outbox(slow_sock.send, slow_sock.close, 8, stats, on_drop=lambda: dropped.append("slow"))
        fast = Outbox(fast_sock.send, fast_sock.close, 8, stats)
        slow.start()
        fast.start()
        accepted = []
        for i in range(40):
            accepted.append(slow.offer(f"m{i}"))
            fast.offer(f"m{i}")
            if i % 4 == 3:
                await asyncio.sleep(0)      # the healthy writer drains between bursts
                await asyncio.sleep(0)
        await fast.flush()
        await asyncio.sleep(0.01)
        # The stalled writer took m0 into its send; m1..m8 filled the queue; m9 dropped the client.
        assert accepted == [True] * 9 + [False] * 31
        assert dropped == ["slow"] and slow.closed and not slow.queue
        assert slow_sock.closed[0] == 1008 and "slow consumer" in slow_sock.closed[1]
        assert fast_sock.got == [f"m{i}" for i in range(40)] and fast_sock.closed is None
        assert stats.clients_dropped == 1 and stats.messages_sent == 40
        await slow.aclose()
        await fast.aclose()
    asyncio.run(main())


def test_outbox_rejects_a_zero_queue():
    with pytest.raises(ValueError):
        Outbox(FakeSocket().send, FakeSocket().close, 0, FanoutStats())


def test_hub_drops_the_stalled_subscriber_and_others_get_every_message():
    async def main():
        h = MarketHarness(StreamLimits(send_queue=16))
        hub = h.hub
        hub.auto_tick = False
        socks = [FakeSocket(stalled=True), FakeSocket(), FakeSocket()]
        conns = []
        for sock in socks:
            box = []
            outbox = Outbox(sock.send, sock.close, hub.limits.send_queue, hub.stats,
                            on_drop=lambda box=box: hub._remove(box[0]))
            conn = _Conn(outbox, combined=False)
            box.append(conn)
            hub.conns.add(conn)
            outbox.start()
            hub.handle_message(conn, json.dumps({"method": "SUBSCRIBE", "id": 1, "params": [
                "ethusdt@trade", "ethusdt@depth@100ms"]}))
            conns.append(conn)
        for sock in socks[1:]:
            await asyncio.sleep(0)
        trades = 0
        for i in range(60):
            h.order(1, "ETH-USDT", Side.SELL, "100.00", "1")       # synchronous: the pump never waits
            events = h.order(2, "ETH-USDT", Side.BUY, None, "1")
            trades += sum(type(e).__name__ == "TradeExecuted" for e in events)
            if i % 5 == 4:
                hub.flush_diffs(100)
                await asyncio.sleep(0)
        hub.flush_diffs(100)
        for c in conns[1:]:
            await c.outbox.flush()
        await asyncio.sleep(0.01)
        stalled, a, b = socks
        assert conns[0].outbox.closed and stalled.closed[0] == 1008
        assert conns[0] not in hub.subs["ethusdt@trade"] and hub.stats.clients_dropped == 1
        for sock in (a, b):
            msgs = [json.loads(t) for t in sock.got]
            assert msgs[0] == {"result": None, "id": 1}
            got_trades = [m for m in msgs if m.get("e") == "trade"]
            assert len(got_trades) == trades == 60
            assert [m["t"] for m in got_trades] == sorted(m["t"] for m in got_trades)
            diffs = [m for m in msgs if m.get("e") == "depthUpdate"]
            assert diffs and all(d2["U"] == d1["u"] + 1 for d1, d2 in zip(diffs, diffs[1:]))
            assert diffs[-1]["u"] == h.engine.depth("ETH-USDT").update_id
        assert a.got == b.got
        assert hub.stats.messages_sent == len(a.got) + len(b.got) + len(stalled.got)
        for c in conns:
            await c.outbox.aclose()
    asyncio.run(main())


def test_an_idle_outbox_sends_at_once_and_a_paused_send_keeps_the_order():
    """A message offered to an idle outbox is on the socket before ``offer`` returns; one whose send has
    to wait (a paused transport) is finished by the writer before anything offered after it."""
    async def main():
        gate = asyncio.Event()
        got: list[str] = []

        async def send(text: str) -> None:
            if text == "slow":
                await gate.wait()
            got.append(text)

        box = Outbox(send, FakeSocket().close, 8, FanoutStats())
        box.start()
        await asyncio.sleep(0)          # the writer is now waiting for work
        assert box.offer("a") and got == ["a"]
        assert box.offer("slow") and box.offer("b") and box.offer("c")
        await asyncio.sleep(0.01)
        assert got == ["a"]             # "b", "c" wait behind the paused send
        gate.set()
        await box.flush()
        assert got == ["a", "slow", "b", "c"] and box.stats.messages_sent == 4
        assert box.offer("d") and got[-1] == "d"
        await box.aclose()
    asyncio.run(main())


class FakeDirect:
    """A DirectWriter stand-in: records each write (the messages of its frames); ``paused`` says not
    ready; ``buffer`` plays the transport's unsent bytes; ``closed_with`` the close it was asked for."""

    def __init__(self) -> None:
        self.paused = False
        self.gone = False
        self.buffer = 0
        self.writes: list[list[str]] = []
        self.closed_with: tuple | None = None
        self.writable = asyncio.Event()
        self.writable.set()

    def ready(self) -> bool:
        return not self.paused and not self.gone

    def usable(self) -> bool:
        return not self.gone

    def buffered(self) -> int:
        return self.buffer

    def pause(self, paused: bool) -> None:
        self.paused = paused
        (self.writable.clear if paused else self.writable.set)()

    def write(self, frames: list[bytes]) -> None:
        self.writes.append([_unframe(f) for f in frames])

    def close(self, code: int, reason: str, abort_after_s: float) -> None:
        self.closed_with = (code, reason)
        self.gone = True


def _unframe(frame: bytes) -> str:
    n = frame[1]
    start = 2 if n < 126 else (4 if n == 126 else 10)
    assert frame[0] == 0x81 and len(frame) - start == (n if n < 126 else int.from_bytes(frame[2:start], "big"))
    return frame[start:].decode()


def test_direct_outbox_writes_one_step_in_one_call_and_holds_frames_in_order_while_paused():
    """With a direct writer, the messages of one loop step leave in one write, in order; while the
    transport is paused they wait in the outbox and leave, still in order and ahead of anything later,
    once it resumes; the ordinary send is never used."""
    async def main():
        stats = FanoutStats()
        sock = FakeSocket()
        direct = FakeDirect()
        box = Outbox(sock.send, sock.close, 100, stats)
        box.direct = direct
        box.start()
        await asyncio.sleep(0)
        for i in range(3):
            assert box.offer(f"a{i}")
        assert direct.writes == []          # not before the end of the step
        await asyncio.sleep(0)
        assert direct.writes == [["a0", "a1", "a2"]]
        direct.pause(True)
        box.offer("b0")
        box.offer("b1")
        await asyncio.sleep(0)              # the flush finds the transport paused: the frames wait
        assert direct.writes == [["a0", "a1", "a2"]]
        box.offer("c0")
        direct.pause(False)                 # resume_writing
        await box.flush()
        assert direct.writes[1:] == [["b0", "b1", "c0"]]
        box.offer("d0")
        await asyncio.sleep(0)
        assert direct.writes[-1] == ["d0"] and sock.got == []
        assert stats.messages_offered == stats.messages_sent == 7
        await box.aclose()

    asyncio.run(main())


def test_direct_outbox_counts_the_unflushed_step_against_the_limit():
    """A step's frames count toward max_queue: one message too many drops the client, through the
    direct writer's close (which never waits)."""
    async def main():
        stats = FanoutStats()
        sock = FakeSocket()
        box = Outbox(sock.send, sock.close, 4, stats)
        box.direct = direct = FakeDirect()
        box.start()
        results = [box.offer(str(i)) for i in range(5)]
        assert results == [True] * 4 + [False] and box.closed and stats.clients_dropped == 1
        assert direct.closed_with[0] == 1008 and "resync from a REST snapshot" in direct.closed_with[1]
        assert sock.closed is None
        await box.aclose()

    asyncio.run(main())


def test_direct_outbox_bounds_bytes_including_the_transport_buffer():
    """The byte bound counts the transport's unsent bytes: with the transport paused and holding most of
    the allowance, the frames that would pass it drop the client; a shared frame is accepted as is."""
    async def main():
        stats = FanoutStats()
        box = Outbox(FakeSocket().send, FakeSocket().close, 10_000, stats, max_bytes=1_000)
        box.direct = direct = FakeDirect()
        box.start()
        shared = wsdirect.frame(b"x" * 98)               # 100 bytes with its header
        assert box.offer_frame(shared)
        await asyncio.sleep(0)
        assert direct.writes == [["x" * 98]]
        direct.pause(True)
        direct.buffer = 700                              # the kernel took nothing more
        assert box.offer_frame(shared) and box.offer_frame(shared)
        await asyncio.sleep(0)                           # paused: it notes the buffer and waits
        assert box.backlog_bytes() == 900 and not box.closed
        assert box.offer_frame(shared)                   # 1,000: at the bound
        assert not box.offer_frame(shared)               # 1,100: over it
        assert box.closed and stats.clients_dropped == 1 and "bytes" in box.close_reason
        assert direct.closed_with[0] == 1008
        assert stats.messages_sent == 1 and box.backlog_bytes() == 0     # queued frames discarded
        await box.aclose()

    asyncio.run(main())
