"""MOASHA: asynchronous successive halving over several objectives at once.

Schmucker et al. (2021), "Multi-objective multi-fidelity hyperparameter
optimization with application to fairness", and Syne Tune's ``MOASHA``: the
rung levels and brackets of :class:`~aiotune.schedulers.ASHA` (stopping type),
but a trial reaching a rung is ranked among the trials recorded there by
non-dominated sorting, and it continues only if its place in that order is
within the top ``1/reduction_factor`` (Syne Tune's rule: place / count <= 1/eta;
the first trial at a rung always continues). Within a front the order is
NSGA-II's crowding distance (largest first), which keeps the front's extremes
and its spread; Syne Tune orders a front by an epsilon-net instead.

A value that is NaN or infinite in any objective stops the trial and is not
recorded; a report missing an objective waits for the next one that has them
all. Each rung keeps its trials' fronts up to date
(:class:`~aiotune._pareto.ParetoRanking`), so ranking a new trial costs O(n)
array work in the n trials recorded there, not a whole sort; rungs above
``RANK_IN_THREAD_ABOVE`` trials are ranked in a worker thread.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from .._checks import check_positive_int
from .._pareto import ParetoRanking
from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from ._rung_table import rung_levels
from ._scheduler_args import (
    build_searcher,
    check_rung_args,
    check_seed,
    objective_names,
    read_resource,
    resource_name,
)
from ._thinking import think
from .asha import default_bracket_probabilities
from .base import BaseScheduler
from .searchers.base import rng_from_json, rng_to_json

__all__ = ["MOASHA", "MOASHAState"]

RANK_IN_THREAD_ABOVE = 2000
"""Trials recorded at a rung above which ranking a new one runs in a worker thread."""


class MOASHAState(msgspec.Struct, tag="moasha", kw_only=True):
    """Everything MOASHA needs to continue where it was: rungs hold ``(trial_id, values)``."""

    seed: int
    rng: dict[str, Any]
    trials: list[tuple[int, int, int]]  # (trial_id, bracket, next rung index)
    rungs: list[list[list[tuple[int, list[float]]]]]  # bracket -> rung -> entries
    pending_brackets: list[int] = []
    searcher: Any = None


@component
class MOASHA(BaseScheduler):
    """Multi-objective ASHA (stopping type): ``metric`` is a list of names, ``mode`` one
    mode or one per metric; Syne Tune's ``metrics=`` is accepted for ``metric``.

    New configurations come from random search (``points_to_evaluate`` first;
    ``searcher_kwargs`` go to the random searcher, e.g. ``restrict_configurations``).
    The resource is ``time_attr`` (or Syne Tune's ``resource_attr``), "epoch" by
    default; ``max_t`` defaults to the config space's ``epochs`` constant.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        time_attr: str | None = None,
        max_t: int | None = None,
        grace_period: int = 1,
        reduction_factor: float = 3,
        brackets: int = 1,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        resource_attr: str | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        who = type(self).__name__
        super().__init__(objective_names(who, metric, metrics, "ASHA"), mode)
        self.time_attr = resource_name(who, time_attr, resource_attr)
        self.max_t = check_rung_args(
            who, config_space, max_t, max_resource_attr, grace_period, reduction_factor
        )
        self.levels = rung_levels(grace_period, reduction_factor, self.max_t)
        check_positive_int(f"{who}: brackets", brackets)
        self.num_brackets = min(brackets, len(self.levels) + 1)
        self.config_space = config_space
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self._q = 1.0 / reduction_factor
        self._seed = check_seed(who, random_seed)
        self._rng = np.random.default_rng([self._seed, 1])
        self._probs = default_bracket_probabilities(self.levels, self.max_t, self.num_brackets)
        # bracket s skips the s lowest rungs; each rung maps trial_id -> minimized values
        self._rungs: list[list[dict[int, list[float]]]] = [
            [{} for _ in self.levels[s:]] for s in range(self.num_brackets)
        ]
        self._ranks = self._rankings()
        self._trials: dict[int, list[int]] = {}  # trial_id -> [bracket, next rung index]
        self._pending: deque[int] = deque()  # brackets drawn for suggested configs
        self.searcher = build_searcher(
            "random", config_space, self.metric[0], self.mode[0], self._seed,
            points_to_evaluate, searcher_kwargs,
        )
        self._who = who

    # -- scheduler protocol -----------------------------------------------------------

    def _sample_bracket(self) -> int:
        if self.num_brackets == 1:
            return 0
        return int(self._rng.choice(self.num_brackets, p=self._probs))

    def _record(self, trial_id: int) -> list[int]:
        rec = self._trials.get(trial_id)
        if rec is None:
            bracket = self._pending.popleft() if self._pending else self._sample_bracket()
            rec = self._trials[trial_id] = [bracket, 0]
        return rec

    async def suggest(self) -> Suggestion | None:
        """A new random configuration (None once a finite space is used up)."""
        config = self.searcher.suggest()
        if config is None:
            return None
        self._pending.append(self._sample_bracket())
        return Suggestion.start(config)

    async def on_trial_add(self, trial: Trial) -> None:
        """Assign the bracket drawn when the trial's config was suggested."""
        self._record(trial.trial_id)
        self.searcher.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """At a rung, rank the trial's objectives among those recorded there; else continue."""
        resource = read_resource(self._who, self.time_attr, trial, result)
        rec = self._record(trial.trial_id)
        self.searcher.on_result(trial, result)
        if resource > self.max_t:
            return Decision.STOP
        bracket, next_rung = rec
        levels = self.levels[bracket:]
        idx = _highest_at_or_below(levels, resource)
        if idx < next_rung:
            return Decision.CONTINUE
        if any(name not in result for name in self.metric):
            return Decision.CONTINUE  # decide at the next report carrying every objective
        rec[1] = idx + 1
        values = [self.metric_value(result, i) for i in range(len(self.metric))]
        if any(v is None or not math.isfinite(v) for v in values):
            return Decision.STOP
        self._rungs[bracket][idx][trial.trial_id] = values  # type: ignore[assignment]
        ranking = self._ranks[bracket][idx]
        if len(ranking) > RANK_IN_THREAD_ABOVE:
            place = await think(ranking.insert, values)
        else:
            place = ranking.insert(values)  # type: ignore[arg-type]
        return Decision.CONTINUE if place / len(ranking) <= self._q else Decision.STOP

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self.searcher.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        self.searcher.on_trial_error(trial)

    # -- state ------------------------------------------------------------------------

    def state(self) -> MOASHAState:
        """Rungs, per-trial records, random generator and searcher state as data."""
        return MOASHAState(
            seed=self._seed,
            rng=rng_to_json(self._rng),
            trials=[(tid, b, n) for tid, (b, n) in self._trials.items()],
            rungs=[[list(rung.items()) for rung in table] for table in self._rungs],
            pending_brackets=list(self._pending),
            searcher=msgspec.to_builtins(self.searcher.state()),
        )

    def restore(self, state: msgspec.Struct | Mapping[str, Any]) -> None:
        """Continue from :meth:`state` output (the Struct or its builtins form)."""
        if not isinstance(state, MOASHAState):
            state = msgspec.convert(state, MOASHAState)
        shape = [len(table) for table in self._rungs]
        if [len(table) for table in state.rungs] != shape:
            raise InvalidArgumentError(
                f"{self._who}: saved state has rungs {[len(t) for t in state.rungs]} per "
                f"bracket, this scheduler {shape}"
            )
        self._seed = state.seed
        rng_from_json(self._rng, state.rng)
        self._trials = {tid: [b, n] for tid, b, n in state.trials}
        self._rungs = [[dict(rung) for rung in table] for table in state.rungs]
        self._ranks = self._rankings()
        self._pending = deque(state.pending_brackets)
        if state.searcher is not None:
            self.searcher.restore(state.searcher)

    def _rankings(self) -> list[list[ParetoRanking]]:
        """One ranking per rung, holding the rung's recorded values in their order."""
        ranks = []
        for table in self._rungs:
            row = []
            for rung in table:
                ranking = ParetoRanking(len(self.metric))
                for values in rung.values():
                    ranking.insert(values)
                row.append(ranking)
            ranks.append(row)
        return ranks

    def rung_values(self, bracket: int = 0) -> list[dict[int, list[float]]]:
        """Per rung of ``bracket``: trial_id -> its objectives as minimized (read-only use)."""
        return self._rungs[bracket]

    def __repr__(self) -> str:
        return (
            f"{self._who}(metric={self.metric!r}, mode={self.mode!r}, "
            f"time_attr={self.time_attr!r}, max_t={self.max_t}, rung_levels={self.levels}, "
            f"brackets={self.num_brackets})"
        )


def _highest_at_or_below(levels: list[int], resource: float) -> int:
    """Index of the highest rung level <= ``resource`` (-1 if below the first)."""
    idx = -1
    for i, level in enumerate(levels):
        if level <= resource:
            idx = i
    return idx


