"""A tuning script on a local Dask cluster that forgot ``if __name__ == "__main__":``.

Dask starts its local workers as ``multiprocessing`` does, and each imports this
file: the Tuner there must refuse with the fix, and the run must say what failed.
"""

from __future__ import annotations

from pathlib import Path

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import DaskBackend
from aiotune.schedulers import RandomSearch

tuner = Tuner(
    trial_backend=DaskBackend(Path(__file__).parent / "report.py"),
    scheduler=RandomSearch({"n": 2}, metric="loss"),
    stop_criterion=StoppingCriterion(max_num_trials_started=1),
    n_workers=1,
    print_update_interval=1e9,
)
tuner.run()
