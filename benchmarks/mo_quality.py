"""Multi-objective quality in simulation: random search, MOASHA, MOREA, NSGA2 and
MORandomScalarizationBayesOpt, ours and Syne Tune 0.13's, and our EHVI (Syne Tune 0.13
has none; 0.16's is compared in ``mo_bo_quality.py``).

Two objectives, both minimized: the benchmark's error metric and ``epoch_time``,
the config's training time per epoch (its ``elapsed_time`` over the epochs so
far: a stand-in for model cost, as latency or size would be), i.e. "how
accurate a model for how expensive a model".
Benchmarks and budgets as in ``mf_quality.py`` (``sklearn-digits-mlp`` with
each row's curve averaged over its seeds, 25 x the mean full training;
``synthetic-lc``, 40 x), ``--seeds`` seeds, ``--n-workers`` (4). Searchers are *not*
restricted to the table's rows: Syne Tune's MOASHA samples the space only, so
both sides sample it and the table answers with the nearest row.

The score is the hypervolume of the Pareto front of every report so far, as a
fraction of the hypervolume of the front of *all* runs of the benchmark
together (both libraries, every method and seed), so 1 means the run found the
whole best-known front. The reference point is that combined front's nadir
(its worst value in each objective) plus 10% of its range, the usual choice;
the ideal point is the best value any run reported. Prints the final fraction
(mean +- standard error over seeds), trials started, real seconds per run and
the fraction at 25 and 50% of the budget; writes ``--png`` with the anytime
curves.

    python benchmarks/mo_quality.py [--seeds 10] [--syne-tune-python /tmp/st13/bin/python]
        [--syne-tune-save FILE] [--syne-tune-runs FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mf_quality  # noqa: E402 - blackboxes, budgets and Syne Tune's config space

from aiotune._pareto import pareto_mask  # noqa: E402

METHODS = ("RandomSearch", "MOASHA", "MOREA", "NSGA2", "MORandomScalarizationBayesOpt", "EHVI")
N_WORKERS = 4
"""``--n-workers``: Syne Tune's NSGA2 raises with more than one (it waits for generations)."""
COST = "epoch_time"


def objectives(bench: str) -> list[str]:
    """The two objectives of ``bench``: its error metric and the time per epoch."""
    return [mf_quality.bench_metric(bench, "valid_error"), COST]


def with_epoch_time(curve: dict[str, Any], runtime: str) -> dict[str, Any]:
    """``curve`` plus ``epoch_time``: the cumulative runtime over the epochs so far."""
    out = dict(curve)
    out[COST] = np.asarray(curve[runtime]) / np.arange(1, len(curve[runtime]) + 1)
    return out


class WithEpochTime:
    """A blackbox that also reports ``epoch_time`` (the rest is the wrapped one's)."""

    def __init__(self, bb: Any) -> None:
        self.bb = bb
        self.objectives = [*bb.objectives, COST]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bb, name)

    def learning_curve(self, config: dict[str, Any], seed: int = 0) -> dict[str, Any]:
        return with_epoch_time(self.bb.learning_curve(config, seed=seed), self.bb.runtime_name)

    def evaluate(self, config: dict[str, Any], fidelity: Any = None, seed: int = 0) -> Any:
        curve = self.learning_curve(config, seed=seed)
        i = self.bb.fidelity_index(fidelity)
        return {k: float(v[i]) for k, v in curve.items()}


class _Reports:
    """Tuner callback: (simulated time, objective 1, objective 2) of every report."""

    def __init__(self, clock: Any, names: list[str]) -> None:
        self.clock, self.names = clock, names
        self.points: list[tuple[float, float, float]] = []

    def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
        a, b = (result.get(n) for n in self.names)
        if isinstance(a, int | float) and isinstance(b, int | float) and a == a and b == b:
            self.points.append((self.clock.now(), float(a), float(b)))


def run_ours(bench: str, method: str, seed: int, budget: float) -> dict[str, Any]:
    """One simulated run of our ``method``; every report's objectives."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.schedulers import (
        EHVI,
        MOASHA,
        MOREA,
        NSGA2,
        MORandomScalarizationBayesOpt,
        RandomSearch,
    )
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = WithEpochTime(mf_quality.make_blackbox(bench))
    names = objectives(bench)
    backend = SimulatorBackend(bb, time_attr="epoch", seed=seed)
    if method == "MOASHA":
        scheduler: Any = MOASHA(bb.config_space, names, max_t=27, random_seed=seed)
    elif method == "MOREA":
        scheduler = MOREA(bb.config_space, names, random_seed=seed)
    elif method == "NSGA2":
        scheduler = NSGA2(bb.config_space, names, random_seed=seed)
    elif method == "MORandomScalarizationBayesOpt":
        scheduler = MORandomScalarizationBayesOpt(bb.config_space, names, random_seed=seed)
    elif method == "EHVI":
        scheduler = EHVI(bb.config_space, names, random_seed=seed)
    else:
        scheduler = RandomSearch(bb.config_space, names, random_seed=seed)
    reports = _Reports(backend.clock, names)
    tuner = Tuner(
        backend, scheduler, StoppingCriterion(max_wallclock_time=budget), n_workers=N_WORKERS,
        tuner_name=f"moq-{bench}-{method}-{seed}", print_update_interval=1e12,
        results_update_interval=1e12, callbacks=[reports],
    )
    t0 = time.perf_counter()
    tuner.run()
    return {"points": reports.points, "started": tuner.status.num_trials_started,
            "real": time.perf_counter() - t0}


def run_syne_tune(bench: str, method: str, seed: int, budget: float) -> dict[str, Any]:
    """The same run in Syne Tune 0.13's simulator (under its venv), on *our* blackbox.

    As in ``mf_quality.run_one_syne_tune``: zero simulator delays, a tick of
    1/20,000 of the budget, the table's times x100, and its scheduler's real
    time not charged to the simulated clock. Its MOASHA draws from numpy's
    global generator, so that is seeded.
    """

    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.optimizer.schedulers import FIFOScheduler
    from syne_tune.optimizer.schedulers.multiobjective import MOASHA

    np.random.seed(seed)
    ours = mf_quality.make_blackbox(bench)
    names = objectives(bench)
    scale = 1.0 if bench == "synthetic-lc" else 100.0

    def columns(curve: dict[str, Any]) -> np.ndarray:
        curve = with_epoch_time(curve, "elapsed_time")
        return np.stack([curve[names[0]], curve[COST], scale * curve["elapsed_time"]], axis=1)

    bb = mf_quality.syne_tune_blackbox(ours, [*names, "elapsed_time"], columns)
    space = dict(bb.configuration_space)
    if method == "EHVI":
        raise ValueError("Syne Tune 0.13 has no EHVI (0.16's: benchmarks/mo_bo_quality.py)")
    if method == "MOASHA":
        sched: Any = MOASHA(space, metrics=names, mode="min", time_attr="epoch", max_t=27,
                            grace_period=1, reduction_factor=3)
    elif method in ("MOREA", "NSGA2", "MORandomScalarizationBayesOpt"):
        from syne_tune.optimizer import baselines

        sched = getattr(baselines, method)(space, metric=names, mode=["min", "min"],
                                           random_seed=seed)
    else:
        sched = FIFOScheduler(space, searcher="random", metric=names, mode=["min", "min"],
                              random_seed=seed)
    backend = mf_quality.syne_tune_backend(bb, seed, budget, scale, charge_scheduler_time=False)
    points: list[tuple[float, float, float]] = []

    class _Cb(SimulatorCallback):
        def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
            super().on_trial_result(trial, status, result, decision)
            a, b = result.get(names[0]), result.get(COST)
            if a is not None and b is not None:
                points.append((backend.time_keeper.time() / scale, float(a), float(b)))

    tuner = mf_quality.syne_tune_tuner(backend, sched, budget * scale, _Cb(),
                                       f"st-moq-{method.lower()}-{seed}", N_WORKERS)
    t0 = time.perf_counter()
    tuner.run()
    return {"points": points, "started": len(tuner.tuning_status.trial_rows),
            "real": time.perf_counter() - t0}


def hypervolume(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Hypervolume dominated by 2-d ``points`` (minimized) within the box from the ideal
    point ``lo`` to the reference point ``hi``, in units of that box."""
    if len(points) == 0:
        return 0.0
    span = np.where(hi > lo, hi - lo, 1.0)
    p = np.clip((points - lo) / span, 0.0, 1.0)
    p = p[np.lexsort((p[:, 1], p[:, 0]))]  # by x, then y
    volume, best_y = 0.0, 1.0
    xs = np.append(p[1:, 0], 1.0)
    for (x, y), next_x in zip(p, xs, strict=True):
        best_y = min(best_y, y)  # the front's height from x up to the next point
        volume += (next_x - x) * (1.0 - best_y)
    return float(volume)


def anytime_hypervolume(run: dict[str, Any], grid: np.ndarray, lo: np.ndarray,
                        hi: np.ndarray) -> np.ndarray:
    """The hypervolume of the run's reports up to each time of ``grid``."""
    pts = np.array(run["points"], dtype=float).reshape(-1, 3)
    return np.array([hypervolume(pts[pts[:, 0] <= t, 1:], lo, hi) for t in grid])


def report(runs: dict[tuple[str, str, str], list[dict[str, Any]]], benches: list[str],
           budgets: list[float], png: str | None) -> None:
    """Print the table and the anytime hypervolumes; draw the curves."""
    curves: dict[tuple[str, str, str], np.ndarray] = {}
    grids = {}
    print("| benchmark | method | library | final hypervolume (fraction of the combined "
          "front's) | trials | real s/run | at 25% / 50% of the budget |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for bench, budget in zip(benches, budgets, strict=True):
        keys = sorted(k for k in runs if k[1] == bench)
        every = np.concatenate([np.array(r["points"]).reshape(-1, 3)[:, 1:]
                                for k in keys for r in runs[k]])
        front = every[pareto_mask(every)]
        lo, nadir = every.min(axis=0), front.max(axis=0)
        hi = nadir + 0.1 * (nadir - lo)
        best = hypervolume(front, lo, hi)
        grid = np.linspace(0.0, budget, 41)
        grids[bench] = grid
        for key in keys:
            lib, _, method = key
            hv = np.array([anytime_hypervolume(r, grid, lo, hi) for r in runs[key]]) / best
            curves[key] = hv
            final = hv[:, -1]
            se = final.std(ddof=1) / np.sqrt(len(final)) if len(final) > 1 else 0.0
            started = np.mean([r["started"] for r in runs[key]])
            real = np.mean([r["real"] for r in runs[key]])
            print(f"| {bench} | {method} | {lib} | {final.mean():.4f} +- {se:.4f} "
                  f"({len(final)} seeds) | {started:.0f} | {real:.1f} | "
                  f"{hv[:, 10].mean():.4f} / {hv[:, 20].mean():.4f} |")
    if png:
        _plot(curves, grids, benches, png)


def _plot(curves: dict[tuple[str, str, str], np.ndarray], grids: dict[str, np.ndarray],
          benches: list[str], png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(benches), figsize=(6 * len(benches), 4), squeeze=False)
    for ax, bench in zip(axes[0], benches, strict=True):
        grid = grids[bench]
        for (lib, b, method), hv in sorted(curves.items()):
            if b != bench:
                continue
            mean = hv.mean(axis=0)
            se = hv.std(axis=0, ddof=1) / np.sqrt(len(hv)) if len(hv) > 1 else 0 * mean
            style = "-" if lib == "aiotune" else "--"
            ax.plot(grid / grid[-1], mean, style, label=f"{method} ({lib})")
            ax.fill_between(grid / grid[-1], mean - se, mean + se, alpha=0.2)
        ax.set_title(f"{bench}: error vs time per epoch")
        ax.set_xlabel("fraction of the simulated budget")
        ax.set_ylabel("hypervolume so far / combined front's")
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main(argv: list[str] | None = None) -> None:
    """Run every benchmark x method x seed on both sides; print the table; write the PNG."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0,
                   help="run seeds first-seed .. first-seed + seeds - 1 (to split a long run)")
    p.add_argument("--tab-budget", type=float, default=25.0)
    p.add_argument("--lc-budget", type=float, default=40.0)
    p.add_argument("--benchmarks", default="sklearn-digits-mlp,synthetic-lc")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--n-workers", type=int, default=4)
    p.add_argument("--png", default=str(Path(__file__).with_name("mo_quality.png")))
    p.add_argument("--syne-tune-python", default=None,
                   help="interpreter of a venv with syne-tune==0.13.0: run its methods too")
    p.add_argument("--syne-tune-save", default=None, metavar="FILE",
                   help="keep the Syne Tune side's runs in FILE (for --syne-tune-runs)")
    p.add_argument("--syne-tune-runs", action="append", default=[], metavar="FILE",
                   help="add Syne Tune runs saved by --syne-tune-save instead of rerunning them")
    p.add_argument("--syne-tune-side", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    global N_WORKERS
    N_WORKERS = args.n_workers
    mf_quality.AVERAGE_SEEDS = True
    benches, methods = args.benchmarks.split(","), args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown methods {unknown}; known: {', '.join(METHODS)}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.syne_tune_side:
        import logging

        logging.disable(logging.WARNING)
        os.environ["SYNETUNE_FOLDER"] = tempfile.mkdtemp(prefix="st-moq-")
        for bench, budget in zip(benches, json.loads(args.syne_tune_side), strict=True):
            for method in methods:
                for seed in seeds:
                    try:
                        r = run_syne_tune(bench, method, seed, budget)
                    except Exception as exc:  # reported by the parent, not dropped silently
                        print(f"ERR {bench} {method} {seed}: {exc!r}", flush=True)
                        continue
                    print("RUN " + json.dumps({"bench": bench, "method": method,
                                               "seed": seed, **r}), flush=True)
        return
    os.environ["AIOTUNE_RESULTS"] = tempfile.mkdtemp(prefix="aiotune-moq-")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.seeds} seeds, "
          f"{N_WORKERS} workers, load average {os.getloadavg()[0]:.1f}")
    budgets = [(args.lc_budget if b == "synthetic-lc" else args.tab_budget)
               * mf_quality.full_training_time(mf_quality.make_blackbox(b)) for b in benches]
    # a file, not a pipe nobody reads meanwhile
    st_out = (open(args.syne_tune_save, "w+") if args.syne_tune_save  # noqa: SIM115
              else tempfile.TemporaryFile("w+"))
    st_proc = None
    if args.syne_tune_python:
        st_proc = subprocess.Popen(
            [args.syne_tune_python, __file__, "--benchmarks", args.benchmarks, "--seeds",
             str(args.seeds), "--first-seed", str(args.first_seed), "--methods", args.methods,
             "--n-workers", str(N_WORKERS), "--syne-tune-side", json.dumps(budgets)],
            stdout=st_out, stderr=subprocess.DEVNULL, text=True,
        )
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for bench, budget in zip(benches, budgets, strict=True):
        for method in methods:
            for seed in seeds:
                runs.setdefault(("aiotune", bench, method), []).append(
                    run_ours(bench, method, seed, budget))
    if st_proc is not None:
        st_proc.wait()
        st_out.seek(0)
        add_syne_tune_runs(st_out.read(), runs)
    st_out.close()
    for name in args.syne_tune_runs:
        add_syne_tune_runs(Path(name).read_text(), runs)
    report(runs, benches, budgets, args.png)


def add_syne_tune_runs(text: str, runs: dict[tuple[str, str, str], list[dict[str, Any]]]) -> None:
    """Add the runs in the Syne Tune side's output ``text``; print the runs that failed."""
    for line in text.splitlines():
        if line.startswith("RUN "):
            r = json.loads(line[4:])
            runs.setdefault(("Syne Tune", r["bench"], r["method"]), []).append(r)
        elif line.startswith("ERR "):
            print(f"syne-tune run failed: {line[4:]}")


if __name__ == "__main__":
    main()
