"""Speed of a simulated run: RandomSearch on a 27-epoch synthetic blackbox, 4 workers, 5,000 trials.

Measures the whole stack in one process: the Tuner loop, the scheduler, the
store (event log, results table) and the SimulatorBackend. Prints real seconds,
completed trials per real second and results per real second; ``--profile``
prints the top cProfile entries (cumulative and own time).

    python benchmarks/sim_speed.py [--trials 5000] [--repeats 3] [--profile]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run_once(n_trials: int, n_workers: int, seed: int, epochs: int) -> dict[str, float]:
    """One run until ``n_trials`` trials completed; its counts and real time."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.schedulers.random_search import RandomSearch
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = SyntheticLearningCurves(max_epochs=epochs)
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=seed),
        scheduler=RandomSearch(bb.config_space, metric=bb.metric, random_seed=seed),
        # "more than N - 1" completed: stops at the N-th completion
        stop_criterion=StoppingCriterion(max_num_trials_completed=n_trials - 1),
        n_workers=n_workers,
        tuner_name=f"sim-speed-{seed}",
        print_update_interval=1e9,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    tuner.run()
    real, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = tuner.status
    results = st.num_evaluations
    return {
        "real_seconds": real,
        "cpu_seconds": cpu,
        "completed": st.num_trials_completed,
        "started": st.num_trials_started,
        "results": results,
        "simulated_seconds": tuner.trial_backend.clock.now(),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the measurement (optionally under cProfile) and print the numbers."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=5000)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    os.environ["AIOTUNE_RESULTS"] = tempfile.mkdtemp(prefix="aiotune-sim-speed-")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        r = run_once(args.trials, args.workers, 0, args.epochs)
        prof.disable()
        print(r)
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
        return
    runs = [run_once(args.trials, args.workers, seed, args.epochs) for seed in range(args.repeats)]
    for r in runs:
        print(
            f"completed={r['completed']} started={r['started']} results={r['results']} "
            f"simulated={r['simulated_seconds'] / 3600:.1f}h real={r['real_seconds']:.2f}s "
            f"cpu={r['cpu_seconds']:.2f}s "
            f"trials/s={r['completed'] / r['real_seconds']:.0f} "
            f"results/s={r['results'] / r['real_seconds']:.0f}"
        )
    med = statistics.median(r["real_seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    res = statistics.median(r["results"] for r in runs)
    print(
        f"median real {med:.2f}s -> {args.trials / med:.0f} completed trials/s, "
        f"{res / med:.0f} results/s; median CPU {cpu:.2f}s -> {args.trials / cpu:.0f} trials "
        f"per CPU second (real time counts the other processes on a busy machine)"
    )


if __name__ == "__main__":
    main()
