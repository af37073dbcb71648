"""Memory a run keeps per result: a report flood over real sockets and a simulated ASHA run.

Measured with ``tracemalloc`` (Python objects only, so independent of the
allocator's high-water mark and of machine load, unlike RSS): what is still
allocated once the run has ended and its ``Tuner`` is alive, divided by the
results it holds, and the peak during the run.

    python benchmarks/memory.py [--reports 2000] [--trials 16] [--sim-trials 10000]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def measure(make: Callable[[], Any]) -> dict[str, float]:
    """Run the tuner ``make()`` builds under tracemalloc; retained bytes per result and peak."""
    gc.collect()
    tracemalloc.start()
    try:
        tuner = make()
        tuner.run()
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    results = len(tuner.results)
    return {
        "results": results,
        "retained_mib": round(retained / 2**20, 1),
        "retained_bytes_per_result": round(retained / max(results, 1)),
        "peak_mib": round(peak / 2**20, 1),
    }


def flood(trials: int, reports: int) -> Callable[[], Any]:
    """``trials`` real trial processes, each sending ``reports`` reports flat out (8 workers)."""
    from resilience import tuner_for

    return lambda: tuner_for([{"mode": "ok", "n": reports}] * trials, 8, f"mem-flood{trials}")


def simulated(trials: int) -> Callable[[], Any]:
    """ASHA on the 27-epoch synthetic learning curves, 4 workers, ``trials`` trials."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.schedulers.asha import ASHA
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = SyntheticLearningCurves(max_epochs=27)
    return lambda: Tuner(
        trial_backend=SimulatorBackend(bb, seed=1),
        scheduler=ASHA(bb.config_space, metric=bb.metric, max_t=27, random_seed=1),
        stop_criterion=StoppingCriterion(max_num_trials_started=trials),
        n_workers=4, tuner_name=f"mem-sim{trials}", print_update_interval=1e9,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--sim-trials", type=int, default=10_000)
    args = parser.parse_args(argv)
    os.environ.setdefault("AIOTUNE_RESULTS", tempfile.mkdtemp(prefix="aiotune-memory-"))
    rows = {
        f"flood {args.trials} x {args.reports} (LocalBackend)": flood(args.trials, args.reports),
        f"simulated ASHA, {args.sim_trials} trials": simulated(args.sim_trials),
    }
    for name, make in rows.items():
        print(f"{name}: {measure(make)}", flush=True)


if __name__ == "__main__":
    main()
