"""The plots of :meth:`aiotune.experiments.ExperimentResult.plot` (matplotlib, imported lazily).

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot: no
GUI backend is touched and no global state changes (saving uses Agg).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .experiments import ExperimentResult

__all__ = ["best_over_time", "parallel_coordinates", "trials_over_time"]


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    return fig, ax


def best_over_time(result: ExperimentResult, metric: str, mode: str) -> Figure:
    """One line: the best value of ``metric`` so far against tuner time."""
    fig, ax = _figure(f"{result.name}: best {metric} ({mode}) over time")
    xs, ys = [], []
    best = math.inf
    for _tid, t, v in sorted(result.iter_metric(metric), key=lambda r: r[1]):
        score = v if mode == "min" else -v
        if score < best:
            best = score
        xs.append(t)
        ys.append(best if mode == "min" else -best)
    ax.plot(xs, ys, drawstyle="steps-post", label=f"best {metric}")
    ax.set_xlabel("tuner time (s)")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    return fig


def trials_over_time(result: ExperimentResult, metric: str, mode: str) -> Figure:
    """One line per trial: its reports of ``metric`` against tuner time."""
    fig, ax = _figure(f"{result.name}: {metric} of each trial over time")
    series: dict[int, tuple[list[float], list[float]]] = {}
    for tid, t, v in result.iter_metric(metric):
        xs, ys = series.setdefault(tid, ([], []))
        xs.append(t)
        ys.append(v)
    for tid, (xs, ys) in sorted(series.items()):
        ax.plot(xs, ys, marker=".", linewidth=1, label=f"trial {tid}")
    ax.set_xlabel("tuner time (s)")
    ax.set_ylabel(metric)
    if len(series) <= 12:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return fig


def parallel_coordinates(result: ExperimentResult, metric: str, mode: str) -> Figure:
    """One line per trial across its numeric config values and its best ``metric`` (scaled)."""
    fig, ax = _figure(f"{result.name}: configurations and best {metric}")
    best: dict[int, float] = {}
    for tid, _t, v in result.iter_metric(metric):
        old = best.get(tid)
        if old is None or (v < old if mode == "min" else v > old):
            best[tid] = v
    trials = {tid: result.trial_records[tid] for tid in best}
    keys: list[str] = []
    for trial in trials.values():
        for k, v in trial.config.items():
            if k not in keys and isinstance(v, int | float) and not isinstance(v, bool):
                keys.append(k)
    keys = [k for k in keys if len({t.config.get(k) for t in trials.values()}) > 1]
    axes = [*keys, metric]
    columns: dict[str, list[float]] = {k: [] for k in axes}
    order = sorted(trials)
    for tid in order:
        for k in keys:
            v = trials[tid].config.get(k)
            columns[k].append(float(v) if isinstance(v, int | float) else math.nan)
        columns[metric].append(best[tid])
    scaled = {k: _scale(v) for k, v in columns.items()}
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    scores = scaled[metric]
    for i, _tid in enumerate(order):
        ys = [scaled[k][i] for k in axes]
        s = scores[i] if mode == "max" else 1.0 - scores[i]
        ax.plot(range(len(axes)), ys, color=cmap(s), alpha=0.7, linewidth=1)
    ax.set_xticks(range(len(axes)), axes, rotation=20)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("scaled value (0 = min, 1 = max)")
    return fig


def _scale(values: list[float]) -> list[float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [0.5] * len(values)
    lo, hi = min(finite), max(finite)
    span = hi - lo
    return [0.5 if span == 0 or not math.isfinite(v) else (v - lo) / span for v in values]
