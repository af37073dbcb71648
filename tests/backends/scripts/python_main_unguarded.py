"""A tuning script that forgot ``if __name__ == "__main__":`` around its tuning code.

PythonBackend's trial loads this file to find ``objective``; its top level then
reaches ``tuner.run()`` inside the trial, which must fail clearly, not tune again.
"""

from __future__ import annotations

import os

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import PythonBackend
from aiotune.schedulers import RandomSearch


def objective(n: int) -> None:
    """Reports n epochs."""
    from aiotune import Reporter

    reporter = Reporter()
    for epoch in range(1, n + 1):
        reporter(epoch=epoch, loss=1.0 / epoch)


with open(os.environ["UNGUARDED_IMPORTS"], "a") as log:  # one line per execution
    log.write(f"{os.getpid()}\n")
tuner = Tuner(
    trial_backend=PythonBackend(objective, {"n": 2}),
    scheduler=RandomSearch({"n": 2}, metric="loss"),
    stop_criterion=StoppingCriterion(max_num_trials_started=3),
    n_workers=1,
    max_failures=0,
    print_update_interval=1e9,
)
tuner.run()
