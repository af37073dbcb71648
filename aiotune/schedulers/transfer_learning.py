"""Transfer learning from earlier tasks' evaluations: Syne Tune's ``ZeroShotTransfer``,
``ASHACTS``, ``BoundingBox`` and ``RUSHScheduler`` (here ``RUSH``).

Each takes ``transfer_learning_evaluations``, a dict of task name to
:class:`TransferLearningTaskEvaluations` (the configurations an earlier task
evaluated and their values), for the same hyperparameters as this search.
"""

from __future__ import annotations

import math
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
from ._rung_table import Rung, RungTable
from .asha import ASHA, ASHAState, TrialRecord
from .base import BaseScheduler
from .searchers import cts as _cts  # noqa: F401 - registers searcher="cts"
from .searchers import zero_shot as _zero_shot  # noqa: F401 - registers searcher="zero_shot"
from .searchers._checks import check_positive_int
from .searchers._transfer_data import (
    TransferLearningTaskEvaluations,
    check_transfer_evaluations,
)
from .searchers.base import impute_config
from .sync_adapter import as_async_scheduler

__all__ = [
    "ASHACTS",
    "RUSH",
    "BoundingBox",
    "RUSHState",
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


def best_configs(
    tasks: Mapping[str, TransferLearningTaskEvaluations], metric: str, mode: str, k: int
) -> list[dict[str, Any]]:
    """Each task's ``k`` best configurations (by their best value over the fidelities,
    Syne Tune's ranking), task after task."""
    best: list[dict[str, Any]] = []
    for evals in tasks.values():
        values = evals.best_values(metric, mode)
        order = np.argsort(values, kind="stable")
        best.extend(evals.hyperparameters[i] for i in order[:k] if np.isfinite(values[i]))
    return best


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


class RUSHState(msgspec.Struct, tag="rush", kw_only=True):
    """ASHA's state plus the hurdles and which trials set them."""

    asha: ASHAState
    hurdles: list[tuple[int, float]]
    hurdle_trials: list[int]
    unclaimed: list[dict[str, Any]]


@component
class RUSH(ASHA):
    """Syne Tune's ``RUSHScheduler`` (Zappella, Salinas and Archambeau, 2021): successive
    halving that first runs each earlier task's best configurations and lets no other
    trial past a rung unless it is at least as good there as the best of them.

    The hurdle configurations (``num_hyperparameters_per_task`` per task, plus
    ``custom_rush_points``) start first, then ``points_to_evaluate``, then the
    searcher's. A hurdle trial that passes a rung raises that rung's hurdle to its
    value; any other trial continues (``type="stopping"``) or is promoted
    (``"promotion"``) only within ASHA's quantile *and* at or below the hurdle. Every
    other ASHA argument (``max_t``, ``time_attr``, ``grace_period``, ``searcher``, ...)
    is accepted by name.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
        metric: str,
        mode: str = "min",
        type: str = "stopping",
        points_to_evaluate: list[dict[str, Any]] | None = None,
        custom_rush_points: list[dict[str, Any]] | None = None,
        num_hyperparameters_per_task: int = 1,
        **asha_kwargs: Any,
    ) -> None:
        tasks = check_transfer_evaluations(transfer_learning_evaluations, config_space, metric)
        k = check_positive_int("num_hyperparameters_per_task", num_hyperparameters_per_task)
        hurdles: dict[tuple[Any, ...], dict[str, Any]] = {}
        names = [n for n, d in config_space.items() if isinstance(d, Domain)]
        for config in [*best_configs(tasks, metric, mode, k), *(custom_rush_points or [])]:
            full = impute_config(config_space, config)
            hurdles.setdefault(tuple(full[n] for n in names), full)
        others = [impute_config(config_space, p) for p in (points_to_evaluate or [])]
        points = [*hurdles.values(),
                  *(p for p in others if tuple(p[n] for n in names) not in hurdles)]
        super().__init__(config_space, metric, mode=mode, type=type, points_to_evaluate=points,
                         **asha_kwargs)
        self._names = names
        self._unclaimed = dict(hurdles)  # hurdle configs not started yet
        self._hurdle_trials: set[int] = set()
        self._hurdles: dict[int, float] = {}  # rung level -> best hurdle value there

    @property
    def hurdles(self) -> dict[int, float]:
        """The hurdle at each rung level reached so far (in the scheduler's sign: lower is
        better)."""
        return dict(self._hurdles)

    @property
    def hurdle_trials(self) -> frozenset[int]:
        """The trials that ran the hurdle configurations (the first to run each)."""
        return frozenset(self._hurdle_trials)

    async def on_trial_add(self, trial: Trial) -> None:
        """A trial running a hurdle configuration (the first to) sets hurdles."""
        if self._unclaimed.pop(tuple(trial.config[n] for n in self._names), None) is not None:
            self._hurdle_trials.add(trial.trial_id)
        await super().on_trial_add(trial)

    def decide_at_rung(
        self, trial_id: int, rec: TrialRecord, rung: Any, idx: int, table: RungTable, value: float
    ) -> Decision:
        """ASHA's decision, then the hurdle: raised by hurdle trials, met by the others."""
        decision = super().decide_at_rung(trial_id, rec, rung, idx, table, value)
        if trial_id in self._hurdle_trials:
            if decision is not Decision.STOP:  # Syne Tune: only a survivor sets the hurdle
                self._hurdles[rung.level] = min(self._hurdles.get(rung.level, math.inf), value)
            return decision
        if decision is Decision.CONTINUE and value > self._hurdles.get(rung.level, math.inf):
            return Decision.STOP
        return decision

    def promotable_in(self, rung: Rung, idx: int, table: RungTable) -> int | None:
        """ASHA's candidate, if it is a hurdle trial or meets the rung's hurdle."""
        trial_id = super().promotable_in(rung, idx, table)
        if trial_id is None or trial_id in self._hurdle_trials:
            return trial_id
        value = rung.value(trial_id)
        if value is not None and value > self._hurdles.get(rung.level, math.inf):
            return None
        return trial_id

    def state(self) -> RUSHState:  # type: ignore[override]
        """ASHA's state plus the hurdles, the trials that set them, the configs to come."""
        return RUSHState(asha=super().state(), hurdles=sorted(self._hurdles.items()),
                         hurdle_trials=sorted(self._hurdle_trials),
                         unclaimed=list(self._unclaimed.values()))

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, RUSHState):
            state = msgspec.convert(state, RUSHState)
        self._restore_asha(state.asha)
        self._hurdles = dict(state.hurdles)
        self._hurdle_trials = set(state.hurdle_trials)
        self._unclaimed = {tuple(c[n] for n in self._names): c for c in state.unclaimed}

