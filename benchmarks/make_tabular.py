"""Build the ``sklearn-digits-mlp`` tabular benchmark shipped in ``aiotune/blackbox/data/``.

Trains scikit-learn's ``MLPClassifier`` epoch by epoch (``partial_fit``, Adam) on
the digits data set that ships inside scikit-learn (no download), for a fixed
random sample of configurations of 6 hyperparameters, 27 epochs and 3 seeds, and
records after every epoch the validation error, the validation log loss (the
default metric), the training loss and the cumulative elapsed time (CPU seconds
of the training thread, training plus validation; CPU time rather than wall time
so that a busy machine does not leak into the table). The first 300 rows of the
1,000 are the table's first release, unchanged.

Usage::

    pip install scikit-learn joblib
    python benchmarks/make_tabular.py [--n-configs 1000] [--n-jobs 2] [--out PATH]

The output is a compressed ``.npz`` (numpy only is needed to read it); see
``aiotune/blackbox/registry.py`` for the format.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

N_EPOCHS = 27
SEEDS = (0, 1, 2)
BATCH_SIZES = [16, 32, 64, 128, 256]
ACTIVATIONS = ["relu", "tanh"]

# The space the configurations are sampled from (domain JSON as in aiotune.config_space).
SPACE: dict[str, dict[str, Any]] = {
    "n_units": {"type": "lograndint", "lower": 16, "upper": 256},
    "n_layers": {"type": "randint", "lower": 1, "upper": 2},
    "learning_rate_init": {"type": "loguniform", "lower": 1e-4, "upper": 1e-1},
    "alpha": {"type": "loguniform", "lower": 1e-6, "upper": 1e-1},
    "batch_size": {"type": "choice", "categories": BATCH_SIZES},
    "activation": {"type": "choice", "categories": ACTIVATIONS},
}


def sample_configs(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` configurations drawn uniformly (log-uniformly where the domain says so)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        u = rng.random(4)
        out.append(
            {
                "n_units": int(round(math.exp(math.log(16) + u[0] * math.log(256 / 16)))),
                "n_layers": int(rng.integers(1, 3)),
                "learning_rate_init": float(10 ** (-4 + 3 * u[1])),
                "alpha": float(10 ** (-6 + 5 * u[2])),
                "batch_size": int(BATCH_SIZES[rng.integers(len(BATCH_SIZES))]),
                "activation": str(ACTIVATIONS[rng.integers(len(ACTIVATIONS))]),
            }
        )
    return out


def _cross_entropy(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean validation log loss, probabilities clipped at 1e-15 (a diverged model: about 34.5)."""
    picked = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    value = float(-np.mean(np.log(picked)))
    return value if math.isfinite(value) else 34.5


def run_config(config: dict[str, Any]) -> dict[str, list[list[float]]]:
    """Train ``config`` for every seed; per-epoch validation error, loss and cumulative time."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    classes = np.arange(10)
    result: dict[str, list[list[float]]] = {
        "valid_error": [], "valid_loss": [], "train_loss": [], "elapsed_time": []
    }
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in SEEDS:
            model = MLPClassifier(
                hidden_layer_sizes=(config["n_units"],) * config["n_layers"],
                activation=config["activation"],
                alpha=config["alpha"],
                batch_size=config["batch_size"],
                learning_rate_init=config["learning_rate_init"],
                random_state=seed,
            )
            errs, valid_losses, losses, times = [], [], [], []
            spent = 0.0
            for _ in range(N_EPOCHS):
                t0 = time.thread_time()
                model.partial_fit(x_tr, y_tr, classes=classes)
                proba = model.predict_proba(x_va)
                err = float(np.mean(classes[proba.argmax(axis=1)] != y_va))
                spent += time.thread_time() - t0
                valid_losses.append(_cross_entropy(proba, y_va))
                loss = float(model.loss_)
                errs.append(err)
                losses.append(loss if math.isfinite(loss) else 1e3)
                times.append(spent)
            result["valid_error"].append(errs)
            result["valid_loss"].append(valid_losses)
            result["train_loss"].append(losses)
            result["elapsed_time"].append(times)
    return result


def main(argv: list[str] | None = None) -> None:
    """Train every configuration (in parallel) and write the compressed table."""
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-configs", type=int, default=1000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1]
        / "aiotune" / "blackbox" / "data" / "sklearn-digits-mlp.npz",
    )
    args = parser.parse_args(argv)
    configs = sample_configs(args.n_configs, args.seed)
    t0 = time.perf_counter()
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(run_config)(c) for c in configs)
    wall = time.perf_counter() - t0
    import sklearn

    meta = {
        "name": "sklearn-digits-mlp",
        "description": (
            "scikit-learn MLPClassifier (Adam, partial_fit) on load_digits "
            "(70/30 stratified split), 27 epochs, 3 seeds; validation error and "
            "log loss, training loss, CPU seconds"
        ),
        "config_space": SPACE,
        "fidelity": {"name": "epoch", "values": list(range(1, N_EPOCHS + 1))},
        "objectives": ["valid_error", "valid_loss", "train_loss", "elapsed_time"],
        "runtime": "elapsed_time",
        # The 0-1 error on 540 validation images moves in steps of 0.0019 and cannot
        # rank the best configs (its seed-to-seed correlation over the best fifth is
        # about 0): tuners are judged on the validation log loss by default.
        "metric": "valid_loss",
        "mode": "min",
        "seeds": list(SEEDS),
        "sklearn_version": sklearn.__version__,
        "build_wall_seconds": round(wall, 1),
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for name in SPACE:
        values = [c[name] for c in configs]
        if isinstance(values[0], str):
            arrays[f"config/{name}"] = np.array(values, dtype=str)
        elif isinstance(values[0], int):
            arrays[f"config/{name}"] = np.array(values, dtype=np.int64)
        else:
            arrays[f"config/{name}"] = np.array(values, dtype=np.float64)
    for obj in meta["objectives"]:
        # shape (n_configs, n_seeds, n_fidelities)
        arrays[f"objective/{obj}"] = np.array([r[obj] for r in results], dtype=np.float32)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1024:.0f} KiB) in {wall:.0f} s for {len(configs)} configs")


if __name__ == "__main__":
    main()
