"""Tree-structured Parzen estimator as Optuna's ``TPESampler``: the ``"tpe"`` searcher.

After ``n_startup_trials`` random configs, the finished trials are split into
the best ``min(ceil(gamma * n), gamma_cap)`` and the rest; a Parzen estimator
(:mod:`._parzen`) is fitted to each, older trials weighted down as in Optuna
(a linear ramp below the newest 25). ``n_ei_candidates`` draws from the good
estimator are scored by ``log l(x) - log g(x)``; univariate (Optuna's default),
each hyperparameter takes its own best draw, multivariate the best joint draw
wins. ``constant_liar`` counts running trials among the bad ones, so parallel
workers do not all sample the same region.

Which trials count: without ``resource_attr`` (FIFO), a trial once it has
completed, with its last usable value. Given ``resource_attr`` (inside ASHA or
Hyperband, where a stopped trial never completes), a trial from its first
report on, ranked by the highest resource it reached and then by its value
there, as Optuna ranks pruned trials.

Unlike BOHB's KDE (``"kde"``), which models all hyperparameters jointly with
Scott's bandwidths and a random fraction, this is the estimator Optuna users know.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ...config_space import Categorical, Domain
from ...errors import InvalidArgumentError
from ...trial import Trial
from ._checks import check_number, check_positive_int
from ._parzen import Coordinate, ParzenEstimator
from .base import Searcher, SearcherState, register_searcher, resource_level
from .gp.encoding import SpaceEncoder

__all__ = ["TPESearcher", "TPEState", "default_weights"]



class TPEState(SearcherState, tag="tpe", kw_only=True):
    """Base state plus the observations ``[trial_id, level, config, value]``, the
    running trials ``[trial_id, config]`` and their latest values (FIFO)."""

    observations: list[tuple[int, float, dict[str, Any], float]] = []
    running: list[tuple[int, dict[str, Any]]] = []
    latest: list[tuple[int, float]] = []


def default_weights(n: int) -> np.ndarray:
    """Optuna's observation weights, oldest first: 1 for the newest 25, a ramp before."""
    if n < 25:
        return np.ones(n)
    return np.concatenate([np.linspace(1.0 / n, 1.0, num=n - 25), np.ones(25)])


class TPESearcher(Searcher):
    """Optuna's TPE: sample where good results are dense relative to the others."""

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
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: float = 0.1,
        gamma_cap: int = 25,
        prior_weight: float = 1.0,
        multivariate: bool = True,
        constant_liar: bool = True,
        consider_endpoints: bool = False,
        consider_magic_clip: bool = True,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        self.resource_attr = resource_attr
        self.n_startup_trials = int(check_number("n_startup_trials", n_startup_trials, 0, 1e9))
        self.n_ei_candidates = check_positive_int("n_ei_candidates", n_ei_candidates)
        self.gamma = check_number("gamma", gamma, 1e-9, 1.0)
        self.gamma_cap = check_positive_int("gamma_cap", gamma_cap)
        self.prior_weight = check_number("prior_weight", prior_weight, 1e-9, 1e9)
        for name, flag in (
            ("multivariate", multivariate),
            ("constant_liar", constant_liar),
            ("consider_endpoints", consider_endpoints),
            ("consider_magic_clip", consider_magic_clip),
        ):
            if not isinstance(flag, bool):
                raise InvalidArgumentError(f"{name} must be True or False, got {flag!r}")
        self.multivariate = multivariate
        self.constant_liar = constant_liar
        self.consider_endpoints = consider_endpoints
        self.consider_magic_clip = consider_magic_clip
        encoder = SpaceEncoder(config_space)
        self.coords = [
            _coordinate(d, g) for d, g in zip(encoder.domains, encoder.grids, strict=True)
        ]
        self._lock = threading.Lock()
        # trial_id -> (config, level, value): the trials the model learns from.
        self._obs: dict[int, tuple[dict[str, Any], float, float]] = {}
        # trial_id -> config: created, not yet observed (nor failed).
        self._running: dict[int, dict[str, Any]] = {}
        # trial_id -> latest usable value of a running trial (FIFO: kept for completion).
        self._latest: dict[int, float] = {}

    # -- hooks ----------------------------------------------------------------------------

    def on_trial_add(self, trial: Trial) -> None:
        """A running trial: one of the bad ones under ``constant_liar``."""
        with self._lock:
            if trial.trial_id not in self._obs:
                self._running[trial.trial_id] = dict(trial.config)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """With a resource: the trial's latest level and value. Without: remembered for
        completion."""
        value = self.metric_value(result)
        if value is None or not math.isfinite(value):
            return
        if self.resource_attr is None:
            with self._lock:
                self._latest[trial.trial_id] = value
            return
        level = resource_level(result, self.resource_attr)
        if level is not None:
            self._observe(trial, level, value)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the final value (or the last usable one reported)."""
        value = self.metric_value(result)
        if self.resource_attr is not None:
            level = resource_level(result, self.resource_attr)
            if value is not None and math.isfinite(value) and level is not None:
                self._observe(trial, level, value)
            with self._lock:
                self._running.pop(trial.trial_id, None)
            return
        with self._lock:
            latest = self._latest.pop(trial.trial_id, None)
        if value is None or not math.isfinite(value):
            value = latest
        if value is None:
            with self._lock:
                self._running.pop(trial.trial_id, None)
            return
        self._observe(trial, 0.0, value)

    def on_trial_error(self, trial: Trial) -> None:
        """A failed trial is neither running nor evidence (unless it already reported)."""
        with self._lock:
            self._running.pop(trial.trial_id, None)
            self._latest.pop(trial.trial_id, None)

    def _observe(self, trial: Trial, level: float, value: float) -> None:
        with self._lock:
            self._running.pop(trial.trial_id, None)
            self._obs[trial.trial_id] = (dict(trial.config), level, value)

    # -- model ----------------------------------------------------------------------------

    def _suggest(self) -> dict[str, Any] | None:
        with self._lock:
            obs = dict(self._obs)
            running = dict(self._running) if self.constant_liar else {}
        if len(obs) < max(self.n_startup_trials, 1):
            return self.random_config()
        good, bad = self._split(obs, running)
        below = self._estimator(good)
        above = self._estimator(bad)
        if self.restrict_configurations is not None:
            return self._best_allowed_row(below, above)
        draws = below.sample(self.rng, self.n_ei_candidates)
        log_ratio = below.log_pdf(draws) - above.log_pdf(draws)
        if self.multivariate:
            ranked = draws[np.argsort(-log_ratio, kind="stable")]
        else:
            best = draws[np.argmax(log_ratio, axis=0), np.arange(len(self.coords))]
            order = np.argsort(-log_ratio.sum(axis=1), kind="stable")
            ranked = np.vstack([best[None, :], draws[order]])
        for row in ranked:
            config = self._config(row)
            if not self.is_seen(config):
                return config
        return self.random_config()

    def _split(
        self,
        obs: dict[int, tuple[dict[str, Any], float, float]],
        running: dict[int, dict[str, Any]],
    ) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, dict[str, Any]]]]:
        """The good and the bad trials, each as ``(trial_id, config)`` in trial order."""
        ranked = sorted(obs, key=lambda t: (-obs[t][1], obs[t][2], t))
        n_good = min(math.ceil(self.gamma * len(obs)), self.gamma_cap)
        n_good = max(1, min(n_good, len(ranked)))
        good = sorted((t, obs[t][0]) for t in ranked[:n_good])
        bad = sorted([(t, obs[t][0]) for t in ranked[n_good:]] + list(running.items()))
        return good, bad

    def _estimator(self, trials: list[tuple[int, dict[str, Any]]]) -> ParzenEstimator:
        values = np.array([self._row(c) for _, c in trials]).reshape(len(trials), len(self.coords))
        return ParzenEstimator(
            self.coords,
            values,
            default_weights(len(trials)),
            prior_weight=self.prior_weight,
            multivariate=self.multivariate,
            consider_endpoints=self.consider_endpoints,
            magic_clip=self.consider_magic_clip,
        )

    def _best_allowed_row(
        self, below: ParzenEstimator, above: ParzenEstimator
    ) -> dict[str, Any] | None:
        """The unused table row nearest a good draw that scores best (None: all used).

        Draws from the good estimator land on the nearest unused rows (categories
        must match, else they count a full unit of distance); those rows are
        ranked by the joint ``log l - log g``, the other rows not at all.
        """
        cat = np.array([c.categories > 0 for c in self.coords])

        def near_draws(rows: np.ndarray) -> np.ndarray:
            draws = below.sample(self.rng, self.n_ei_candidates)
            diff = draws[:, None, :] - rows[None, :, :]
            dist = np.where(cat, (diff != 0).astype(float), diff * diff).sum(axis=2)
            near = np.unique(np.argmin(dist, axis=1))
            ratio = below.log_pdf(rows[near]) - above.log_pdf(rows[near])
            score = np.full(len(rows), -np.inf)
            score[near] = ratio if self.multivariate else ratio.sum(axis=1)
            return score

        return self.best_unseen_allowed(lambda c: np.array(self._row(c)), near_draws)

    # -- coordinates ------------------------------------------------------------------------

    def _row(self, config: Mapping[str, Any]) -> list[float]:
        """A config as the estimators see it: unit coordinates and category indices."""
        out = []
        for name, dom in zip(self.hp_names, self.hp_domains, strict=True):
            x = dom.encode(config[name])
            out.append(float(np.argmax(x)) if isinstance(dom, Categorical) else float(x[0]))
        return out

    def _config(self, row: np.ndarray) -> dict[str, Any]:
        """The config of an estimator row, constants included."""
        values = {}
        for name, dom, u in zip(self.hp_names, self.hp_domains, row.tolist(), strict=True):
            if isinstance(dom, Categorical):
                values[name] = dom.values()[int(u)]
            else:
                values[name] = dom.decode(np.array([u]))
        return {k: values.get(k, v) for k, v in self.config_space.items()}

    # -- state ------------------------------------------------------------------------------

    def state(self) -> TPEState:
        """Base state plus the observations and the running trials."""
        base = super().state()
        with self._lock:
            obs = [(t, lv, dict(c), v) for t, (c, lv, v) in self._obs.items()]
            running = [(t, dict(c)) for t, c in self._running.items()]
            latest = list(self._latest.items())
        return TPEState(
            **msgspec.structs.asdict(base), observations=obs, running=running, latest=latest
        )

    def restore(self, state: TPEState | Mapping[str, Any]) -> None:
        """Continue from ``state``."""
        if not isinstance(state, TPEState):
            state = msgspec.convert(state, TPEState)
        self._restore_base(state)
        with self._lock:
            self._obs = {t: (dict(c), float(lv), float(v)) for t, lv, c, v in state.observations}
            self._running = {t: dict(c) for t, c in state.running}
            self._latest = {t: float(v) for t, v in state.latest}


def _coordinate(domain: Domain, grid: np.ndarray | None) -> Coordinate:
    """How the estimators treat ``domain``: categorical, finite ordered (cells around
    the encodings of its values, the ``SpaceEncoder`` grid), or continuous."""
    if isinstance(domain, Categorical):
        return Coordinate(categories=domain.num_values())
    if grid is None:
        return Coordinate()
    grid = np.unique(grid)
    return Coordinate(edges=np.concatenate([[0.0], (grid[1:] + grid[:-1]) / 2.0, [1.0]]))


register_searcher("tpe", TPESearcher)
