"""Multi-objective GP Bayesian optimization by random scalarization: the ``"mo_bayesopt"`` searcher.

ParEGO (Knowles, 2006), the idea behind Syne Tune's
``MORandomScalarizationBayesOpt``: each suggestion draws fresh weights ``w``
uniformly from the simplex, scales every objective to [0, 1] over the data
seen so far, and hands the GP searcher (:mod:`.bayesopt`: Matern-5/2 GP,
expected improvement, pending trials as fantasies) the augmented Chebyshev
scalarization ``max_i w_i f_i + rho * sum_i w_i f_i``. Each weight vector's
optimum is a Pareto-optimal point, and the Chebyshev form also reaches the
concave parts of a front that a weighted sum cannot; drawing new weights every
time spreads the suggestions along the whole front. (Syne Tune's method fits
one GP per objective and scalarizes lower confidence bounds linearly.)

``"mo_linear_bayesopt"`` is the same GP searcher on one fixed weighted sum of
the objectives, for a trade-off known in advance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidArgumentError
from ._checks import check_number
from ._objectives import Objectives
from .base import register_searcher
from .bayesopt import BayesOptSearcher, BayesOptState

__all__ = ["LinearScalarizationSearcher", "MOBayesOptSearcher", "MOBayesOptState"]


class MOBayesOptState(BayesOptState, tag="mo_bayesopt", kw_only=True):
    """The GP searcher's state with every objective of each observation (to minimize)."""

    observations: list[tuple[int, dict[str, Any], list[float]]] = []  # type: ignore[assignment]


class MOBayesOptSearcher(BayesOptSearcher):
    """GP-based Bayesian optimization of a freshly drawn Chebyshev scalarization per suggestion."""

    multi_objective: ClassVar[bool] = True
    _state_type = MOBayesOptState

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        rho: float = 0.05,
        **gp_kwargs: Any,
    ) -> None:
        self.objectives = Objectives(type(self).__name__, metric, mode)
        super().__init__(
            config_space,
            self.objectives.names[0],
            self.objectives.modes[0],
            random_seed,
            points_to_evaluate,
            restrict_configurations,
            **gp_kwargs,
        )
        self.rho = check_number("rho", rho, 0.0, 1.0)
        self.metrics, self.modes = self.objectives.names, self.objectives.modes

    def _observation(self, result: Mapping[str, Any]) -> list[float] | None:
        """Every objective, to minimize; None unless the report has them all, finite."""
        return self.objectives.values(result)

    def _targets(self, observations: list[Any]) -> np.ndarray:
        """The augmented Chebyshev scalarization under weights drawn for this suggestion."""
        values = np.array(observations, dtype=float)
        low, high = values.min(axis=0), values.max(axis=0)
        scaled = (values - low) / np.where(high > low, high - low, 1.0)
        weights = self.rng.dirichlet(np.ones(values.shape[1]))
        return (scaled * weights).max(axis=1) + self.rho * (scaled @ weights)

    def _restored(self, value: Any) -> list[float]:
        return [float(v) for v in value]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metrics!r}, mode={self.modes!r}, "
            f"random_seed={self.random_seed!r}, hyperparameters={self.hp_names!r})"
        )


class LinearScalarizationSearcher(MOBayesOptSearcher):
    """GP-based BO of one fixed weighted sum of the objectives, each taken to minimize
    (Syne Tune's ``MOLinearScalarizationBayesOpt``; weights default to all 1)."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        scalarization_weights: Sequence[float] | None = None,
        **gp_kwargs: Any,
    ) -> None:
        super().__init__(
            config_space,
            metric,
            mode,
            random_seed,
            points_to_evaluate,
            restrict_configurations,
            **gp_kwargs,
        )
        n = len(self.objectives)
        given = [1.0] * n if scalarization_weights is None else list(scalarization_weights)
        if len(given) != n:
            raise InvalidArgumentError(
                f"scalarization_weights {given!r} must give one weight per metric {self.metrics}"
            )
        self.weights = np.array(
            [check_number(f"scalarization_weights[{i}]", w, 0.0) for i, w in enumerate(given)]
        )
        if not self.weights.sum() > 0:
            raise InvalidArgumentError("scalarization_weights must not all be 0")

    def _targets(self, observations: list[Any]) -> np.ndarray:
        """The weighted sum of the objectives (the same weights every time)."""
        return np.array(observations, dtype=float) @ self.weights


register_searcher("mo_bayesopt", MOBayesOptSearcher)
register_searcher("mo_linear_bayesopt", LinearScalarizationSearcher)
