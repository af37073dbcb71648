"""Tuner.load feeds the scheduler every logged result exactly once, and the run continues."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.events import Decision, ResultEvent
from aiotune.schedulers.fifo import FIFOScheduler
from aiotune.stopping import StoppingCriterion
from aiotune.store.event_log import read_log
from aiotune.store.records import TrialAdded
from aiotune.trial import Trial
from aiotune.tuner import Tuner

BB = SyntheticLearningCurves(max_epochs=4)


class Recorder(FIFOScheduler):
    """A FIFO scheduler that records what it is told (not saveable: passed to Tuner.load)."""

    def __init__(self) -> None:
        super().__init__(BB.config_space, metric="valid_error", random_seed=5)
        self.results: list[tuple[int, Any]] = []
        self.added: list[int] = []

    async def on_trial_add(self, trial: Trial) -> None:
        self.added.append(trial.trial_id)
        await super().on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        self.results.append((trial.trial_id, result["epoch"]))
        return await super().on_result(trial, result)


def _tuner(scheduler: Any, completed: int) -> Tuner:
    return Tuner(
        trial_backend=SimulatorBackend(BB, seed=0),
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_completed=completed),
        n_workers=2,
        tuner_name="sched",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )


def test_a_fresh_scheduler_is_fed_the_whole_log_once(results_root: Path) -> None:
    first = Recorder()
    tuner = _tuner(first, completed=5)
    tuner.run()
    before = tuner.status.num_evaluations
    assert (results_root / "sched" / "tuner.json").exists()

    second = Recorder()
    loaded = Tuner.load(
        results_root / "sched",
        trial_backend=SimulatorBackend(BB, seed=0),
        scheduler=second,
        stop_criterion=StoppingCriterion(max_num_trials_completed=9),
    )
    # The status is rebuilt before running: the criterion counts what was done before.
    assert loaded.status.num_evaluations == before
    assert tuner.status.wallclock_time > 0
    assert loaded.status.wallclock_time == pytest.approx(tuner.status.wallclock_time)
    assert loaded.status.num_trials_completed == tuner.status.num_trials_completed
    assert loaded.best_config() == tuner.best_config()
    loaded.run()
    assert loaded.status.num_trials_completed == 10
    log = read_log(results_root / "sched" / "events.log").records
    reports = [(r.trial_id, r.metrics["epoch"]) for r in log if isinstance(r, ResultEvent)]
    assert Counter(second.results) == Counter(reports)  # each once, old and new
    assert second.results[: len(first.results)] == first.results
    added = [r.trial_id for r in log if isinstance(r, TrialAdded) and r.attempt == 0]
    assert second.added == added
    assert len(set(added)) == len(added)
    assert loaded.status.num_evaluations == len(reports)


def test_interrupted_trials_end_as_their_logged_decision_says(results_root: Path) -> None:
    from aiotune.events import TrialEndedEvent
    from aiotune.store.event_log import EventLog
    from aiotune.store.records import DecisionMade, LogHeader, TuningEnded
    from aiotune.trial import TrialStatus

    tuner = _tuner(Recorder(), completed=3)
    tuner.run()
    path = results_root / "sched" / "events.log"
    n = tuner._next_trial_id
    cfg = dict(tuner.trials[0].config)
    # What a tuner SIGKILLed mid-run leaves: two trials started, one with a STOP decision.
    records = read_log(path).records
    assert isinstance(records[-1], TuningEnded)
    with EventLog.open(path, LogHeader(tuner_name="sched", created=0.0)) as log:
        log.append(TrialAdded(trial_id=n, attempt=0, config=cfg, time=1.0))
        log.append(ResultEvent(trial_id=n, attempt=0, seq=0, time=2.0, metrics={"epoch": 1}))
        log.append(DecisionMade(trial_id=n, attempt=0, seq=0, decision="stop", time=2.0))
        log.append(TrialAdded(trial_id=n + 1, attempt=0, config=cfg, time=3.0))
    loaded = Tuner.load(
        results_root / "sched",
        trial_backend=SimulatorBackend(BB, seed=0),
        scheduler=Recorder(),
        stop_criterion=StoppingCriterion(max_num_trials_completed=5),
    )
    assert loaded.status.num_trials_running == 2
    loaded.run()
    after = read_log(path).records
    ends = {r.trial_id: r for r in after if isinstance(r, TrialEndedEvent) and r.trial_id >= n}
    assert ends[n].status is TrialStatus.STOPPED and "stop decision" in ends[n].reason
    # The simulator cannot restart a trial: the interrupted one is failed, not rerun.
    assert ends[n + 1].status is TrialStatus.FAILED and "interrupted" in ends[n + 1].reason
    assert not any(isinstance(r, TrialAdded) and r.attempt > 0 for r in after)
    assert loaded.status.trials[n].status is TrialStatus.STOPPED
    assert loaded.status.trials[n + 1].status is TrialStatus.FAILED
    assert loaded.status.num_trials_completed == 6
    assert min(r.trial_id for r in after if isinstance(r, TrialAdded) and r.trial_id > n + 1)


def test_resuming_an_ended_experiment_leaves_its_log_as_it_was(results_root: Path) -> None:
    """A tuner killed after logging its end, then resumed: no second TuningEnded, files whole."""
    _tuner(FIFOScheduler(BB.config_space, metric="valid_error", random_seed=5), 4).run()
    path = results_root / "sched"
    before = (path / "events.log").read_bytes()
    (path / "results.csv").unlink()  # as if killed before the final snapshot
    loaded = Tuner.load(path, trial_backend=SimulatorBackend(BB, seed=0))
    loaded.run()
    assert (path / "events.log").read_bytes() == before
    assert loaded.status.num_trials_completed == 5
    assert (path / "results.csv").exists()
