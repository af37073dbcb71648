"""A clone that starts from a finished checkpoint completes; a fresh silent trial fails."""

from __future__ import annotations

from typing import Any

from aiotune._loop import NO_METRICS, NOTHING_LEFT
from aiotune.backends.local import LocalBackend
from aiotune.events import Suggestion
from aiotune.experiments import load_experiment
from aiotune.trial import TrialStatus
from aiotune.tuner import Tuner

from .conftest import FAULTY, ListScheduler


class CloneScheduler(ListScheduler):
    """Trial 0 trains 3 epochs; trial 1 starts from its (final) checkpoint; trial 2 is
    a fresh trial that exits without reporting."""

    def __init__(self) -> None:
        super().__init__([])
        self.plan: list[Suggestion] = [
            Suggestion.start({"mode": "ckpt", "n": 3}),
            Suggestion.start({"mode": "ckpt", "n": 3}, checkpoint_from=0),
            Suggestion.start({"mode": "noreport"}),
        ]
        self.completed: list[int] = []

    async def suggest(self) -> Suggestion | None:  # type: ignore[override]
        return self.plan.pop(0) if self.plan else None

    async def on_trial_complete(self, trial: Any, result: dict[str, Any]) -> None:
        self.completed.append(trial.trial_id)


def test_a_clone_with_nothing_left_completes_and_a_replay_agrees() -> None:
    scheduler = CloneScheduler()
    tuner = Tuner(
        trial_backend=LocalBackend(FAULTY, stop_grace_period=0.5),
        scheduler=scheduler,
        stop_criterion=lambda status: False,
        n_workers=1,  # trial 1 is asked for once trial 0 has written its last checkpoint
        max_failures=1,
        tuner_name="clone-end",
        suffix_tuner_name=False,
        print_update_interval=1000.0,
    )
    tuner.run()
    trials = tuner.status.trials
    assert (trials[0].status, trials[0].num_results) == (TrialStatus.COMPLETED, 3)
    assert (trials[1].status, trials[1].reason) == (TrialStatus.COMPLETED, NOTHING_LEFT)
    assert trials[1].num_results == 0
    assert (trials[2].status, trials[2].reason) == (TrialStatus.FAILED, NO_METRICS)
    assert scheduler.completed == [0, 1] and scheduler.errors == [2]
    replayed = load_experiment(tuner.tuner_path).trials().set_index("trial_id")
    assert replayed.loc[1, "status"] == "completed" and replayed.loc[1, "reason"] == NOTHING_LEFT
    assert replayed.loc[2, "status"] == "failed"
