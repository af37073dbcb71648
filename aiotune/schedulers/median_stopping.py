"""The median stopping rule (Golovin et al., 2017, Google Vizier; Syne Tune and Ray Tune).

A trial is stopped at resource level ``t >= grace_time`` when its running
average of the metric up to ``t`` is worse than the ``rank_cutoff`` quantile
(the median by default) of the running averages other trials had at ``t``,
provided at least ``min_samples`` other trials reported at ``t``. New configs
come from the searcher. Each level keeps a sorted list (bisect), so a decision
is O(log n). NaN results are never good: the trial is stopped and nothing is
recorded, so they never move a median.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from ._rung_table import SortedItems, quantile_sorted
from ._scheduler_args import (
    build_searcher,
    check_positive,
    check_seed,
    read_resource,
    resource_name,
)
from ._thinking import think
from .base import BaseScheduler
from .searchers.base import Searcher

__all__ = ["MedianStoppingRule", "MedianStoppingState"]


class _Running(msgspec.Struct, array_like=True):
    """Per trial: sum and count of its usable values so far."""

    total: float = 0.0
    count: int = 0


class MedianStoppingState(msgspec.Struct, tag="median_stopping", kw_only=True):
    """Per-level sorted running averages, per-trial sums, and the searcher's state."""

    seed: int
    levels: list[tuple[float, list[float]]]
    trials: list[tuple[int, _Running]]
    searcher: Any = None


@component
class MedianStoppingRule(BaseScheduler):
    """Stop a trial whose running average is worse than the median of the others' at its level."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        time_attr: str | None = None,
        grace_time: float = 1,
        min_samples: int = 3,
        rank_cutoff: float = 0.5,
        running_average: bool = True,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher: str | Searcher = "random",
        searcher_kwargs: dict[str, Any] | None = None,
        resource_attr: str | None = None,
    ) -> None:
        who = type(self).__name__
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"{who}: metric must be one non-empty name, got {metric!r}")
        super().__init__(metric, mode)
        time_attr = resource_name(who, time_attr, resource_attr)
        check_positive(who, "grace_time", grace_time, 0)
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
            raise InvalidArgumentError(
                f"{who}: min_samples must be an int >= 1, got {min_samples!r}"
            )
        if (
            isinstance(rank_cutoff, bool)
            or not isinstance(rank_cutoff, int | float)
            or not 0.0 < rank_cutoff < 1.0
        ):
            raise InvalidArgumentError(f"{who}: rank_cutoff must be in (0, 1), got {rank_cutoff!r}")
        self.config_space = config_space
        self.time_attr = time_attr
        self.grace_time = grace_time
        self.min_samples = min_samples
        self.rank_cutoff = float(rank_cutoff)
        self.running_average = bool(running_average)
        self._who = who
        self._seed = check_seed(who, random_seed)
        self._levels: dict[float, SortedItems] = {}
        self._trials: dict[int, _Running] = {}
        self.searcher = build_searcher(
            searcher, config_space, metric, mode, self._seed, points_to_evaluate, searcher_kwargs,
            resource_attr=time_attr,
        )

    async def suggest(self) -> Suggestion | None:
        """A new configuration from the searcher (None when it is exhausted)."""
        if self.searcher.thinks_hard:
            config = await think(self.searcher.suggest)
        else:
            config = self.searcher.suggest()
        return None if config is None else Suggestion.start(config)

    async def on_trial_add(self, trial: Trial) -> None:
        """Tell the searcher."""
        self._trials.setdefault(trial.trial_id, _Running())
        self.searcher.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Record the running average at this level; stop if worse than the others' median."""
        resource = read_resource(self._who, self.time_attr, trial, result)
        self.searcher.on_result(trial, result)
        if self.metric[0] not in result:
            return Decision.CONTINUE
        value = self.metric_value(result)
        if value is None or not math.isfinite(value):
            return Decision.STOP
        run = self._trials.setdefault(trial.trial_id, _Running())
        run.total += value
        run.count += 1
        score = run.total / run.count if self.running_average else value
        others = self._levels.get(resource)
        if others is None:
            others = self._levels[resource] = SortedItems()
        decision = Decision.CONTINUE
        if resource >= self.grace_time and len(others) >= self.min_samples:
            cutoff = others[0] if len(others) == 1 else quantile_sorted(others, self.rank_cutoff)
            if cutoff is not None and score > cutoff:
                decision = Decision.STOP
        others.add(score)
        return decision

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Tell the searcher."""
        self.searcher.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """Tell the searcher."""
        self.searcher.on_trial_error(trial)

    def state(self) -> MedianStoppingState:
        """Per-level sorted scores, per-trial sums and the searcher's state."""
        return MedianStoppingState(
            seed=self._seed,
            levels=[(k, list(v)) for k, v in self._levels.items()],
            trials=[(k, msgspec.structs.replace(v)) for k, v in self._trials.items()],
            searcher=msgspec.to_builtins(self.searcher.state()),
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, MedianStoppingState):
            state = msgspec.convert(state, MedianStoppingState)
        self._seed = state.seed
        self._levels = {float(k): _sorted_items(v) for k, v in state.levels}
        self._trials = {k: msgspec.structs.replace(v) for k, v in state.trials}
        if state.searcher is not None:
            self.searcher.restore(state.searcher)

    def __repr__(self) -> str:
        return (
            f"{self._who}(metric={self.metric[0]!r}, mode={self.mode[0]!r}, "
            f"time_attr={self.time_attr!r}, grace_time={self.grace_time}, "
            f"min_samples={self.min_samples})"
        )


def _sorted_items(values: list[float]) -> SortedItems:
    items = SortedItems()
    for v in values:
        items.add(v)
    return items
