"""The compiled engine (mypyc, setup.py) and the interpreted source are the same engine.

`pip install .` compiles exchange/{accounts,book,matching,engine,events}.py; the source tree itself stays
plain Python. Both builds must give byte-identical events and the same state hash for the same stream:
each runs in its own process (the installed package, and the repo source put first on sys.path) over a
seeded 30,000-command stream from test_engine_determinism, with rejects, amends, STP, halts and fee tiers.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
COMPILED_MODULES = ("accounts", "book", "matching", "engine", "events")

RUN = r"""
import hashlib, sys
sys.path[:0] = {path!r}
import exchange.engine
from test_engine_determinism import command_stream, encode, make_engine
engine = make_engine()
digest = hashlib.sha256()
for command in command_stream(7, 30_000):
    for event in engine.handle(command):
        digest.update(encode(event))
engine._check()
compiled = not exchange.engine.__file__.endswith(".py")
print(compiled, exchange.engine.__file__, digest.hexdigest(), engine.state_hash())
"""


def run_build(tmp_path: Path, source_first: bool) -> tuple[bool, str, str, str]:
    path = [str(REPO), str(TESTS)] if source_first else [str(TESTS)]
    out = subprocess.run([sys.executable, "-c", RUN.format(path=path)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    compiled, where, events_hash, state_hash = out.stdout.split()
    return compiled == "True", where, events_hash, state_hash


def test_compiled_and_interpreted_builds_agree(tmp_path):
    installed = run_build(tmp_path, source_first=False)
    source = run_build(tmp_path, source_first=True)
    if installed[0] == source[0]:
        pytest.skip(f"only one kind of build is importable here (installed: {installed[1]}, source: "
                    f"{source[1]}); `pip install .` (not -e) builds the compiled one")
    assert installed[2:] == source[2:], f"compiled and interpreted engines diverge: {installed} vs {source}"


def test_installed_build_is_all_or_nothing():
    """A half-compiled install (some hot modules .py, some .so) would be a packaging bug."""
    import importlib

    kinds = {name: not importlib.import_module(f"exchange.{name}").__file__.endswith(".py")
             for name in COMPILED_MODULES}
    assert len(set(kinds.values())) == 1, kinds
