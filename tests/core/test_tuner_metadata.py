"""``metadata.json`` across runs: a resumed experiment keeps its original start time."""

from __future__ import annotations

import json
import time
from pathlib import Path

from aiotune import StoppingCriterion, Tuner
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.experiments import list_experiments, load_experiment
from aiotune.schedulers import RandomSearch
from aiotune.store.event_log import read_log


def _start_time(tuner: Tuner) -> float:
    meta = json.loads((tuner.tuner_path / "metadata.json").read_text())
    return float(meta["start_time"])


def test_start_time_is_the_first_runs_after_a_rerun_and_a_resume(results_root: Path) -> None:
    bb = SyntheticLearningCurves(max_epochs=3)
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=RandomSearch(bb.config_space, metric=bb.metric, random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_started=2),
        n_workers=1,
        tuner_name="dated",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    before = time.time()
    tuner.run()
    first = _start_time(tuner)
    created = read_log(tuner.tuner_path / "events.log").header.created
    assert first == created and before <= first <= time.time()
    time.sleep(0.05)  # so a rewritten time would differ
    tuner.stop_criterion = StoppingCriterion(max_num_trials_started=4)
    tuner.run()  # the same Tuner again
    assert _start_time(tuner) == first
    time.sleep(0.05)
    more = StoppingCriterion(max_num_trials_started=6)
    loaded = Tuner.load(tuner.tuner_path, stop_criterion=more)
    loaded.run()  # a resume
    assert loaded.status.num_trials_started >= 6
    assert _start_time(loaded) == first
    assert load_experiment("dated").metadata["start_time"] == first
    [info] = list_experiments(results_root)
    assert info.start_time == first
