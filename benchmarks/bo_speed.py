"""Suggest latency of the GP searcher ("bayesopt") vs the number of observations (6 dims).

For each n: feed n observations of Hartmann6 at random configs, let the searcher
fit once (not timed: that is the cold start), then time the next ``k`` rounds of
"one more observation, then suggest", ``k`` being the refit interval at that n
(``max(1, refit_fraction * n)``, so exactly one warm-started hyperparameter refit
falls in the window and the mean is the amortised cost). Prints a Markdown table.

    python benchmarks/bo_speed.py [--sizes 10,50,100,200,400,700,1000] [--seed 0]

BLAS is held to one thread, as a Tuner holds it for its run (``aiotune._blas``);
``--default-blas`` leaves it at its default thread count (one per core) instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from aiotune._blas import one_blas_thread
from aiotune.blackbox.synthetic import Hartmann6
from aiotune.schedulers.searchers.bayesopt import BayesOptSearcher
from aiotune.trial import Trial


def measure(n: int, seed: int) -> dict[str, float]:
    """Timings (ms) of suggest with about ``n`` observations."""
    bb = Hartmann6()
    rng = np.random.default_rng(seed)
    searcher = BayesOptSearcher(bb.config_space, "value", random_seed=seed, num_init_random=0)
    tid = 0

    def observe(config: dict) -> None:
        nonlocal tid
        trial = Trial(trial_id=tid, config=config)
        tid += 1
        searcher.on_trial_add(trial)
        searcher.on_trial_complete(trial, {"value": float(bb.learning_curve(config)["value"][0])})

    for _ in range(n):
        observe({k: float(v) for k, v in zip(bb.config_space, rng.random(6), strict=True)})
    t0 = time.perf_counter()
    searcher.suggest()  # cold fit
    cold = time.perf_counter() - t0
    # Advance to just after a refit point, so the window holds one warm refit.
    k = max(1, int(searcher.refit_fraction * n))
    times = []
    fits_before = searcher.gp.num_fits
    for _ in range(k):
        observe({k2: float(v) for k2, v in zip(bb.config_space, rng.random(6), strict=True)})
        t0 = time.perf_counter()
        searcher.suggest()
        times.append(time.perf_counter() - t0)
    return {
        "n": n,
        "cold_ms": cold * 1e3,
        "median_ms": statistics.median(times) * 1e3,
        "mean_ms": statistics.fmean(times) * 1e3,
        "max_ms": max(times) * 1e3,
        "window": k,
        "refits": searcher.gp.num_fits - fits_before,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,50,100,200,400,700,1000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--default-blas", action="store_true",
                    help="leave BLAS on its default thread count (a Tuner holds one thread)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"BLAS {'default' if args.default_blas else 'held to one thread'}, "
          f"load avg {os.getloadavg()[0]:.1f}")
    if args.default_blas:
        report(sizes, args.seed)
    else:
        with one_blas_thread():
            report(sizes, args.seed)


def report(sizes: list[int], seed: int) -> None:
    """Measure each size and print its table row."""
    print("| observations | cold fit + suggest (ms) | suggest median (ms) | "
          "suggest mean incl. 1 refit (ms) | max (ms) | window |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        r = measure(n, seed)
        print(f"| {r['n']} | {r['cold_ms']:.0f} | {r['median_ms']:.1f} | {r['mean_ms']:.1f} | "
              f"{r['max_ms']:.0f} | {r['window']} ({r['refits']} refit) |", flush=True)


if __name__ == "__main__":
    main()
