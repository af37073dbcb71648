"""The ``aiotune`` command, run in subprocesses over real experiment folders."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.experiments import load_experiment
from aiotune.schedulers.random_search import RandomSearch
from aiotune.stopping import StoppingCriterion
from aiotune.tuner import Tuner

ROOT = Path(__file__).resolve().parents[2]


def aiotune(results: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["AIOTUNE_RESULTS"] = str(results)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "aiotune.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def _one_clear_line(done: subprocess.CompletedProcess, needle: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiotune: error:"), done.stderr
    assert needle in lines[0]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "results"
    old = os.environ.get("AIOTUNE_RESULTS")
    os.environ["AIOTUNE_RESULTS"] = str(root)
    try:
        bb = SyntheticLearningCurves(max_epochs=4)
        for name, seed in (("alpha", 1), ("beta", 2)):
            Tuner(
                trial_backend=SimulatorBackend(bb, seed=0),
                scheduler=RandomSearch(bb.config_space, metric="valid_error", random_seed=seed),
                stop_criterion=StoppingCriterion(max_num_trials_completed=8),
                n_workers=2,
                tuner_name=name,
                suffix_tuner_name=False,
                print_update_interval=3600.0,
            ).run()
    finally:
        if old is None:
            del os.environ["AIOTUNE_RESULTS"]
        else:
            os.environ["AIOTUNE_RESULTS"] = old
    broken = root / "broken"
    broken.mkdir()
    data = bytearray((root / "alpha" / "events.log").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (broken / "events.log").write_bytes(bytes(data))
    return root


def test_version(results: Path) -> None:
    done = aiotune(results, "--version")
    assert done.returncode == 0 and done.stdout.startswith("aiotune ")


def test_ls_lists_each_experiment_with_its_best(results: Path) -> None:
    done = aiotune(results, "ls")
    assert done.returncode == 0, done.stderr
    best = load_experiment(results / "alpha").best_value()
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if "│" in line}
    assert {"alpha", "beta", "broken"} <= set(lines)
    assert "RandomSearch" in lines["alpha"] and f"{best:.6g}" in lines["alpha"]
    assert "corrupt" in lines["broken"]


def test_show_prints_summary_and_best_config(results: Path) -> None:
    done = aiotune(results, "show", "alpha")
    assert done.returncode == 0, done.stderr
    result = load_experiment(results / "alpha")
    trial_id, config = result.best_config()
    out = done.stdout
    assert f"best config: trial {trial_id}" in out
    assert f"{result.best_value():.6g}" in out
    assert "9 completed" in out and "RandomSearch" in out
    for key in config:
        assert key in out


def test_show_importance_ranks_the_hyperparameters(results: Path) -> None:
    done = aiotune(results, "show", "alpha", "--importance")
    assert done.returncode == 0, done.stderr
    shares = load_experiment(results / "alpha").importance()
    out = done.stdout
    assert "hyperparameter importance for valid_error" in out
    lines = [ln for ln in out.splitlines() if any(f" {k} " in ln for k in shares)]
    positions = [out.index(f" {k} ", out.index("hyperparameter importance")) for k in shares]
    assert positions == sorted(positions), lines  # largest share first
    assert f"{next(iter(shares.values())):.3f}" in out


def test_plot_writes_a_png(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "alpha.png"
    done = aiotune(results, "plot", "alpha", "-o", str(out), "--kind", "trials_over_time")
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 2000


def test_export_csv_has_one_row_per_report(results: Path, tmp_path: Path) -> None:
    done = aiotune(results, "export", "alpha", "--format", "csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "alpha.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    result = load_experiment(results / "alpha")
    assert len(rows) == len(result.rows)
    assert {"trial_id", "attempt", "seq", "valid_error", "config_learning_rate"} <= set(rows[0])


def test_export_parquet_works_or_says_what_is_missing(results: Path, tmp_path: Path) -> None:
    done = aiotune(
        results, "export", "beta", "--format", "parquet", "-o", str(tmp_path / "b.parquet")
    )
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        _one_clear_line(done, "pip install pyarrow")
    else:
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "b.parquet").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("show", "ghost"), "no experiment 'ghost'"),
        (("show", "broken"), "corrupt experiment"),
        (("plot", "ghost", "-o", "x.png"), "no experiment"),
        (("export", "broken"), "corrupt"),
        (("resume", "ghost"), "no experiment"),
        (("resume", "broken"), "tuner.json"),
        (("show", "../etc"), "no experiment"),
    ],
)
def test_bad_experiments_give_one_clear_line(
    results: Path, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    _one_clear_line(aiotune(results, *args, cwd=tmp_path), needle)


def test_resume_of_a_finished_run_ends_at_once(results: Path) -> None:
    before = len(load_experiment(results / "beta").rows)
    done = aiotune(results, "resume", "beta")
    assert done.returncode == 0, done.stderr
    assert "best trial" in done.stdout
    assert len(load_experiment(results / "beta").rows) == before


def test_demo_runs_and_prints_the_best_config(tmp_path: Path) -> None:
    done = aiotune(tmp_path / "r", "demo", "--trials", "4")
    assert done.returncode == 0, done.stderr
    assert "best trial" in done.stdout and "'lr':" in done.stdout
    (folder,) = (tmp_path / "r").iterdir()
    assert folder.name.startswith("demo-")
    assert len(load_experiment(folder).trial_records) >= 4


def test_show_lists_the_pareto_front_of_a_multi_objective_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "results"
    monkeypatch.setenv("AIOTUNE_RESULTS", str(root))
    bb = SyntheticLearningCurves(max_epochs=4)
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=RandomSearch(bb.config_space, metric=["valid_error", "elapsed_time"],
                               random_seed=3),
        stop_criterion=StoppingCriterion(max_num_trials_completed=12),
        n_workers=2,
        tuner_name="mo",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    tuner.run()
    done = aiotune(root, "show", "mo")
    assert done.returncode == 0, done.stderr
    front = tuner.pareto_front()
    assert 1 <= len(front) < 13
    assert f"Pareto front of valid_error, elapsed_time (latest reports; {len(front)} shown)" \
        in done.stdout
    table = done.stdout.split("Pareto front of")[1]
    listed = [line.split("│")[1].strip() for line in table.splitlines()
              if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert listed == [str(tid) for tid, _, _ in front]
