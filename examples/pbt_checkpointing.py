"""A training script that checkpoints every epoch and resumes from its checkpoint.

Use it with schedulers that pause and resume trials (promotion-type ASHA,
SyncHyperband, PASHA) or start trials from another trial's checkpoint
(PopulationBasedTraining): the tuner's backend gives each trial a checkpoint
folder (``--st_checkpoint_dir``, as Syne Tune does; ``aiotune.reporter.checkpoint_dir()``
finds it), copies a donor's folder into it for PBT, and restarts a paused trial
with the same folder. The script trains a small linear model with SGD and
momentum on synthetic data (numpy only), saves its weights, optimizer state and
epoch as JSON (never pickle) after each epoch, atomically, and reports
``epoch``, ``loss`` and ``resumed_from`` (the epoch it loaded, 0 for a fresh start).

Run by hand: ``python examples/pbt_checkpointing.py --lr 0.05 --epochs 5`` prints
``[tune-metric]: {...}`` lines. Tune it::

    from aiotune import Tuner, StoppingCriterion
    from aiotune.backends import LocalBackend
    from aiotune.config_space import loguniform, uniform
    from aiotune.schedulers import PopulationBasedTraining

    space = {"lr": loguniform(1e-3, 0.5), "momentum": uniform(0.0, 0.99), "epochs": 30}
    scheduler = PopulationBasedTraining(
        space, metric="loss", mode="min", time_attr="epoch",
        population_size=8, perturbation_interval=3, random_seed=0,
    )
    Tuner(LocalBackend("examples/pbt_checkpointing.py"), scheduler,
          StoppingCriterion(max_wallclock_time=120), n_workers=4).run()
"""

from __future__ import annotations

import json
import os
import time
from argparse import ArgumentParser
from pathlib import Path

import numpy as np

from aiotune.reporter import Reporter, checkpoint_dir

CHECKPOINT = "checkpoint.json"


def make_data(seed: int = 0, n: int = 256, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A fixed regression problem: y = X w* + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    return x, x @ w_true + 0.1 * rng.normal(size=n)


def load_checkpoint(folder: Path | None, d: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(epoch, weights, velocity)`` from the folder's checkpoint, or a fresh start."""
    if folder is not None and (folder / CHECKPOINT).is_file():
        data = json.loads((folder / CHECKPOINT).read_text())
        return int(data["epoch"]), np.array(data["w"]), np.array(data["v"])
    return 0, np.zeros(d), np.zeros(d)


def save_checkpoint(folder: Path | None, epoch: int, w: np.ndarray, v: np.ndarray) -> None:
    """Write the checkpoint atomically (temp file + rename): a kill never leaves half a file."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (CHECKPOINT + ".tmp")
    tmp.write_text(json.dumps({"epoch": epoch, "w": w.tolist(), "v": v.tolist()}))
    os.replace(tmp, folder / CHECKPOINT)


def main() -> None:
    """Parse hyperparameters, resume if a checkpoint exists, train and report each epoch."""
    p = ArgumentParser()
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch_time", type=float, default=0.0)
    p.add_argument("--batch_size", type=int, default=32)
    args, _ = p.parse_known_args()
    x, y = make_data()
    folder = checkpoint_dir()
    start, w, v = load_checkpoint(folder, x.shape[1])
    report = Reporter()
    rng = np.random.default_rng(start)
    for epoch in range(start + 1, args.epochs + 1):
        order = rng.permutation(len(x))
        for i in range(0, len(x), args.batch_size):
            idx = order[i : i + args.batch_size]
            grad = 2.0 * x[idx].T @ (x[idx] @ w - y[idx]) / len(idx)
            v = args.momentum * v - args.lr * grad
            w = w + v
        if args.epoch_time > 0:
            time.sleep(args.epoch_time)
        loss = float(np.mean((x @ w - y) ** 2))
        if not np.isfinite(loss):
            loss = float("nan")
        save_checkpoint(folder, epoch, w, v)
        report(epoch=epoch, loss=loss, resumed_from=start)


if __name__ == "__main__":
    main()
