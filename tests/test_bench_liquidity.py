"""`bdax bench liquidity` smoke test on a tiny flow (hubs measured when they are in the tree)."""
from __future__ import annotations

import argparse
import importlib.util
import json

from benchmarks import liquidity_bench as B


def _args(**kw):
    p = argparse.ArgumentParser()
    B.add_arguments(p)
    a = p.parse_args(["--quick", "--repeats", "1"])
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def test_bench_prints_one_json_line(capsys):
    models = ["engine"] + [m for m in ("mirrored", "pooled")
                           if importlib.util.find_spec(f"exchange.liquidity.{m}") is not None]
    assert B.run(_args(models=",".join(models))) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(doc["venues"]) == set(models)
    assert doc["venues"]["engine"]["cmd_per_s"] > 0
    for m in models[1:]:
        assert doc["venues"][m]["overhead_vs_engine"] > 0


def test_bench_rejects_bad_arguments(capsys):
    assert B.run(_args(models="engine,bogus")) == 2
    assert "bogus" in capsys.readouterr().err
    assert B.run(_args(repeats=0)) == 2
