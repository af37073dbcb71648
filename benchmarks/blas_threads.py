"""BLAS threads in the tuner process: the loop's hold on one thread against the default.

A GP-BO run in simulation (``BayesianOptimization`` on Branin, ``--trials``
trials, 4 workers, SimulatorBackend) under ``run_async`` next to a task that
ticks every 10 ms, in three fresh processes per repeat, side by side:

* ``held``: as shipped, the tuning loop holds BLAS to one thread (aiotune._blas);
* ``default``: the hold switched off (BLAS on its default thread count, one per core);
* ``env``: the hold off, ``OPENBLAS_NUM_THREADS=1`` set before NumPy loads.

Prints, per mode, the real time of the run and the tick gaps (median, p99, max),
a stand-in for how long the event loop of an application hosting the tuner is held.

    python benchmarks/blas_threads.py [--trials 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import asyncio, contextlib, json, sys, tempfile, time
import aiotune._loop
if sys.argv[1] != "held":
    aiotune._loop.one_blas_thread = contextlib.nullcontext
from aiotune import StoppingCriterion, Tuner
from aiotune.backends import SimulatorBackend
from aiotune.blackbox import Branin
from aiotune.schedulers import BayesianOptimization

async def main(trials):
    bb = Branin()
    tuner = Tuner(SimulatorBackend(bb), BayesianOptimization(bb.config_space, bb.metric,
                  mode="min", random_seed=0), StoppingCriterion(max_num_trials_completed=trials),
                  n_workers=4, print_update_interval=1e9)
    gaps, done = [], asyncio.Event()

    async def tick():
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    t0 = time.perf_counter()
    await tuner.run_async()
    wall = time.perf_counter() - t0
    done.set()
    await ticker
    gaps.sort()
    print(json.dumps({"wall": wall, "median": gaps[len(gaps) // 2],
                      "p99": gaps[int(0.99 * (len(gaps) - 1))], "max": gaps[-1]}))

with tempfile.TemporaryDirectory() as d:
    import os
    os.environ["AIOTUNE_RESULTS"] = d
    asyncio.run(main(int(sys.argv[2])))
"""


def run(mode: str, trials: int) -> dict[str, float]:
    """One run in a fresh process (BLAS reads its thread count when it loads)."""
    env = dict(os.environ)
    for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(key, None)
    if mode == "env":
        env["OPENBLAS_NUM_THREADS"] = "1"
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(trials)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}, {args.trials} trials, {args.repeats} repeats")
    runs: dict[str, list[dict[str, float]]] = {"held": [], "default": [], "env": []}
    for _ in range(args.repeats):
        for mode in runs:  # interleaved: a load change hits every mode alike
            runs[mode].append(run(mode, args.trials))
    print("| mode | real s per run (median) | tick gap median (ms) | p99 (ms) | max (ms) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for mode, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"| {mode} | {med['wall']:.2f} | {1e3 * med['median']:.1f} | "
              f"{1e3 * med['p99']:.1f} | {1e3 * max(r['max'] for r in rs):.1f} |")


if __name__ == "__main__":
    main()
