"""Quality of the multi-fidelity schedulers in simulation: ASHA, Hyperband, PBT, BOHB, MOBSTER,
synchronous Hyperband, DEHB, HyperTune, ASHACQR, ASHABORE and DyHPO.

Two benchmarks, ``--seeds`` seeds each, 4 workers, the same simulated budget
for every method (``StoppingCriterion(max_wallclock_time=...)`` on the
simulator's virtual clock):

* ``sklearn-digits-mlp``: the shipped tabular benchmark (1,000 configs x 3 seeds
  x 27 epochs, nearest-row lookup); budget ``--tab-budget`` x the mean time of
  one full 27-epoch training;
* ``synthetic-lc``: ``SyntheticLearningCurves(max_epochs=27, seed=0)``;
  budget ``--lc-budget`` x the mean full-training time.

For each run the best metric reported so far (any epoch, as Syne Tune's
benchmarking plots it) is recorded against simulated time: ``valid_error`` on
``synthetic-lc``, ``--tab-metric`` (default: the table's own metric) on the
table. BOHB and MOBSTER (issue 7) run as Syne Tune's baselines do (stopping
type, one bracket, grace 1, eta 3) with our defaults beyond that: their
model-proposed trials meet the cutoffs of the randomly drawn ones
(``rung_reference="prior"``) and MOBSTER keeps a third of its suggestions
random; ``--kwargs 'BOHB={"rung_reference": "all"}'`` and ``--kwargs
'MOBSTER={"rung_reference": "all", "searcher_kwargs": {"random_fraction": 0}}'``
give Syne Tune's rule. DyHPO runs with Syne Tune's defaults on both sides
(promotion type, rungs 1, 3, 5, ..., 25, ``probability_sh=0.25``). Prints a
markdown table (mean +- standard error of the final best over seeds, trials
started), the simulated time ASHA needs to reach random search's final mean
best (as a fraction of the budget), and writes ``--png`` with the anytime
curves (mean over seeds, shaded standard error).

Also prints the mean best so far at 10, 25, 50, 75 and 100% of the budget.

    python benchmarks/mf_quality.py [--seeds 10] [--methods ASHA,MOBSTER,...]
        [--png benchmarks/mf_quality.png] [--syne-tune-python PATH]

Syne Tune's MOBSTER takes tens of real minutes per run, so its seeds can be
split across processes and the report assembled afterwards: each process runs
``--first-seed K --seeds N --syne-tune-python PATH --syne-tune-save part-K.runs``,
and a last call adds every ``--syne-tune-runs part-K.runs`` to its own runs.
``--syne-tune-free-scheduler-time`` stops Syne Tune's simulator from charging
its scheduler's real time to the simulated clock, as ours never does.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METHODS = ("RandomSearch", "ASHA", "Hyperband", "PBT", "BOHB", "MOBSTER", "SyncHyperband", "DEHB",
           "HyperTune", "ASHACQR", "ASHABORE", "DyHPO")
UNRESTRICTED = ("PBT", "DEHB")
"""Methods that breed configs (Syne Tune's cannot be held to a table's rows): never restricted."""


AVERAGE_SEEDS = False
"""``--average-seeds``: a table answers with the mean curve over its recorded seeds."""
RESTRICT = False
"""``--restrict``: on a table, every searcher but PBT's and DEHB's suggests only its rows."""
EXTRA_KWARGS: dict[str, dict[str, Any]] = {}
"""``--kwargs METHOD=JSON``: more arguments of a method's scheduler (``searcher_kwargs`` merged)."""


def table_rows(bb: Any) -> list[dict[str, Any]] | None:
    """The rows searchers are restricted to (``--restrict`` on a table), else None."""
    return list(bb.configs) if RESTRICT and hasattr(bb, "configs") else None


def make_blackbox(name: str) -> Any:
    """The benchmark's blackbox."""
    if name == "synthetic-lc":
        from aiotune.blackbox.learning_curves import SyntheticLearningCurves

        return SyntheticLearningCurves(max_epochs=27, seed=0)
    from aiotune.blackbox.registry import load

    return load(name, average_seeds=True) if AVERAGE_SEEDS else load(name)


def full_training_time(bb: Any, n: int = 200) -> float:
    """Mean simulated time of a full training of a random config."""
    from aiotune.config_space import sample_config

    rng = np.random.default_rng(123)
    times = [
        float(bb.learning_curve(sample_config(bb.config_space, rng), seed=0)["elapsed_time"][-1])
        for _ in range(n)
    ]
    return float(np.mean(times))


def bench_metric(bench: str, tab_metric: str | None = None) -> str:
    """The metric tuned on ``bench``: the table's own unless ``tab_metric`` names another."""
    if bench == "synthetic-lc":
        return "valid_error"
    return tab_metric or make_blackbox(bench).metric


def make_scheduler(method: str, bb: Any, seed: int, metric: str) -> Any:
    """One of :data:`METHODS`, with the usual settings (grace 1, eta 3; PBT 8 members)."""
    space, rows = bb.config_space, None if method in UNRESTRICTED else table_rows(bb)
    extra = dict(EXTRA_KWARGS.get(method, {}))
    sk = {**({} if rows is None else {"restrict_configurations": rows}),
          **extra.pop("searcher_kwargs", {})} or None
    if method == "RandomSearch":
        from aiotune.schedulers.random_search import RandomSearch

        return RandomSearch(space, metric, random_seed=seed, restrict_configurations=rows,
                            **extra)
    if method == "PBT":
        from aiotune.schedulers.pbt import PopulationBasedTraining

        return PopulationBasedTraining(
            space, metric, population_size=8, perturbation_interval=3, max_t=27,
            random_seed=seed, **extra,
        )
    from aiotune.schedulers import (
        ASHA,
        ASHABORE,
        ASHACQR,
        BOHB,
        DEHB,
        MOBSTER,
        DyHPO,
        Hyperband,
        HyperTune,
        SyncHyperband,
    )

    multi_fidelity = {"ASHA": ASHA, "Hyperband": Hyperband, "BOHB": BOHB, "MOBSTER": MOBSTER,
                      "SyncHyperband": SyncHyperband, "DEHB": DEHB, "HyperTune": HyperTune,
                      "ASHACQR": ASHACQR, "ASHABORE": ASHABORE, "DyHPO": DyHPO}
    if method not in multi_fidelity:
        raise ValueError(method)
    return multi_fidelity[method](space, metric, max_t=27, random_seed=seed,
                                  searcher_kwargs=sk, **extra)


class _Trace:
    """Tuner callback: (simulated time, best ``metric`` so far) at every improvement."""

    def __init__(self, clock: Any, metric: str) -> None:
        self.clock = clock
        self.metric = metric
        self.best = float("inf")
        self.points: list[tuple[float, float]] = []

    def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
        v = result.get(self.metric)
        if isinstance(v, float | int) and v == v and v < self.best:
            self.best = float(v)
            self.points.append((self.clock.now(), self.best))


def simulated_tuner(bench: str, method: str, seed: int, budget: float, metric: str,
                    watcher: Callable[[Any], Any], name: str) -> tuple[Any, Any]:
    """A Tuner for one simulated run (4 workers, ``budget`` simulated s) and its callback.

    ``watcher(clock)`` builds the callback from the simulator's virtual clock.
    """
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.stopping import StoppingCriterion
    from aiotune.tuner import Tuner

    bb = make_blackbox(bench)
    backend = SimulatorBackend(bb, time_attr="epoch", seed=seed)
    callback = watcher(backend.clock)
    tuner = Tuner(
        backend,
        make_scheduler(method, bb, seed, metric),
        StoppingCriterion(max_wallclock_time=budget),
        n_workers=4,
        tuner_name=name,
        print_update_interval=1e12,
        results_update_interval=1e12,
        callbacks=[callback],
    )
    return tuner, callback


def run_one(bench: str, method: str, seed: int, budget: float, metric: str) -> dict[str, Any]:
    """One simulated run; its anytime trace and counts."""
    t0 = time.perf_counter()
    tuner, trace = simulated_tuner(bench, method, seed, budget, metric,
                                   lambda clock: _Trace(clock, metric),
                                   f"mfq-{bench}-{method}-{seed}")
    tuner.run()
    return {"points": trace.points, "started": tuner.status.num_trials_started,
            "real": time.perf_counter() - t0}


def _st_space(space: dict[str, Any]) -> dict[str, Any]:
    """Our config space as Syne Tune domains (same ranges, same log scales)."""
    from syne_tune.config_space import choice, lograndint, loguniform, randint, uniform

    from aiotune.config_space import Categorical, Float, Integer

    out: dict[str, Any] = {}
    for k, d in space.items():
        if isinstance(d, Float):
            out[k] = (loguniform if d.log else uniform)(d.lower, d.upper)
        elif isinstance(d, Integer):
            out[k] = (lograndint if d.log else randint)(d.lower, d.upper)
        elif isinstance(d, Categorical):
            out[k] = choice(d.values())
        else:
            raise ValueError(f"no Syne Tune domain for {k}={d!r}")
    return out


def _clip_to_space(space: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Numbers clipped into their domain's bounds.

    Syne Tune 0.13's KDE searcher proposes integers below a ``lograndint``'s
    lower bound (``n_units=11`` for ``lograndint(16, 1024)``); a training
    script would run them at the nearest valid size, and so does this wrapper.
    """
    from aiotune.config_space import Float, Integer

    out = dict(config)
    for k, d in space.items():
        if isinstance(d, Float | Integer) and k in out:
            out[k] = type(out[k])(min(max(out[k], d.lower), d.upper))
    return out


def run_one_syne_tune(
    bench: str, method: str, seed: int, budget: float, metric: str,
    charge_scheduler_time: bool = True,
) -> dict[str, Any]:
    """The same run in Syne Tune 0.13's simulator (run under a Syne Tune 0.13 venv).

    The blackbox is *ours*, wrapped as a Syne Tune ``Blackbox``, so both sides
    evaluate identical curves; Syne Tune's simulator with zero delays and a
    tick of 1/20,000 of the budget (ANCHORS.md: stock settings make every method
    look like random search at small budgets; a 1 ms tick over thousands of
    simulated seconds takes Syne Tune ~12 real minutes per run). Its simulator
    adds the real time spent in the scheduler to the simulated clock; with
    ``charge_scheduler_time=False`` it does not (as ours: decisions cost no
    simulated time), which matters for its MOBSTER, whose GP fits take minutes.
    """

    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.optimizer.baselines import (
        DEHB,
        DyHPO,
        HyperTune,
        RandomSearch,
        SyncHyperband,
    )
    from syne_tune.optimizer.schedulers import HyperbandScheduler, PopulationBasedTraining

    ours = make_blackbox(bench)
    names = [metric, "elapsed_time"]
    # Time scale: real scheduler time leaks into Syne Tune's simulated clock, so keep one
    # epoch >= ~1 simulated second (the tabular epochs are ~15 ms); curves are reported in
    # our units (divided back). The tick is 1/20,000 of the budget.
    scale = 1.0 if bench == "synthetic-lc" else 100.0

    bb = syne_tune_blackbox(
        ours, names,
        lambda curve: np.stack([curve[metric], scale * curve["elapsed_time"]], axis=1),
    )
    space = dict(bb.configuration_space)
    common: dict[str, Any] = {"metric": metric, "mode": "min", "random_seed": seed}
    rows = table_rows(ours)
    if rows is not None and method not in UNRESTRICTED:
        common["search_options"] = {"restrict_configurations": rows}
    if method == "RandomSearch":
        sched = RandomSearch(space, **common)
    elif method in ("ASHA", "Hyperband", "BOHB", "MOBSTER", "ASHABORE"):
        # Syne Tune 0.13's baselines BOHB, MOBSTER and ASHABORE are exactly these
        # searchers ("kde", "bayesopt", "bore") in a HyperbandScheduler.
        searcher = {"BOHB": "kde", "MOBSTER": "bayesopt", "ASHABORE": "bore"}.get(
            method, "random")
        sched = HyperbandScheduler(
            space, searcher=searcher, type="stopping", max_t=27, resource_attr="epoch",
            grace_period=1, reduction_factor=3, brackets=4 if method == "Hyperband" else 1,
            **common,
        )
    elif method == "HyperTune":
        sched = HyperTune(space, resource_attr="epoch", max_t=27, grace_period=1,
                          reduction_factor=3, **common)
    elif method == "DyHPO":
        # Syne Tune 0.13's defaults: rung_increment 2, probability_sh 0.25
        sched = DyHPO(space, resource_attr="epoch", max_t=27, grace_period=1, **common)
    elif method in ("SyncHyperband", "DEHB"):
        sched = {"SyncHyperband": SyncHyperband, "DEHB": DEHB}[method](
            space, resource_attr="epoch", max_resource_level=27, grace_period=1,
            reduction_factor=3, **common,
        )
    else:
        sched = PopulationBasedTraining(
            space, resource_attr="epoch", max_t=27, population_size=8,
            perturbation_interval=3, **common,
        )
    backend = syne_tune_backend(bb, seed, budget, scale, charge_scheduler_time)
    trace = _Trace(backend.time_keeper, metric)
    trace.clock = type("C", (), {"now": staticmethod(lambda: backend.time_keeper.time() / scale)})

    class _Cb(SimulatorCallback):
        def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
            super().on_trial_result(trial, status, result, decision)
            trace.on_trial_result(trial, status, result, decision)

    tuner = syne_tune_tuner(backend, sched, budget * scale, _Cb(),
                            f"st-mfq-{method.lower()}-{seed}")
    t0 = time.perf_counter()
    ran_out = None
    try:
        tuner.run()
    except Exception:
        # Syne Tune 0.13's searchers raise once every row of ``restrict_configurations``
        # has been started; the run up to there stands (ours stops suggesting instead).
        if rows is None or len(tuner.tuning_status.trial_rows) < len(rows):
            raise
        ran_out = trace.clock.now()
    return {"points": trace.points, "started": len(tuner.tuning_status.trial_rows),
            "real": time.perf_counter() - t0, "rows_ran_out_at": ran_out}


def syne_tune_blackbox(ours: Any, names: list[str],
                       columns: Callable[[dict[str, Any]], np.ndarray]) -> Any:
    """Our 27-epoch blackbox ``ours`` as a Syne Tune ``Blackbox`` with objectives ``names``:
    ``columns(curve)`` stacks them from a config's curve (one row per epoch).

    Each config gets its own curve seed (from a hash of the config), as our
    simulator gives each trial one; numbers are clipped into their domain first.
    """
    import zlib

    import msgspec
    from syne_tune.blackbox_repository.blackbox import Blackbox
    from syne_tune.config_space import randint

    class Wrapped(Blackbox):
        def __init__(self) -> None:
            super().__init__(_st_space(ours.config_space), {"epoch": randint(1, 27)}, names)

        @property
        def fidelity_values(self) -> np.ndarray:
            return np.arange(1, 28)

        def _objective_function(self, configuration: Any, fidelity: Any = None,
                                seed: Any = None) -> Any:
            key = zlib.crc32(msgspec.json.encode(configuration, order="sorted"))
            config = _clip_to_space(ours.config_space, dict(configuration))
            return columns(ours.learning_curve(config, seed=(int(seed or 0) + key) % 2**31))

    return Wrapped()


def syne_tune_backend(bb: Any, seed: int, budget: float, scale: float,
                      charge_scheduler_time: bool = True) -> Any:
    """Syne Tune's simulator over the wrapped blackbox ``bb``: zero delays, a tick of
    1/20,000 of the (scaled) budget, its scheduler's real time charged or not."""
    from syne_tune.backend.simulator_backend.simulator_backend import SimulatorConfig
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend

    class Backend(UserBlackboxBackend):
        def copy_checkpoint(self, src_trial_id: int, tgt_trial_id: int) -> None:
            """Simulated trials write no checkpoint folders: nothing to copy."""

    backend = Backend(
        blackbox=bb, elapsed_time_attr="elapsed_time", seed=seed,
        simulator_config=SimulatorConfig(0.0, 0.0, 0.0, 0.0, 0.0),
        tuner_sleep_time=budget * scale / 20000,
    )
    if not charge_scheduler_time:
        backend.time_keeper.real_time_since_last_recent_exit = lambda: 0.0
    return backend


def syne_tune_tuner(backend: Any, scheduler: Any, budget: float, callback: Any,
                    name: str, n_workers: int = 4) -> Any:
    """Syne Tune's Tuner for one simulated run: ``n_workers``, ``budget`` simulated seconds."""
    from syne_tune import StoppingCriterion, Tuner

    return Tuner(
        trial_backend=backend, scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_wallclock_time=budget), n_workers=n_workers,
        sleep_time=0, callbacks=[callback], print_update_interval=1e12,
        results_update_interval=1e12, tuner_name=name, save_tuner=False,
    )


def best_at(points: list[tuple[float, float]], grid: np.ndarray) -> np.ndarray:
    """The best-so-far value at each time of ``grid`` (NaN before the first result)."""
    out = np.full(len(grid), np.nan)
    if not points:
        return out
    times = np.array([t for t, _ in points])
    vals = np.array([v for _, v in points])
    idx = np.searchsorted(times, grid, side="right") - 1
    ok = idx >= 0
    out[ok] = vals[idx[ok]]
    return out


def syne_tune_side(benches: list[str], budgets: list[float], seeds: range, methods: list[str],
                   tab_metric: str | None, charge_scheduler_time: bool = True) -> None:
    """Print one JSON line per Syne Tune run (called under the Syne Tune 0.13 venv)."""
    import json
    import logging

    logging.disable(logging.WARNING)
    os.environ["SYNETUNE_FOLDER"] = tempfile.mkdtemp(prefix="st-mfq-")
    for bench, budget in zip(benches, budgets, strict=True):
        for method in methods:
            for seed in seeds:
                try:
                    r = run_one_syne_tune(
                        bench, method, seed, budget, bench_metric(bench, tab_metric),
                        charge_scheduler_time,
                    )
                except Exception as exc:  # reported by the parent, not dropped silently
                    print(f"ERR {bench} {method} {seed}: {exc!r}", flush=True)
                    continue
                print("RUN " + json.dumps({"bench": bench, "method": method, "seed": seed, **r}),
                      flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run every benchmark x method x seed; print the table; write the PNG."""
    import json
    import subprocess
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # nan-means before 1st result
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0,
                   help="run seeds FIRST..FIRST+SEEDS-1 (to split seeds across processes)")
    p.add_argument("--tab-budget", type=float, default=25.0)
    p.add_argument("--lc-budget", type=float, default=40.0)
    p.add_argument("--png", default=str(Path(__file__).with_name("mf_quality.png")))
    p.add_argument("--benchmarks", default="sklearn-digits-mlp,synthetic-lc")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--restrict", action="store_true",
                   help="searchers (all but PBT and DEHB) suggest only the table's rows, "
                   "each once")
    p.add_argument("--average-seeds", action="store_true",
                   help="the table answers with each config's mean curve over its seeds")
    p.add_argument("--tab-metric", default=None,
                   help="metric of the tabular benchmark (default: the table's own)")
    p.add_argument("--syne-tune-python", default=None,
                   help="interpreter of a venv with syne-tune==0.13.0: run its methods too")
    p.add_argument("--syne-tune-save", default=None, metavar="FILE",
                   help="keep the Syne Tune side's runs in FILE (for --syne-tune-runs)")
    p.add_argument("--syne-tune-runs", action="append", default=[], metavar="FILE",
                   help="add Syne Tune runs saved by --syne-tune-save instead of rerunning them")
    p.add_argument("--syne-tune-free-scheduler-time", action="store_true",
                   help="Syne Tune's simulated clock does not count its scheduler's real "
                   "time (ours never does)")
    p.add_argument("--kwargs", action="append", default=[], metavar="METHOD=JSON",
                   help="more scheduler arguments for one of our methods, e.g. "
                   "'BOHB={\"brackets\": null}' (searcher_kwargs are merged)")
    p.add_argument("--syne-tune-side", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    global AVERAGE_SEEDS, RESTRICT
    AVERAGE_SEEDS, RESTRICT = args.average_seeds, args.restrict
    for item in args.kwargs:
        method, _, text = item.partition("=")
        if method not in METHODS:
            p.error(f"--kwargs {item!r}: unknown method {method!r}")
        try:
            EXTRA_KWARGS[method] = json.loads(text)
        except json.JSONDecodeError as exc:
            p.error(f"--kwargs {item!r}: not JSON ({exc})")
        if not isinstance(EXTRA_KWARGS[method], dict):
            p.error(f"--kwargs {item!r}: must be a JSON object of scheduler arguments")
    benches = args.benchmarks.split(",")
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown methods {unknown}; known: {', '.join(METHODS)}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.syne_tune_side:
        syne_tune_side(benches, json.loads(args.syne_tune_side), seeds, methods,
                       args.tab_metric, not args.syne_tune_free_scheduler_time)
        return
    os.environ["AIOTUNE_RESULTS"] = tempfile.mkdtemp(prefix="aiotune-mfq-")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.seeds} seeds, "
          f"4 workers, load average {os.getloadavg()[0]:.1f}"
          + (", table seeds averaged" if args.average_seeds else "")
          + (", searchers restricted to the table's rows" if args.restrict else ""))
    budgets = []
    for bench in benches:
        factor = args.tab_budget if bench != "synthetic-lc" else args.lc_budget
        budgets.append(factor * full_training_time(make_blackbox(bench)))
    st_proc = None
    # Syne Tune's side writes to a file, not a pipe: its chatter would fill a pipe
    # nobody reads until our side is done, and stall it there.
    st_out = (open(args.syne_tune_save, "w+") if args.syne_tune_save  # noqa: SIM115
              else tempfile.TemporaryFile("w+"))
    if args.syne_tune_python:
        st_proc = subprocess.Popen(
            [args.syne_tune_python, __file__, "--benchmarks", args.benchmarks,
             "--seeds", str(args.seeds), "--first-seed", str(args.first_seed),
             "--methods", args.methods,
             "--syne-tune-side", json.dumps(budgets)]
            + (["--tab-metric", args.tab_metric] if args.tab_metric else [])
            + (["--average-seeds"] if args.average_seeds else [])
            + (["--restrict"] if args.restrict else [])
            + (["--syne-tune-free-scheduler-time"] if args.syne_tune_free_scheduler_time
               else []),
            stdout=st_out, stderr=subprocess.DEVNULL, text=True,
        )
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for bench, budget in zip(benches, budgets, strict=True):
        metric = bench_metric(bench, args.tab_metric)
        for method in methods:
            for seed in seeds:
                runs.setdefault(("aiotune", bench, method), []).append(
                    run_one(bench, method, seed, budget, metric)
                )
    if st_proc is not None:
        st_proc.wait()
        st_out.seek(0)
        add_syne_tune_runs(st_out.read(), runs)
    st_out.close()
    for name in args.syne_tune_runs:
        add_syne_tune_runs(Path(name).read_text(), runs)
    report(runs, benches, budgets, args.png, [bench_metric(b, args.tab_metric) for b in benches])


def add_syne_tune_runs(text: str, runs: dict[tuple[str, str, str], list[dict[str, Any]]]) -> None:
    """Add the runs in the Syne Tune side's output ``text``; print the runs that failed."""
    import json

    for line in text.splitlines():
        if line.startswith("ERR "):
            print(f"syne-tune run failed: {line[4:]}")
        if line.startswith("RUN "):
            r = json.loads(line[4:])
            r["points"] = [tuple(x) for x in r["points"]]
            if r.get("rows_ran_out_at") is not None:
                print(f"syne-tune run {r['bench']} {r['method']} {r['seed']} started every row "
                      f"and failed at {r['rows_ran_out_at']:.4g} simulated s; kept up to there")
            runs.setdefault(("syne-tune 0.13", r["bench"], r["method"]), []).append(r)


def report(runs: dict[tuple[str, str, str], list[dict[str, Any]]], benches: list[str],
           budgets: list[float], png: str, metrics: list[str]) -> None:
    """The markdown table, the time-to-random-search's-best lines, the PNG."""
    grids = {b: np.linspace(0.0, budget, 201) for b, budget in zip(benches, budgets, strict=True)}
    curves: dict[tuple[str, str, str], np.ndarray] = {}
    stats: dict[tuple[str, str, str], tuple[float, float, float, float]] = {}
    finals: dict[tuple[str, str, str], np.ndarray] = {}
    for key, rs in runs.items():
        grid = grids[key[1]]
        curves[key] = np.array([best_at(r["points"], grid) for r in rs])
        f = finals[key] = np.array([r["points"][-1][1] if r["points"] else np.nan for r in rs])
        stats[key] = (float(np.mean(f)), float(np.std(f, ddof=1) / np.sqrt(len(f))),
                      float(np.mean([r["started"] for r in rs])),
                      float(np.mean([r.get("real", np.nan) for r in rs])))
    mean_curves = {key: np.nanmean(c, axis=0) for key, c in curves.items()}
    print()
    print("| benchmark (metric) | method | implementation | final best (mean +- s.e.) "
          "| trials started | real s / run | runs ending at the best any run found |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for bench, metric in zip(benches, metrics, strict=True):
        top = np.nanmin(np.concatenate([f for k, f in finals.items() if k[1] == bench]))
        for method in METHODS:
            for impl in ("aiotune", "syne-tune 0.13"):
                if (impl, bench, method) in stats:
                    m, se, st, real = stats[(impl, bench, method)]
                    f = finals[(impl, bench, method)]
                    print(f"| {bench} ({metric}) | {method} | {impl} | {m:.4f} +- {se:.4f} "
                          f"| {st:.0f} | {real:.1f} | {int(np.sum(f <= top))} of {len(f)} "
                          f"({top:.4f}) |")
    print()
    fractions = (0.1, 0.25, 0.5, 0.75, 1.0)
    print("| benchmark | method | implementation | "
          + " | ".join(f"mean best at {f:.0%}" for f in fractions) + " |")
    print("| --- | --- | --- |" + " --- |" * len(fractions))
    for bench in benches:
        for method in METHODS:
            for impl in ("aiotune", "syne-tune 0.13"):
                if (impl, bench, method) in curves:
                    mean_curve = mean_curves[(impl, bench, method)]
                    at = [mean_curve[round(f * (len(mean_curve) - 1))] for f in fractions]
                    print(f"| {bench} | {method} | {impl} | "
                          + " | ".join(f"{v:.4f}" for v in at) + " |")
    print()
    for impl in ("aiotune", "syne-tune 0.13"):
        for bench, budget in zip(benches, budgets, strict=True):
            if (impl, bench, "RandomSearch") not in stats:
                continue
            rs_best = stats[(impl, bench, "RandomSearch")][0]
            for method in METHODS[1:]:
                if (impl, bench, method) not in curves:
                    continue
                hit = np.nonzero(mean_curves[(impl, bench, method)] <= rs_best)[0]
                when = (f"at {grids[bench][hit[0]] / budget:.0%} of" if len(hit)
                        else "never within")
                print(f"{impl}, {bench}: {method} reaches random search's final mean best "
                      f"({rs_best:.4f}) {when} the budget ({budget:.1f} simulated s)")
    for bench in benches:
        for method in METHODS:
            a = stats.get(("aiotune", bench, method))
            b = stats.get(("syne-tune 0.13", bench, method))
            if a and b:
                verdict = "no worse" if a[0] <= b[0] + max(a[1], b[1]) else "WORSE"
                print(f"{bench} {method}: aiotune {a[0]:.4f} vs syne-tune {b[0]:.4f} -> "
                      f"{verdict} (within one s.e.)")
        for impl in ("aiotune", "syne-tune 0.13"):
            asha = stats.get((impl, bench, "ASHA"))
            for method in ("BOHB", "MOBSTER"):
                m = stats.get((impl, bench, method))
                if asha and m:
                    verdict = "beats" if m[0] < asha[0] else "does NOT beat"
                    print(f"{impl}, {bench}: {method} {m[0]:.4f} +- {m[1]:.4f} {verdict} "
                          f"ASHA {asha[0]:.4f} +- {asha[1]:.4f}")
    _plot(curves, grids, benches, png, metrics)
    print(f"\nwrote {png}")


def _plot(curves: dict[tuple[str, str, str], np.ndarray], grids: dict[str, np.ndarray],
          benches: list[str], png: str, metrics: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(benches), figsize=(6.5 * len(benches), 4.5), squeeze=False)
    palette = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
               "tab:pink", "tab:olive", "tab:cyan", "tab:gray", "black", "gold")
    colors = dict(zip(METHODS, palette, strict=True))
    for ax, bench, metric in zip(axes[0], benches, metrics, strict=True):
        grid = grids[bench]
        for (impl, b, method), mat in sorted(curves.items()):
            if b != bench:
                continue
            m = np.nanmean(mat, axis=0)
            se = np.nanstd(mat, axis=0) / np.sqrt(np.sum(~np.isnan(mat), axis=0).clip(1))
            style = "-" if impl == "aiotune" else "--"
            ax.plot(grid, m, style, color=colors[method], label=f"{method} ({impl})")
            if impl == "aiotune":
                ax.fill_between(grid, m - se, m + se, color=colors[method], alpha=0.15)
        ax.set_title(f"{bench}, 4 workers (mean of seeds; shade: s.e.)")
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel(f"best {metric} so far")
        vals = np.concatenate([c.ravel() for (i, b, _), c in curves.items() if b == bench])
        lo, hi = np.nanmin(vals), np.nanpercentile(vals, 70)
        ax.set_ylim(lo - 0.05 * (hi - lo), hi)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()
