"""Hyperparameter importance: ``ExperimentResult.importance`` against Optuna's default
``get_param_importances`` (fANOVA) on the same trials.

For each benchmark, a random-search run of ``--trials`` simulated trials (full
training, 4 workers) is written to a folder by our Tuner; the same configs and
final best values go into an Optuna study (``add_trial``, Optuna's own
distributions: log scales and categoricals as declared). Both evaluators use
64 trees; Optuna's with its seed, ours with ours. Prints both importances, the
rank correlation between them, and the seconds each took (median of
``--repeats``).

    python benchmarks/importance.py [--trials 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_experiment(bench: str, trials: int) -> Any:
    """A random-search run written by our Tuner; its folder read back."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.registry import load
    from aiotune.experiments import load_experiment
    from aiotune.schedulers import RandomSearch
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = load(bench)
    name = f"imp-{bench}"
    Tuner(
        SimulatorBackend(bb, seed=0), RandomSearch(bb.config_space, bb.metric, bb.mode,
                                                   random_seed=0),
        StoppingCriterion(max_num_trials_completed=trials), n_workers=4, tuner_name=name,
        suffix_tuner_name=False, print_update_interval=1e12,
    ).run()
    return load_experiment(name)


def optuna_study(result: Any) -> Any:
    """The experiment's completed trials as an Optuna study with matching distributions."""
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    from aiotune.config_space import Categorical, Domain, Float, Integer, config_space_from_json

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = config_space_from_json(result.metadata["config_space"])
    dists: dict[str, Any] = {}
    for key, dom in space.items():
        if not isinstance(dom, Domain):
            continue
        if isinstance(dom, Categorical):
            dists[key] = CategoricalDistribution(dom.values())
        elif isinstance(dom, Integer):
            dists[key] = IntDistribution(dom.lower, dom.upper, log=dom.log)
        elif isinstance(dom, Float):
            dists[key] = FloatDistribution(dom.lower, dom.upper, log=dom.log)
        else:
            raise SystemExit(f"{key}: {dom!r} has no Optuna counterpart here")
    name, mode = result._metric(None)
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    for tid, trial in sorted(result.trial_records.items()):
        if trial.status.value != "completed":
            continue
        study.add_trial(optuna.trial.create_trial(
            params={k: trial.config[k] for k in dists}, distributions=dists,
            value=result.status.trials[tid].best[name],
        ))
    return study


def spearman(a: dict[str, float], b: dict[str, float]) -> float:
    keys = sorted(a)
    ra = {k: r for r, k in enumerate(sorted(keys, key=lambda k: -a[k]))}
    rb = {k: r for r, k in enumerate(sorted(keys, key=lambda k: -b[k]))}
    n = len(keys)
    if n < 2:
        return 1.0
    return 1 - 6 * sum((ra[k] - rb[k]) ** 2 for k in keys) / (n * (n * n - 1))


def main() -> None:
    import optuna

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--benchmarks", default="sklearn-digits-mlp,synthetic-lc,hartmann6")
    args = p.parse_args()
    os.environ["AIOTUNE_RESULTS"] = tempfile.mkdtemp(prefix="aiotune-imp-")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, optuna "
          f"{optuna.__version__}, {args.trials} trials, load average {os.getloadavg()[0]:.1f}")
    for bench in args.benchmarks.split(","):
        result = run_experiment(bench, args.trials)
        study = optuna_study(result)
        ours_t, theirs_t = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ours = result.importance()
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
            theirs_t.append(time.perf_counter() - t0)
        print(f"\n## {bench}: {len(study.trials)} completed trials; rank correlation "
              f"{spearman(ours, dict(theirs)):.2f}; seconds, median of {args.repeats}: "
              f"aiotune {statistics.median(ours_t):.2f}, Optuna {statistics.median(theirs_t):.2f}")
        print("| hyperparameter | aiotune | Optuna |")
        print("| --- | --- | --- |")
        for key in ours:
            print(f"| {key} | {ours[key]:.3f} | {theirs[key]:.3f} |")


if __name__ == "__main__":
    main()
