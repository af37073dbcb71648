"""benchmarks/memory.py end to end on tiny sizes (it must not rot), and what it measures."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "memory.py"


def test_memory_benchmark_counts_every_result_and_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    spec = importlib.util.spec_from_file_location("_bench_memory", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    mod.main(["--trials", "2", "--reports", "30", "--sim-trials", "20"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(("flood", "sim"))]
    assert [ln.split(":")[0] for ln in lines] == [
        "flood 2 x 30 (LocalBackend)", "simulated ASHA, 20 trials"
    ]
    flood, sim = (ast.literal_eval(ln.split(": ", 1)[1]) for ln in lines)
    assert flood["results"] == 60  # every report of both real trial processes
    assert sim["results"] >= 20  # at least one result per started trial
    for row in (flood, sim):
        assert 0 < row["retained_bytes_per_result"] < 100_000
        assert row["peak_mib"] >= row["retained_mib"]
