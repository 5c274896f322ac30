"""Hypothesis profiles and the engine/model fixture (helpers live in ``engine_helpers.py``).

Hypothesis profiles (select with ``BDAX_HYPOTHESIS_PROFILE``):
- ``default``: derandomized and database-free, so CI sees the same examples every run; sized so that
  ``tests/test_engine_state_machine.py`` takes about a minute on two cores.
- ``ci-heavy``: the same, about eight times the work (nightly CI).
- ``soak``: randomized (a new seed each run, printed on failure with a reproduction blob), long; loop it.
"""
from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `import engine_helpers` from any rootdir


_COMMON = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("default", max_examples=300, stateful_step_count=60, derandomize=True, **_COMMON)
settings.register_profile("ci-heavy", max_examples=800, stateful_step_count=120, derandomize=True, **_COMMON)
# Randomized: a new seed every run (the failure report prints a reproduction blob). Hypothesis keeps every
# example's choices in memory, so a longer soak is several runs of this, not a bigger max_examples.
settings.register_profile("soak", max_examples=1000, stateful_step_count=200, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("BDAX_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(params=["engine", "model"])
def impl_kind(request) -> str:
    """Run a scenario against the engine and against the reference model."""
    return request.param
