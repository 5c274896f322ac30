"""Proof that the state machine bites (STYLE.md habit 4): plant a realistic bug, expect a failure.

Each test plants one bug in the engine, runs ``EngineVsModel`` (tests/test_engine_state_machine.py) with a
fixed, derandomized budget and no shrinking, and demands that it fails *because of that bug*:

- the same budget on the unmodified engine passes (``baseline``). The machine draws its commands from
  Hypothesis and the model alone, never from the engine's answers, so both runs try the very same command
  sequences and the only difference is the planted bug. If the unmodified engine already fails, every
  test here fails as inconclusive and shows that failure: fix it first.
- the failure message carries the bug's signature (a sanity check on top).

Seams (documented so that an engine refactor that moves them fails here loudly, not silently):

- ``Engine._end(order, ts, events, reason)`` finishes an order off the book and releases its hold (reason
  USER makes it an OrderCanceled). The planted *hold leak* drops the hold of a canceled order instead of
  returning it to available.
- ``Engine._place(book, order)`` puts an order at the back of its level's ``orders`` dict. The planted
  *newest first* bug moves it to the front, breaking FIFO within a level.

Both need the engine interpreted (its methods looked up on the class at run time). When the engine is
compiled with mypyc, internal calls bypass the class dict, so the bug is planted around the engine
instead: a wrapper whose ``l3()`` lists each level newest first.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

import test_engine_state_machine as sm
from exchange import Engine, EndReason, Side

ENGINE_IS_INTERPRETED = inspect.isfunction(Engine.__dict__.get("_end")) and inspect.isfunction(
    Engine.__dict__.get("_place"))

BUDGET = settings(max_examples=100, stateful_step_count=40, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False, print_blob=False,
                  suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def baseline() -> str | None:
    """The failure of the unmodified engine under ``BUDGET``, or None if it passes."""
    try:
        run_state_machine_as_test(sm.EngineVsModel, settings=BUDGET)
    except Exception as exc:  # noqa: BLE001 - any failure makes the planted checks inconclusive
        return f"{type(exc).__name__}: {exc}"
    return None


def run_machine(machine_cls, baseline: str | None) -> str:
    """Run the machine; return the failure's text (the test fails if the machine passes)."""
    if baseline is not None:
        pytest.fail("inconclusive: the state machine already fails on the unmodified engine; fix that "
                    "first:\n" + baseline[:3000])
    with pytest.raises(Exception) as failure:
        run_state_machine_as_test(machine_cls, settings=BUDGET)
    assert isinstance(failure.value, AssertionError), f"the machine broke, not the engine: {failure.value!r}"
    return str(failure.value)


def test_seams_exist():
    """The planted bugs below rely on these; if the engine moved them, update this file."""
    if not ENGINE_IS_INTERPRETED:
        pytest.skip("engine compiled: the wrapper fallback below is used instead of internal seams")
    assert len(inspect.signature(Engine._end).parameters) == 5     # self, order, ts, events, reason
    assert len(inspect.signature(Engine._place).parameters) == 3   # self, book, order


@pytest.mark.skipif(not ENGINE_IS_INTERPRETED, reason="needs the interpreted engine's _end seam")
def test_catches_a_hold_not_released_on_cancel(monkeypatch, baseline):
    original = Engine._end

    def leaky_end(self, o, ts, events, reason):
        if reason == EndReason.USER:
            o.hold = 0   # the bug: the canceled order's hold vanishes instead of going back to available
        return original(self, o, ts, events, reason)

    monkeypatch.setattr(Engine, "_end", leaky_end)
    message = run_machine(sm.EngineVsModel, baseline)
    assert "held" in message or "balances differs" in message, message


@pytest.mark.skipif(not ENGINE_IS_INTERPRETED, reason="needs the interpreted engine's _place seam")
def test_catches_newest_first_within_a_level(monkeypatch, baseline):
    original = Engine._place

    def lifo_place(self, book, o):
        total = original(self, book, o)
        level = (book.bids if o.side == Side.BUY else book.asks)[o.price]
        others = [x for x in level.orders.values() if x is not o]
        level.orders.clear()
        level.orders[o.order_id] = o          # the bug: the newest order goes to the front
        for x in others:
            level.orders[x.order_id] = x
        return total

    monkeypatch.setattr(Engine, "_place", lifo_place)
    message = run_machine(sm.EngineVsModel, baseline)
    assert "TradeExecuted" in message or "l3 differs" in message, message


class _NewestFirstL3:
    """Wraps an engine; ``l3()`` lists each price level newest first (order id descending)."""

    def __init__(self, engine) -> None:
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def l3(self, symbol):
        out = []
        for side in self._engine.l3(symbol):
            side = list(side)
            by_level: dict[int, list] = {}
            for v in side:
                by_level.setdefault(v.price_ticks, []).append(v)
            out.append([v for level in by_level.values() for v in sorted(level, key=lambda v: -v.order_id)])
        return tuple(out)


class _WrappedEngineMachine(sm.EngineVsModel):
    @staticmethod
    def engine_factory(default_stp):
        return _NewestFirstL3(sm.EngineVsModel.engine_factory(default_stp))


def test_catches_a_wrong_l3_order_reported_around_the_engine(baseline):
    """Works whether or not the engine is compiled: the corruption is outside it."""
    message = run_machine(_WrappedEngineMachine, baseline)
    assert "l3 differs" in message, message


@pytest.mark.skipif(ENGINE_IS_INTERPRETED, reason="the planted bugs above already ran in this process")
def test_planted_bugs_run_on_the_interpreted_source():
    """Compiled, the seams above can't be patched; run this file against the source tree instead, so CI
    (which tests the compiled install) still proves the state machine catches real internal bugs."""
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", __file__,
                          "-k", "not run_on_the_interpreted_source"],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "skipped" not in out.stdout.splitlines()[-1], out.stdout[-2000:]
