"""GP Bayesian optimization under a black-box constraint: the ``"bayesopt_constrained"`` searcher.

Gardner et al. (2014), as Syne Tune's ``ConstrainedBayesianOptimization``: each
report carries the metric and ``constraint_attr``, and a config is feasible
when that value is at most 0 (a memory budget minus its use, say). A second
GP models the constraint, and the next config maximizes
``EI(x) * P(c(x) <= 0)``, EI taken over the best *feasible* value; until a
feasible config is seen, the probability of feasibility alone. A report
without a finite constraint value says nothing and is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ...errors import InvalidArgumentError
from .base import register_searcher
from .bayesopt import BayesOptSearcher, BayesOptState
from .gp.acquisition import ConstrainedEI, condition_on_pending
from .gp.incremental import IncrementalGP
from .gp.model import GPPosterior, standardize

__all__ = ["ConstrainedBayesOptSearcher", "ConstrainedBayesOptState"]


class ConstrainedBayesOptState(BayesOptState, tag="bayesopt_constrained", kw_only=True):
    """The GP searcher's state with ``[metric to minimize, constraint]`` per observation,
    and the constraint GP's last fit."""

    observations: list[tuple[int, dict[str, Any], list[float]]] = []  # type: ignore[assignment]
    constraint_theta: list[float] = []
    constraint_num_at_fit: int = 0
    constraint_subset: list[int] = []


class ConstrainedBayesOptSearcher(BayesOptSearcher):
    """GP-based BO of the metric with the probability that ``constraint_attr <= 0``."""

    _state_type = ConstrainedBayesOptState

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        constraint_attr: str = "",
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
        if not isinstance(constraint_attr, str) or not constraint_attr:
            raise InvalidArgumentError(
                f"constraint_attr must name the reported constraint value, got {constraint_attr!r}"
            )
        if constraint_attr == metric:
            raise InvalidArgumentError(f"constraint_attr {constraint_attr!r} is the metric itself")
        self.constraint_attr = constraint_attr
        self.constraint_gp = IncrementalGP(
            self.refit_fraction, self.opt_restarts, self.max_fit_points, self.max_data_points
        )

    def _observation(self, result: Mapping[str, Any]) -> list[float] | None:
        """``[metric to minimize, constraint]``; None unless both are finite numbers."""
        value = self.metric_value(result)
        bound = result.get(self.constraint_attr)
        if value is None or not math.isfinite(value):
            return None
        if isinstance(bound, bool) or not isinstance(bound, int | float | np.integer | np.floating):
            return None
        if not math.isfinite(float(bound)):
            return None
        return [value, float(bound)]

    def _targets(self, observations: list[Any]) -> np.ndarray:
        """The metric (the constraint has a GP of its own)."""
        return np.array(observations, dtype=float)[:, 0]

    def _acquisition(
        self,
        posterior: GPPosterior,
        best: float,
        X: np.ndarray,
        y_std: np.ndarray,
        observations: list[Any],
        pending: list[np.ndarray],
    ) -> ConstrainedEI:
        """EI over the best feasible value times the constraint GP's P(c <= 0).

        Pending configs enter both GPs as the objective's do (believed values or
        lies); a pending config believed feasible with a better value becomes the
        incumbent, so parallel suggestions do not pile up where one already runs.
        """
        values = np.array(observations, dtype=float)
        c_std, c_mean, c_scale = standardize(values[:, 1])
        threshold = (0.0 - c_mean) / c_scale
        constraint = self.constraint_gp.posterior(X, c_std, self.rng)
        feasible = values[:, 1] <= 0.0
        incumbent = float(y_std[feasible].min()) if feasible.any() else math.inf
        if pending:
            P = np.array(pending)
            constraint, _ = condition_on_pending(
                constraint, P, c_std, float(c_std.min()), self.pending_strategy
            )
            believed = constraint.predict(P)[0] <= threshold
            if believed.any():
                incumbent = min(incumbent, float(posterior.predict(P)[0][believed].min()))
        best_feasible = incumbent if math.isfinite(incumbent) else None
        return ConstrainedEI(posterior, best_feasible, constraint, threshold)

    def _restored(self, value: Any) -> list[float]:
        return [float(value[0]), float(value[1])]

    def state(self) -> ConstrainedBayesOptState:
        """The GP searcher's state plus the constraint GP's last fit."""
        base = super().state()
        theta, num_at_fit, subset = self.constraint_gp.get_fit()
        return msgspec.structs.replace(
            base,  # type: ignore[arg-type]
            constraint_theta=theta,
            constraint_num_at_fit=num_at_fit,
            constraint_subset=subset,
        )

    def restore(self, state: ConstrainedBayesOptState | Mapping[str, Any]) -> None:  # type: ignore[override]
        """Continue from ``state``, the constraint GP's fit included."""
        if not isinstance(state, ConstrainedBayesOptState):
            state = msgspec.convert(state, ConstrainedBayesOptState)
        super().restore(state)
        self.constraint_gp.set_fit(
            state.constraint_theta, state.constraint_num_at_fit, state.constraint_subset
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metric!r}, mode={self.mode!r}, "
            f"constraint_attr={self.constraint_attr!r}, random_seed={self.random_seed!r})"
        )


register_searcher("bayesopt_constrained", ConstrainedBayesOptSearcher)
