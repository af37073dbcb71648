"""load_experiment / list_experiments / plots over real experiment folders written by a Tuner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.events import ResultEvent
from aiotune.experiments import ExperimentError, list_experiments, load_experiment
from aiotune.schedulers.random_search import RandomSearch
from aiotune.stopping import StoppingCriterion
from aiotune.store.event_log import read_log
from aiotune.tuner import Tuner


def _run(name: str, completed: int = 12, mode: str = "min") -> Tuner:
    bb = SyntheticLearningCurves(max_epochs=5)
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=RandomSearch(bb.config_space, metric="valid_error", mode=mode, random_seed=2),
        stop_criterion=StoppingCriterion(max_num_trials_completed=completed),
        n_workers=3,
        tuner_name=name,
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    tuner.run()
    return tuner


@pytest.mark.parametrize("mode", ["min", "max"])
def test_round_trip_same_best_config_and_every_report(mode: str) -> None:
    tuner = _run("rt", mode=mode)
    result = load_experiment("rt")
    assert result.best_config() == tuner.best_config()
    assert result.best_config("valid_error") == tuner.best_config("valid_error")
    df = result.results
    assert len(df) == tuner.status.num_evaluations
    assert {
        "trial_id",
        "attempt",
        "seq",
        "status",
        "time",
        "config_learning_rate",
        "valid_error",
        "epoch",
    } <= set(df.columns)
    assert not df.duplicated(["trial_id", "attempt", "seq"]).any()
    trials = result.trials()
    assert len(trials) == tuner.status.num_trials_started
    assert set(trials["status"]) <= {"completed", "stopped"}
    best_id, _ = tuner.best_config()
    best = trials.set_index("trial_id").loc[best_id, "best_valid_error"]
    assert best == tuner.status.trials[best_id].best["valid_error"]
    assert result.metadata["scheduler"] == "RandomSearch"
    assert result.end_reason is not None and "stopping criterion" in result.end_reason
    # by path as well as by name
    assert load_experiment(tuner.tuner_path).best_config() == tuner.best_config()


def _png_ok(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_plots_have_the_right_lines_and_render_png(tmp_path: Path) -> None:
    tuner = _run("plots", completed=6)
    result = load_experiment("plots")
    fig = result.plot(path=tmp_path / "best.png")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 1
    ys = ax.get_lines()[0].get_ydata()
    assert list(ys) == sorted(ys, reverse=True)  # best so far only improves (min)
    assert ys[-1] == tuner.status.trials[tuner.best_config()[0]].best["valid_error"]
    _png_ok(tmp_path / "best.png")
    with_metric = {r.trial_id for r in result.rows if "valid_error" in r.metrics}
    fig = result.plot("valid_error", kind="trials_over_time", path=tmp_path / "t.png")
    reported = [t for t in tuner.status.trials.values() if t.num_results > 0]
    assert len(fig.axes[0].get_lines()) == len(with_metric) == len(reported) >= 6
    _png_ok(tmp_path / "t.png")
    fig = result.plot(kind="parallel_coordinates", path=tmp_path / "p.png")
    assert len(fig.axes[0].get_lines()) == len(with_metric)
    _png_ok(tmp_path / "p.png")
    with pytest.raises(ValueError, match="kind"):
        result.plot(kind="pie")
    with pytest.raises(ValueError, match="unknown metric"):
        result.plot("nope")


def test_missing_and_corrupt_experiments_raise_one_clear_error(results_root: Path) -> None:
    with pytest.raises(ExperimentError, match="no experiment 'ghost'"):
        load_experiment("ghost")
    with pytest.raises(ExperimentError):
        load_experiment("../etc")
    tuner = _run("bad", completed=3)
    log = tuner.tuner_path / "events.log"
    data = bytearray(log.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte mid-log: corruption, not a torn tail
    log.write_bytes(bytes(data))
    with pytest.raises(ExperimentError, match="corrupt experiment.*offset"):
        load_experiment("bad")
    (tuner.tuner_path / "events.log").unlink()
    with pytest.raises(ExperimentError, match="no readable event log"):
        load_experiment("bad")


def test_torn_tail_is_dropped_and_the_rest_kept() -> None:
    tuner = _run("torn", completed=3)
    log = tuner.tuner_path / "events.log"
    full = read_log(log).records
    data = log.read_bytes()
    log.write_bytes(data[:-7])  # a power cut in the middle of the last record
    result = load_experiment("torn")
    n_reports = sum(isinstance(r, ResultEvent) for r in full)
    last_is_report = isinstance(full[-1], ResultEvent)
    assert len(result.rows) == n_reports - (1 if last_is_report else 0)
    assert result.end_reason is None  # the TuningEnded record was the torn one


def test_list_experiments_lists_each_with_its_best(results_root: Path) -> None:
    _run("one", completed=3)
    _run("two", completed=3, mode="max")
    (results_root / "junk").mkdir()
    broken = results_root / "broken"
    broken.mkdir()
    (broken / "events.log").write_bytes(b"garbage")
    infos = {i.name: i for i in list_experiments()}
    assert set(infos) == {"one", "two", "broken"}
    assert infos["broken"].error and "broken" in infos["broken"].error
    one = infos["one"]
    assert one.scheduler == "RandomSearch" and one.num_trials >= 4 and one.metric == "valid_error"
    assert one.best == load_experiment("one").best_value()
    assert list_experiments(results_root / "nowhere") == []


def test_nothing_in_the_folder_is_executed(results_root: Path, tmp_path: Path) -> None:
    tuner = _run("safe", completed=3)
    marker = tmp_path / "pwned"
    evil: dict[str, Any] = {"scheduler": f"__import__('os').system('touch {marker}')"}
    (tuner.tuner_path / "metadata.json").write_text(str(evil).replace("'", '"', 2))
    load_experiment("safe").trials()
    assert not marker.exists()
    assert os.listdir(tuner.tuner_path)


def test_a_name_without_its_time_suffix_gets_the_newest_run_suggested(results_root: Path) -> None:
    for stamp in ("2026-01-02-03-04-05-006", "2026-01-02-03-04-05-007"):
        (results_root / f"mnist-{stamp}").mkdir(parents=True)
    (results_root / "mnist-other-2026-01-02-03-04-05-009").mkdir()  # another base name
    (results_root / "mnist-backup").mkdir()  # no time suffix
    with pytest.raises(
        ExperimentError,
        match=r"no experiment 'mnist'.*did you mean mnist-2026-01-02-03-04-05-007 \(newest of 2\)",
    ):
        load_experiment("mnist")
    with pytest.raises(ExperimentError, match=r"no experiment 'mnis' \(.*\)$"):
        load_experiment("mnis")  # no suggestion from a mere prefix
