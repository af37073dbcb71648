"""Syne Tune's ``RUSHScheduler`` (Zappella, Salinas and Archambeau, 2021), here ``RUSH``:
successive halving with hurdles set by earlier tasks' best configurations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from .._spec import component
from ..config_space import Domain
from ..events import Decision
from ..trial import Trial
from ._rung_table import Rung, RungTable
from .asha import ASHA, ASHAState, TrialRecord
from .searchers._checks import check_positive_int
from .searchers._transfer_data import (
    TransferLearningTaskEvaluations,
    best_configs,
    check_transfer_evaluations,
)
from .searchers.base import impute_config

__all__ = ["RUSH", "RUSHState"]


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
