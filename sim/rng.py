"""Random streams: one ``numpy.random.Generator`` per component, derived from (master seed, component name).

A component's stream depends only on the master seed and its own name, never on which other components
exist or in which order they were built, so adding an agent group or a venue changes nothing else
(DESIGN.md §5; the hasufel fork's sha256 derivation, reference §4.6). The name is hashed with sha256, never
Python's ``hash()`` (salted per process for str).

:class:`Draws` serves scalars from blocks: one numpy call per 1,024 draws instead of one per draw
(a numpy scalar draw costs ~0.3-1 us from Python; a list index ~30 ns). Draws come from the generator
in the order they are asked for, so they are as deterministic as the generator itself.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["derive", "derive_seed_words", "Draws"]

_MAX_SEED = 2**63 - 1


def derive_seed_words(name: str) -> tuple[int, ...]:
    """The component name as eight 32-bit words of its sha256 digest (the SeedSequence spawn key)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 32, 4))


def derive(master_seed: Any, name: str) -> np.random.Generator:
    """The Generator of component ``name`` under ``master_seed``.

    Raises:
        ValueError: the seed is not an int in 0..2**63-1 or the name is empty.
    """
    # master_seed is typed Any: a wrong type gets this ValueError, not the compiled signature's TypeError.
    if type(master_seed) is not int or not 0 <= master_seed <= _MAX_SEED:
        raise ValueError(f"seed must be an integer in 0..{_MAX_SEED}, got {master_seed!r}")
    if not name:
        raise ValueError("a random stream needs a non-empty component name")
    seq = np.random.SeedSequence(entropy=master_seed, spawn_key=derive_seed_words(name))
    return np.random.Generator(np.random.PCG64(seq))


class Draws:
    """Scalar random draws served from blocks of one Generator.

    Each kind (uniform, exponential, normal) has its own block; a block is refilled from the generator
    when it runs out. Methods return Python floats/ints.

    ``uniform`` is the ``__next__`` of a generator over the blocks (a C-level call, ~40 ns, where a
    Python method with an index check costs ~250 ns; uniforms are the most frequent draw). Exponential
    and normal draws keep an index into their block because they scale the draw. ``*_block()`` hands
    over the rest of the current block (or a fresh one) for callers that transform draws in bulk
    (latency samples): the same draws in the same order as one call per draw.
    """

    __slots__ = ("gen", "block", "uniform", "_e", "_ei", "_n", "_ni")

    def __init__(self, gen: np.random.Generator, block: int = 1024) -> None:
        self.gen = gen
        self.block = block
        self.uniform: Callable[[], float] = _blocks(gen.random, block).__next__
        """U[0, 1)."""
        self._e: list[float] = []
        self._ei = 0
        self._n: list[float] = []
        self._ni = 0

    def uniform_block(self) -> list[float]:
        """The next uniforms as a list (a whole block); later ``uniform()`` calls continue after them.
        Only for streams that draw nothing but uniforms in bulk (the pattern would otherwise interleave
        differently with ``uniform()``)."""
        return self.gen.random(self.block).tolist()

    def exponential(self, mean: float = 1.0) -> float:
        i = self._ei
        if i >= len(self._e):
            self._e = self.gen.standard_exponential(self.block).tolist()
            i = 0
        self._ei = i + 1
        return self._e[i] * mean

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        i = self._ni
        if i >= len(self._n):
            self._n = self.gen.standard_normal(self.block).tolist()
            i = 0
        self._ni = i + 1
        return mu + sigma * self._n[i]

    def normal_block(self) -> list[float]:
        """The rest of the current block of standard normals (a fresh block if it is used up); later
        ``normal()`` calls continue after them."""
        i = self._ni
        if i >= len(self._n):
            self._n = self.gen.standard_normal(self.block).tolist()
            i = 0
        self._ni = len(self._n)
        return self._n[i:] if i else self._n

    def below(self, n: int) -> int:
        """A uniform int in 0..n-1 (n >= 1)."""
        return int(self.uniform() * n)

    def pareto(self, alpha: float, xmin: float = 1.0) -> float:
        """A Pareto(alpha) draw >= xmin: P(X > x) = (x / xmin) ** -alpha."""
        return xmin * (1.0 - self.uniform()) ** (-1.0 / alpha)

    def wait_ns(self, rate_per_s: float) -> int:
        """An exponential waiting time in ns for a Poisson process of ``rate_per_s`` events per second;
        at least 1 ns."""
        return int(self.exponential(1e9 / rate_per_s)) + 1


def _blocks(fill: Callable[[int], np.ndarray], block: int) -> Iterator[float]:
    """Every draw of ``fill(block)``, block after block, as Python floats."""
    while True:
        yield from fill(block).tolist()
