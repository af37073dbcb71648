"""``StoppingCriterion``: when the tuning run ends, with Syne Tune's exact meaning.

Every bound means "more than": ``max_num_trials_completed=20`` is met once 21
trials have completed, as in Syne Tune. The tuner checks the criterion after
every event; ``max_wallclock_time`` is also enforced as a deadline (a cancel
scope in the backend's clock), so nothing polls for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import msgspec

from .errors import InvalidArgumentError
from .status import TuningStatus

__all__ = ["StoppingCriterion", "StopCondition"]

StopCondition = Callable[[TuningStatus], bool]
"""Anything the tuner accepts as ``stop_criterion``: a callable on the status."""

_COUNTS = (
    "max_num_evaluations",
    "max_num_trials_started",
    "max_num_trials_completed",
    "max_num_trials_finished",
)


class StoppingCriterion(msgspec.Struct, frozen=True, kw_only=True):
    """True when any of its set parts is true; unset parts (None) never stop the run.

    ``min_metric_value`` / ``max_metric_value`` map metric names to thresholds:
    the run stops once any reported value of that metric is below (above) it.
    """

    max_wallclock_time: float | None = None
    max_num_evaluations: int | None = None
    max_num_trials_started: int | None = None
    max_num_trials_completed: int | None = None
    max_cost: float | None = None
    max_num_trials_finished: int | None = None
    min_metric_value: dict[str, float] | None = None
    max_metric_value: dict[str, float] | None = None

    def __post_init__(self) -> None:
        for name in ("max_wallclock_time", "max_cost"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or math.isnan(value)
                or value < 0
            ):
                raise InvalidArgumentError(f"{name} must be a number >= 0, got {value!r}")
        for name in _COUNTS:
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise InvalidArgumentError(f"{name} must be an int >= 0, got {value!r}")
        for name in ("min_metric_value", "max_metric_value"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, dict)
                or not all(
                    isinstance(k, str) and isinstance(v, int | float) for k, v in value.items()
                )
            ):
                raise InvalidArgumentError(
                    f"{name} must map metric names to numbers, got {value!r}"
                )

    def __call__(self, status: TuningStatus) -> bool:
        return self.reason(status) is not None

    def reason(self, status: TuningStatus) -> str | None:
        """The first part that is met, as a short sentence, or None."""
        if self.max_wallclock_time is not None and status.wallclock_time > self.max_wallclock_time:
            return f"wallclock time {status.wallclock_time:.1f}s > {self.max_wallclock_time}s"
        # Plain comparisons (no tuples built): this runs after every event.
        if (
            self.max_num_evaluations is not None
            and status.num_evaluations > self.max_num_evaluations
        ):
            return f"evaluations {status.num_evaluations} > {self.max_num_evaluations}"
        if (
            self.max_num_trials_started is not None
            and status.num_trials_started > self.max_num_trials_started
        ):
            return f"trials started {status.num_trials_started} > {self.max_num_trials_started}"
        if (
            self.max_num_trials_completed is not None
            and status.num_trials_completed > self.max_num_trials_completed
        ):
            return (
                f"trials completed {status.num_trials_completed} > {self.max_num_trials_completed}"
            )
        if (
            self.max_num_trials_finished is not None
            and status.num_trials_finished > self.max_num_trials_finished
        ):
            return f"trials finished {status.num_trials_finished} > {self.max_num_trials_finished}"
        if self.max_cost is not None and status.cost > self.max_cost:
            return f"cost {status.cost} > {self.max_cost}"
        if self.min_metric_value:
            for name, bound in self.min_metric_value.items():
                seen = status.metric_min.get(name)
                if seen is not None and seen < bound:
                    return f"{name} {seen} < {bound}"
        if self.max_metric_value:
            for name, bound in self.max_metric_value.items():
                seen = status.metric_max.get(name)
                if seen is not None and seen > bound:
                    return f"{name} {seen} > {bound}"
        return None
