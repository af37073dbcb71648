"""``TuningStatus``: the synchronous, pure bookkeeping of a run (no I/O, no event loop).

The tuner feeds it every trial start, result and end; the stopping criterion,
the status printer and ``best_config`` read it. Everything here is O(1) per
event (per metric of the report) so the simulator can push tens of thousands of
events a second.

Two notions of "best". :meth:`TuningStatus.best_trial` (``best_config``) judges
each trial by its best report over all its epochs, as Syne Tune's
``best_config`` (Ray's ``get_best_result(scope="all")``).
:meth:`TuningStatus.pareto_front` judges each trial by its latest report, as
Ray's default ``scope="last"`` and Optuna's ``best_trials`` (one final value per
objective): the objectives of one report belong together. Neither counts NaN or
an infinite value (Ray's ``filter_nan_and_inf``): a diverged trial never wins.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidArgumentError
from .trial import TrialStatus

__all__ = ["TrialSummary", "TuningStatus"]


class TrialSummary:
    """What the status knows of one trial: status, last result, per-metric extremes.

    ``best`` holds the best finite value of each of the scheduler's metrics in
    the scheduler's mode; ``low``/``high`` the smallest and largest finite value
    of every numeric metric the trial reported, so the best of any metric in
    either mode is known without keeping the reports.
    """

    __slots__ = (
        "trial_id",
        "config",
        "status",
        "last_result",
        "num_results",
        "best",
        "low",
        "high",
        "reason",
    )

    def __init__(self, trial_id: int, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.config = config
        self.status = TrialStatus.RUNNING
        self.last_result: dict[str, Any] = {}
        self.num_results = 0
        self.best: dict[str, float] = {}
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        self.reason = ""

    def best_of(self, name: str, mode: str) -> float | None:
        """The trial's best finite value of ``name`` over all its reports, or None."""
        return (self.low if mode == "min" else self.high).get(name)

    def __repr__(self) -> str:
        return (
            f"TrialSummary(trial_id={self.trial_id}, status={self.status.value}, "
            f"num_results={self.num_results}, best={self.best!r})"
        )


_INF = math.inf
_MAX_INT = int(sys.float_info.max)  # a larger int has no float


def _as_float(value: Any) -> float | None:
    """A metric value as a float, or None for non-numbers and NaN (for extremes and cost)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        v = _INF if value > 0 else -_INF
    return None if math.isnan(v) else v


def _finite(value: Any) -> float | None:
    """A metric value as a float, or None for non-numbers, NaN and infinities (never best)."""
    v = _as_float(value)
    return v if v is not None and math.isfinite(v) else None


class TuningStatus:
    """Counts, cost, time and the best values seen so far, for the tuner and its criteria.

    ``metric_names``/``metric_modes`` name the scheduler's metrics: the status
    tracks the best value of each (NaN, infinities and non-numbers ignored, as
    Ray's ``filter_nan_and_inf``), and of every other numeric metric a trial
    reports. ``cost_attr``
    is the per-trial cumulative cost metric (``st_worker_cost``), summed over
    trials at each trial's latest value, as Syne Tune counts cost.
    """

    def __init__(
        self,
        metric_names: Sequence[str] = (),
        metric_modes: Sequence[str] = (),
        cost_attr: str = "st_worker_cost",
    ) -> None:
        self.metric_names = list(metric_names)
        self.metric_modes = list(metric_modes) or ["min"] * len(self.metric_names)
        self.cost_attr = cost_attr
        self.trials: dict[int, TrialSummary] = {}
        self.num_trials_started = 0
        self.num_trials_completed = 0
        self.num_trials_failed = 0
        self.num_trials_stopped = 0
        self.num_trials_paused = 0
        self.num_evaluations = 0
        self.cost = 0.0
        self.wallclock_time = 0.0
        self.metric_min: dict[str, float] = {}
        self.metric_max: dict[str, float] = {}
        self._trial_cost: dict[int, float] = {}
        self._watched: list[str] = list(dict.fromkeys(self.metric_names))
        self._modes = dict(zip(self.metric_names, self.metric_modes, strict=True))
        self._reported: dict[str, None] = {}  # every metric name seen, in first-seen order

    def watch(self, names: Sequence[str]) -> None:
        """Also track the extremes of ``names`` (metrics a stopping criterion bounds)."""
        self._watched = list(dict.fromkeys([*self._watched, *names]))

    # ---- what the tuner feeds in -------------------------------------------------
    def on_trial_started(self, trial_id: int, config: dict[str, Any]) -> None:
        """A new trial started (a resumed one is not new: see :meth:`on_trial_resumed`)."""
        self.trials[trial_id] = TrialSummary(trial_id, config)
        self.num_trials_started += 1

    def on_trial_resumed(self, trial_id: int, config: dict[str, Any]) -> None:
        """A paused (or failed, retried) trial runs again."""
        summary = self.trials[trial_id]
        if summary.status is TrialStatus.PAUSED:
            self.num_trials_paused -= 1
        elif summary.status is TrialStatus.FAILED:
            self.num_trials_failed -= 1
        summary.status = TrialStatus.RUNNING
        summary.config = config

    def on_result(self, trial_id: int, metrics: Mapping[str, Any]) -> None:
        """A report: update counts, per-metric extremes, per-trial best and cost.

        This runs once per event, so it avoids copies and repeated conversions:
        the report's dict is kept as is (events are never mutated). The run's
        extremes (what a stopping criterion bounds) skip only NaN; a trial's
        best values skip infinities too.
        """
        summary = self.trials[trial_id]
        summary.last_result = metrics  # type: ignore[assignment]
        summary.num_results += 1
        self.num_evaluations += 1
        lo, hi = self.metric_min, self.metric_max
        for name in self._watched:
            raw = metrics.get(name)
            v = raw if type(raw) is float and raw == raw else _as_float(raw)
            if v is None:
                continue
            if v < lo.get(name, _INF):
                lo[name] = v
            if v > hi.get(name, -_INF):
                hi[name] = v
        low, high, reported = summary.low, summary.high, self._reported
        for name, raw in metrics.items():
            if name not in reported:
                reported[name] = None
            kind = type(raw)
            if kind is float:
                if not -_INF < raw < _INF:  # NaN and infinities
                    continue
            elif kind is int and -_MAX_INT < raw < _MAX_INT:  # bool is not int here
                raw = float(raw)
            else:
                raw = _finite(raw)
                if raw is None:
                    continue
            if raw < low.get(name, _INF):
                low[name] = raw
            if raw > high.get(name, -_INF):
                high[name] = raw
        best = summary.best
        for name, mode in self._modes.items():
            v = (low if mode == "min" else high).get(name)
            if v is not None:
                best[name] = v
        raw = metrics.get(self.cost_attr)
        if raw is not None:
            cost = _as_float(raw)
            if cost is not None:
                self.cost += cost - self._trial_cost.get(trial_id, 0.0)
                self._trial_cost[trial_id] = cost

    def on_trial_ended(self, trial_id: int, status: TrialStatus, reason: str = "") -> None:
        """A trial's process is gone with ``status`` (completed, failed, stopped or paused)."""
        summary = self.trials[trial_id]
        if summary.status is status:
            return
        summary.status = status
        summary.reason = reason
        if status is TrialStatus.COMPLETED:
            self.num_trials_completed += 1
        elif status is TrialStatus.FAILED:
            self.num_trials_failed += 1
        elif status is TrialStatus.STOPPED:
            self.num_trials_stopped += 1
        elif status is TrialStatus.PAUSED:
            self.num_trials_paused += 1

    def set_time(self, wallclock_time: float) -> None:
        """Seconds since the run started, in the backend's clock."""
        self.wallclock_time = wallclock_time

    # ---- what criteria and reports read ------------------------------------------
    @property
    def num_trials_finished(self) -> int:
        """Completed, failed or stopped trials (paused ones may run again)."""
        return self.num_trials_completed + self.num_trials_failed + self.num_trials_stopped

    @property
    def num_trials_running(self) -> int:
        """Trials started (or resumed) whose end has not been seen."""
        return sum(1 for t in self.trials.values() if t.status is TrialStatus.RUNNING)

    @property
    def reported_metrics(self) -> list[str]:
        """Every metric name some trial reported (any value type), in first-seen order."""
        return list(self._reported)

    def resolve_metric(self, metric: int | str = 0, mode: str | None = None) -> tuple[str, str]:
        """``(name, mode)`` of ``metric``: an index into the scheduler's metrics, or a name.

        ``mode`` defaults to the scheduler's mode for its metrics and to "min"
        (Syne Tune's default mode) for any other reported metric. Raises
        InvalidArgumentError for an index out of range, a mode other than
        "min"/"max", or a name that is neither the scheduler's nor reported by
        any trial (naming the metrics there are).
        """
        names = self.metric_names
        if isinstance(metric, int) and not isinstance(metric, bool):
            if not 0 <= metric < len(names):
                raise InvalidArgumentError(
                    f"metric index {metric} out of range for the scheduler's metrics {names}"
                )
            name, default = names[metric], self.metric_modes[metric]
        elif isinstance(metric, str):
            if metric in names:
                name, default = metric, self.metric_modes[names.index(metric)]
            elif metric in self._reported:
                name, default = metric, "min"
            else:
                raise InvalidArgumentError(
                    f"unknown metric {metric!r}: the scheduler does not optimize it and no "
                    f"trial reported it (scheduler's metrics: {names}; reported: "
                    f"{self.reported_metrics})"
                )
        else:
            raise InvalidArgumentError(f"metric must be an index or a name, got {metric!r}")
        if mode is None:
            return name, default
        if mode not in ("min", "max"):
            raise InvalidArgumentError(f"mode must be 'min' or 'max', got {mode!r}")
        return name, mode

    def best_trial(self, metric: int | str = 0, mode: str | None = None) -> TrialSummary | None:
        """The trial with the best finite value of ``metric`` over all its reports, or None.

        Each trial counts with its best report, not its latest (Syne Tune's
        ``best_config``): under early stopping a trial's last epoch is often not
        its best. NaN and infinities never count. ``metric`` and ``mode`` as in
        :meth:`resolve_metric`; None when no trial reported a usable value.
        """
        name, mode = self.resolve_metric(metric, mode)
        best: TrialSummary | None = None
        best_v = 0.0
        for summary in self.trials.values():
            v = summary.best_of(name, mode)
            if v is None:
                continue
            if best is None or (v < best_v if mode == "min" else v > best_v):
                best, best_v = summary, v
        return best

    def pareto_front(
        self, metrics: Sequence[str] | None = None, mode: str | Sequence[str] | None = None
    ) -> list[TrialSummary]:
        """The trials no other trial dominates on ``metrics`` (default: the scheduler's),
        each judged by its latest report, in trial order.

        The latest report, unlike :meth:`best_trial`'s best one: the objectives
        of one report belong together (the accuracy and latency of one model),
        while each objective's best could come from different epochs. ``mode``:
        one mode or one per metric; by default the scheduler's mode of each
        metric ("min" for others). A trial whose latest report lacks one of the
        metrics, or has a NaN or an infinity there, is left out. Under a stopping
        scheduler a stopped trial's latest report is from the fidelity it was
        stopped at. Raises InvalidArgumentError for a metric neither the
        scheduler's nor reported by any trial (as :meth:`best_trial` does).
        """
        names = list(self.metric_names if metrics is None else metrics)
        if not names or not all(isinstance(n, str) for n in names):
            raise InvalidArgumentError(f"pareto_front needs metric names, got {metrics!r}")
        defaults = [self.resolve_metric(name)[1] for name in names]
        if mode is None:
            modes = defaults
        else:
            modes = [mode] * len(names) if isinstance(mode, str) else list(mode)
        if len(modes) != len(names) or not set(modes) <= {"min", "max"}:
            raise InvalidArgumentError(
                f"mode {mode!r} must be 'min'/'max' or one per metric {names}"
            )
        rows: list[list[float]] = []
        kept: list[TrialSummary] = []
        for summary in self.trials.values():
            values = [_finite(summary.last_result.get(name)) for name in names]
            if any(v is None for v in values):
                continue
            rows.append([v if m == "min" else -v for v, m in zip(values, modes, strict=True)])
            kept.append(summary)
        if not kept:
            return []
        from ._pareto import pareto_mask  # numpy only here, not for every status

        mask = pareto_mask(rows)
        return [summary for summary, front in zip(kept, mask, strict=True) if front]

    def __repr__(self) -> str:
        return (
            f"TuningStatus(time={self.wallclock_time:.2f}s, started={self.num_trials_started}, "
            f"running={self.num_trials_running}, completed={self.num_trials_completed}, "
            f"stopped={self.num_trials_stopped}, failed={self.num_trials_failed}, "
            f"evaluations={self.num_evaluations})"
        )
