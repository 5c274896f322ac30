"""Latency per link (agent group x venue): a base delay plus heavy-tailed jitter, separately for the
order path (agent -> venue commands, venue -> agent acks and fills) and the market-data feed.

Memory is O(groups x venues): a few numbers and one random stream per link, never an N x N matrix
(ABIDES's dense matrix needs ~2.5 GB at 10k agents, reference §1.1.6). Jitter kinds:

- ``none``: the base delay only.
- ``lognormal``: ``jitter_ns * exp(sigma * Z)``, Z standard normal (median ``jitter_ns``).
- ``pareto``: ``jitter_ns * (U ** (-1/alpha) - 1)``, a Lomax tail: rare order-of-magnitude outliers like
  ABIDES's cubic model; ``alpha`` > 1 keeps the mean finite.

Every sample is capped at ``max_ns`` (a network that loses a packet retransmits; it does not wait a day).
Ordering: a link is a stream (one TCP connection per agent in the real world), so the callers keep each
sender's messages in order: arrival = ``max(now + delay, previous arrival)`` (SimClient for commands,
SimVenue for replies and feed pushes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

from .rng import Draws, derive

__all__ = ["JitterSpec", "PathLatency", "Link", "LatencyModel", "JITTER_KINDS"]

JITTER_KINDS = ("none", "lognormal", "pareto")


@dataclass(frozen=True)
class JitterSpec:
    """One direction's delay: ``base_ns`` + jitter of ``kind`` scaled by ``jitter_ns``, capped at
    ``max_ns``."""

    base_ns: int
    jitter_ns: int = 0
    kind: str = "lognormal"
    sigma: float = 1.0
    alpha: float = 2.5
    max_ns: int = 5_000_000_000

    def __post_init__(self) -> None:
        if self.kind not in JITTER_KINDS:
            raise ValueError(f"jitter kind must be one of {', '.join(JITTER_KINDS)}, got {self.kind!r}")
        if self.base_ns < 0 or self.jitter_ns < 0:
            raise ValueError("latency base_ns and jitter_ns must be >= 0")
        if self.max_ns < self.base_ns:
            raise ValueError(f"latency max_ns ({self.max_ns}) must be >= base_ns ({self.base_ns})")
        if not (self.sigma > 0 and self.alpha > 1):
            raise ValueError("lognormal sigma must be > 0 and pareto alpha > 1")


class PathLatency:
    """Samples of one direction of one link, from that link's own random stream.

    ``sample()`` is the ``__next__`` of a generator that computes delays a block at a time from the stream's
    blocks (the same draws, in the same order, as one draw per call): a C-level call per sample instead of a
    Python method with a branch on the jitter kind (~0.5 us -> ~0.05 us; ~390k samples in an rmsc04 day).
    """

    __slots__ = ("base", "jitter", "kind", "sigma", "inv_alpha", "cap", "draws", "sample")

    def __init__(self, spec: JitterSpec, draws: Draws) -> None:
        self.base = spec.base_ns
        self.jitter = spec.jitter_ns
        self.kind = spec.kind if spec.jitter_ns else "none"
        self.sigma = spec.sigma
        self.inv_alpha = 1.0 / spec.alpha
        self.cap = spec.max_ns
        self.draws = draws
        self.sample: Callable[[], int] = self._samples().__next__
        """One delay in integer ns, in [base_ns, max_ns]."""

    def _samples(self) -> Iterator[int]:
        base, jitter, cap, draws = self.base, self.jitter, self.cap, self.draws
        if self.kind == "lognormal":
            sigma, exp = self.sigma, math.exp
            while True:
                block = [base + int(jitter * exp(sigma * z)) for z in draws.normal_block()]
                yield from [d if d < cap else cap for d in block]
        elif self.kind == "pareto":
            e = -self.inv_alpha
            while True:
                block = [base + int(jitter * ((1.0 - u) ** e - 1.0)) for u in draws.uniform_block()]
                yield from [d if d < cap else cap for d in block]
        else:
            while True:
                yield base


class Link:
    """The order path and the feed path between one agent group and one venue."""

    __slots__ = ("group", "venue", "order", "feed")

    def __init__(self, group: str, venue: str, order: PathLatency, feed: PathLatency) -> None:
        self.group = group
        self.venue = venue
        self.order = order
        self.feed = feed


class LatencyModel:
    """Links by (group, venue), each with its own random stream derived from the master seed and the
    link's name, so adding a group or a venue changes no other link's delays."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._links: dict[tuple[str, str], Link] = {}

    def add(self, group: str, venue: str, order: JitterSpec, feed: JitterSpec) -> Link:
        key = (group, venue)
        if key in self._links:
            raise ValueError(f"latency link {group} -> {venue} defined twice")
        draws_o = Draws(derive(self.seed, f"latency/{group}/{venue}/order"))
        draws_f = Draws(derive(self.seed, f"latency/{group}/{venue}/feed"))
        link = Link(group, venue, PathLatency(order, draws_o), PathLatency(feed, draws_f))
        self._links[key] = link
        return link

    def link(self, group: str, venue: str) -> Link:
        try:
            return self._links[(group, venue)]
        except KeyError:
            raise KeyError(f"no latency link from agent group {group!r} to venue {venue!r}") from None

    def __len__(self) -> int:
        return len(self._links)
