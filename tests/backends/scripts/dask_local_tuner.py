"""A tuner whose DaskBackend starts its own LocalCluster; two trials that report, then block.

Usage: dask_local_tuner.py (AIOTUNE_RESULTS names the results folder; the run is "local").
Prints "running" once both trials reported, so a test can signal it mid-run.
"""

from __future__ import annotations

from pathlib import Path

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import DaskBackend
from aiotune.callbacks import TunerCallback
from aiotune.config_space import randint
from aiotune.schedulers import RandomSearch

SCRIPT = Path(__file__).resolve().parents[1] / "dask_scripts" / "report.py"


class SayWhenRunning(TunerCallback):
    """Prints "running" once both trials reported."""

    def __init__(self) -> None:
        self.reported: set[int] = set()

    def on_trial_result(self, trial, status, result, decision):  # type: ignore[no-untyped-def]
        self.reported.add(trial.trial_id)
        if len(self.reported) == 2:
            print("running", flush=True)


if __name__ == "__main__":
    Tuner(
        DaskBackend(SCRIPT, stop_grace_period=2.0),
        RandomSearch({"n": randint(1, 1000), "block": True}, metric="loss", random_seed=0),
        StoppingCriterion(max_num_trials_completed=4),
        n_workers=2,
        callbacks=[SayWhenRunning()],
        tuner_name="local",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    ).run()
