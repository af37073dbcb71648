"""SyncBOHB and SyncMOBSTER: synchronous Hyperband with a model proposing the configs."""

from __future__ import annotations

from typing import Any

import pytest

from aiotune.schedulers import SyncBOHB, SyncHyperband, SyncMOBSTER
from aiotune.testing.scheduler_case import SchedulerTestCase


@pytest.mark.parametrize("cls", [SyncBOHB, SyncMOBSTER])
def test_a_simulated_run_starts_model_proposed_trials_and_resumes_paused_ones(
    cls: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    scheduler = cls(bb.config_space, "valid_error", resource_attr="epoch", max_t=27,
                    random_seed=0)
    assert isinstance(scheduler, SyncHyperband)
    searcher = scheduler.searcher
    from_model = []
    original = searcher.suggest

    def suggest() -> Any:
        config = original()
        from_model.append(searcher.last_from_model)
        return config

    searcher.suggest = suggest  # type: ignore[method-assign]
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch"), scheduler,
        StoppingCriterion(max_num_trials_started=80), n_workers=4,
        tuner_name=cls.__name__, suffix_tuner_name=False, print_update_interval=1e9,
    )
    tuner.run()
    assert tuner.status.num_trials_started >= 80 and tuner.status.num_trials_failed == 0
    assert any(t.attempt >= 1 for t in tuner.trials.values())  # paused trials were resumed
    assert sum(from_model) >= 10, from_model  # the model proposed, not random search alone


class TestSyncBOHBConformance(SchedulerTestCase):
    max_epochs = 9

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return SyncBOHB(config_space, metric, mode=mode, max_t=9, random_seed=seed)


class TestSyncMOBSTERConformance(SchedulerTestCase):
    max_epochs = 9

    def make_scheduler(self, config_space: Any, metric: str, mode: str, seed: int) -> Any:
        return SyncMOBSTER(config_space, metric, mode=mode, max_t=9, random_seed=seed)
