"""Fan-out (gateway/fanout.py) and the hub's backpressure: a stalled client is dropped with a reason,
every other client gets every message, and publishing never waits."""
from __future__ import annotations

import asyncio
import json

import pytest

from exchange import Side
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
    """A DirectWriter stand-in: records each write (a list of messages); ``paused`` says not ready."""

    def __init__(self) -> None:
        self.paused = False
        self.writes: list[list[str]] = []

    def ready(self) -> bool:
        return not self.paused

    def write(self, texts: list[str]) -> None:
        self.writes.append(list(texts))


def test_direct_outbox_writes_one_step_in_one_call_and_falls_back_in_order_when_paused():
    """With a direct writer, the messages of one loop step leave in one write, in order; while the
    transport is paused they go through the queue and the ordinary send, and nothing overtakes them."""
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
        assert direct.writes == [["a0", "a1", "a2"]] and sock.got == []
        direct.paused = True
        box.offer("b0")
        box.offer("b1")
        await asyncio.sleep(0)              # the flush finds the transport paused: the queue takes them
        direct.paused = False
        box.offer("c0")                     # queued behind b0, b1 (never written ahead of them)
        await box.flush()
        assert sock.got == ["b0", "b1", "c0"] and direct.writes == [["a0", "a1", "a2"]]
        box.offer("d0")                     # the queue is empty again: direct
        await asyncio.sleep(0)
        assert direct.writes[-1] == ["d0"]
        assert stats.messages_offered == stats.messages_sent == 7
        await box.aclose()

    asyncio.run(main())


def test_direct_outbox_counts_the_unflushed_step_against_the_limit():
    """A step's batch counts toward max_queue: one message too many drops the client."""
    async def main():
        stats = FanoutStats()
        sock = FakeSocket()
        box = Outbox(sock.send, sock.close, 4, stats)
        box.direct = FakeDirect()
        box.start()
        results = [box.offer(str(i)) for i in range(5)]
        assert results == [True] * 4 + [False] and box.closed and stats.clients_dropped == 1
        await box.aclose()

    asyncio.run(main())
