"""Regularized evolution (Real et al., 2019): the ``"rea"`` searcher.

The first ``population_size`` configs are random. After that, ``sample_size``
members of the population are drawn at random, the best of them is the parent,
and the child is the parent with one hyperparameter resampled to a different
value. The population keeps the ``population_size`` most recent members: the
oldest dies whatever its score (the "regularization"). Cheap: no worker thread.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec

from ...errors import InvalidArgumentError
from ...trial import Trial
from .base import Searcher, SearcherState, register_searcher

__all__ = ["REASearcher", "REAState"]

_MUTATION_TRIES = 16


class REAState(SearcherState, tag="rea", kw_only=True):
    """Base state plus the population as ``[trial_id, config, value]``, oldest first."""

    population: list[tuple[int, dict[str, Any], float]] = []


class REASearcher(Searcher):
    """Regularized evolution: mutate the best of a random sample of the recent population."""

    uses_model = True

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        population_size: int = 100,
        sample_size: int = 10,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        for name, value in (("population_size", population_size), ("sample_size", sample_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be an int >= 1, got {value!r}")
        if sample_size > population_size:
            raise InvalidArgumentError(
                f"sample_size={sample_size} must be <= population_size={population_size}"
            )
        if not self.hp_domains:
            raise InvalidArgumentError("REA needs at least one hyperparameter to mutate")
        self.population_size = population_size
        self.sample_size = sample_size
        # trial_id -> (config, value), oldest first.
        self._population: OrderedDict[int, tuple[dict[str, Any], float]] = OrderedDict()

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial's latest usable value is its score; its first one makes it a member."""
        self._record(trial, result)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the final score."""
        self._record(trial, result)

    def _record(self, trial: Trial, result: Mapping[str, Any]) -> None:
        value = self.metric_value(result)
        if value is None or not math.isfinite(value):
            return
        self._population[trial.trial_id] = (dict(trial.config), value)
        while len(self._population) > self.population_size:
            self._population.popitem(last=False)

    def _suggest(self) -> dict[str, Any] | None:
        if len(self._population) < self.population_size:
            return self.random_config()
        parent = self._select_parent()
        for _ in range(_MUTATION_TRIES):
            child = self._mutate(parent)
            if not self.is_seen(child):
                return child
        return self._random_unseen() if self.is_finite else self._mutate(parent)

    def _select_parent(self) -> dict[str, Any]:
        """The best of ``sample_size`` members drawn at random."""
        members = list(self._population.values())
        idx = self.rng.choice(len(members), size=self.sample_size, replace=False)
        return min((members[int(i)] for i in idx), key=lambda m: m[1])[0]

    def _mutate(self, parent: Mapping[str, Any]) -> dict[str, Any]:
        """``parent`` with one hyperparameter resampled to a different value where possible."""
        child = dict(parent)
        i = int(self.rng.integers(len(self.hp_names)))
        name, domain = self.hp_names[i], self.hp_domains[i]
        if domain.is_finite and (domain.num_values() or 0) <= 1:
            return child
        for _ in range(_MUTATION_TRIES):
            value = domain.sample(self.rng)
            if value != parent[name]:
                child[name] = value
                break
        return child

    def state(self) -> REAState:
        """Base state plus the population."""
        base = super().state()
        pop = [(tid, dict(c), v) for tid, (c, v) in self._population.items()]
        return REAState(**msgspec.structs.asdict(base), population=pop)

    def restore(self, state: REAState | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, REAState):
            state = msgspec.convert(state, REAState)
        self._restore_base(state)
        self._population = OrderedDict((tid, (dict(c), float(v))) for tid, c, v in state.population)


register_searcher("rea", REASearcher)
