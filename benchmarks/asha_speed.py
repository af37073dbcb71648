"""Decision cost of ASHA: does it stay flat as trials pile up?

(a) The whole stack: ``Tuner`` + ``SimulatorBackend(SyntheticLearningCurves(27 epochs))``
    + stopping ``ASHA`` (grace 1, eta 3), 4 workers, until ``--trials`` trials
    finished (completed or stopped). Prints real seconds, results/s overall and
    results/s over the first and the last 2,000 finished trials (a callback
    stamps each finish with ``perf_counter`` and the number of results so far).
(b) The scheduler alone, the same 4-worker schedule without tuner, log or
    backend: mean microseconds per ``on_result`` and per ``suggest`` for the
    first and last 2,000 trials, for the stopping and the promotion variants.

    python benchmarks/asha_speed.py [--trials 20000] [--type stopping]

``--syne-tune-python /tmp/st13/bin/python`` also runs Syne Tune 0.13's ASHA
(``HyperbandScheduler(type="stopping")``) in its simulator on the same curves
tabulated on a grid (see :func:`syne_tune_side`) in that interpreter and prints
the ratio of results per real second. The venv::

    python -m venv /tmp/st13
    /tmp/st13/bin/pip install syne-tune==0.13.0 scikit-learn anyio msgspec aiofiles
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WINDOW = 2000


class _Stamps:
    """Tuner callback: (perf_counter, results so far) at every finished trial."""

    def __init__(self) -> None:
        self.results = 0
        self.stamps: list[tuple[float, int]] = []

        self.cpu: list[float] = []

    def _stamp(self) -> None:
        self.stamps.append((time.perf_counter(), self.results))
        self.cpu.append(time.process_time())

    def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
        self.results += 1
        if decision.value == "stop":
            self._stamp()

    def on_trial_complete(self, trial: Any, result: Any) -> None:
        self._stamp()


def _rate(stamps: list[tuple[float, int]], lo: int, hi: int) -> float:
    (t0, r0), (t1, r1) = stamps[lo], stamps[hi - 1]
    return (r1 - r0) / max(t1 - t0, 1e-12)


def _cpu_rate(stamps: _Stamps, lo: int, hi: int) -> float:
    r0, r1 = stamps.stamps[lo][1], stamps.stamps[hi - 1][1]
    return (r1 - r0) / max(stamps.cpu[hi - 1] - stamps.cpu[lo], 1e-12)


def whole_stack(n: int, kind: str, seed: int) -> dict[str, float]:
    """(a): the tuner on the simulator until ``n`` trials finished."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.schedulers.asha import ASHA
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    stamps = _Stamps()
    tuner = Tuner(
        SimulatorBackend(bb, time_attr="epoch", seed=seed),
        ASHA(bb.config_space, bb.metric, max_t=27, type=kind, random_seed=seed),
        StoppingCriterion(max_num_trials_finished=n - 1),
        n_workers=4,
        tuner_name=f"asha-speed-{kind}-{seed}",
        print_update_interval=1e9,
        callbacks=[stamps],
    )
    t0, c0 = time.perf_counter(), time.process_time()
    tuner.run()
    real, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = stamps.stamps
    st = tuner.status
    return {
        "real_s": real,
        "cpu_s": cpu,
        "first_window_results_per_cpu_s": _cpu_rate(stamps, 0, WINDOW),
        "last_window_results_per_cpu_s": _cpu_rate(stamps, len(s) - WINDOW, len(s)),
        "finished": st.num_trials_finished,
        "results": st.num_evaluations,
        "results_per_s": st.num_evaluations / real,
        "first_window_results_per_s": _rate(s, 0, WINDOW),
        "last_window_results_per_s": _rate(s, len(s) - WINDOW, len(s)),
    }


async def _scheduler_only(n: int, kind: str, seed: int) -> dict[str, float]:
    """(b): the same schedule without tuner until ``n`` trials started; per-call costs then."""
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.events import Decision
    from aiotune.schedulers.asha import ASHA
    from aiotune.trial import Trial

    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    s = ASHA(bb.config_space, bb.metric, max_t=27, type=kind, random_seed=seed)
    rng = np.random.default_rng(seed)
    running: dict[int, tuple[Trial, np.ndarray, int]] = {}
    trials: dict[int, tuple[Trial, np.ndarray, int]] = {}
    t_res: list[float] = []
    t_sug: list[float] = []
    nxt = 0
    marks: list[tuple[int, int]] = []  # (len t_res, len t_sug) at each new trial
    pc = time.perf_counter
    while nxt < n or running:
        while len(running) < 4 and nxt < n:
            t0 = pc()
            sug = await s.suggest()
            t_sug.append(pc() - t0)
            if sug.resume_trial_id is not None:
                tr, curve, e = trials[sug.resume_trial_id]
                running[tr.trial_id] = (tr, curve, e)
                tr.status = tr.status.PAUSED  # not RUNNING: see ASHA._ready
                continue
            tr = Trial(trial_id=nxt, config=sug.config)
            await s.on_trial_add(tr)
            curve = bb.learning_curve(sug.config, seed=nxt)["valid_error"]
            running[nxt] = trials[nxt] = (tr, curve, 0)
            nxt += 1
            marks.append((len(t_res), len(t_sug)))
        if not running:
            break
        ids = list(running)
        tid = ids[int(rng.integers(len(ids)))]
        tr, curve, e = running[tid]
        e += 1
        t0 = pc()
        d = await s.on_result(tr, {"epoch": e, "valid_error": float(curve[e - 1])})
        t_res.append(pc() - t0)
        running[tid] = trials[tid] = (tr, curve, e)
        if d is not Decision.CONTINUE or e >= 27:
            del running[tid]
            if d is Decision.STOP:
                await s.on_trial_remove(tr)
            elif e >= 27:
                await s.on_trial_complete(tr, {})

    def mean_us(xs: list[float], lo: int, hi: int) -> float:
        # median: robust to the preemptions of a shared machine
        return 1e6 * float(np.median(xs[lo:hi])) if hi > lo else float("nan")

    a, b = marks[WINDOW - 1], marks[-WINDOW]
    return {
        "on_result_us_first": mean_us(t_res, 0, a[0]),
        "on_result_us_last": mean_us(t_res, b[0], len(t_res)),
        "suggest_us_first": mean_us(t_sug, 0, a[1]),
        "suggest_us_last": mean_us(t_sug, b[1], len(t_sug)),
        "results": len(t_res),
    }


GRID: dict[str, list[Any]] = {
    "learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1],
    "batch_size": [16, 32, 64, 128, 256],
    "n_units": [16, 64, 256, 1024],
    "dropout": [0.0, 0.2, 0.4, 0.6],
    "weight_decay": [1e-6, 1e-4, 1e-2],
    "optimizer": ["sgd", "momentum", "adam"],
}


def syne_tune_side(n: int, seed: int) -> None:
    """Syne Tune 0.13's stopping ASHA in its simulator (run with a Syne Tune 0.13 venv).

    The same curves, tabulated on a 5,760-config grid (``BlackboxTabular``; random
    search with ``allow_duplicates=True`` so 20,000 trials fit), ``sleep_time=0``,
    ``SimulatorCallback`` and its stock simulator config, as in ANCHORS.md.
    """
    import itertools
    import logging

    import pandas as pd
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.config_space import choice, randint
    from syne_tune.optimizer.schedulers import HyperbandScheduler

    from aiotune.blackbox.learning_curves import SyntheticLearningCurves

    logging.getLogger("syne_tune").setLevel(logging.WARNING)
    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    configs = [dict(zip(GRID, c, strict=True)) for c in itertools.product(*GRID.values())]
    values = np.empty((len(configs), 1, 27, 2))
    for i, c in enumerate(configs):
        curve = bb.learning_curve(c, seed=0)
        values[i, 0, :, 0] = curve["valid_error"]
        values[i, 0, :, 1] = curve["elapsed_time"]
    space = {k: choice(v) for k, v in GRID.items()}
    blackbox = BlackboxTabular(
        hyperparameters=pd.DataFrame(configs),
        configuration_space=space,
        fidelity_space={"epoch": randint(1, 27)},
        objectives_evaluations=values,
        fidelity_values=np.arange(1, 28),
        objectives_names=["valid_error", "elapsed_time"],
    )
    stamps = _Stamps()

    class _Cb(SimulatorCallback):
        def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
            super().on_trial_result(trial, status, result, decision)
            stamps.results += 1
            if str(decision).lower().endswith("stop"):
                stamps._stamp()

        def on_trial_complete(self, trial: Any, result: Any) -> None:
            super().on_trial_complete(trial, result)
            stamps._stamp()

    scheduler = HyperbandScheduler(
        space, type="stopping", max_t=27, resource_attr="epoch", grace_period=1,
        reduction_factor=3, metric="valid_error", mode="min", searcher="random",
        search_options={"allow_duplicates": True}, random_seed=seed,
    )
    tuner = Tuner(
        trial_backend=UserBlackboxBackend(blackbox=blackbox, elapsed_time_attr="elapsed_time",
                                          seed=seed),
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_num_trials_finished=n - 1),
        n_workers=4, sleep_time=0, callbacks=[_Cb()], print_update_interval=1e9,
        results_update_interval=1e9, tuner_name="st-asha-speed",
    )
    t0, c0 = time.perf_counter(), time.process_time()
    tuner.run()
    real, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = stamps.stamps
    import syne_tune

    print(f"(c) syne-tune {syne_tune.__version__} ASHA stopping, 4 workers, {len(s)} trials "
          f"finished: {real:.1f} s real, {stamps.results} results = "
          f"{stamps.results / real:.0f} results/s; first {WINDOW} trials "
          f"{_rate(s, 0, min(WINDOW, len(s))):.0f} results/s, last {WINDOW} "
          f"{_rate(s, max(0, len(s) - WINDOW), len(s)):.0f} results/s; per CPU second "
          f"{stamps.results / cpu:.0f} overall, first {WINDOW} "
          f"{_cpu_rate(stamps, 0, min(WINDOW, len(s))):.0f}, last {WINDOW} "
          f"{_cpu_rate(stamps, max(0, len(s) - WINDOW), len(s)):.0f}")
    print(f"SYNE_TUNE_RESULTS_PER_S={stamps.results / real:.3f}")
    print(f"SYNE_TUNE_RESULTS_PER_CPU_S={stamps.results / cpu:.3f}")


def main(argv: list[str] | None = None) -> None:
    """Run (a) and (b) and print a small report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20000)
    p.add_argument("--type", default="stopping", choices=["stopping", "promotion"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--syne-tune-python", default=None,
                   help="interpreter of a venv with syne-tune==0.13.0 (side by side)")
    p.add_argument("--syne-tune-trials", type=int, default=None,
                   help="fewer trials for Syne Tune if it is too slow (rates are compared)")
    p.add_argument("--syne-tune-side", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.syne_tune_side:
        os.environ["SYNETUNE_FOLDER"] = tempfile.mkdtemp(prefix="st-asha-speed-")
        syne_tune_side(args.trials, args.seed)
        return
    os.environ["AIOTUNE_RESULTS"] = tempfile.mkdtemp(prefix="aiotune-asha-speed-")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    r = whole_stack(args.trials, args.type, args.seed)
    print(f"(a) tuner + simulator, ASHA {args.type}, 4 workers, {r['finished']} trials finished: "
          f"{r['real_s']:.1f} s real, {r['results']} results = {r['results_per_s']:.0f} results/s; "
          f"first {WINDOW} trials {r['first_window_results_per_s']:.0f} results/s, "
          f"last {WINDOW} {r['last_window_results_per_s']:.0f} results/s; per CPU second "
          f"{r['results'] / r['cpu_s']:.0f} overall, first {WINDOW} "
          f"{r['first_window_results_per_cpu_s']:.0f}, last {WINDOW} "
          f"{r['last_window_results_per_cpu_s']:.0f}")
    for kind in ("stopping", "promotion"):
        q = asyncio.run(_scheduler_only(args.trials, kind, args.seed))
        print(f"(b) scheduler alone, {kind}, median per call: on_result "
              f"{q['on_result_us_first']:.1f} us "
              f"(first {WINDOW} trials) -> {q['on_result_us_last']:.1f} us (last {WINDOW}); "
              f"suggest {q['suggest_us_first']:.1f} -> {q['suggest_us_last']:.1f} us")
    if args.syne_tune_python:
        out = subprocess.run(
            [args.syne_tune_python, __file__, "--syne-tune-side",
             "--trials", str(args.syne_tune_trials or args.trials), "--seed", str(args.seed)],
            capture_output=True, text=True, check=False,
        )
        lines = out.stdout.strip().splitlines()
        print("\n".join(x for x in lines if not x.startswith("SYNE_TUNE_")) or out.stderr[-3000:])
        for x in lines:
            if x.startswith("SYNE_TUNE_RESULTS_PER_S="):
                ratio = r["results_per_s"] / float(x.split("=")[1])
                print(f"ratio (results per real second, aiotune / syne-tune): {ratio:.1f}x")
            if x.startswith("SYNE_TUNE_RESULTS_PER_CPU_S="):
                ratio = r["results"] / r["cpu_s"] / float(x.split("=")[1])
                print(f"ratio (results per CPU second, aiotune / syne-tune): {ratio:.1f}x")


if __name__ == "__main__":
    main()
