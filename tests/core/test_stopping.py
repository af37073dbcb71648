"""StoppingCriterion: Syne Tune's "more than N" meaning for every field, and bad arguments."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from aiotune import InvalidArgumentError, StoppingCriterion, TrialStatus, Tuner, TuningStatus
from aiotune._loop import NO_END_REPORTED
from aiotune.backends import SimulatorBackend
from aiotune.blackbox import SyntheticLearningCurves
from aiotune.events import TrialEndedEvent
from aiotune.experiments import load_experiment
from aiotune.schedulers import RandomSearch


def _status(
    started: int = 0, completed: int = 0, failed: int = 0, stopped: int = 0
) -> TuningStatus:
    status = TuningStatus(["loss"], ["min"])
    for tid in range(started):
        status.on_trial_started(tid, {"x": tid})
    ended = [TrialStatus.COMPLETED] * completed + [TrialStatus.FAILED] * failed
    ended += [TrialStatus.STOPPED] * stopped
    for tid, st in enumerate(ended):
        status.on_trial_ended(tid, st)
    return status


@pytest.mark.parametrize(
    ("field", "bound", "make", "below", "at_bound_plus_one"),
    [
        ("max_num_trials_started", 3, lambda n: _status(started=n), 3, 4),
        ("max_num_trials_completed", 2, lambda n: _status(started=5, completed=n), 2, 3),
        (
            "max_num_trials_finished",
            2,
            lambda n: _status(started=5, completed=1, failed=n - 1),
            2,
            3,
        ),
    ],
)
def test_count_bounds_mean_more_than(field, bound, make, below, at_bound_plus_one) -> None:
    crit = StoppingCriterion(**{field: bound})
    assert not crit(make(below))
    assert crit(make(at_bound_plus_one))


def test_finished_counts_completed_failed_and_stopped_not_paused() -> None:
    status = _status(started=4, completed=1, failed=1, stopped=1)
    status.on_trial_ended(3, TrialStatus.PAUSED)
    assert status.num_trials_finished == 3
    assert StoppingCriterion(max_num_trials_finished=2)(status)
    assert not StoppingCriterion(max_num_trials_finished=3)(status)


def test_evaluations_cost_and_wallclock() -> None:
    status = _status(started=2)
    for i in range(3):
        status.on_result(0, {"loss": 1.0, "st_worker_cost": float(i + 1)})
    status.on_result(1, {"loss": 2.0, "st_worker_cost": 0.5})
    assert status.num_evaluations == 4
    assert status.cost == pytest.approx(3.5)  # latest cost per trial, summed
    assert StoppingCriterion(max_num_evaluations=3)(status)
    assert not StoppingCriterion(max_num_evaluations=4)(status)
    assert StoppingCriterion(max_cost=3.0)(status)
    assert not StoppingCriterion(max_cost=3.5)(status)
    status.set_time(10.0)
    assert not StoppingCriterion(max_wallclock_time=10.0)(status)
    status.set_time(10.01)
    assert StoppingCriterion(max_wallclock_time=10.0)(status)


def test_metric_value_bounds_ignore_nan() -> None:
    status = _status(started=1)
    status.watch(["acc"])
    status.on_result(0, {"loss": math.nan, "acc": 0.5})
    assert not StoppingCriterion(min_metric_value={"loss": 0.1})(status)
    status.on_result(0, {"loss": 0.05, "acc": 0.95})
    assert StoppingCriterion(min_metric_value={"loss": 0.1})(status)
    assert StoppingCriterion(max_metric_value={"acc": 0.9})(status)
    assert not StoppingCriterion(max_metric_value={"acc": 0.99})(status)


def test_reason_names_the_part_that_was_met() -> None:
    crit = StoppingCriterion(max_num_trials_started=0)
    assert crit.reason(_status(started=1)) == "trials started 1 > 0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_num_trials_started": -1},
        {"max_num_trials_completed": 2.5},
        {"max_wallclock_time": -3},
        {"max_wallclock_time": math.nan},
        {"max_cost": "10"},
        {"min_metric_value": {"loss": "low"}},
        {"max_num_evaluations": True},
    ],
)
def test_bad_arguments_name_the_field(kwargs) -> None:
    (field,) = kwargs
    with pytest.raises(InvalidArgumentError, match=field):
        StoppingCriterion(**kwargs)


def test_best_trial_ignores_nan_and_respects_mode() -> None:
    status = TuningStatus(["acc"], ["max"])
    for tid in range(3):
        status.on_trial_started(tid, {"i": tid})
    status.on_result(0, {"acc": 0.7})
    status.on_result(1, {"acc": math.nan})
    status.on_result(2, {"acc": 0.9})
    status.on_result(2, {"acc": 0.1})
    best = status.best_trial()
    assert best is not None and best.trial_id == 2 and best.best["acc"] == 0.9


class _LosesAnEnd(SimulatorBackend):
    """The simulator, except that the end of trial 0 after a stop never arrives (what a
    frozen remote worker does; a stand-in, as a frozen worker cannot be made here
    without a cluster)."""

    def _next_event(self) -> Any:
        event = super()._next_event()
        while (
            isinstance(event, TrialEndedEvent)
            and event.trial_id == 0
            and event.status is TrialStatus.STOPPED
        ):
            event = super()._next_event()
        return event


def test_a_trial_whose_end_never_comes_is_recorded_as_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=50, seed=0)
    tuner = Tuner(_LosesAnEnd(bb), RandomSearch(bb.config_space, "valid_error", random_seed=0),
                  StoppingCriterion(max_num_evaluations=5), n_workers=2,
                  print_update_interval=1e9)
    tuner.run()
    summary = tuner.status.trials[0]
    assert (summary.status, summary.reason) == (TrialStatus.STOPPED, NO_END_REPORTED)
    assert tuner.status.num_trials_running == 0
    replayed = load_experiment(tuner.tuner_path).trials().set_index("trial_id")
    assert replayed.loc[0, "status"] == "stopped" and replayed.loc[0, "reason"] == NO_END_REPORTED
