"""Kernel density estimation (TPE / BOHB's model): the ``"kde"`` searcher.

As in BOHB (Falkner et al., 2018) and Syne Tune's ``KernelDensityEstimator``:
the observations are split into the best ``top_n_percent`` and the rest; a
product kernel density is fitted to each, over the unit-cube encoding (Gaussian
kernels with Scott's bandwidth for numeric coordinates, Aitchison-Aitken kernels
for categories); ``num_candidates`` samples drawn from the good density (with
bandwidths widened by ``bandwidth_factor``) are scored by ``l(x) / g(x)`` and
the best is suggested. A ``random_fraction`` of suggestions stays random.

Multi-fidelity (BOHB): given ``resource_attr``, each result is recorded at the
resource level it reports, and the model is fitted on the highest level with
enough observations. Without it, a trial's latest usable value is its data point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ...config_space import Categorical
from ...trial import Trial
from ._checks import check_number, check_positive_int
from ._levels import LevelObservations
from .base import Searcher, SearcherState, register_searcher
from .gp.encoding import SpaceEncoder

__all__ = ["KDEState", "KernelDensitySearcher"]


class KDEState(SearcherState, tag="kde", kw_only=True):
    """Base state plus the observations: ``[level, trial_id, config, value]`` rows."""

    observations: list[tuple[float, int, dict[str, Any], float]] = []


class KernelDensitySearcher(Searcher):
    """TPE-style search: sample where good results are dense relative to bad ones."""

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
        resource_attr: str | None = None,
        max_resource: int | None = None,
        num_min_data_points: int | None = None,
        top_n_percent: float = 15.0,
        min_bandwidth: float = 1e-3,
        num_candidates: int = 64,
        bandwidth_factor: float = 3.0,
        random_fraction: float = 0.33,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        self.encoder = SpaceEncoder(config_space)
        self.resource_attr = resource_attr
        self.max_resource = max_resource
        if num_min_data_points is None:
            num_min_data_points = len(self.hp_domains) + 1
        self.num_min_data_points = check_positive_int("num_min_data_points", num_min_data_points)
        self.top_n_percent = check_number("top_n_percent", top_n_percent, 1.0, 99.0)
        self.min_bandwidth = check_number("min_bandwidth", min_bandwidth, 0.0, 1.0)
        self.num_candidates = int(check_number("num_candidates", num_candidates, 1, 1e6))
        self.bandwidth_factor = check_number("bandwidth_factor", bandwidth_factor, 0.0, 100.0)
        self.random_fraction = check_number("random_fraction", random_fraction, 0.0, 1.0)
        # Which encoded columns are numeric; categorical blocks as (slice, num categories).
        self._numeric = np.ones(self.encoder.dim, dtype=bool)
        self._cats: list[tuple[slice, int]] = []
        for dom, sl in zip(self.encoder.domains, self.encoder.slices, strict=True):
            if isinstance(dom, Categorical):
                self._numeric[sl] = False
                self._cats.append((sl, dom.encoded_dim))
        self._data = LevelObservations(resource_attr)

    # -- hooks ----------------------------------------------------------------------------

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the value at its resource level (or as the trial's latest value)."""
        self._data.record(trial.trial_id, trial.config, self.metric_value(result), result)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the final value."""
        self._data.record(trial.trial_id, trial.config, self.metric_value(result), result)

    # -- model ----------------------------------------------------------------------------

    def _training_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Encoded configs and values at the highest level with enough data (None if none)."""
        rows = self._data.highest(self.num_min_data_points + 2)
        if rows is None:
            return None
        X = np.array([self.encoder.encode(c) for c, _ in rows])
        y = np.array([v for _, v in rows])
        return X, y

    def _suggest(self) -> dict[str, Any] | None:
        data = None if self.rng.random() < self.random_fraction else self._training_data()
        if data is None:
            return self.random_config()
        X, y = data
        n = y.size
        order = np.argsort(y, kind="stable")
        n_good = max(self.num_min_data_points, int(self.top_n_percent * n / 100.0))
        n_good = min(n_good, n - 1)
        good, bad = X[order[:n_good]], X[order[n_good:]]
        bw_good, bw_bad = self._bandwidths(good), self._bandwidths(bad)
        if self.restrict_configurations is not None:
            # A finite list: the ``num_candidates`` unused entries the good density
            # favours most (what sampling from it would draw), ranked by l(x) / g(x).
            # Ranking every entry would favour remote ones: far from all data the
            # ratio is that of the prior weights, (n_bad + 1) / (n_good + 1) > 1.
            def ratio_near_good(C: np.ndarray) -> np.ndarray:
                log_l = self._log_density(C, good, bw_good)
                near = np.argsort(-log_l, kind="stable")[: self.num_candidates]
                score = np.full(len(C), -np.inf)
                score[near] = log_l[near] - self._log_density(C[near], bad, bw_bad)
                return score

            return self.best_unseen_allowed(self.encoder.encode, ratio_near_good)
        cands = self._sample(good, bw_good * self.bandwidth_factor)
        score = self._log_density(cands, good, bw_good) - self._log_density(cands, bad, bw_bad)
        return self.best_unseen_candidate(cands, score, self.encoder.decode)

    def _bandwidths(self, X: np.ndarray) -> np.ndarray:
        """Scott's rule per numeric column; for a category block, the AA smoothing lambda."""
        n = X.shape[0]
        bw = np.empty(self.encoder.dim)
        scott = n ** (-1.0 / (self._numeric.sum() + 4.0)) if self._numeric.any() else 1.0
        std = X.std(0) if n > 1 else np.full(self.encoder.dim, 0.5)
        # Floor as Optuna's "magic clip": a few points cannot shrink a kernel below 1/(n+2).
        floor = max(self.min_bandwidth, 1.0 / min(100.0, n + 2.0))
        bw[self._numeric] = np.maximum(1.06 * std[self._numeric] * scott, floor)
        for sl, k in self._cats:
            lam = min((k - 1.0) / k, max(self.min_bandwidth, n ** (-0.2) * 0.5))
            bw[sl] = lam
        return bw

    def _sample(self, good: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """Draw from the good density: pick a good point, perturb each coordinate by its kernel."""
        rng, m = self.rng, self.num_candidates
        base = good[rng.integers(good.shape[0], size=m)]
        out = base.copy()
        num = self._numeric
        out[:, num] = base[:, num] + bw[num] * rng.standard_normal((m, int(num.sum())))
        # Reflect into [0, 1] (clipping would pile mass on the boundary).
        out[:, num] = np.abs(out[:, num])
        out[:, num] = 1.0 - np.abs(1.0 - out[:, num])
        for sl, k in self._cats:
            lam = min(bw[sl.start], (k - 1.0) / k)
            switch = rng.random(m) < lam * k / (k - 1.0)  # switch to a uniform category
            onehot = np.zeros((int(switch.sum()), k))
            onehot[np.arange(onehot.shape[0]), rng.integers(k, size=onehot.shape[0])] = 1.0
            out[switch, sl] = onehot
        return self.encoder.project(np.clip(out, 0.0, 1.0))

    def _log_density(self, Z: np.ndarray, X: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """Log density at the rows of ``Z`` of the points ``X`` plus a uniform prior point.

        The prior (weight ``1``, as Optuna's TPE) keeps ``l(x) / g(x)`` bounded far
        from all data, where a narrower bad density would otherwise make any remote
        point look good.
        """
        num = self._numeric
        logk = np.zeros((Z.shape[0], X.shape[0]))
        if num.any():
            diff = (Z[:, None, num] - X[None, :, num]) / bw[num]
            logk += (-0.5 * diff * diff - np.log(bw[num]) - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_uniform = 0.0
        for sl, k in self._cats:
            lam = bw[sl.start]
            same = Z[:, sl].argmax(1)[:, None] == X[:, sl].argmax(1)[None, :]
            logk += np.where(same, np.log1p(-lam), np.log(max(lam, 1e-12) / (k - 1.0)))
            log_uniform -= math.log(k)
        logk = np.hstack([logk, np.full((Z.shape[0], 1), log_uniform)])
        top = logk.max(1, keepdims=True)
        return (top + np.log(np.exp(logk - top).mean(1, keepdims=True)))[:, 0]

    # -- state ------------------------------------------------------------------------------

    def state(self) -> KDEState:
        """Base state plus every recorded observation."""
        return KDEState(**msgspec.structs.asdict(super().state()), observations=self._data.rows())

    def restore(self, state: KDEState | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, KDEState):
            state = msgspec.convert(state, KDEState)
        self._restore_base(state)
        self._data.restore(state.observations)


register_searcher("kde", KernelDensitySearcher)
