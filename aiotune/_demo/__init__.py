"""The bundled example ``aiotune demo`` runs: random search over a toy training script.

``train.py`` next to this file is an ordinary training script (it knows nothing
of the tuner beyond ``Reporter``); :func:`run_demo` tunes it on 2 local workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["TRAIN_SCRIPT", "config_space", "run_demo"]

TRAIN_SCRIPT = Path(__file__).with_name("train.py")


def config_space() -> dict[str, Any]:
    """The demo's search space: learning rate, momentum, batch size; 5 epochs."""
    from ..config_space import choice, loguniform, uniform

    return {
        "lr": loguniform(1e-4, 1.0),
        "momentum": uniform(0.5, 0.99),
        "batch_size": choice([32, 64, 128]),
        "epochs": 5,
        "epoch_time": 0.05,
    }


def run_demo(
    n_trials: int = 12, n_workers: int = 2, seed: int = 0, print_update_interval: float = 5.0
) -> Any:
    """Tune ``train.py`` until ``n_trials`` trials completed; return the finished Tuner."""
    from ..backends.local import LocalBackend
    from ..schedulers.random_search import RandomSearch
    from ..stopping import StoppingCriterion
    from ..tuner import Tuner

    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=TRAIN_SCRIPT),
        scheduler=RandomSearch(config_space(), metric="loss", mode="min", random_seed=seed),
        stop_criterion=StoppingCriterion(max_num_trials_completed=n_trials - 1),
        n_workers=n_workers,
        tuner_name="demo",
        print_update_interval=print_update_interval,
    )
    tuner.run()
    return tuner
