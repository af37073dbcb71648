"""Syne Tune's ``BoundingBox`` (Perrone et al., 2019): any scheduler, on the search space
restricted to the box around earlier tasks' best configurations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..config_space import Categorical, Domain, Float, Integer, Ordinal, choice, ordinal
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from .base import BaseScheduler
from .searchers._checks import check_positive_int
from .searchers._transfer_data import (
    TransferLearningTaskEvaluations,
    best_configs,
    check_transfer_evaluations,
)
from .sync_adapter import as_async_scheduler

__all__ = ["BoundingBox", "bounding_box_space"]


def bounding_box_space(
    config_space: dict[str, Any],
    transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
    metric: str,
    mode: str = "min",
    num_hyperparameters_per_task: int = 1,
) -> dict[str, Any]:
    """``config_space`` restricted to the box around each task's best configurations
    (Perrone et al., 2019; a config's value: its best over the fidelities, as Syne
    Tune ranks them): numbers to the range of their values there (a constant if they
    agree), categories to the values taken, ordinals to the span between."""
    tasks = check_transfer_evaluations(transfer_learning_evaluations, config_space, metric)
    k = check_positive_int("num_hyperparameters_per_task", num_hyperparameters_per_task)
    best = best_configs(tasks, metric, mode, k)
    if not best:
        raise InvalidArgumentError(
            f"transfer_learning_evaluations hold no finite value of {metric!r}: no box"
        )
    space: dict[str, Any] = {}
    for name, domain in config_space.items():
        taken = [c[name] for c in best]
        space[name] = _restricted(domain, taken) if isinstance(domain, Domain) else domain
    return space


def _restricted(domain: Domain, taken: list[Any]) -> Any:
    """``domain`` cut down to the values ``taken`` (a constant where they agree); never
    beyond ``domain`` (an earlier task may have searched a wider range)."""
    if isinstance(domain, Float | Integer):
        lo = min(max(min(taken), domain.lower), domain.upper)
        hi = max(min(max(taken), domain.upper), domain.lower)
        if lo == hi:
            return lo
        return type(domain)(lo, hi, log=domain.log)
    if isinstance(domain, Categorical):
        values = [v for v in domain.categories if v in taken]
        if not values:
            return domain
        return values[0] if len(values) == 1 else choice(values)
    if isinstance(domain, Ordinal):
        positions = [i for i, v in enumerate(domain.categories) if v in taken]
        if not positions:
            return domain
        span = domain.categories[min(positions) : max(positions) + 1]
        return span[0] if len(span) == 1 else ordinal(span, kind=domain.kind)
    return domain  # no box for other kinds: the whole domain


class BoundingBox(BaseScheduler):
    """Syne Tune's ``BoundingBox``: any scheduler, on the search space restricted to the
    box around the earlier tasks' best configurations.

    ``scheduler_fun(config_space, mode, metric)`` builds that scheduler for the
    restricted space (a Syne Tune-style synchronous scheduler is wrapped); every
    decision is its own. The function cannot be saved as data, so ``Tuner.load``
    needs ``scheduler=`` again.
    """

    def __init__(
        self,
        scheduler_fun: Callable[[dict[str, Any], str, str], Any],
        config_space: dict[str, Any],
        metric: str,
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
        mode: str = "min",
        num_hyperparameters_per_task: int = 1,
    ) -> None:
        super().__init__(metric, mode)
        if not callable(scheduler_fun):
            raise InvalidArgumentError(
                "scheduler_fun must be a function (config_space, mode, metric) -> scheduler, "
                f"got {type(scheduler_fun).__name__}"
            )
        self.config_space = bounding_box_space(
            config_space, transfer_learning_evaluations, metric, mode,
            num_hyperparameters_per_task,
        )
        self.scheduler = as_async_scheduler(scheduler_fun(self.config_space, mode, metric))

    async def suggest(self) -> Suggestion | None:
        return await self.scheduler.suggest()

    async def on_trial_add(self, trial: Trial) -> None:
        await self.scheduler.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        return await self.scheduler.on_result(trial, result)

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        await self.scheduler.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        await self.scheduler.on_trial_error(trial)

    async def on_trial_remove(self, trial: Trial) -> None:
        remove = getattr(self.scheduler, "on_trial_remove", None)
        if remove is not None:
            await remove(trial)

    def state(self) -> msgspec.Struct:
        return self.scheduler.state()

    def restore(self, state: Any) -> None:
        self.scheduler.restore(state)

    def __repr__(self) -> str:
        return f"BoundingBox({self.scheduler!r}, config_space={self.config_space!r})"
