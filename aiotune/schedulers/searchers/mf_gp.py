"""A GP over (config, fidelity) for MOBSTER: the ``"bayesopt_mf"`` searcher.

As Syne Tune's ``GPMultiFidelitySearcher`` (Klein et al., 2020, "Model-based
asynchronous hyperparameter and neural architecture search"): every result at a
rung level is a data point ``(encoded config, fidelity) -> metric``, with the
fidelity ``log(1 + r) / log(1 + max_resource)`` as one more kernel input
(Matern-5/2 ARD over both; the fidelity lengthscale is kept at least
``min_fidelity_lengthscale``, so what a config did at low resource informs its
prediction at high resource instead of reverting to the prior mean there).
``resource_kernel="exp-decay-sum"`` swaps in Syne Tune's default MOBSTER model
instead: Matern over the config plus an exponential-decay learning curve shared by
all configs (:mod:`.gp.expdecay`; the fidelity is then ``r / max_resource``);
``"freeze-thaw"`` gives each config its own such curve.
A new config maximizes expected improvement at the *acquisition level*: the
highest level with at least ``num_min_data_points`` observations, against the
best value observed there. New trials without a result are pending there
(a pessimistic constant liar by default, or kriging believer fantasies: the
latter did not help MOBSTER in our benchmarks). After the initial random
design a ``random_fraction`` of the suggestions stays random, as in BOHB: it
keeps exploring, and it gives successive halving the prior-drawn reference
field its cutoffs are taken from (see :mod:`aiotune.schedulers.asha`). Only
results at ``fidelity_levels`` (the scheduler's rung levels and
``max_resource``) are used, if given.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from ...errors import InvalidArgumentError
from ...trial import Trial
from ._checks import check_number, check_positive_int
from .base import Searcher, SearcherState, register_searcher
from .gp.acquisition import (
    ExpectedImprovement,
    condition_on_pending,
    ei_at,
    maximize_acquisition,
)
from .gp.encoding import SpaceEncoder
from .gp.incremental import RESOURCE_KERNELS, IncrementalGP
from .gp.model import GPPosterior, standardize

__all__ = ["MultiFidelityGPSearcher", "MultiFidelityGPState"]


class MultiFidelityGPState(SearcherState, tag="bayesopt_mf", kw_only=True):
    """Base state plus ``[trial_id, level, config, value]`` rows, pending trials and the fit."""

    observations: list[tuple[int, float, dict[str, Any], float]] = []
    pending: list[tuple[int, dict[str, Any]]] = []
    theta: list[float] = []
    num_at_fit: int = 0
    subset: list[int] = []


class MultiFidelityGPSearcher(Searcher):
    """GP-based search over configs and resource levels (MOBSTER's searcher)."""

    thinks_hard = True
    uses_model = True

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        resource_attr: str = "epoch",
        max_resource: int | None = None,
        fidelity_levels: Sequence[float] | None = None,
        num_init_random: int | None = None,
        num_min_data_points: int | None = None,
        num_candidates: int = 1000,
        num_local_search: int = 3,
        refit_fraction: float = 0.1,
        opt_restarts: int = 2,
        max_fit_points: int = 300,
        max_data_points: int = 500,
        min_fidelity_lengthscale: float = 1.0,
        pending_strategy: str = "constant_liar",
        random_fraction: float = 0.33,
        resource_kernel: str = "matern52",
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        if not isinstance(resource_attr, str) or not resource_attr:
            raise InvalidArgumentError(f"resource_attr must be a name, got {resource_attr!r}")
        if isinstance(max_resource, bool) or not isinstance(max_resource, int | float) or not (
            max_resource >= 1
        ):
            raise InvalidArgumentError(
                f"max_resource must be a number >= 1 (the scheduler's max_t), got {max_resource!r}"
            )
        self.encoder = SpaceEncoder(config_space)
        self.resource_attr = resource_attr
        self.max_resource = float(max_resource)
        self.fidelity_levels = (
            None if fidelity_levels is None else sorted({float(v) for v in fidelity_levels})
        )
        dim = self.encoder.dim
        self.num_init_random = max(5, dim + 1) if num_init_random is None else num_init_random
        self.num_min_data_points = (
            len(self.hp_names) + 1 if num_min_data_points is None else num_min_data_points
        )
        check_positive_int("num_init_random", self.num_init_random, 0)
        check_positive_int("num_min_data_points", self.num_min_data_points, 1)
        check_positive_int("num_candidates", num_candidates, 1)
        check_positive_int("num_local_search", num_local_search, 0)
        check_positive_int("max_data_points", max_data_points, 2)
        self.num_candidates = num_candidates
        self.num_local_search = num_local_search
        self.min_fidelity_lengthscale = check_number(
            "min_fidelity_lengthscale", min_fidelity_lengthscale, 0.0, 10.0
        )
        if pending_strategy not in ("kriging_believer", "constant_liar"):
            raise InvalidArgumentError(
                "pending_strategy must be 'kriging_believer' or 'constant_liar', "
                f"got {pending_strategy!r}"
            )
        self.pending_strategy = pending_strategy
        self.random_fraction = check_number("random_fraction", random_fraction, 0.0, 1.0)
        if resource_kernel not in RESOURCE_KERNELS:
            raise InvalidArgumentError(
                f"resource_kernel must be one of {', '.join(map(repr, RESOURCE_KERNELS))}, "
                f"got {resource_kernel!r}"
            )
        self.resource_kernel = resource_kernel
        floor = np.zeros(dim + 1)
        floor[-1] = self.min_fidelity_lengthscale
        self.gp = IncrementalGP(float(refit_fraction), opt_restarts, max_fit_points,
                                max_data_points, min_lengthscales=floor, kernel=resource_kernel)
        self._lock = threading.Lock()
        self._rows: list[np.ndarray] = []  # append-only model inputs (config, fidelity)
        self._y: list[float] = []
        self._index: dict[tuple[int, float], int] = {}  # (trial_id, level) -> row
        self._meta: list[tuple[int, float, dict[str, Any]]] = []
        self._pending: dict[int, dict[str, Any]] = {}

    def fidelity(self, level: float) -> float:
        """A resource level as the model's fidelity coordinate in [0, 1]: log-scaled for
        the Matern kernel, linear (``level / max_resource``) for the exponential decay."""
        if self.resource_kernel != "matern52":
            return min(1.0, max(level, 0.0) / self.max_resource)
        return min(1.0, math.log1p(max(level, 0.0)) / math.log1p(self.max_resource))

    # -- hooks ----------------------------------------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        """A new trial is pending at the acquisition level until its first result."""
        with self._lock:
            self._pending[trial.trial_id] = dict(trial.config)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record a usable value at a fidelity level (others, NaN included, are ignored)."""
        level = result.get(self.resource_attr)
        value = self.metric_value(result)
        if isinstance(level, bool) or not isinstance(level, int | float):
            return
        level = float(level)
        self._resolve_pending(trial.trial_id, level)
        if value is None or not math.isfinite(value) or not math.isfinite(level):
            return
        if self.fidelity_levels is not None and level not in self.fidelity_levels:
            return
        x = np.append(self.encoder.encode(trial.config), self.fidelity(level))
        with self._lock:
            row = self._index.get((trial.trial_id, level))
            if row is None:
                self._index[(trial.trial_id, level)] = len(self._y)
                self._meta.append((trial.trial_id, level, dict(trial.config)))
                self._rows.append(x)
                self._y.append(value)
            else:
                self._y[row] = value

    def _resolve_pending(self, trial_id: int, level: float) -> None:
        """A result at ``level`` arrived: the trial is no longer pending (its first result)."""
        self._drop_pending(trial_id)

    def _drop_pending(self, trial_id: int) -> None:
        """The trial is not pending any more."""
        with self._lock:
            self._pending.pop(trial_id, None)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """The trial is no longer pending."""
        self._drop_pending(trial.trial_id)

    def on_trial_error(self, trial: Trial) -> None:
        """The trial is no longer pending (its earlier results are kept)."""
        self._drop_pending(trial.trial_id)

    @property
    def num_observations(self) -> int:
        """Number of (trial, level) data points."""
        with self._lock:
            return len(self._y)

    # -- suggest (worker thread) ------------------------------------------------------------

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """Model inputs, values, their levels and the pending configs, copied under the lock."""
        with self._lock:
            X = np.array(self._rows) if self._rows else np.zeros((0, self.encoder.dim + 1))
            y = np.array(self._y, dtype=float)
            levels = np.array([m[1] for m in self._meta])
            pending = [self.encoder.encode(c) for c in self._pending.values()]
        return X, y, levels, pending

    def _random_turn(self, num_values: int) -> bool:
        """True while the initial design lasts, and for ``random_fraction`` of the rest."""
        if self.num_suggested < self.num_init_random or num_values == 0:
            return True
        return self.random_fraction > 0.0 and bool(self.rng.random() < self.random_fraction)

    def _suggest(self) -> dict[str, Any] | None:
        X, y, levels, pending = self._snapshot()
        if self._random_turn(y.size):
            return self.random_config()
        return self._choose_at_level(X, y, levels, pending)

    def _choose_at_level(self, X: np.ndarray, y: np.ndarray, levels: np.ndarray,
                         pending: list[np.ndarray]) -> dict[str, Any] | None:
        """MOBSTER's choice: the config of highest EI at the acquisition level."""
        # Acquisition level: the highest with enough data (else the most populated one).
        uniq, counts = np.unique(levels, return_counts=True)
        enough = uniq[counts >= self.num_min_data_points]
        level = float(enough.max()) if enough.size else float(uniq[np.argmax(counts)])
        u = self.fidelity(level)
        y_std, _, _ = standardize(y)
        at_level = levels == level
        posterior = self.gp.posterior(X, y_std, self.rng, prefer=levels >= level)
        best = float(y_std[at_level].min())
        if pending:
            P = np.hstack([np.array(pending), np.full((len(pending), 1), u)])
            posterior, best = condition_on_pending(posterior, P, y_std, best, self.pending_strategy)
        if self.restrict_configurations is not None:
            return self.best_unseen_allowed(
                self.encoder.encode,
                lambda C: ei_at(posterior, np.hstack([C, np.full((len(C), 1), u)]), best),
            )
        x = self._maximize(posterior, X[at_level, :-1], y_std[at_level], u, pending, best)
        if x is None:
            return self.random_config()
        return self.encoder.decode(x[:-1])

    def _candidate_configs(self, Xc: np.ndarray, yc: np.ndarray, num_points: int) -> np.ndarray:
        """Encoded configs to score: random ones (fewer as the model grows) and
        perturbations of the 5 best of ``Xc``."""
        enc = self.encoder
        top = Xc[np.argsort(yc)[:5]]
        m = min(self.num_candidates, max(300, int(3e5 / max(num_points, 1))))
        return np.vstack([enc.random(m, self.rng),
                          enc.perturb(top, min(self.num_candidates // 4, 100), 0.05, self.rng)])

    def _taken(self, pending: list[np.ndarray]) -> set[Any] | None:
        """Keys of the configs suggested or pending, on a finite space (else None)."""
        if not self.is_finite:
            return None
        enc = self.encoder
        taken = {enc.key(enc.encode(dict(zip(self.hp_names, k, strict=True))))
                 for k in self._seen}
        return taken | {enc.key(p) for p in pending}

    def _maximize(self, posterior: GPPosterior, Xc: np.ndarray, yc: np.ndarray, u: float,
                  pending: list[np.ndarray], best: float) -> np.ndarray | None:
        enc = self.encoder
        configs = self._candidate_configs(Xc, yc, posterior.num_points)
        candidates = np.hstack([configs, np.full((configs.shape[0], 1), u)])

        def project(Z: np.ndarray) -> np.ndarray:
            return np.hstack([enc.project(Z[:, :-1]), np.full((Z.shape[0], 1), u)])

        taken, excluded = self._taken(pending), None
        if taken is not None:

            def excluded(z: np.ndarray) -> bool:
                return enc.key(z[:-1]) in taken

        bounds = [(0.0, 1.0)] * enc.dim + [(u, u)]
        return maximize_acquisition(ExpectedImprovement(posterior, best), candidates, project,
                                    excluded, num_local=self.num_local_search, bounds=bounds)

    # -- state ------------------------------------------------------------------------------

    def state(self) -> MultiFidelityGPState:
        """Base state plus data, pending trials and the last hyperparameter fit."""
        base = super().state()
        with self._lock:
            obs = [(tid, lv, dict(c), self._y[i]) for i, (tid, lv, c) in enumerate(self._meta)]
            pending = [(tid, dict(c)) for tid, c in self._pending.items()]
        theta, num_at_fit, subset = self.gp.get_fit()
        return MultiFidelityGPState(**msgspec.structs.asdict(base), observations=obs,
                                    pending=pending, theta=theta, num_at_fit=num_at_fit,
                             subset=subset)

    def restore(self, state: MultiFidelityGPState | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, MultiFidelityGPState):
            state = msgspec.convert(state, MultiFidelityGPState)
        self._restore_base(state)
        with self._lock:
            self._rows, self._y, self._index, self._meta = [], [], {}, []
            for tid, lv, config, value in state.observations:
                self._index[(tid, float(lv))] = len(self._y)
                self._meta.append((tid, float(lv), dict(config)))
                self._rows.append(np.append(self.encoder.encode(config), self.fidelity(lv)))
                self._y.append(float(value))
            self._pending = {tid: dict(c) for tid, c in state.pending}
        if len(state.theta) == self._theta_size():
            self.gp.set_fit(state.theta, state.num_at_fit, state.subset)
        else:  # a fit of the other resource kernel (a run saved with other defaults): refit
            self.gp.set_fit([], 0)

    def _theta_size(self) -> int:
        """Length of this searcher's hyperparameter vector (lengthscales and the rest)."""
        dim = self.encoder.dim
        return dim + 3 if self.resource_kernel == "matern52" else dim + 6


register_searcher("bayesopt_mf", MultiFidelityGPSearcher)
