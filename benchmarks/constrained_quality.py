"""Constrained BO quality: aiotune's ConstrainedBayesianOptimization against plain BO, random
search and Syne Tune 0.13's ConstrainedBayesianOptimization, on Gramacy et al.'s (2016) toy.

    minimize  f(x, y) = x + y,   x, y in [0, 1]
    subject to c1 = 1.5 - x - 2 y - 0.5 sin(2 pi (x^2 - 2 y)) <= 0
               c2 = x^2 + y^2 - 1.5 <= 0

Both Syne Tune and aiotune model one constraint, so trials report ``c = max(c1, c2)``.
The constraint binds: the optimum, about 0.5998 at (0.1954, 0.4044), lies on its border.
``--budget`` evaluations (40), ``--seeds`` seeds (10), ask/tell in batches of 1 and of 4
(the batch's configs are suggested before any of them is told, as with 4 workers). The
score is the simple regret of the best *feasible* value found against the constrained
optimum (found on a 2001 x 2001 grid); a run that found no feasible config scores the
worst feasible value on the grid. Also printed: the share of feasible evaluations.

    python benchmarks/constrained_quality.py [--syne-tune-python /tmp/st13/bin/python]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BOUNDS = (0.0, 1.0)
METHODS = ("ConstrainedBayesianOptimization", "BayesianOptimization", "RandomSearch")


def objective(x: Any, y: Any) -> Any:
    return x + y


def constraint(x: Any, y: Any) -> Any:
    c1 = 1.5 - x - 2 * y - 0.5 * np.sin(2 * np.pi * (x**2 - 2 * y))
    c2 = x**2 + y**2 - 1.5
    return np.maximum(c1, c2)


def evaluate(config: dict[str, float]) -> dict[str, float]:
    x, y = config["x"], config["y"]
    return {"value": float(objective(x, y)), "c": float(constraint(x, y))}


def grid_optimum() -> tuple[float, float]:
    """The constrained optimum and the worst feasible value, on a fine grid."""
    g = np.linspace(*BOUNDS, 2001)
    x, y = np.meshgrid(g, g)
    feasible = constraint(x, y) <= 0
    values = objective(x, y)[feasible]
    return float(values.min()), float(values.max())


def ask_tell(scheduler_suggest: Any, add: Any, tell: Any, budget: int,
             batch: int) -> list[dict[str, float]]:
    """Suggest ``batch`` configs, then evaluate and tell them, until ``budget`` is used."""
    out: list[dict[str, float]] = []
    tid = 0
    while len(out) < budget:
        trials = []
        for _ in range(min(batch, budget - len(out))):
            config = scheduler_suggest(tid)
            trials.append(add(tid, config))
            tid += 1
        for trial, config in trials:
            result = evaluate(config)
            tell(trial, result)
            out.append(result)
    return out


def run_ours(method: str, seed: int, budget: int, batch: int) -> dict[str, Any]:
    from aiotune.config_space import uniform
    from aiotune.schedulers.searchers import (
        BayesOptSearcher,
        ConstrainedBayesOptSearcher,
        RandomSearcher,
    )
    from aiotune.trial import Trial

    space = {"x": uniform(*BOUNDS), "y": uniform(*BOUNDS)}
    if method == "ConstrainedBayesianOptimization":
        searcher: Any = ConstrainedBayesOptSearcher(space, "value", constraint_attr="c",
                                                    random_seed=seed)
    elif method == "BayesianOptimization":
        searcher = BayesOptSearcher(space, "value", random_seed=seed)
    else:
        searcher = RandomSearcher(space, "value", random_seed=seed)

    def add(tid: int, config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        trial = Trial(trial_id=tid, config=config)
        searcher.on_trial_add(trial)
        return trial, config

    t0 = time.perf_counter()
    results = ask_tell(lambda tid: searcher.suggest(), add,
                       lambda trial, r: searcher.on_trial_complete(trial, r), budget, batch)
    return {"results": results, "seconds": time.perf_counter() - t0}


def run_syne_tune(seed: int, budget: int, batch: int) -> dict[str, Any]:
    """Syne Tune 0.13's ConstrainedBayesianOptimization, ask/tell (in its venv)."""
    from datetime import datetime

    from syne_tune.backend.trial_status import Trial
    from syne_tune.config_space import uniform
    from syne_tune.optimizer.baselines import ConstrainedBayesianOptimization

    space = {"x": uniform(*BOUNDS), "y": uniform(*BOUNDS)}
    sched = ConstrainedBayesianOptimization(space, metric="value", constraint_attr="c",
                                            mode="min", random_seed=seed)

    def add(tid: int, config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        trial = Trial(trial_id=tid, config=config, creation_time=datetime.now())
        sched.on_trial_add(trial)
        return trial, config

    def tell(trial: Any, result: dict[str, float]) -> None:
        sched.on_trial_result(trial, result)
        sched.on_trial_complete(trial, result)

    t0 = time.perf_counter()
    results = ask_tell(lambda tid: sched.suggest(trial_id=tid).config, add, tell, budget, batch)
    return {"results": results, "seconds": time.perf_counter() - t0}


def score(run: dict[str, Any], optimum: float, worst: float) -> tuple[float, float]:
    """``(simple regret of the best feasible value, share of feasible evaluations)``."""
    feasible = [r["value"] for r in run["results"] if r["c"] <= 0]
    best = min(feasible) if feasible else worst
    return best - optimum, len(feasible) / len(run["results"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=40)
    p.add_argument("--batches", default="1,4")
    p.add_argument("--syne-tune-python", default=None,
                   help="interpreter of a venv with syne-tune[gpsearchers]==0.13.0")
    p.add_argument("--syne-tune-side", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    if args.syne_tune_side:
        import logging

        logging.disable(logging.WARNING)
        for batch in batches:
            for seed in range(args.seeds):
                r = run_syne_tune(seed, args.budget, batch)
                print("RUN " + json.dumps({"batch": batch, **r}), flush=True)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.seeds} seeds, "
          f"{args.budget} evaluations, load average {os.getloadavg()[0]:.1f}")
    optimum, worst = grid_optimum()
    print(f"# constrained optimum on the grid: {optimum:.4f}")
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for batch in batches:
        for method in METHODS:
            for seed in range(args.seeds):
                runs.setdefault(("aiotune", method, batch), []).append(
                    run_ours(method, seed, args.budget, batch))
    if args.syne_tune_python:
        cmd = [args.syne_tune_python, __file__, "--syne-tune-side", "--seeds", str(args.seeds),
               "--budget", str(args.budget), "--batches", args.batches]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("RUN "):
                r = json.loads(line[4:])
                key = ("Syne Tune", "ConstrainedBayesianOptimization", r["batch"])
                runs.setdefault(key, []).append(r)
    print("| batch | library | method | simple regret of the best feasible value | "
          "feasible evaluations | real s per run |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (lib, method, batch), rs in sorted(runs.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        scores = [score(r, optimum, worst) for r in rs]
        regrets = [s[0] for s in scores]
        se = statistics.stdev(regrets) / math.sqrt(len(regrets)) if len(regrets) > 1 else 0.0
        share = statistics.fmean(s[1] for s in scores)
        seconds = statistics.fmean(r["seconds"] for r in rs)
        print(f"| {batch} | {lib} | {method} | {statistics.fmean(regrets):.4f} +- {se:.4f} "
              f"({len(rs)} seeds) | {share:.0%} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
