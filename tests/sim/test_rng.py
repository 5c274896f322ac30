"""Random streams derive from (master seed, component name) only."""
import numpy as np
import pytest

from sim.rng import Draws, derive, derive_seed_words


def test_same_seed_and_name_give_the_same_stream():
    a = derive(7, "agent/noise").random(5)
    b = derive(7, "agent/noise").random(5)
    assert np.array_equal(a, b)


def test_names_and_seeds_separate_streams():
    base = derive(7, "agent/noise").random(5)
    assert not np.array_equal(base, derive(7, "agent/value").random(5))
    assert not np.array_equal(base, derive(8, "agent/noise").random(5))


def test_stream_is_independent_of_what_else_was_derived():
    first = derive(3, "fundamental").random(3)
    derive(3, "agent/new-group").random(100)   # "adding a group" draws from its own stream
    assert np.array_equal(first, derive(3, "fundamental").random(3))


def test_name_hash_is_stable_across_processes():
    # sha256, not Python's salted hash(): pinned value
    assert derive_seed_words("agent/noise")[0] == int.from_bytes(
        __import__("hashlib").sha256(b"agent/noise").digest()[:4], "little")
    assert float(derive(1, "x").random()) == float(derive(1, "x").random())


def test_bad_seed_or_name_is_refused():
    with pytest.raises(ValueError, match="seed"):
        derive(-1, "x")
    with pytest.raises(ValueError, match="seed"):
        derive(1.5, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        derive(1, "")


def test_draws_follow_the_generator_in_blocks():
    d = Draws(derive(5, "d"), block=4)
    u = [d.uniform() for _ in range(10)]
    g = derive(5, "d")
    expected = np.concatenate([g.random(4), g.random(4), g.random(4)])[:10]
    assert np.allclose(u, expected)
    assert all(0 <= d.below(3) < 3 for _ in range(50))
    assert all(d.pareto(1.5, 2.0) >= 2.0 for _ in range(50))
    assert all(d.wait_ns(10.0) >= 1 for _ in range(50))
    e = [Draws(derive(1, "e")).exponential(2.0) for _ in range(2)]
    assert e[0] == e[1]
