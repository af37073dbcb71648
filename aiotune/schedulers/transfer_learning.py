"""Transfer learning from earlier tasks' evaluations: Syne Tune's ``ZeroShotTransfer``,
``ASHACTS`` and ``BoundingBox``.

Each takes ``transfer_learning_evaluations``, a dict of task name to
:class:`TransferLearningTaskEvaluations` (the configurations an earlier task
evaluated and their values), for the same hyperparameters as this search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import numpy as np

from .._spec import component
from ..config_space import Categorical, Domain, Float, Integer, Ordinal, choice, ordinal
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from ._named_searcher import NamedSearcherASHA, NamedSearcherFIFO
from .base import BaseScheduler
from .searchers import cts as _cts  # noqa: F401 - registers searcher="cts"
from .searchers import zero_shot as _zero_shot  # noqa: F401 - registers searcher="zero_shot"
from .searchers._checks import check_positive_int
from .searchers._transfer_data import (
    TransferLearningTaskEvaluations,
    check_transfer_evaluations,
)
from .sync_adapter import as_async_scheduler

__all__ = [
    "ASHACTS",
    "BoundingBox",
    "TransferLearningTaskEvaluations",
    "ZeroShotTransfer",
    "bounding_box_space",
]


def _with_evaluations(
    searcher_kwargs: dict[str, Any] | None, evaluations: Any
) -> dict[str, Any]:
    kwargs = dict(searcher_kwargs or {})
    kwargs["transfer_learning_evaluations"] = evaluations
    return kwargs


@component
class ZeroShotTransfer(NamedSearcherFIFO):
    """Syne Tune's ``ZeroShotTransfer``: the earlier tasks' configurations in the order of a
    greedily built portfolio of lowest average rank over those tasks (Wistuba et al.,
    2015), each run to completion; the run ends when they are used up.

    The tasks must have evaluated the same configurations (matched by value, in
    any order), unless ``use_surrogates=True``: then one regressor per task
    predicts the values of common random configurations (the ``surrogate`` extra).
    """

    searcher_name = "zero_shot"

    def __init__(
        self,
        config_space: dict[str, Any],
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
        metric: str,
        mode: str = "min",
        use_surrogates: bool = False,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = _with_evaluations(searcher_kwargs, transfer_learning_evaluations)
        kwargs["use_surrogates"] = use_surrogates
        super().__init__(config_space, metric, mode, random_seed, points_to_evaluate, kwargs)


@component
class ASHACTS(NamedSearcherASHA):
    """Syne Tune's ``ASHACTS``: asynchronous successive halving whose new configs are
    Thompson samples of a quantile-normalized regressor of the earlier tasks' values
    (Salinas et al., 2020; the ``surrogate`` extra).

    Every ASHA argument (``max_t``, ``time_attr``, ``grace_period``, ``type``, ...) is
    accepted by name; searcher options (``normalization``, ``regressor``,
    ``num_candidates``) go in ``searcher_kwargs``.
    """

    searcher_name = "cts"

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
        mode: str = "min",
        searcher_kwargs: dict[str, Any] | None = None,
        **asha_kwargs: Any,
    ) -> None:
        kwargs = _with_evaluations(searcher_kwargs, transfer_learning_evaluations)
        super().__init__(config_space, metric, mode, searcher_kwargs=kwargs, **asha_kwargs)


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
    best: list[dict[str, Any]] = []
    for evals in tasks.values():
        values = evals.best_values(metric, mode)
        order = np.argsort(values, kind="stable")
        best.extend(evals.hyperparameters[i] for i in order[:k] if np.isfinite(values[i]))
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
    """``domain`` cut down to the values ``taken`` (a constant where they agree)."""
    if isinstance(domain, Float | Integer):
        lo, hi = min(taken), max(taken)
        if lo == hi:
            return lo
        return type(domain)(lo, hi, log=domain.log)
    if isinstance(domain, Categorical):
        values = [v for v in domain.categories if v in taken]
        return values[0] if len(values) == 1 else choice(values)
    if isinstance(domain, Ordinal):
        positions = [domain.categories.index(v) for v in taken]
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
