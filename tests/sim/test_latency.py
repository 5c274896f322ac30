"""Latency links: bounds, heavy tails, per-link streams, O(links) memory."""
import pytest

from sim.latency import JitterSpec, LatencyModel


def test_samples_stay_between_base_and_cap():
    m = LatencyModel(1)
    link = m.add("noise", "busan", JitterSpec(1000, 500, "pareto", alpha=1.5, max_ns=50_000),
                 JitterSpec(2000, 100, "lognormal", sigma=2.0, max_ns=30_000))
    o = [link.order.sample() for _ in range(20_000)]
    f = [link.feed.sample() for _ in range(20_000)]
    assert min(o) >= 1000 and max(o) <= 50_000 and min(f) >= 2000 and max(f) <= 30_000
    assert max(o) == 50_000          # a Pareto tail reaches the cap in 20k draws
    o.sort()
    assert o[len(o) // 2] < 2000     # median near base + jitter scale


def test_no_jitter_is_the_base():
    m = LatencyModel(1)
    link = m.add("g", "v", JitterSpec(1234, 0), JitterSpec(5, 0, "none"))
    assert {link.order.sample() for _ in range(10)} == {1234}
    assert link.feed.sample() == 5


def test_links_have_their_own_streams():
    a = LatencyModel(9)
    la = a.add("x", "v", JitterSpec(0, 1000), JitterSpec(0, 1000))
    b = LatencyModel(9)
    b.add("other", "v", JitterSpec(0, 1000), JitterSpec(0, 1000))   # an extra link first
    lb = b.add("x", "v", JitterSpec(0, 1000), JitterSpec(0, 1000))
    assert [la.order.sample() for _ in range(5)] == [lb.order.sample() for _ in range(5)]
    assert len(b) == 2


def test_invalid_specs_and_duplicates_are_refused():
    with pytest.raises(ValueError, match="jitter kind"):
        JitterSpec(0, 1, "cubic")
    with pytest.raises(ValueError, match="max_ns"):
        JitterSpec(10, 1, max_ns=5)
    with pytest.raises(ValueError):
        JitterSpec(0, 1, "pareto", alpha=1.0)
    m = LatencyModel(1)
    m.add("g", "v", JitterSpec(0), JitterSpec(0))
    with pytest.raises(ValueError, match="twice"):
        m.add("g", "v", JitterSpec(0), JitterSpec(0))
    with pytest.raises(KeyError, match="no latency link"):
        m.link("g", "w")
