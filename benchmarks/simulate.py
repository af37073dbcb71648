"""Run a named scheduler on a named blackbox in simulated time; write anytime best-so-far curves.

Example::

    python benchmarks/simulate.py --scheduler asha --blackbox sklearn-digits-mlp \\
        --budget 3600 --seeds 5 --n-workers 4 --out runs/digits

writes ``runs/digits/<scheduler>-<blackbox>-seed<k>.json`` and ``.csv`` per seed:
the best metric value seen so far (over every reported result, any fidelity)
at each simulated time it improved. ``benchmarks/plot_curves.py`` plots them.

Schedulers are looked up by name in :data:`SCHEDULERS`; add a line there when a
new one lands (``kind`` says which constructor arguments it takes).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiotune.backends.simulator import SimulatorBackend  # noqa: E402
from aiotune.blackbox.registry import blackbox_names, load  # noqa: E402

# name -> (module, class, kind); kind "fifo": (config_space, metric, mode, random_seed),
# "multi-fidelity": also time_attr and max_t.
SCHEDULERS: dict[str, tuple[str, str, str]] = {
    "random": ("aiotune.schedulers.random_search", "RandomSearch", "fifo"),
    "grid": ("aiotune.schedulers.grid_search", "GridSearch", "fifo"),
    "bo": ("aiotune.schedulers.bayesian_optimization", "BayesianOptimization", "fifo"),
    "tpe": ("aiotune.schedulers.tpe", "TPE", "fifo"),
    "rea": ("aiotune.schedulers.rea_scheduler", "REA", "fifo"),
    "asha": ("aiotune.schedulers.asha", "ASHA", "multi-fidelity"),
    "hyperband": ("aiotune.schedulers.hyperband", "Hyperband", "multi-fidelity"),
    "bohb": ("aiotune.schedulers.bohb", "BOHB", "multi-fidelity"),
    "mobster": ("aiotune.schedulers.mobster", "MOBSTER", "multi-fidelity"),
    "median": ("aiotune.schedulers.median_stopping", "MedianStoppingRule", "multi-fidelity"),
}


def make_scheduler(name: str, blackbox: Any, seed: int, **extra: Any) -> Any:
    """Build scheduler ``name`` for ``blackbox`` (its default metric and mode) with ``seed``."""
    if name not in SCHEDULERS:
        raise SystemExit(f"unknown scheduler {name!r}; known: {', '.join(sorted(SCHEDULERS))}")
    module, cls_name, kind = SCHEDULERS[name]
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError) as exc:
        msg = f"scheduler {name!r} is not available ({module}.{cls_name}: {exc})"
        raise SystemExit(msg) from None
    kwargs: dict[str, Any] = {
        "config_space": blackbox.config_space,
        "metric": blackbox.metric,
        "mode": blackbox.mode,
        "random_seed": seed,
    }
    if kind == "multi-fidelity":
        fid = blackbox.fidelity_space
        if fid is None:
            raise SystemExit(f"scheduler {name!r} needs a multi-fidelity blackbox")
        kwargs.update(time_attr=fid.name, max_t=fid.max)
    kwargs.update(extra)
    return cls(**kwargs)


def best_so_far(rows: list[dict[str, str]], metric: str, mode: str) -> list[tuple[float, float]]:
    """``(time, best)`` at each improvement, from results.csv rows (NaN values ignored)."""
    sign = 1.0 if mode == "min" else -1.0
    points: list[tuple[float, float]] = []
    best = math.inf
    for row in sorted(rows, key=lambda r: float(r["tuner_time"])):
        try:
            v = float(row[metric])
        except (KeyError, ValueError):
            continue
        if math.isnan(v):
            continue
        if sign * v < best:
            best = sign * v
            points.append((float(row["tuner_time"]), v))
    return points


def run_one(
    scheduler: str, blackbox_name: str, seed: int, budget: float, n_workers: int, out: Path
) -> dict[str, Any]:
    """One simulated run; writes and returns its anytime curve."""
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    blackbox = load(blackbox_name)
    backend = SimulatorBackend(blackbox, seed=seed)
    sched = make_scheduler(scheduler, blackbox, seed)
    name = f"{scheduler}-{blackbox_name}-seed{seed}"
    t0 = time.perf_counter()
    tuner = Tuner(
        trial_backend=backend,
        scheduler=sched,
        stop_criterion=StoppingCriterion(max_wallclock_time=budget),
        n_workers=n_workers,
        tuner_name=name,
        suffix_tuner_name=True,
        print_update_interval=1e9,
        results_update_interval=1e9,
        save_tuner=False,
    )
    tuner.run()
    real = time.perf_counter() - t0
    with open(tuner.tuner_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    curve = best_so_far(rows, blackbox.metric, blackbox.mode)
    record = {
        "scheduler": scheduler,
        "blackbox": blackbox_name,
        "seed": seed,
        "budget": budget,
        "n_workers": n_workers,
        "metric": blackbox.metric,
        "mode": blackbox.mode,
        "optimum": getattr(blackbox, "optimum_value", None),
        "num_trials_started": tuner.status.num_trials_started,
        "num_results": len(rows),
        "simulated_seconds": backend.clock.now(),
        "real_seconds": round(real, 3),
        "time": [t for t, _ in curve],
        "best": [v for _, v in curve],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    with open(out / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "best"])
        w.writerows(curve)
    return record


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run every seed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scheduler", required=True, help=f"one of {', '.join(sorted(SCHEDULERS))}")
    p.add_argument("--blackbox", required=True, help=f"one of {', '.join(blackbox_names())}")
    p.add_argument("--budget", type=float, required=True, help="simulated seconds per run")
    p.add_argument("--seeds", type=int, default=5, help="runs with seeds 0..N-1")
    p.add_argument("--n-workers", type=int, default=4)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--results-root", type=Path, default=None,
                   help="where experiment folders go (default: a temporary folder)")
    args = p.parse_args(argv)
    root = args.results_root or Path(tempfile.mkdtemp(prefix="aiotune-sim-"))
    os.environ["AIOTUNE_RESULTS"] = str(root)
    for seed in range(args.seeds):
        r = run_one(args.scheduler, args.blackbox, seed, args.budget, args.n_workers, args.out)
        best = r["best"][-1] if r["best"] else float("nan")
        print(
            f"{r['scheduler']:>10} {r['blackbox']} seed {seed}: best {r['metric']}={best:.5g} "
            f"trials={r['num_trials_started']} results={r['num_results']} "
            f"simulated={r['simulated_seconds']:.0f}s real={r['real_seconds']:.2f}s"
        )


if __name__ == "__main__":
    main()
