"""NSGA-II (Deb et al., 2002) for asynchronous workers: the ``"nsga2"`` searcher.

Steady state (Durillo et al., 2009): instead of waiting for a whole generation,
every report updates the population at once and every suggestion is one child.
The population is the ``population_size`` best members seen so far in NSGA-II's
order (non-dominated front, then crowding distance, largest first), each member
judged by its latest report with every objective. A child comes from two
parents, each the better placed of two members drawn at random (binary
tournament): simulated binary crossover and polynomial mutation on numbers in
the unit-cube encoding; a categorical is inherited from either parent and
redrawn by mutation. The first ``population_size`` suggestions are random.
Cheap: no worker thread. Unlike Syne Tune's NSGA2 (pymoo, one generation at a
time), it never waits for a generation to finish, so it runs on many workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec
import numpy as np

from ..._checks import check_number, check_positive_int
from ..._pareto import nsga2_order
from ...config_space import Categorical
from ...errors import InvalidArgumentError
from ...trial import Trial
from ._objectives import Objectives
from ._variation import polynomial_mutation, sbx_crossover
from .base import Searcher, SearcherState, register_searcher
from .gp.encoding import SpaceEncoder

__all__ = ["NSGA2Searcher", "NSGA2State"]

_CHILD_TRIES = 16


class NSGA2State(SearcherState, tag="nsga2", kw_only=True):
    """Base state plus the population as ``[trial_id, config, values]``."""

    population: list[tuple[int, dict[str, Any], list[float]]] = []


class NSGA2Searcher(Searcher):
    """Steady-state NSGA-II: one child per suggestion, the population updated per report."""

    uses_model: ClassVar[bool] = True
    multi_objective: ClassVar[bool] = True

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        population_size: int = 20,
        crossover_probability: float = 0.9,
        crossover_eta: float = 15.0,
        mutation_eta: float = 20.0,
    ) -> None:
        who = type(self).__name__
        self.objectives = Objectives(who, metric, mode)
        super().__init__(
            config_space,
            self.objectives.names[0],
            self.objectives.modes[0],
            random_seed,
            points_to_evaluate,
            restrict_configurations,
        )
        self.metrics, self.modes = self.objectives.names, self.objectives.modes
        if not self.hp_domains:
            raise InvalidArgumentError(f"{who} needs at least one hyperparameter to breed")
        self.population_size = check_positive_int(f"{who}: population_size", population_size, 2)
        self.crossover_probability = check_number(
            f"{who}: crossover_probability", crossover_probability, 0.0, 1.0
        )
        self.crossover_eta = check_number(f"{who}: crossover_eta", crossover_eta, 0.0)
        self.mutation_eta = check_number(f"{who}: mutation_eta", mutation_eta, 0.0)
        self._encoder = SpaceEncoder(config_space)
        self._categorical = [isinstance(d, Categorical) for d in self._encoder.domains]
        # trial_id -> (config, values to minimize): the population, at most population_size
        self._population: dict[int, tuple[dict[str, Any], list[float]]] = {}

    # -- learning -----------------------------------------------------------------------

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """A report with every objective (re)places its trial in the population."""
        self._record(trial, result)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """The final report counts as any other."""
        self._record(trial, result)

    def _record(self, trial: Trial, result: Mapping[str, Any]) -> None:
        values = self.objectives.values(result)
        if values is None:
            return
        self._population[trial.trial_id] = (dict(trial.config), values)
        if len(self._population) > self.population_size:
            ids = list(self._population)
            order = nsga2_order(np.array([self._population[t][1] for t in ids]))
            for i in order[self.population_size :]:
                del self._population[ids[int(i)]]

    # -- breeding -----------------------------------------------------------------------

    def _suggest(self) -> dict[str, Any] | None:
        if self.num_suggested < self.population_size or len(self._population) < 2:
            return self.random_config()
        members = list(self._population.values())
        place = np.empty(len(members), dtype=np.int64)
        place[nsga2_order(np.array([values for _, values in members]))] = np.arange(len(members))
        for _ in range(_CHILD_TRIES):
            mother, father = self._tournament(place), self._tournament(place)
            child = self._breed(
                self._encoder.encode(members[mother][0]), self._encoder.encode(members[father][0])
            )
            if self.restrict_configurations is not None:
                return self.nearest_unseen_allowed(self._encoder.encode, child)
            config = self._encoder.decode(child)
            if not self.is_seen(config):
                return config
        return self.random_config()

    def _tournament(self, place: np.ndarray) -> int:
        """The better placed of two members drawn at random."""
        a, b = self.rng.choice(len(place), size=2, replace=False)
        return int(a) if place[a] < place[b] else int(b)

    def _breed(self, mother: np.ndarray, father: np.ndarray) -> np.ndarray:
        """One child: crossover (with ``crossover_probability``), then mutation, each
        hyperparameter mutated with probability 1 / (number of hyperparameters)."""
        child = mother.copy()
        cross = self.rng.random() < self.crossover_probability
        p_mutate = 1.0 / len(self._encoder.slices)
        for sl, categorical in zip(self._encoder.slices, self._categorical, strict=True):
            if categorical:
                if cross and self.rng.random() < 0.5:
                    child[sl] = father[sl]
                if self.rng.random() < p_mutate:
                    child[sl] = 0.0
                    child[sl.start + int(self.rng.integers(sl.stop - sl.start))] = 1.0
                continue
            i = sl.start
            if cross and self.rng.random() < 0.5:
                child[i] = sbx_crossover(self.rng, mother[i], father[i], self.crossover_eta)[0]
            if self.rng.random() < p_mutate:
                child[i] = polynomial_mutation(self.rng, child[i], self.mutation_eta)
        return child

    # -- state --------------------------------------------------------------------------

    def state(self) -> NSGA2State:
        """Base state plus the population."""
        base = msgspec.structs.asdict(super().state())
        pop = [(tid, dict(c), list(v)) for tid, (c, v) in self._population.items()]
        return NSGA2State(**base, population=pop)

    def restore(self, state: NSGA2State | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, NSGA2State):
            state = msgspec.convert(state, NSGA2State)
        self._restore_base(state)
        self._population = {
            tid: (dict(c), [float(x) for x in v]) for tid, c, v in state.population
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metrics!r}, mode={self.modes!r}, "
            f"random_seed={self.random_seed!r}, population_size={self.population_size})"
        )


register_searcher("nsga2", NSGA2Searcher)
