"""Multi-objective regularized evolution: the ``"mo_rea"`` searcher (Syne Tune's ``MOREA``).

Regularized evolution (:mod:`.rea`) with the parent chosen by Pareto rank: the
population (the ``population_size`` most recent members, each judged by its
latest report with every objective) is ordered as NSGA-II orders it, by
non-dominated front and then by crowding distance, largest first; of
``sample_size`` members drawn at random, the one placed first is the parent.
Crowding keeps the front's ends and gaps attractive, so the children spread
along the front instead of crowding one corner. Cheap: no worker thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec
import numpy as np

from ..._pareto import nsga2_order
from ...trial import Trial
from ._objectives import Objectives
from .base import Searcher, SearcherState, register_searcher
from .rea import REASearcher

__all__ = ["MOREASearcher", "MOREAState"]


class MOREAState(SearcherState, tag="mo_rea", kw_only=True):
    """Base state plus the population as ``[trial_id, config, values]``, oldest first."""

    population: list[tuple[int, dict[str, Any], list[float]]] = []


class MOREASearcher(REASearcher):
    """Regularized evolution over several objectives (parents by NSGA-II order)."""

    multi_objective: ClassVar[bool] = True

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        population_size: int = 100,
        sample_size: int = 10,
    ) -> None:
        self.objectives = Objectives(type(self).__name__, metric, mode)
        super().__init__(
            config_space,
            self.objectives.names[0],
            self.objectives.modes[0],
            random_seed,
            points_to_evaluate,
            restrict_configurations,
            population_size,
            sample_size,
        )
        self.metrics, self.modes = self.objectives.names, self.objectives.modes
        # trial_id -> (config, values to minimize), oldest first.
        self._population: OrderedDict[int, Any] = OrderedDict()

    def _record(self, trial: Trial, result: Mapping[str, Any]) -> None:
        values = self.objectives.values(result)
        if values is None:
            return
        self._population[trial.trial_id] = (dict(trial.config), values)
        while len(self._population) > self.population_size:
            self._population.popitem(last=False)

    def _select_parent(self) -> dict[str, Any]:
        """Of ``sample_size`` random members, the one NSGA-II places first in the population."""
        members = list(self._population.values())
        idx = self.rng.choice(len(members), size=self.sample_size, replace=False)
        place = np.empty(len(members), dtype=np.int64)
        place[nsga2_order(np.array([values for _, values in members]))] = np.arange(len(members))
        return members[min((int(i) for i in idx), key=lambda i: place[i])][0]

    def state(self) -> MOREAState:  # type: ignore[override]
        """Base state plus the population."""
        base = msgspec.structs.asdict(Searcher.state(self))
        pop = [(tid, dict(c), list(v)) for tid, (c, v) in self._population.items()]
        return MOREAState(**base, population=pop)

    def restore(self, state: MOREAState | Mapping[str, Any]) -> None:  # type: ignore[override]
        """Continue from ``state``."""
        if not isinstance(state, MOREAState):
            state = msgspec.convert(state, MOREAState)
        self._restore_base(state)
        self._population = OrderedDict(
            (tid, (dict(c), [float(x) for x in v])) for tid, c, v in state.population
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metrics!r}, mode={self.modes!r}, "
            f"random_seed={self.random_seed!r}, population_size={self.population_size})"
        )


register_searcher("mo_rea", MOREASearcher)
