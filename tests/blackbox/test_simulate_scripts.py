"""benchmarks/simulate.py and plot_curves.py end to end on a tiny budget (they must not rot)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_best_so_far_min_and_max() -> None:
    sim = _module("simulate")
    rows = [
        {"tuner_time": "3", "v": "0.5"},
        {"tuner_time": "1", "v": "0.7"},
        {"tuner_time": "2", "v": "nan"},
        {"tuner_time": "4", "v": "0.6"},
        {"tuner_time": "5", "v": "0.2"},
    ]
    assert sim.best_so_far(rows, "v", "min") == [(1.0, 0.7), (3.0, 0.5), (5.0, 0.2)]
    assert sim.best_so_far(rows, "v", "max") == [(1.0, 0.7)]


def test_simulate_then_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    sim = _module("simulate")
    # simulate.main sets AIOTUNE_RESULTS itself; monkeypatch restores it afterwards
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path / "exp"))
    out = tmp_path / "runs"
    for scheduler in ("random", "asha"):
        sim.main([
            "--scheduler", scheduler, "--blackbox", "synthetic-lc", "--budget", "600",
            "--seeds", "2", "--out", str(out), "--results-root", str(tmp_path / "exp"),
        ])
    rec = json.loads((out / "asha-synthetic-lc-seed1.json").read_text())
    assert rec["time"] == sorted(rec["time"]) and rec["time"][-1] <= 600.0 + 1e-9
    assert rec["best"] == sorted(rec["best"], reverse=True)  # min: only improvements
    assert (out / "random-synthetic-lc-seed0.csv").read_text().startswith("time,best")
    with pytest.raises(SystemExit, match="unknown scheduler"):
        sim.make_scheduler("annealing", None, 0)
    plot = _module("plot_curves")
    png = tmp_path / "curves.png"
    plot.main([str(out), "--out", str(png), "--regret", "--logx"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_best_row_watch_reports_the_rows_fate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from aiotune.blackbox.registry import load

    monkeypatch.setenv("AIOTUNE_RESULTS", "")  # main() points it at a temp dir; restored after
    best_row = _module("mf_best_row")
    best_row.main(["--seeds", "2", "--methods", "ASHA", "--tab-budget", "3"])
    out = capsys.readouterr().out
    bb = load("sklearn-digits-mlp", average_seeds=True)
    best = np.array([bb.learning_curve(c)["valid_loss"].min() for c in bb.configs])
    assert out.startswith(f"best row {int(best.argmin())}: best valid_loss {best.min():.4f}")
    seeds = [line for line in out.splitlines() if line.startswith("  ") and "|" in line]
    assert [s.split("|")[0].strip() for s in seeds] == ["0", "1"]
    assert "ASHA ran the row to its best epoch in " in out and " of 2 seeds" in out
    # random search proposes nothing by model: ASHA's cutoff is Syne Tune's all-values quantile
    pairs = re.findall(r"/ ([0-9.]+) \(([0-9.]+)\)", out)
    assert pairs and all(met == everything for met, everything in pairs)


def test_leave_one_out_ranks_find_smooth_optima_and_miss_planted_outliers() -> None:
    pytest.importorskip("sklearn")
    import numpy as np

    best_row = _module("mf_best_row")
    rng = np.random.default_rng(0)
    X = rng.random((150, 2))
    y = ((X - 0.3) ** 2).sum(axis=1)  # smooth: its neighbours give the best row away
    ranks = best_row.loo_ranks(X, y, top=3)
    assert [t for _, t, _ in ranks] == [0, 1, 2]
    assert ranks[0][2] <= 5
    outlier = int(np.argmax(((X - 0.3) ** 2).sum(axis=1)))  # the worst region
    y[outlier] = y.min() - 0.05  # now the best row, with nothing around it to say so
    (row, true_rank, loo_rank), *_ = best_row.loo_ranks(X, y, top=1)
    assert (row, true_rank) == (outlier, 0) and loo_rank >= 100


def test_mf_quality_passes_extra_scheduler_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    mfq = _module("mf_quality")
    monkeypatch.setattr(mfq, "RESTRICT", True)
    monkeypatch.setattr(mfq, "EXTRA_KWARGS", {
        "BOHB": {"brackets": None, "searcher_kwargs": {"random_fraction": 0.6}},
    })
    bb = mfq.make_blackbox("sklearn-digits-mlp")
    bohb = mfq.make_scheduler("BOHB", bb, 0, "valid_loss")
    assert bohb.num_brackets == 4 and bohb.searcher.random_fraction == 0.6
    assert len(bohb.searcher.restrict_configurations) == len(bb.configs)  # merged, not replaced
    assert mfq.make_scheduler("ASHA", bb, 0, "valid_loss").num_brackets == 1
    for bad in ("Annealing={}", "BOHB={brackets: 2}", "BOHB=[1]"):
        with pytest.raises(SystemExit):
            mfq.main(["--kwargs", bad])
    assert "not JSON" in capsys.readouterr().err
    monkeypatch.setenv("AIOTUNE_RESULTS", "")  # main() points it at a temp dir; restored after
    mfq.main(["--benchmarks", "synthetic-lc", "--lc-budget", "2", "--seeds", "2",
              "--methods", "RandomSearch,ASHA", "--kwargs", 'ASHA={"type": "promotion"}',
              "--png", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert "| synthetic-lc | ASHA | aiotune | " in out  # the mean best at 10-100% of the budget
    assert " of 2 (" in out  # runs ending at the best value any run found
    assert "ASHA reaches random search's final mean best" in out
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_mf_quality_runs_a_seed_range_and_adds_saved_syne_tune_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    mfq = _module("mf_quality")
    saved = tmp_path / "st.runs"
    run = {"bench": "synthetic-lc", "method": "RandomSearch", "started": 7, "real": 1.0}
    saved.write_text(
        "chatter from Syne Tune's imports\n"
        + "RUN " + json.dumps({**run, "seed": 3, "points": [[0.1, 0.06], [0.5, 0.05]]}) + "\n"
        + "ERR synthetic-lc RandomSearch 4: RuntimeError('boom')\n"
        + "RUN " + json.dumps({**run, "seed": 5, "points": [[0.2, 0.04]], "rows_ran_out_at": 1.5})
        + "\n"
    )
    monkeypatch.setenv("AIOTUNE_RESULTS", "")  # main() points it at a temp dir; restored after
    mfq.main(["--benchmarks", "synthetic-lc", "--lc-budget", "2", "--seeds", "2",
              "--first-seed", "3", "--methods", "RandomSearch", "--syne-tune-runs", str(saved),
              "--png", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    ours = sorted(set(re.findall(r"mfq-synthetic-lc-RandomSearch-(\d+)-", out)))
    assert ours == ["3", "4"]
    assert "syne-tune run failed: synthetic-lc RandomSearch 4: RuntimeError('boom')" in out
    assert "run synthetic-lc RandomSearch 5 started every row and failed at 1.5 simulated" in out
    # the saved runs' final bests, 0.05 and 0.04: mean 0.045, standard error 0.005
    assert "| RandomSearch | syne-tune 0.13 | 0.0450 +- 0.0050 | 7 |" in out


def test_mo_quality_hypervolume_by_hand_and_a_tiny_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    import numpy as np

    moq = _module("mo_quality")
    lo, hi = np.array([0.0, 0.0]), np.array([4.0, 4.0])
    # staircase (1, 3), (2, 1), (3, 2) [dominated]: areas (2-1)(4-3) + (4-2)(4-1) = 7 of 16
    pts = np.array([[3.0, 2.0], [1.0, 3.0], [2.0, 1.0]])
    assert moq.hypervolume(pts, lo, hi) == pytest.approx(7 / 16)
    assert moq.hypervolume(np.array([[5.0, 5.0]]), lo, hi) == 0.0  # beyond the reference
    assert moq.hypervolume(np.zeros((0, 2)), lo, hi) == 0.0
    saved = tmp_path / "st.runs"  # a Syne Tune side's output, as --syne-tune-save keeps it
    run = {"bench": "synthetic-lc", "method": "MOASHA", "started": 5, "real": 2.0}
    saved.write_text(
        "chatter from Syne Tune's imports\n"
        + "RUN " + json.dumps({**run, "seed": 0, "points": [[0.1, 0.2, 30.0], [0.2, 0.1, 90.0]]})
        + "\nERR synthetic-lc MOASHA 1: RuntimeError('boom')\n"
    )
    monkeypatch.setenv("AIOTUNE_RESULTS", "")  # main() points it at a temp dir; restored after
    moq.main(["--benchmarks", "synthetic-lc", "--lc-budget", "2", "--seeds", "2",
              "--syne-tune-runs", str(saved), "--png", str(tmp_path / "mo.png")])
    out = capsys.readouterr().out
    row = r"\| synthetic-lc \| (\w+) \| aiotune \| ([\d.]+) \+- [\d.]+ \(2 seeds\)"
    rows = re.findall(row, out)
    assert sorted(m for m, _ in rows) == sorted(moq.METHODS)
    assert all(0.0 < float(v) <= 1.0 for _, v in rows)  # fractions of the combined front
    assert "syne-tune run failed: synthetic-lc MOASHA 1: RuntimeError('boom')" in out
    assert re.search(r"\| synthetic-lc \| MOASHA \| Syne Tune \| [\d.]+ \+- 0.0000 "
                     r"\(1 seeds\) \| 5 \| 2.0 \|", out)
    assert (tmp_path / "mo.png").stat().st_size > 0


def test_constrained_quality_scores_by_hand_and_a_tiny_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cq = _module("constrained_quality")
    optimum, worst = cq.grid_optimum()
    assert optimum == pytest.approx(0.5998, abs=2e-3) and worst > optimum
    feasible, infeasible = {"value": 0.7, "c": -0.1}, {"value": 0.1, "c": 0.3}
    assert cq.score({"results": [infeasible, feasible]}, optimum, worst) == (
        pytest.approx(0.7 - optimum), 0.5)
    assert cq.score({"results": [infeasible]}, optimum, worst)[0] == pytest.approx(worst - optimum)
    cq.main(["--seeds", "2", "--budget", "6", "--batches", "1,3"])
    rows = re.findall(r"^\| (\d) \| aiotune \| (\w+) \| ([-\d.]+) \+- ", capsys.readouterr().out,
                      re.MULTILINE)
    assert sorted((int(b), m) for b, m, _ in rows) == sorted(
        (b, m) for b in (1, 3) for m in cq.METHODS)
    assert all(float(v) >= -1e-3 for _, _, v in rows)  # no run beats the optimum
