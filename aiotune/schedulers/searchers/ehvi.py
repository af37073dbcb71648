"""Multi-objective GP Bayesian optimization by expected hypervolume improvement: ``"ehvi"``.

Syne Tune's ``EHVI`` (there BoTorch's Monte Carlo EHVI): one GP per objective
(Matern-5/2 ARD, each objective standardized and minimized), and the next
config maximizes the expected gain in hypervolume of the observed Pareto front,
computed exactly by :mod:`.gp.ehvi` (no sampling) over random candidates, then
polished by L-BFGS-B with its analytic gradient. The reference point is the
observed front's nadir plus a tenth of the range of all observed values: the
worst values seen (a looser box) credit the strips below the front's extremes
so much that the search keeps sampling the edges, and a tenth of the front's
own range (BoTorch's rule) collapses the box onto an early, narrow front.
Pending trials enter every GP at their posterior mean (the kriging believer)
and their believed values join the front, so parallel workers spread along it
instead of piling up where one already runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from ..._pareto import pareto_mask
from .base import register_searcher
from .gp.acquisition import condition_on_pending
from .gp.ehvi import ExpectedHypervolumeImprovement, reference_point
from .gp.incremental import IncrementalGP
from .gp.model import GPPosterior, standardize
from .mo_bayesopt import MOBayesOptSearcher, MOBayesOptState

__all__ = ["EHVISearcher", "EHVIState"]

_MAX_INCUMBENTS = 20
"""At most this many front points seed local candidates (evenly spaced along the front)."""


class EHVIState(MOBayesOptState, tag="ehvi", kw_only=True):
    """The GP searcher's state plus the last fit of each further objective's GP:
    ``[theta, num_at_fit, subset]`` per objective after the first."""

    objective_fits: list[tuple[list[float], int, list[int]]] = []


class EHVISearcher(MOBayesOptSearcher):
    """GP-based BO of the expected hypervolume improvement of all objectives together."""

    _state_type = EHVIState

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        **gp_kwargs: Any,
    ) -> None:
        super().__init__(config_space, metric, mode, random_seed, points_to_evaluate,
                         restrict_configurations, **gp_kwargs)
        # The base class's GP models the first objective; one more per further objective.
        self._front_rows = np.zeros(0, dtype=int)
        self.objective_gps = [
            IncrementalGP(self.refit_fraction, self.opt_restarts, self.max_fit_points,
                          self.max_data_points)
            for _ in range(len(self.objectives) - 1)
        ]

    def _targets(self, observations: list[Any]) -> np.ndarray:
        """The first objective (the others have GPs of their own)."""
        return np.array(observations, dtype=float)[:, 0]

    def _acquisition(
        self,
        posterior: GPPosterior,
        best: float,
        X: np.ndarray,
        y_std: np.ndarray,
        observations: list[Any],
        pending: list[np.ndarray],
    ) -> ExpectedHypervolumeImprovement:
        """EHVI of the front of the observed (and, for pending configs, believed) values,
        every objective in its own standardized units."""
        values = np.array(observations, dtype=float)
        columns = [y_std] + [standardize(values[:, i])[0] for i in range(1, values.shape[1])]
        posteriors = [posterior]
        for gp, y in zip(self.objective_gps, columns[1:], strict=True):
            post = gp.posterior(X, y, self.rng)
            if pending:
                post, _ = condition_on_pending(
                    post, np.array(pending), y, float(y.min()), self.pending_strategy
                )
            posteriors.append(post)
        Y = np.column_stack(columns)
        rows = np.flatnonzero(pareto_mask(Y))
        ref = reference_point(Y[rows], span=Y.max(axis=0) - Y.min(axis=0))
        rows = rows[np.argsort(Y[rows, 0], kind="stable")]  # along the front
        if len(rows) > _MAX_INCUMBENTS:
            rows = rows[np.linspace(0, len(rows) - 1, _MAX_INCUMBENTS).round().astype(int)]
        self._front_rows = rows
        if pending:
            believed = np.column_stack([p.predict(np.array(pending))[0] for p in posteriors])
            Y = np.vstack([Y, believed])
        return ExpectedHypervolumeImprovement(posteriors, Y[pareto_mask(Y)], ref)

    def _incumbents(self, X: np.ndarray, y_std: np.ndarray) -> np.ndarray:
        """The observed front's inputs (set by :meth:`_acquisition` just before), not only
        the first objective's best: the local candidates sample along the whole front."""
        return X[self._front_rows]

    def state(self) -> EHVIState:
        """The GP searcher's state plus every further objective's GP fit."""
        base = super().state()
        fits = [gp.get_fit() for gp in self.objective_gps]
        return msgspec.structs.replace(base, objective_fits=fits)  # type: ignore[arg-type]

    def restore(self, state: EHVIState | Mapping[str, Any]) -> None:  # type: ignore[override]
        """Continue from ``state``, every objective's GP fit included."""
        if not isinstance(state, EHVIState):
            state = msgspec.convert(state, EHVIState)
        super().restore(state)
        for gp, fit in zip(self.objective_gps, state.objective_fits, strict=False):
            gp.set_fit(*fit)


register_searcher("ehvi", EHVISearcher)
