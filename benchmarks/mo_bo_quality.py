"""Hypervolume reached by multi-objective BO on BraninCurrin and DTLZ2, side by side with
Optuna's and Syne Tune's samplers.

Two standard two-objective test problems (both minimized, known best hypervolume):

* ``branin-currin``: 2 inputs, 40 evaluations, reference point (18, 6)
  (BoTorch's test problem and reference point);
* ``dtlz2``: 6 inputs, 60 evaluations, reference point (1.1, 1.1); the front
  is the quarter circle of radius 1.

Every method runs ask/tell on the same function, sequentially or in batches of
``--workers`` (ask 4, tell 4): aiotune's ``EHVI`` and ``MORandomScalarizationBayesOpt``
(ParEGO) searchers and random search; Optuna's ``GPSampler`` (log EHVI) and
default ``TPESampler`` (MOTPE) when Optuna is installed; Syne Tune 0.16's ``EHVI``
(BoTorch's qLogEHVI) with ``--syne-tune-016-python`` (a venv with syne-tune 0.16
and botorch). Prints, per problem and worker count, the mean +- standard error
over seeds of the hypervolume of all evaluated points as a fraction of the best
possible, and real seconds per run.

    python benchmarks/mo_bo_quality.py [--seeds 10] [--workers 1,4]
        [--methods random,parego,ehvi,optuna-gp,optuna-tpe] [--syne-tune-016-python PATH]

Syne Tune's side takes about a minute per run; it can run apart, writing one JSON
line per run, and be added afterwards with ``--syne-tune-runs FILE``:

    PATH/bin/python benchmarks/mo_bo_quality.py --syne-tune-side \
        '{"problems": ["branin-currin", "dtlz2"], "workers": [1, 4], "seeds": 10}' > st.runs
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROBLEMS: dict[str, dict[str, Any]] = {
    "branin-currin": {"dim": 2, "budget": 40, "ref": (18.0, 6.0), "max_hv": 59.36011874867746},
    "dtlz2": {"dim": 6, "budget": 60, "ref": (1.1, 1.1), "max_hv": 1.21 - math.pi / 4},
}


def evaluate(problem: str, x: np.ndarray) -> list[float]:
    """The two objectives at ``x`` in the unit cube."""
    if problem == "branin-currin":
        u, v = 15.0 * x[0] - 5.0, 15.0 * x[1]
        branin = ((v - 5.1 / (4 * math.pi**2) * u**2 + 5 / math.pi * u - 6) ** 2
                  + 10 * (1 - 1 / (8 * math.pi)) * math.cos(u) + 10)
        a, b = x[0], x[1]
        factor = 1.0 - math.exp(-1.0 / (2.0 * b)) if b > 0 else 1.0
        currin = factor * ((2300 * a**3 + 1900 * a**2 + 2092 * a + 60)
                           / (100 * a**3 + 500 * a**2 + 4 * a + 20))
        return [float(branin), float(currin)]
    g = float(np.sum((x[1:] - 0.5) ** 2))
    return [(1 + g) * math.cos(x[0] * math.pi / 2), (1 + g) * math.sin(x[0] * math.pi / 2)]


def hypervolume(points: np.ndarray, ref: tuple[float, float]) -> float:
    """Area dominated by ``points`` (two objectives, minimized) below ``ref``:
    ``mo_quality.hypervolume``'s fraction of a box from the points' minima to ``ref``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mo_quality import hypervolume as box_fraction

    top = np.array(ref, dtype=float)
    low = np.minimum(points.min(axis=0), top)
    return box_fraction(points, low, top) * float(np.prod(top - low))


def ask_tell(problem: str, n_workers: int, ask: Callable[[int], tuple[Any, np.ndarray]],
             tell: Callable[[Any, list[float]], None]) -> dict[str, Any]:
    """Run the budget in batches of ``n_workers``; every evaluated value, real seconds."""
    budget, values, tid = PROBLEMS[problem]["budget"], [], 0
    t0 = time.perf_counter()
    while len(values) < budget:
        batch = []
        for _ in range(min(n_workers, budget - len(values))):
            batch.append(ask(tid))
            tid += 1
        for handle, x in batch:
            y = evaluate(problem, x)
            values.append(y)
            tell(handle, y)
    return {"values": values, "seconds": time.perf_counter() - t0}


def run_aiotune(problem: str, method: str, seed: int, n_workers: int) -> dict[str, Any]:
    """One of our searchers, ask/tell with ``on_trial_add`` for pending trials."""
    from aiotune.config_space import uniform
    from aiotune.schedulers.searchers import EHVISearcher, MOBayesOptSearcher, RandomSearcher
    from aiotune.trial import Trial

    dim = PROBLEMS[problem]["dim"]
    space = {f"x{i}": uniform(0.0, 1.0) for i in range(dim)}
    metrics = ["f1", "f2"]
    if method == "random":  # draws configs; what it is told does not matter
        searcher: Any = RandomSearcher(space, metrics[0], random_seed=seed)
    else:
        searcher = {"ehvi": EHVISearcher, "parego": MOBayesOptSearcher}[method](
            space, metrics, random_seed=seed)

    def ask(tid: int) -> tuple[Any, np.ndarray]:
        config = searcher.suggest()
        trial = Trial(trial_id=tid, config=config)
        searcher.on_trial_add(trial)
        return trial, np.array([config[f"x{i}"] for i in range(dim)])

    def tell(trial: Any, y: list[float]) -> None:
        searcher.on_trial_complete(trial, dict(zip(metrics, y, strict=True)))

    return ask_tell(problem, n_workers, ask, tell)


def run_optuna(problem: str, method: str, seed: int, n_workers: int) -> dict[str, Any]:
    """Optuna's GPSampler (log EHVI for two objectives) or default TPESampler, ask/tell."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.GPSampler(seed=seed) if method == "optuna-gp"
               else optuna.samplers.TPESampler(seed=seed))
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    dim = PROBLEMS[problem]["dim"]

    def ask(tid: int) -> tuple[Any, np.ndarray]:
        trial = study.ask()
        return trial, np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dim)])

    def tell(trial: Any, y: list[float]) -> None:
        study.tell(trial, y)

    return ask_tell(problem, n_workers, ask, tell)


def run_syne_tune_ehvi(problem: str, seed: int, n_workers: int) -> dict[str, Any]:
    """Syne Tune 0.16's ``ExpectedHyperVolumeImprovement`` searcher (its ``EHVI``)."""
    from syne_tune.config_space import uniform
    from syne_tune.optimizer.schedulers.multiobjective.expected_hyper_volume_improvement import (  # noqa: E501
        ExpectedHyperVolumeImprovement,
    )

    dim = PROBLEMS[problem]["dim"]
    searcher = ExpectedHyperVolumeImprovement(
        {f"x{i}": uniform(0.0, 1.0) for i in range(dim)}, random_seed=seed,
        double_precision=False)

    def ask(tid: int) -> tuple[Any, np.ndarray]:
        config = searcher.suggest()  # registers the trial as pending itself
        return (tid, config), np.array([config[f"x{i}"] for i in range(dim)])

    def tell(handle: Any, y: list[float]) -> None:
        searcher.on_trial_complete(handle[0], handle[1], y)

    return ask_tell(problem, n_workers, ask, tell)


def syne_tune_side(spec: str) -> None:
    """Entry point in the Syne Tune venv: one JSON line per run."""
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    args = json.loads(spec)
    for problem in args["problems"]:
        for n_workers in args["workers"]:
            for seed in range(args["seeds"]):
                r = run_syne_tune_ehvi(problem, seed, n_workers)
                print(json.dumps({"problem": problem, "workers": n_workers, **r}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--problems", default="branin-currin,dtlz2")
    ap.add_argument("--methods", default="random,parego,ehvi,optuna-gp,optuna-tpe")
    ap.add_argument("--syne-tune-016-python", default=None,
                    help="interpreter of a venv with syne-tune==0.16.0 and botorch: its EHVI")
    ap.add_argument("--syne-tune-runs", action="append", default=[],
                    help="JSON lines saved from a '--syne-tune-side SPEC' run of this script "
                         "under Syne Tune's venv (its runs are slow: run it apart)")
    ap.add_argument("--syne-tune-side", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.syne_tune_side:
        syne_tune_side(args.syne_tune_side)
        return
    problems, workers = args.problems.split(","), [int(w) for w in args.workers.split(",")]
    methods = args.methods.split(",")
    load = os.getloadavg()[0]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.seeds} seeds, "
          f"load average {load:.1f}")
    st: dict[tuple[str, int], list[dict[str, Any]]] = {}
    lines: list[str] = []
    if args.syne_tune_016_python:
        spec = json.dumps({"problems": problems, "workers": workers, "seeds": args.seeds})
        proc = subprocess.run([args.syne_tune_016_python, __file__, "--syne-tune-side", spec],
                              capture_output=True, text=True, check=True)
        lines = proc.stdout.splitlines()
    for name in args.syne_tune_runs:
        lines += Path(name).read_text().splitlines()
    for line in lines:
        if line.startswith("{"):
            r = json.loads(line)
            st.setdefault((r["problem"], r["workers"]), []).append(r)
    if st:
        methods.append("syne-tune-0.16-ehvi")
    for problem in problems:
        info = PROBLEMS[problem]
        for n_workers in workers:
            print(f"\n### {problem}, {info['budget']} evaluations, {n_workers} worker(s): "
                  "hypervolume / best possible\n")
            print("| method | mean +- s.e. | real s / run |")
            print("| --- | ---: | ---: |")
            for method in methods:
                if method == "syne-tune-0.16-ehvi":
                    runs = st.get((problem, n_workers), [])
                    if not runs:
                        continue
                elif method.startswith("optuna"):
                    runs = [run_optuna(problem, method, s, n_workers) for s in range(args.seeds)]
                else:
                    runs = [run_aiotune(problem, method, s, n_workers) for s in range(args.seeds)]
                fr = [hypervolume(np.array(r["values"]), info["ref"]) / info["max_hv"]
                      for r in runs]
                se = statistics.stdev(fr) / math.sqrt(len(fr)) if len(fr) > 1 else 0.0
                real = statistics.fmean(r["seconds"] for r in runs)
                print(f"| {method} | {statistics.fmean(fr):.4f} +- {se:.4f} | {real:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
