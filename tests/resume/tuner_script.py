"""Run (or resume) a tuner in this process, for the SIGKILL tests: ``tuner_script.py MODE NAME``.

MODE is ``local`` (LocalBackend, 2 workers, slow checkpointing trials;
``local-nosave``: the same, never saving tuner.json after its start), ``sim``
(SimulatorBackend, many trials) or ``resume`` (``Tuner.load(NAME).run()``, NAME a path).
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiotune.backends.local import LocalBackend
from aiotune.backends.simulator import SimulatorBackend
from aiotune.blackbox.learning_curves import SyntheticLearningCurves
from aiotune.config_space import loguniform
from aiotune.schedulers.random_search import RandomSearch
from aiotune.stopping import StoppingCriterion
from aiotune.tuner import Tuner

HERE = Path(__file__).resolve().parent


def main(mode: str, name: str) -> None:
    """Build the tuner MODE names and run it to its end."""
    if mode == "resume":
        Tuner.load(name).run()
        return
    if mode in ("local", "local-nosave"):
        space = {"lr": loguniform(1e-4, 1.0), "epochs": 12, "sleep": 0.06}
        backend = LocalBackend(entry_point=HERE / "ckpt_train.py", stop_grace_period=1.0)
        scheduler = RandomSearch(space, metric="loss", mode="min", random_seed=3)
        stop = StoppingCriterion(max_num_trials_completed=5)
        n_workers = 2
    else:
        bb = SyntheticLearningCurves()
        backend = SimulatorBackend("synthetic-lc", seed=0)
        scheduler = RandomSearch(bb.config_space, metric="valid_error", random_seed=1)
        stop = StoppingCriterion(max_num_trials_completed=int(sys.argv[3]))
        n_workers = 4
    tuner = Tuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=stop,
        n_workers=n_workers,
        tuner_name=name,
        suffix_tuner_name=False,
        results_update_interval=3600.0 if mode == "local-nosave" else 0.2,
        print_update_interval=3600.0,
    )
    tuner.run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
