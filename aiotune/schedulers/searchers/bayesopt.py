"""Gaussian-process Bayesian optimization: the ``"bayesopt"`` searcher.

A GP with a Matern-5/2 ARD kernel models the (standardized) metric over the
unit-cube encoding of the config space; the next config maximizes expected
improvement over random candidates, points near the incumbents, and an
L-BFGS-B polish of the best of them. Trials still running are *pending*: they
enter the model as fantasies (``pending_strategy="kriging_believer"``, the
default: their posterior mean, which also counts as a possible incumbent; or
``"constant_liar"``: the worst value seen), so the model's uncertainty there
collapses and parallel workers are sent to different places. Hyperparameters
are refit by marginal likelihood only every ``refit_fraction`` growth of the
data; in between the Cholesky factor is extended, not recomputed.

``suggest`` is called in a worker thread while the ``on_*`` hooks run on the
event loop: the hooks only touch data under ``self._lock``, and ``suggest``
takes a snapshot under the lock and fits the model without holding it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ...errors import InvalidArgumentError
from ...trial import Trial
from ._checks import check_number, check_positive_int
from .base import Searcher, SearcherState, register_searcher
from .gp.acquisition import (
    ConstrainedEI,
    ExpectedImprovement,
    condition_on_pending,
    maximize_acquisition,
)
from .gp.encoding import SpaceEncoder
from .gp.incremental import IncrementalGP
from .gp.model import GPPosterior, standardize

__all__ = ["BayesOptSearcher", "BayesOptState"]


class BayesOptState(SearcherState, tag="bayesopt", kw_only=True):
    """The base searcher state plus observations, pending trials and the last fit."""

    observations: list[tuple[int, dict[str, Any], float]] = []
    pending: list[tuple[int, dict[str, Any]]] = []
    theta: list[float] = []
    num_at_fit: int = 0
    subset: list[int] = []


class BayesOptSearcher(Searcher):
    """GP-based Bayesian optimization with expected improvement (numpy/scipy only)."""

    thinks_hard = True
    uses_model = True
    _state_type: type[BayesOptState] = BayesOptState

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        num_init_random: int | None = None,
        num_candidates: int = 2000,
        num_local_search: int = 5,
        refit_fraction: float = 0.1,
        opt_restarts: int = 2,
        max_fit_points: int = 400,
        max_data_points: int = 500,
        pending_strategy: str = "kriging_believer",
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        self.encoder = SpaceEncoder(config_space)
        if num_init_random is None:
            num_init_random = max(5, self.encoder.dim + 1)
        self.num_init_random = check_positive_int("num_init_random", num_init_random, 0)
        self.num_candidates = check_positive_int("num_candidates", num_candidates)
        self.num_local_search = check_positive_int("num_local_search", num_local_search, 0)
        self.opt_restarts = check_positive_int("opt_restarts", opt_restarts, 0)
        self.max_fit_points = check_positive_int("max_fit_points", max_fit_points, 2)
        self.max_data_points = check_positive_int("max_data_points", max_data_points, 2)
        self.refit_fraction = check_number("refit_fraction", refit_fraction, 0.0, 10.0)
        if pending_strategy not in ("kriging_believer", "constant_liar"):
            raise InvalidArgumentError(
                "pending_strategy must be 'kriging_believer' or 'constant_liar', "
                f"got {pending_strategy!r}"
            )
        self.pending_strategy = pending_strategy
        self._lock = threading.Lock()
        # Observations in arrival order (append-only X, so a Cholesky factor stays a prefix).
        self._obs_x: list[np.ndarray] = []
        self._obs_y: list[Any] = []  # what _observation returned (a float here)
        self._obs_index: dict[int, int] = {}  # trial_id -> row
        self._obs_config: dict[int, dict[str, Any]] = {}
        self._pending: dict[int, dict[str, Any]] = {}
        self.gp = IncrementalGP(self.refit_fraction, self.opt_restarts, self.max_fit_points,
                                self.max_data_points)
        self._seen_encoded: dict[tuple[Any, ...], bytes] = {}  # finite spaces: seen -> key

    # -- hooks (event loop) -------------------------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        """The trial's config is pending until it reports."""
        with self._lock:
            if trial.trial_id not in self._obs_index:
                self._pending[trial.trial_id] = dict(trial.config)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """The latest usable value of a trial is its observation (NaN is ignored)."""
        self._observe(trial, result)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the final value; a trial without a usable value just stops being pending."""
        self._observe(trial, result)
        with self._lock:
            self._pending.pop(trial.trial_id, None)

    def on_trial_error(self, trial: Trial) -> None:
        """A failed trial is no longer pending (values it reported before are kept)."""
        with self._lock:
            self._pending.pop(trial.trial_id, None)

    def _observation(self, result: Mapping[str, Any]) -> Any:
        """What a report tells the model (here the metric to minimize), or None if nothing."""
        value = self.metric_value(result)
        return value if value is not None and math.isfinite(value) else None

    def _targets(self, observations: list[Any]) -> np.ndarray:
        """The values the GP models, one per observation (here the observations themselves)."""
        return np.array(observations, dtype=float)

    def _observe(self, trial: Trial, result: Mapping[str, Any]) -> None:
        value = self._observation(result)
        if value is None:
            return
        x = self.encoder.encode(trial.config)
        with self._lock:
            row = self._obs_index.get(trial.trial_id)
            if row is None:
                self._obs_index[trial.trial_id] = len(self._obs_y)
                self._obs_config[trial.trial_id] = dict(trial.config)
                self._obs_x.append(x)
                self._obs_y.append(value)
            else:
                self._obs_y[row] = value
            self._pending.pop(trial.trial_id, None)

    # -- suggest (worker thread) ---------------------------------------------------------

    @property
    def num_observations(self) -> int:
        """Number of trials with a usable observation."""
        with self._lock:
            return len(self._obs_y)

    def _suggest(self) -> dict[str, Any] | None:
        with self._lock:
            X = np.array(self._obs_x) if self._obs_x else np.zeros((0, self.encoder.dim))
            observations = list(self._obs_y)
            pending = [self.encoder.encode(c) for c in self._pending.values()]
        if self.num_suggested < self.num_init_random or not observations:
            return self.random_config()
        y_std, _, _ = standardize(self._targets(observations))
        posterior = self.gp.posterior(X, y_std, self.rng)
        best = float(y_std.min())
        if pending:
            posterior, best = condition_on_pending(
                posterior, np.array(pending), y_std, best, self.pending_strategy
            )
        acquisition = self._acquisition(posterior, best, X, y_std, observations, pending)
        if self.restrict_configurations is not None:
            return self.best_unseen_allowed(self.encoder.encode, acquisition)
        x = self._maximize(acquisition, posterior, X, y_std, pending)
        if x is None:
            return self.random_config()
        return self.encoder.decode(x)

    def _acquisition(
        self,
        posterior: GPPosterior,
        best: float,
        X: np.ndarray,
        y_std: np.ndarray,
        observations: list[Any],
        pending: list[np.ndarray],
    ) -> ExpectedImprovement | ConstrainedEI:
        """What the next config maximizes (here EI of the posterior over ``best``).

        ``y_std`` is what the GP was fitted to (the standardized targets);
        ``posterior`` and ``best`` already account for the ``pending`` configs."""
        return ExpectedImprovement(posterior, best)

    def _maximize(
        self,
        acquisition: ExpectedImprovement | ConstrainedEI,
        posterior: GPPosterior,
        X: np.ndarray,
        y_std: np.ndarray,
        pending: list[np.ndarray],
    ) -> np.ndarray | None:
        enc = self.encoder
        num_local = min(self.num_candidates // 4, 20 * max(1, enc.dim))
        top = self._incumbents(X, y_std)
        candidates = np.vstack([
            enc.random(self._num_random(posterior.num_points), self.rng),
            enc.perturb(top, num_local, 0.05, self.rng),
        ])
        excluded = None
        if self.is_finite:
            for key in self._seen:
                if key not in self._seen_encoded:
                    config = dict(zip(self.hp_names, key, strict=True))
                    self._seen_encoded[key] = enc.key(enc.encode(config))
            taken = set(self._seen_encoded.values())
            taken |= {enc.key(x) for x in X} | {enc.key(x) for x in pending}

            def excluded(x: np.ndarray) -> bool:
                return enc.key(x) in taken

        return maximize_acquisition(acquisition, candidates, enc.project, excluded,
                                    num_local=self.num_local_search)

    def _incumbents(self, X: np.ndarray, y_std: np.ndarray) -> np.ndarray:
        """The observed inputs whose neighbourhoods the candidates also sample: the best 5."""
        return X[np.argsort(y_std, kind="stable")[:5]]

    def _num_random(self, n: int) -> int:
        """Random candidates to score: fewer as the model grows (scoring costs m n^2)."""
        return min(self.num_candidates, max(300, int(3e5 / max(n, 1))))

    # -- state --------------------------------------------------------------------------

    def state(self) -> BayesOptState:
        """Base state plus the data and the last hyperparameter fit."""
        base = super().state()
        with self._lock:
            by_row = sorted(self._obs_index.items(), key=lambda kv: kv[1])
            obs = [(tid, dict(self._obs_config[tid]), self._obs_y[row]) for tid, row in by_row]
            pending = [(tid, dict(c)) for tid, c in self._pending.items()]
        theta, num_at_fit, subset = self.gp.get_fit()
        return self._state_type(**msgspec.structs.asdict(base), observations=obs,
                                pending=pending, theta=theta, num_at_fit=num_at_fit,
                                subset=subset)

    def _restored(self, value: Any) -> Any:
        """An observation as :meth:`state` wrote it, back in the form ``_observation`` gives."""
        return float(value)

    def restore(self, state: BayesOptState | Mapping[str, Any]) -> None:
        """Continue from ``state``: the same data and fit give the same next suggestions."""
        if not isinstance(state, self._state_type):
            state = msgspec.convert(state, self._state_type)
        self._restore_base(state)
        with self._lock:
            self._obs_x, self._obs_y, self._obs_index, self._obs_config = [], [], {}, {}
            for tid, config, value in state.observations:
                self._obs_index[tid] = len(self._obs_y)
                self._obs_config[tid] = dict(config)
                self._obs_x.append(self.encoder.encode(config))
                self._obs_y.append(self._restored(value))
            self._pending = {tid: dict(c) for tid, c in state.pending}
        self.gp.set_fit(state.theta, state.num_at_fit, state.subset)
        self._seen_encoded = {}


register_searcher("bayesopt", BayesOptSearcher)
