"""Where multi-fidelity methods lose a table's best row: when they start it, where it stops.

On the shipped table (``sklearn-digits-mlp``, searchers restricted to its rows,
each row's curve averaged over its seeds, the budget of ``mf_quality.py``),
one row's best ``valid_loss`` at any epoch is far ahead of the rest. This
script runs each method for ``--seeds`` seeds and prints, per seed, whether that
row was started, at which epoch its last result came and the decision taken
there, and at each rung the stopping cutoff it met (the scheduler's: the
``1/eta`` quantile of the rung's reference field, see ``aiotune.schedulers.asha``)
and, in brackets, the ``1/eta`` quantile of every value recorded there so far
(Syne Tune's rule). The methods run as in ``mf_quality.py``: one bracket, grace
1, eta 3. It answers "is the row never proposed, or proposed and stopped, and
against how strong a field?".

With ``--model-rank`` it first asks whether a model *could* find the row: a GP
(scikit-learn, Matern-5/2 ARD plus noise, on the encoded rows and the log of
each row's best value) is fitted to the whole table, and each of the ten best
rows is ranked by its leave-one-out prediction, i.e. by what the GP predicts
for it from all the *other* rows. A row the GP ranks low is one no searcher
model would favour, however much data it had.

With ``--oracle-subsets 300,600`` it asks what a *better* field does: ASHA
(random search) restricted to the ``k`` rows the leave-one-out GP ranks best,
and to the true ``k`` best rows (both include the best row), over ``--seeds``
seeds. An empty ``--methods`` skips the per-seed watch.

    python benchmarks/mf_best_row.py [--seeds 10] [--methods ASHA,BOHB,MOBSTER]
        [--model-rank] [--oracle-subsets 300,600]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mf_quality  # noqa: E402 - the benchmark's blackbox, schedulers and budget

BENCH = "sklearn-digits-mlp"
RUNGS = (1, 3, 9)
ETA = 3


class _RowWatch:
    """Tuner callback: every value at the rung levels, and what happened to one row."""

    def __init__(self, clock: Any, metric: str, row: dict[str, Any], budget: float) -> None:
        self.clock, self.metric, self.row, self.budget = clock, metric, row, budget
        self.scheduler: Any = None  # set once the tuner exists
        self.at_rung: dict[int, list[float]] = {r: [] for r in RUNGS}
        self.started_at: float | None = None
        self.last_epoch = 0
        self.decision = ""
        self.met: dict[int, tuple[float, float, float]] = {}  # rung -> value, cutoffs

    def on_trial_result(self, trial: Any, status: Any, result: Any, decision: Any) -> None:
        epoch, value = int(result["epoch"]), float(result[self.metric])
        if epoch in self.at_rung:
            self.at_rung[epoch].append(value)
        if dict(trial.config) != self.row:
            return
        if self.started_at is None:
            self.started_at = self.clock.now() / self.budget
        self.last_epoch, self.decision = epoch, getattr(decision, "name", str(decision))
        if epoch in self.at_rung and len(self.at_rung[epoch]) >= 2:
            everything = float(np.quantile(self.at_rung[epoch], 1.0 / ETA))
            self.met[epoch] = (value, self.cutoff_met(epoch), everything)

    def cutoff_met(self, epoch: int) -> float:
        """The cutoff the scheduler applies at rung ``epoch`` now (the value just recorded)."""
        s = self.scheduler
        cutoff = s.rung_cutoff(s.rung_table().rungs[s.levels.index(epoch)])
        return math.nan if cutoff is None else float(cutoff)


def loo_predictions(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's leave-one-out GP prediction of ``y`` (standardized units).

    One GP fit on all rows; the leave-one-out means come in closed form
    (Rasmussen & Williams, eq. 5.12): ``y_i - [K^-1 y]_i / [K^-1]_ii``.
    """
    import warnings

    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel() * Matern(np.ones(X.shape[1]), nu=2.5) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lengthscales at their bounds: not our question
        gp.fit(X, y)
    ys = (y - y.mean()) / y.std()
    k_inv = np.linalg.inv(gp.kernel_(X))
    return ys - (k_inv @ ys) / np.diag(k_inv)


def loo_ranks(X: np.ndarray, y: np.ndarray, top: int = 10) -> list[tuple[int, int, int]]:
    """``(row, true rank, leave-one-out rank)`` of the ``top`` rows of lowest ``y``."""
    loo = loo_predictions(X, y)
    true_rank, loo_rank = np.argsort(np.argsort(y)), np.argsort(np.argsort(loo))
    return [(int(i), int(true_rank[i]), int(loo_rank[i])) for i in np.argsort(y)[:top]]


def encoded_table(bb: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows' unit-cube encodings and the log of each row's best value."""
    from aiotune.schedulers.searchers.gp.encoding import SpaceEncoder

    enc = SpaceEncoder(bb.config_space)
    X = np.array([enc.encode(c) for c in bb.configs])
    y = np.log([float(np.min(bb.learning_curve(c, seed=0)[metric])) for c in bb.configs])
    return X, y


def print_model_ranks(bb: Any, metric: str) -> None:
    """Where a GP fitted on the other rows ranks each of the table's ten best rows."""
    X, y = encoded_table(bb, metric)
    print(f"\nleave-one-out GP rank of the {len(y)} rows' ten best (row: true rank -> GP rank): "
          + ", ".join(f"{i}: {t} -> {r}" for i, t, r in loo_ranks(X, y)))


def print_oracle_subsets(bb: Any, metric: str, sizes: list[int], seeds: int,
                         budget: float) -> None:
    """ASHA (random search) on only the ``k`` rows a GP ranks best, or the true ``k`` best.

    An oracle no searcher has: it shows what a better field of started rows does to
    the final best on this table, with the stopping rule left as it is.
    """
    X, y = encoded_table(bb, metric)
    orders = {"GP leave-one-out": np.argsort(loo_predictions(X, y)), "true": np.argsort(y)}
    best = float(np.exp(y.min()))
    print(f"\nASHA on a subset of rows, {seeds} seeds: mean final best +- s.e., "
          "runs ending at the best row, rows started")
    for label, order in orders.items():
        for k in sizes:
            rows = [dict(bb.configs[i]) for i in order[:k]]
            mf_quality.EXTRA_KWARGS["ASHA"] = {"searcher_kwargs": {"restrict_configurations": rows}}
            finals, started = [], []
            for seed in range(seeds):
                with contextlib.redirect_stdout(io.StringIO()):
                    r = mf_quality.run_one(BENCH, "ASHA", seed, budget, metric)
                finals.append(r["points"][-1][1])
                started.append(r["started"])
            f = np.array(finals)
            print(f"  {label} best {k}: {f.mean():.4f} +- {f.std(ddof=1) / math.sqrt(len(f)):.4f}, "
                  f"{int(np.sum(f <= best + 1e-9))}/{seeds}, {np.mean(started):.0f}")
    mf_quality.EXTRA_KWARGS.pop("ASHA", None)


def best_row(bb: Any, metric: str) -> int:
    """Index of the row with the lowest value at any epoch."""
    return int(np.argmin([np.min(bb.learning_curve(c, seed=0)[metric]) for c in bb.configs]))


def watch(method: str, seed: int, budget: float, metric: str, row: dict[str, Any]) -> _RowWatch:
    """One run of ``method``, watching ``row``."""
    tuner, w = mf_quality.simulated_tuner(
        BENCH, method, seed, budget, metric,
        lambda clock: _RowWatch(clock, metric, row, budget), f"best-row-{method}-{seed}",
    )
    w.scheduler = tuner.scheduler
    with contextlib.redirect_stdout(io.StringIO()):  # the tuner's end-of-run summary
        tuner.run()
    return w


def main(argv: list[str] | None = None) -> None:
    """Print, per method and seed, the fate of the table's best row."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--methods", default="ASHA,BOHB,MOBSTER")
    p.add_argument("--tab-budget", type=float, default=25.0)
    p.add_argument("--model-rank", action="store_true",
                   help="also rank the ten best rows by a GP fitted on the other rows")
    p.add_argument("--oracle-subsets", default="",
                   help="comma-separated sizes k: also run ASHA on only the k rows a GP "
                        "ranks best (leave-one-out) and on the true k best")
    args = p.parse_args(argv)
    mf_quality.AVERAGE_SEEDS = mf_quality.RESTRICT = True
    os.environ["AIOTUNE_RESULTS"] = tempfile.mkdtemp(prefix="aiotune-best-row-")
    bb = mf_quality.make_blackbox(BENCH)
    metric = bb.metric
    i = best_row(bb, metric)
    row = dict(bb.configs[i])
    curve = bb.learning_curve(row, seed=0)[metric]
    budget = args.tab_budget * mf_quality.full_training_time(bb)
    print(f"best row {i}: best {metric} {curve.min():.4f} at epoch {int(curve.argmin()) + 1}; "
          + ", ".join(f"epoch {r}: {curve[r - 1]:.4f}" for r in RUNGS) + f"; {row}")
    if args.model_rank:
        print_model_ranks(bb, metric)
    if args.oracle_subsets:
        sizes = [int(k) for k in args.oracle_subsets.split(",")]
        print_oracle_subsets(bb, metric, sizes, args.seeds, budget)
    for method in filter(None, args.methods.split(",")):
        print(f"\n{method}: seed | started at (fraction of budget) | last epoch, decision | "
              "value / cutoff met (all values' quantile) at each rung it reached")
        kept = 0
        for seed in range(args.seeds):
            w = watch(method, seed, budget, metric, row)
            if w.started_at is None:
                print(f"  {seed} | never started")
                continue
            kept += w.last_epoch >= int(curve.argmin()) + 1
            rungs = ", ".join(
                f"epoch {r}: {v:.4f} / {c:.4f} ({a:.4f})" for r, (v, c, a) in sorted(w.met.items())
            )
            print(f"  {seed} | {w.started_at:.2f} | {w.last_epoch}, {w.decision} | {rungs}")
        print(f"  {method} ran the row to its best epoch in {kept} of {args.seeds} seeds")


if __name__ == "__main__":
    main()
