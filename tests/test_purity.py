"""``exchange/`` stays a sans-I/O core (DESIGN.md §1, STYLE.md habit 1).

Every module under ``exchange/`` except the journal's file store (``exchange/journal/``) is parsed with
``ast`` and must not import a clock, a random generator, the environment, the network, threads, logging,
processes or files, and must not call ``open(...)``. The scanner is tested on planted source first, so a
scanner that finds nothing cannot pass for a clean core.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

EXCHANGE = Path(__file__).resolve().parent.parent / "exchange"
EXEMPT_DIRS = {"journal"}   # the journal's file store, called by the shells, never by the engine
FORBIDDEN_MODULES = frozenset({
    "asyncio", "socket", "time", "datetime", "random", "os", "threading", "logging", "subprocess",
    "pathlib", "io", "secrets", "uuid",
})
FORBIDDEN_CALLS = frozenset({"open"})


def impurities(source: str, filename: str = "<string>") -> list[str]:
    """What in ``source`` breaks purity, as ``"file:line: what"`` strings (empty if pure)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        for module in modules:
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{node.lineno}: imports {module}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{filename}:{node.lineno}: calls {node.func.id}()")
    return found


def core_modules() -> list[Path]:
    return sorted(p for p in EXCHANGE.rglob("*.py")
                  if not EXEMPT_DIRS.intersection(p.relative_to(EXCHANGE).parts[:-1]))


@pytest.mark.parametrize("source,what", [
    ("import time\n", "imports time"),
    ("import os.path\n", "imports os.path"),
    ("from datetime import datetime\n", "imports datetime"),
    ("import random as r\n", "imports random"),
    ("def f():\n    import socket\n", "imports socket"),
    ("from asyncio import sleep\n", "imports asyncio"),
    ("import logging\n", "imports logging"),
    ("with open('x') as f:\n    pass\n", "calls open()"),
    ("from io import BytesIO\n", "imports io"),
    ("import uuid, secrets\n", "imports uuid"),
])
def test_scanner_flags_planted_impurity(source, what):
    assert any(what in problem for problem in impurities(source))


@pytest.mark.parametrize("source", [
    "from heapq import heappush\nimport hashlib, json\nfrom .events import OrderAccepted\n",
    "x = opener(1)\nself.open(2)\n",          # only the builtin name counts
    "from . import time_utils\n",              # relative imports are the package's own modules
    "import timeit_like_name\n",
])
def test_scanner_passes_pure_source(source):
    assert impurities(source) == []


def test_scanner_sees_the_core():
    names = {p.name for p in core_modules()}
    assert {"engine.py", "instruments.py", "events.py", "commands.py"} <= names
    assert not any("journal" in p.parts for p in core_modules())


def test_exchange_core_is_pure():
    problems = []
    for path in core_modules():
        problems += impurities(path.read_text(), str(path.relative_to(EXCHANGE.parent)))
    assert problems == [], "exchange/ must stay sans-I/O (DESIGN.md §1):\n" + "\n".join(problems)
