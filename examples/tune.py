"""Tune ``train.py`` with random search on 2 local workers and print the best config.

Run: ``python examples/tune.py`` (results go to $AIOTUNE_RESULTS, default ~/aiotune-results).
"""

from __future__ import annotations

from pathlib import Path

from aiotune import StoppingCriterion, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import choice, loguniform, uniform
from aiotune.schedulers import RandomSearch

config_space = {
    "lr": loguniform(1e-4, 1.0),
    "momentum": uniform(0.5, 0.99),
    "batch_size": choice([32, 64, 128]),
    "epochs": 5,
}


def main() -> None:
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=Path(__file__).with_name("train.py")),
        scheduler=RandomSearch(config_space, metric="loss", mode="min", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=19),
        n_workers=2,
        tuner_name="example",
        print_update_interval=5.0,
    )
    tuner.run()
    trial_id, config = tuner.best_config()
    print(f"best trial {trial_id}: {config}")
    print(f"results: {tuner.tuner_path}")


if __name__ == "__main__":
    main()
