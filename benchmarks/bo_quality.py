"""Final simple regret of BO, TPE and random search on Branin and Hartmann6 (and Optuna's
TPE and, with ``--methods ...,optuna-gp``, its GPSampler; ``kde`` is BOHB's KDE searcher,
``cqr`` conformal quantile regression, ``bore`` BORE; ``--syne-tune-016-python`` runs Syne
Tune 0.16's CQR, or the searcher ``--syne-tune-016-method`` names).

Each aiotune method runs through the real ``Tuner`` on a ``SimulatorBackend``
(virtual time, 1 s per evaluation) with exactly ``budget`` trials (the scheduler
is wrapped to return None after that many), ``n_workers`` 1 (sequential) and 4.
Optuna's default ``TPESampler`` runs in a plain ask/tell loop on the same
function with the same budget (with 4 workers: ask 4, tell 4). Simple regret =
best value found - known optimum. Prints Markdown tables; writes the per-seed
numbers as JSON and a PNG of mean best-so-far regret vs evaluations.

    python benchmarks/bo_quality.py [--seeds 10] [--workers 1,4] [--out benchmarks/out]

With ``--multi-fidelity``: ASHA, BOHB and MOBSTER (all ``brackets=1``,
stopping type, 4 workers) on the shipped tabular blackbox in simulated time,
through ``benchmarks/simulate.py``; prints the mean best validation error
reached by several simulated times.

    python benchmarks/bo_quality.py --multi-fidelity [--seeds 10] [--budget 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUDGETS = {"branin": 30, "hartmann6": 100}
METHODS = ("random", "bo", "tpe", "kde", "cqr", "bore")


def _problem(name: str) -> Any:
    from aiotune.blackbox.synthetic import Branin, Hartmann6

    return {"branin": Branin, "hartmann6": Hartmann6}[name]


def _scheduler_class(method: str) -> Any:
    from functools import partial

    from aiotune.schedulers.bayesian_optimization import BayesianOptimization
    from aiotune.schedulers.bore import BORE
    from aiotune.schedulers.cqr import CQR
    from aiotune.schedulers.fifo import FIFOScheduler
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.schedulers.tpe import TPE

    kde = partial(FIFOScheduler, searcher="kde")  # BOHB's KDE, aiotune's TPE until 2026-11-29
    return {"random": RandomSearch, "bo": BayesianOptimization, "tpe": TPE, "kde": kde,
            "cqr": CQR, "bore": BORE}[method]


class Budget:
    """Scheduler wrapper: at most ``n`` new trials; records each final value in arrival order."""

    def __init__(self, inner: Any, n: int) -> None:
        self.inner, self.n, self.started = inner, n, 0
        self.metric, self.mode = inner.metric, inner.mode
        self.values: list[float] = []
        self.suggest_seconds: list[float] = []

    async def suggest(self) -> Any:
        if self.started >= self.n:
            return None
        t0 = time.perf_counter()
        s = await self.inner.suggest()
        self.suggest_seconds.append(time.perf_counter() - t0)
        if s is not None and s.resume_trial_id is None:
            self.started += 1
        return s

    async def on_trial_add(self, trial: Any) -> None:
        await self.inner.on_trial_add(trial)

    async def on_result(self, trial: Any, result: dict[str, Any]) -> Any:
        return await self.inner.on_result(trial, result)

    async def on_trial_complete(self, trial: Any, result: dict[str, Any]) -> None:
        self.values.append(float(result[self.metric[0]]))
        await self.inner.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Any) -> None:
        await self.inner.on_trial_error(trial)

    async def on_trial_remove(self, trial: Any) -> None:
        await self.inner.on_trial_remove(trial)

    def state(self) -> Any:
        return self.inner.state()

    def restore(self, state: Any) -> None:
        self.inner.restore(state)


def run_aiotune(method: str, problem: str, seed: int, n_workers: int) -> dict[str, Any]:
    """Best-so-far values of one run of an aiotune scheduler."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb, budget = _problem(problem)(), BUDGETS[problem]
    cls = _scheduler_class(method)
    sched = Budget(cls(bb.config_space, bb.metric, mode=bb.mode, random_seed=seed), budget)
    tuner = Tuner(SimulatorBackend(bb, seed=seed), sched, StoppingCriterion(),
                  n_workers=n_workers, print_update_interval=1e9, save_tuner=False)
    t0 = time.perf_counter()
    tuner.run()
    return {"values": sched.values, "seconds": time.perf_counter() - t0,
            "suggest_median_ms": 1e3 * statistics.median(sched.suggest_seconds)}


def run_optuna(problem: str, seed: int, n_workers: int, sampler: str = "tpe") -> dict[str, Any]:
    """Best-so-far values of Optuna's default TPE, or its ``GPSampler`` (``sampler="gp"``,
    needs torch), ask/tell in batches of ``n_workers``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bb, budget = _problem(problem)(), BUDGETS[problem]
    make = {"tpe": optuna.samplers.TPESampler, "gp": optuna.samplers.GPSampler}[sampler]
    study = optuna.create_study(sampler=make(seed=seed))
    values: list[float] = []
    t0 = time.perf_counter()
    while len(values) < budget:
        batch = [study.ask() for _ in range(min(n_workers, budget - len(values)))]
        for trial in batch:
            config = {k: trial.suggest_float(k, d.lower, d.upper)
                      for k, d in bb.config_space.items()}
            value = float(bb.learning_curve(config)["value"][0])
            values.append(value)
        for trial, value in zip(batch, values[-len(batch):], strict=True):
            study.tell(trial, value)
    return {"values": values, "seconds": time.perf_counter() - t0, "suggest_median_ms": math.nan}


# -- Syne Tune 0.13 side (runs in a venv with syne-tune[gpsearchers]==0.13.0, no aiotune) -------

_H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
         [17, 8, 0.05, 10, 0.1, 14]]
_H6_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def _plain_function(problem: str) -> tuple[Any, dict[str, tuple[float, float]]]:
    """The objective and box bounds, in plain numpy (the same formulas as aiotune.blackbox)."""
    import numpy as np

    if problem == "branin":
        def branin(c: dict[str, float]) -> float:
            x1, x2 = c["x1"], c["x2"]
            return ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
                    + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)

        return branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}
    a, p = np.array(_H6_A), 1e-4 * np.array(_H6_P)
    alpha = np.array([1.0, 1.2, 3.0, 3.2])

    def hartmann6(c: dict[str, float]) -> float:
        x = np.array([c[f"x{i}"] for i in range(1, 7)])
        return float(-np.sum(alpha * np.exp(-np.sum(a * (x - p) ** 2, axis=1))))

    return hartmann6, {f"x{i}": (0.0, 1.0) for i in range(1, 7)}


def run_syne_tune(problem: str, seed: int, n_workers: int) -> dict[str, Any]:
    """Syne Tune 0.13's GP ``BayesianOptimization``, driven ask/tell in batches of n_workers."""
    from datetime import datetime

    from syne_tune.backend.trial_status import Trial
    from syne_tune.config_space import uniform
    from syne_tune.optimizer.baselines import BayesianOptimization as STBO

    f, bounds = _plain_function(problem)
    space = {k: uniform(lo, hi) for k, (lo, hi) in bounds.items()}
    sched = STBO(space, metric="value", mode="min", random_seed=seed)
    budget, values, tid = BUDGETS[problem], [], 0
    t0 = time.perf_counter()
    while len(values) < budget:
        batch = []
        for _ in range(min(n_workers, budget - len(values))):
            config = sched.suggest(trial_id=tid).config
            trial = Trial(trial_id=tid, config=config, creation_time=datetime.now())
            sched.on_trial_add(trial)
            batch.append(trial)
            tid += 1
        for trial in batch:
            value = f(trial.config)
            values.append(value)
            sched.on_trial_result(trial, {"value": value})
            sched.on_trial_complete(trial, {"value": value})
    return {"values": values, "seconds": time.perf_counter() - t0, "suggest_median_ms": math.nan}


def run_syne_tune_016(problem: str, seed: int, n_workers: int, method: str) -> dict[str, Any]:
    """A Syne Tune 0.16 searcher, ``cqr`` (``ConformalQuantileRegression``, its ``CQR``) or
    ``bore`` (``Bore``, its ``BORE``), ask/tell in batches of n_workers (the 0.16 API:
    ``suggest()``, ``on_trial_complete(id, config, value)``)."""
    from syne_tune.config_space import uniform

    f, bounds = _plain_function(problem)
    space = {k: uniform(lo, hi) for k, (lo, hi) in bounds.items()}
    if method == "bore":
        from syne_tune.optimizer.schedulers.searchers.bore import Bore

        searcher = Bore(space, random_seed=seed)
    else:
        from syne_tune.optimizer.schedulers.searchers.conformal.conformal_quantile_regression_searcher import (  # noqa: E501
            ConformalQuantileRegression,
        )

        searcher = ConformalQuantileRegression(space, random_seed=seed)
    budget, values, tid = BUDGETS[problem], [], 0
    t0 = time.perf_counter()
    while len(values) < budget:
        batch = []
        for _ in range(min(n_workers, budget - len(values))):
            batch.append((tid, searcher.suggest()))
            tid += 1
        for trial_id, config in batch:
            value = f(config)
            values.append(value)
            searcher.on_trial_complete(trial_id, config, value)
    return {"values": values, "seconds": time.perf_counter() - t0, "suggest_median_ms": math.nan}


def syne_tune_side(spec: str) -> None:
    """Entry point in the Syne Tune venv: print one JSON line per run."""
    import logging

    logging.disable(logging.WARNING)
    args = json.loads(spec)
    method = args.get("method", "bo")
    for problem in args["problems"]:
        for n_workers in args["workers"]:
            for seed in range(args["seeds"]):
                r = (run_syne_tune(problem, seed, n_workers) if method == "bo"
                     else run_syne_tune_016(problem, seed, n_workers, method))
                print(json.dumps({"problem": problem, "workers": n_workers, **r}), flush=True)


def run_syne_tune_venv(
    python: str, problems: list[str], workers: list[int], seeds: int, method: str = "bo"
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Run :func:`syne_tune_side` in another interpreter; group its runs by problem/workers."""
    import subprocess

    spec = json.dumps({"problems": problems, "workers": workers, "seeds": seeds,
                       "method": method})
    proc = subprocess.run([python, __file__, "--syne-tune-side", spec], capture_output=True,
                          text=True, check=True)
    out: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            out.setdefault((r["problem"], r["workers"]), []).append(r)
    return out


def summarize(runs: list[dict[str, Any]], optimum: float) -> tuple[float, float]:
    """Mean and standard error of the final simple regret."""
    regrets = [min(r["values"]) - optimum for r in runs]
    mean = statistics.fmean(regrets)
    se = statistics.stdev(regrets) / math.sqrt(len(regrets)) if len(regrets) > 1 else 0.0
    return mean, se


def multi_fidelity(seeds: int, budget: float, blackbox: str, out: Path,
                   methods: tuple[str, ...] = ("asha", "bohb", "mobster")) -> None:
    """Mean best-so-far of ASHA, BOHB and MOBSTER at a few simulated times."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from simulate import run_one  # the shared simulation driver (Tuner + SimulatorBackend)

    checkpoints = [budget * f for f in (0.1, 0.2, 0.4, 0.7, 1.0)]
    print(f"\n### {blackbox}, 4 workers, {seeds} seeds: mean best valid_error by simulated "
          "time (s)\n")
    print("| method | " + " | ".join(f"t={t:g}" for t in checkpoints)
          + " | trials started | real s / run |")
    print("| --- |" + " ---: |" * (len(checkpoints) + 2))
    results: dict[str, Any] = {}
    for method in methods:
        runs = [run_one(method, blackbox, seed, budget, 4, out / "mf") for seed in range(seeds)]
        results[method] = runs
        cells = []
        for t in checkpoints:
            vals = []
            for r in runs:
                seen = [b for tt, b in zip(r["time"], r["best"], strict=True) if tt <= t]
                vals.append(seen[-1] if seen else math.nan)
            cells.append(f"{statistics.fmean(vals):.5f}")
        started = statistics.fmean(r["num_trials_started"] for r in runs)
        real = statistics.fmean(r["real_seconds"] for r in runs)
        print(f"| {method} | " + " | ".join(cells) + f" | {started:.0f} | {real:.1f} |",
              flush=True)
    (out / "bo_quality_mf.json").write_text(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--multi-fidelity", action="store_true")
    ap.add_argument("--budget", type=float, default=5.0, help="simulated seconds (multi-fidelity)")
    ap.add_argument("--blackbox", default="sklearn-digits-mlp")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--problems", default="branin,hartmann6")
    ap.add_argument("--methods", default="random,bo,tpe,optuna-tpe")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    ap.add_argument("--syne-tune-python", default=None,
                    help="interpreter of a venv with syne-tune[gpsearchers]==0.13.0: run its GP BO")
    ap.add_argument("--syne-tune-016-python", default=None,
                    help="interpreter of a venv with syne-tune==0.16.0: run its CQR (or BORE)")
    ap.add_argument("--syne-tune-016-method", default="cqr", choices=("cqr", "bore"),
                    help="which Syne Tune 0.16 searcher --syne-tune-016-python runs")
    ap.add_argument("--syne-tune-side", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.syne_tune_side:
        syne_tune_side(args.syne_tune_side)
        return
    os.environ.setdefault("AIOTUNE_RESULTS", tempfile.mkdtemp(prefix="bo-quality-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.multi_fidelity:
        mf_methods = ("asha", "bohb", "mobster") if args.methods == ap.get_default("methods") \
            else tuple(args.methods.split(","))
        multi_fidelity(args.seeds, args.budget, args.blackbox, out, mf_methods)
        return
    workers = [int(w) for w in args.workers.split(",")]
    methods = args.methods.split(",")
    problems = args.problems.split(",")
    st_runs: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = {}
    if args.syne_tune_python:
        st_runs["syne-tune-0.13-bo"] = run_syne_tune_venv(
            args.syne_tune_python, problems, workers, args.seeds)
        methods.append("syne-tune-0.13-bo")
    if args.syne_tune_016_python:
        name = f"syne-tune-0.16-{args.syne_tune_016_method}"
        st_runs[name] = run_syne_tune_venv(
            args.syne_tune_016_python, problems, workers, args.seeds,
            method=args.syne_tune_016_method)
        methods.append(name)
    results: dict[str, Any] = {}
    for problem in problems:
        budget, optimum = BUDGETS[problem], _problem(problem).optimum_value
        for n_workers in workers:
            print(f"\n### {problem}, {budget} evaluations, {n_workers} worker(s), "
                  f"{args.seeds} seeds\n")
            print("| method | mean final regret | std. error | median suggest (ms) | "
                  "wall s / run |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for method in methods:
                runs = list(st_runs.get(method, {}).get((problem, n_workers), []))
                for seed in range(0 if method.startswith("syne") else args.seeds):
                    if method.startswith("optuna-"):
                        runs.append(run_optuna(problem, seed, n_workers, method[7:]))
                    else:
                        runs.append(run_aiotune(method, problem, seed, n_workers))
                mean, se = summarize(runs, optimum)
                results[f"{problem}/{n_workers}/{method}"] = {
                    "optimum": optimum, "budget": budget, "runs": runs}
                sugg = statistics.median(r["suggest_median_ms"] for r in runs)
                wall = statistics.fmean(r["seconds"] for r in runs)
                print(f"| {method} | {mean:.4g} | {se:.2g} | {sugg:.1f} | {wall:.2f} |",
                      flush=True)
    (out / "bo_quality.json").write_text(json.dumps(results))
    plot(results, out / "bo_quality.png")


def plot(results: dict[str, Any], path: Path) -> None:
    """Mean best-so-far regret (log scale) vs evaluations, one panel per problem/workers."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:  # pragma: no cover - plotting is optional
        return
    panels = sorted({k.rsplit("/", 1)[0] for k in results})
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for key, res in results.items():
            if key.rsplit("/", 1)[0] != panel:
                continue
            curves = np.array([np.minimum.accumulate(r["values"]) - res["optimum"]
                               for r in res["runs"]])
            ax.plot(np.arange(1, curves.shape[1] + 1), np.maximum(curves.mean(0), 1e-6),
                    label=key.rsplit("/", 1)[1])
        ax.set_yscale("log")
        ax.set_title(panel.replace("/", ", ") + " worker(s)")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("mean simple regret")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
