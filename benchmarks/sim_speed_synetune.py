"""Side by side: aiotune's and Syne Tune's simulators on the same 27-epoch table, random search.

The table: ``SyntheticLearningCurves(max_epochs=27)`` evaluated on a grid of
8 x 5 x 4 x 4 x 3 x 3 = 5,760 configurations (every hyperparameter a
``choice`` over its grid values, the same space on both sides), one seed.
Both run random search (no configuration repeated) or ASHA (``--scheduler
asha``, stopping type, grace period 1, reduction factor 3), 4 workers, until
``--trials`` trials completed (random) or finished (ASHA), in the same
process, one after the other:

* aiotune: ``TabularBlackbox`` + ``SimulatorBackend`` + ``RandomSearch``,
  ``StoppingCriterion(max_num_trials_completed=N - 1)`` (stops at the N-th);
* Syne Tune 0.16: ``BlackboxTabular`` + ``UserBlackboxBackend`` +
  ``RandomSearch``, ``Tuner(sleep_time=0, callbacks=[SimulatorCallback()])``,
  stock ``SimulatorConfig`` (0.05 s delays, 5 s tuner tick),
  ``StoppingCriterion(max_num_trials_completed=N - 1)`` ("more than").

Needs a venv with syne-tune and aiotune's dependencies::

    python -m venv /tmp/stvenv
    /tmp/stvenv/bin/pip install syne-tune huggingface_hub anyio msgspec aiofiles
    /tmp/stvenv/bin/python benchmarks/sim_speed_synetune.py [--trials 5000]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GRID: dict[str, list[Any]] = {
    "learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1],
    "batch_size": [16, 32, 64, 128, 256],
    "n_units": [16, 64, 256, 1024],
    "dropout": [0.0, 0.2, 0.4, 0.6],
    "weight_decay": [1e-6, 1e-4, 1e-2],
    "optimizer": ["sgd", "momentum", "adam"],
}
EPOCHS = 27


def make_table() -> tuple[list[dict[str, Any]], np.ndarray]:
    """Every grid configuration and its curves: values of shape (n, 1 seed, 27, 2 objectives)."""
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves

    bb = SyntheticLearningCurves(max_epochs=EPOCHS)
    configs = [dict(zip(GRID, combo, strict=True)) for combo in itertools.product(*GRID.values())]
    values = np.empty((len(configs), 1, EPOCHS, 2))
    for i, c in enumerate(configs):
        curve = bb.learning_curve(c, seed=0)
        values[i, 0, :, 0] = curve["valid_error"]
        values[i, 0, :, 1] = curve["elapsed_time"]
    return configs, values


def run_aiotune(
    configs: list[dict[str, Any]], values: np.ndarray, n: int, scheduler: str
) -> dict[str, float]:
    """aiotune's simulator until ``n`` trials completed (random) or finished (asha)."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.base import Fidelity
    from aiotune.blackbox.tabular import TabularBlackbox
    from aiotune.config_space import choice
    from aiotune.schedulers.asha import ASHA
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    space = {k: choice(v) for k, v in GRID.items()}
    columns = {k: [c[k] for c in configs] for k in GRID}
    bb = TabularBlackbox(
        space, columns, values, ["valid_error", "elapsed_time"],
        Fidelity("epoch", list(range(1, EPOCHS + 1))), "elapsed_time",
    )
    if scheduler == "asha":
        sched: Any = ASHA(space, metric="valid_error", time_attr="epoch", max_t=EPOCHS,
                          random_seed=0)
        stop = StoppingCriterion(max_num_trials_finished=n - 1)
    else:
        sched = RandomSearch(space, metric="valid_error", random_seed=0)
        stop = StoppingCriterion(max_num_trials_completed=n - 1)
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=sched,
        stop_criterion=stop,
        n_workers=4,
        tuner_name="aiotune-side-by-side",
        print_update_interval=1e9,
    )
    t0 = time.perf_counter()
    tuner.run()
    real = time.perf_counter() - t0
    st = tuner.status
    return {
        "real": real,
        "completed": st.num_trials_completed,
        "finished": st.num_trials_completed + st.num_trials_stopped + st.num_trials_failed,
        "results": st.num_evaluations,
    }


def run_synetune(
    configs: list[dict[str, Any]], values: np.ndarray, n: int, scheduler: str
) -> dict[str, float]:
    """Syne Tune's simulator until more than ``n - 1`` trials completed (random) or finished."""
    import pandas as pd
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.config_space import choice, randint
    from syne_tune.optimizer.baselines import ASHA, RandomSearch

    space = {k: choice(v) for k, v in GRID.items()}
    blackbox = BlackboxTabular(
        hyperparameters=pd.DataFrame(configs),
        configuration_space=space,
        fidelity_space={"epoch": randint(1, EPOCHS)},
        objectives_evaluations=values,
        fidelity_values=np.arange(1, EPOCHS + 1),
        objectives_names=["valid_error", "elapsed_time"],
    )
    backend = UserBlackboxBackend(blackbox=blackbox, elapsed_time_attr="elapsed_time", seed=0)
    if scheduler == "asha":
        sched: Any = ASHA(space, metric="valid_error", time_attr="epoch", max_t=EPOCHS,
                          do_minimize=True, random_seed=0)
        stop = StoppingCriterion(max_num_trials_finished=n - 1)
    else:
        sched = RandomSearch(space, metrics=["valid_error"], do_minimize=True, random_seed=0)
        stop = StoppingCriterion(max_num_trials_completed=n - 1)
    tuner = Tuner(
        trial_backend=backend,
        scheduler=sched,
        stop_criterion=stop,
        n_workers=4,
        sleep_time=0,
        callbacks=[SimulatorCallback()],
        print_update_interval=1e9,
        results_update_interval=1e9,
        tuner_name="synetune-side-by-side",
    )
    t0 = time.perf_counter()
    tuner.run()
    real = time.perf_counter() - t0
    status = tuner.tuning_status
    return {
        "real": real,
        "completed": status.num_trials_completed,
        "finished": status.num_trials_finished,
        "results": int(status.overall_metric_statistics.count),
    }


def main(argv: list[str] | None = None) -> None:
    """Build the table, run both sides, print the numbers and the ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=5000)
    p.add_argument("--scheduler", choices=["random", "asha"], default="random",
                   help="random: count completed trials; asha: count finished trials")
    p.add_argument("--synetune-trials", type=int, default=None,
                   help="fewer trials for Syne Tune if it is too slow (rates are compared)")
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="sim-side-by-side-")
    os.environ["AIOTUNE_RESULTS"] = os.path.join(tmp, "aiotune")
    os.environ["SYNETUNE_FOLDER"] = os.path.join(tmp, "synetune")
    logging.basicConfig(level=logging.WARNING)
    import syne_tune

    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"syne-tune {syne_tune.__version__}")
    configs, values = make_table()
    print(f"table: {len(configs)} configs x {EPOCHS} epochs")
    key = "completed" if args.scheduler == "random" else "finished"
    a = run_aiotune(configs, values, args.trials, args.scheduler)
    print(f"aiotune:   {args.scheduler}, {a[key]} {key}, {a['results']} results in "
          f"{a['real']:.2f}s = {a[key] / a['real']:.0f} trials/s, "
          f"{a['results'] / a['real']:.0f} results/s")
    s = run_synetune(configs, values, args.synetune_trials or args.trials, args.scheduler)
    print(f"syne-tune: {args.scheduler}, {s[key]} {key}, {s['results']} results in "
          f"{s['real']:.2f}s = {s[key] / s['real']:.0f} trials/s, "
          f"{s['results'] / s['real']:.0f} results/s")
    ratio = (a[key] / a["real"]) / (s[key] / s["real"])
    print(f"ratio ({key} trials per real second, aiotune / syne-tune): {ratio:.1f}x")


if __name__ == "__main__":
    main()
