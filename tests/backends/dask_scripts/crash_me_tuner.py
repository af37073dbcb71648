"""A tuner on a Dask cluster for the crash test: 4 trials of ``checkpointing.py``, 2 at a time.

Usage: crash_me_tuner.py SCHEDULER_ADDRESS (AIOTUNE_RESULTS names the results folder).
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import DaskBackend
from aiotune.config_space import uniform
from aiotune.schedulers import RandomSearch

if __name__ == "__main__":
    Tuner(
        DaskBackend(Path(__file__).parent / "checkpointing.py", scheduler_address=sys.argv[1]),
        RandomSearch({"lr": uniform(0.0, 0.2), "epochs": 6}, metric="loss", random_seed=0),
        StoppingCriterion(max_num_trials_completed=4),
        n_workers=2,
        tuner_name="crash",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    ).run()
