"""The pump: group commit, stamping, durability before the answer, listeners, fail-stop."""
from __future__ import annotations

import asyncio

import pytest

from exchange import Deposit, OrderAccepted, OrderType, Side, SubmitOrder, TimeInForce
from exchange.journal import FileJournal, InMemoryJournal, recover
from gateway.config import parse_config
from gateway.errors import BinanceError
from gateway.pump import Pump
from gateway.symbols import SymbolTable
from gw_helpers import config_data


def make(clock_values=None):
    cfg = parse_config(config_data())
    ticks = iter(clock_values) if clock_values is not None else None
    clock = (lambda: next(ticks)) if ticks is not None else None
    pump = Pump(SymbolTable(cfg.instruments), **({"clock": clock} if clock else {}))
    return cfg, pump


def order(price: int, account: int = 1) -> SubmitOrder:
    return SubmitOrder(0, account, "BTC-KRW", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, price, 100, 0, "", None)


def test_group_commit_stamps_and_listener_order():
    cfg, pump = make([5_000, 4_000, 9_000, 9_000, 9_000])    # the clock goes back once: stamps must not
    seen: list = []

    async def main():
        journal = InMemoryJournal()
        pump.add_listener(lambda events: seen.append((events[0].seq, pump.engine.last_seq)))
        pump.start(cfg.make_engine(), journal)
        first = await pump.submit(Deposit(0, 1, "KRW", 10**12))
        results = await asyncio.gather(*(pump.submit(order(50_000_000 + i * 1000)) for i in range(50)))
        await pump.stop()
        return journal, first, results

    journal, first, results = asyncio.run(main())
    assert pump.batches == 2 and pump.commands == 51           # 50 concurrent submits: one batch
    stamps = [cmd.ts_ns for _seq, cmd in journal.records()]
    assert stamps == [5_000] + [5_000] * 50                    # clock said 4000 later: kept at 5000
    assert [type(r[0]) for r in results] == [OrderAccepted] * 50
    assert [r[0].order_id for r in results] == sorted(r[0].order_id for r in results)
    # Listeners ran right after each command, in order, with the engine already holding its effects.
    assert [s for s, _ in seen] == sorted(s for s, _ in seen) and all(s <= last for s, last in seen)
    assert first[0].ts_ns == 5_000


def test_answer_only_after_durable_and_replay_listeners(tmp_path):
    cfg, pump = make()
    durable_at_answer = []
    live: list = []
    replayed: list = []

    async def run_once():
        engine, _report = recover(tmp_path / "j", cfg.make_engine, on_record=pump.replay_listener)
        journal = FileJournal(tmp_path / "j", fsync="every_batch", background=True)
        pump.start(engine, journal)
        for i in range(5):
            events = await pump.submit(Deposit(0, 1, "KRW", 1000 + i))
            durable_at_answer.append(journal.durable_seq >= journal.last_seq)
            assert events[0].delta == 1000 + i
        await pump.stop()
        journal.close()

    pump.add_listener(live.append)
    pump.add_listener(replayed.append, replay=True)
    asyncio.run(run_once())
    assert durable_at_answer == [True] * 5 and len(live) == 5 and len(replayed) == 5
    # A second pump on the same directory: the replay feeds only replay listeners.
    _cfg, pump2 = make()
    live2: list = []
    replayed2: list = []
    pump2.add_listener(live2.append)
    pump2.add_listener(replayed2.append, replay=True)
    engine, report = recover(tmp_path / "j", cfg.make_engine, on_record=pump2.replay_listener)
    assert report.replayed == 5 and live2 == [] and [e[0].delta for e in replayed2] == [1000, 1001, 1002, 1003, 1004]
    assert pump2.last_ts_ns == pump.last_ts_ns and engine.balances(1)["KRW"].available == 5010


def test_mistyped_command_never_reaches_the_journal():
    cfg, pump = make()

    async def main():
        journal = InMemoryJournal()
        pump.start(cfg.make_engine(), journal)
        with pytest.raises(TypeError):
            await pump.submit(Deposit(0, 1, "KRW", 1.5))     # a float amount: a gateway bug
        await pump.stop()
        return journal

    assert asyncio.run(main()).last_seq == 0


def test_journal_failure_is_fail_stop():
    cfg, pump = make()

    class BrokenJournal(InMemoryJournal):
        def append_batch(self, commands):
            raise OSError("disk full")

    async def main():
        pump.start(cfg.make_engine(), BrokenJournal())
        with pytest.raises(BinanceError) as first:
            await pump.submit(Deposit(0, 1, "KRW", 1))
        with pytest.raises(BinanceError) as later:
            await pump.submit(Deposit(0, 1, "KRW", 1))
        await pump.stop()
        return first.value, later.value

    first, later = asyncio.run(main())
    assert first.code == later.code == -1001 and first.http_status == 503
    assert pump.engine.last_seq == 0


def test_submit_before_start_is_refused():
    _cfg, pump = make()

    async def main():
        with pytest.raises(BinanceError) as err:
            await pump.submit(Deposit(0, 1, "KRW", 1))
        return err.value.code

    assert asyncio.run(main()) == -1001


def test_a_failing_listener_does_not_stop_the_exchange(caplog):
    cfg, pump = make()

    def broken(_events):
        raise RuntimeError("projection bug")

    async def main():
        pump.add_listener(broken)
        pump.start(cfg.make_engine(), InMemoryJournal())
        events = await pump.submit(Deposit(0, 1, "KRW", 1))
        await pump.stop()
        return events

    assert asyncio.run(main())[0].delta == 1
    assert "listener" in caplog.text


def test_batches_written_while_an_fsync_runs_are_applied_in_order_once_durable(tmp_path):
    """Requests keep arriving while the syncer fsyncs: later batches are written at once (pipelined)
    but every command is applied (and answered) only once the journal says it is durable, in journal
    order."""
    cfg, pump = make()
    applied: list = []
    holder: dict = {}

    def check(events):
        applied.append(events[0].delta)
        # Journal seq of this command == commands applied so far (the journal started empty).
        assert holder["journal"].durable_seq >= len(applied)

    async def main():
        engine, _ = recover(tmp_path / "j", cfg.make_engine)
        journal = holder["journal"] = FileJournal(tmp_path / "j", fsync="every_batch", background=True)
        pump.add_listener(check)
        pump.start(engine, journal)
        answers = []

        async def client(k: int):
            for i in range(20):
                events = await pump.submit(Deposit(0, 1, "KRW", 1 + k * 100 + i))
                answers.append(events[0].delta)
        await asyncio.gather(*(client(k) for k in range(8)))
        await pump.stop()
        journal.close()
        return answers, [cmd.amount for _s, cmd in journal.records()]

    answers, journaled = asyncio.run(main())
    assert sorted(answers) == sorted(applied) and applied == journaled   # in journal order, each once
    assert sorted(applied) == sorted(1 + k * 100 + i for k in range(8) for i in range(20))
    assert pump.commands == 160


def test_a_failed_fsync_fails_every_waiting_and_later_command():
    cfg, pump = make()

    class FailingSync(InMemoryJournal):
        class policy:      # noqa: N801 - mimics FsyncPolicy's attribute
            mode = "every_batch"
        durable_seq = 0

        def wait_durable(self, seq=None, timeout=None):
            from exchange.journal import JournalError
            raise JournalError("fsync failed: EIO")

    async def main():
        pump.start(cfg.make_engine(), FailingSync())
        results = await asyncio.gather(*(pump.submit(Deposit(0, 1, "KRW", 1 + i)) for i in range(5)),
                                       return_exceptions=True)
        with pytest.raises(BinanceError) as later:
            await pump.submit(Deposit(0, 1, "KRW", 1))
        await pump.stop()
        return results, later.value

    results, later = asyncio.run(main())
    assert all(isinstance(r, BinanceError) and r.code == -1001 for r in results) and later.code == -1001
    assert pump.engine.last_seq == 0          # nothing that was not durable was applied
