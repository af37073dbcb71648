"""Conformal quantile regression (Salinas et al., ICML 2023): the ``"cqr"`` searcher.

Syne Tune's ``CQR`` / ``ASHACQR``. Gradient-boosted trees predict ``quantiles``
levels of the metric (one model per level, pinball loss) from the unit-cube
encoding of a config. Once more than ``min_samples_to_conformalize``
observations exist, a ``valid_fraction`` of them is held out and each
symmetric pair of levels is widened by the split-conformal correction that
makes its band cover the held-out values at its nominal rate. Each suggestion
draws one level at random for every candidate (``num_candidates`` random
configs, redrawn at each fit; on a table, its unused rows) and takes the
candidate whose drawn quantile is lowest: a Thompson-style choice between
optimism and exploitation.

Which value a trial contributes: without ``resource_attr`` (FIFO) its value
when it completes; with it (inside ASHA) its latest value at whatever level,
the paper's rule for multi-fidelity: no model across levels, just the last
observation of every trial. Needs scikit-learn (the ``surrogate`` extra);
``model_kwargs`` go to each level's ``GradientBoostingRegressor`` (100 trees of
depth 3 by default, as in Syne Tune).
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
from .gp.encoding import SpaceEncoder

__all__ = [
    "CQRSearcher",
    "CQRState",
    "QuantileModel",
    "conformal_corrections",
    "default_quantile_levels",
]


class CQRState(SearcherState, tag="cqr", kw_only=True):
    """Base state plus the observations ``[trial_id, config, value]`` and the latest
    values of running trials (FIFO)."""

    observations: list[tuple[int, dict[str, Any], float]] = []
    latest: list[tuple[int, float]] = []


def default_quantile_levels(n: int) -> np.ndarray:
    """``n`` evenly spaced levels strictly inside (0, 1), as Syne Tune's: for 5,
    1/6 ... 5/6 rounded to two decimals."""
    levels = np.linspace(0.0, 1.0, num=n + 1, endpoint=False)[1:]
    return np.round(levels, 1 + int(math.log(n)))


class QuantileModel:
    """One gradient-boosted quantile regressor per level, symmetric pairs conformalized.

    ``fit`` holds out ``valid_fraction`` of the data once there are more than
    ``min_samples_to_conformalize`` points and shifts each symmetric pair of
    levels by :func:`conformal_corrections` (Romano et al., 2019).
    """

    def __init__(
        self,
        levels: np.ndarray,
        valid_fraction: float,
        min_samples_to_conformalize: int,
        rng: np.random.Generator,
        **gbr_kwargs: Any,
    ) -> None:
        self.levels = np.asarray(levels, dtype=float)
        self.valid_fraction = valid_fraction
        self.min_samples_to_conformalize = min_samples_to_conformalize
        self.rng = rng
        self.gbr_kwargs = gbr_kwargs
        self.models: list[Any] = []
        self.corrections = np.zeros(self.levels.size)

    def fit(self, X: np.ndarray, y: np.ndarray) -> QuantileModel:
        """Fit every level; conformalize when there is data to spare."""
        from sklearn.ensemble import GradientBoostingRegressor

        n = y.size
        train = np.arange(n)
        valid = np.zeros(0, dtype=int)
        if n > self.min_samples_to_conformalize:
            perm = self.rng.permutation(n)
            m = max(1, int(round(self.valid_fraction * n)))
            valid, train = perm[:m], perm[m:]
        self.models = []
        for q in self.levels:
            seed = int(self.rng.integers(2**31 - 1))
            model = GradientBoostingRegressor(
                loss="quantile", alpha=float(q), random_state=seed, **self.gbr_kwargs
            )
            self.models.append(model.fit(X[train], y[train]))
        self.corrections = np.zeros(self.levels.size)
        if valid.size:
            preds = np.column_stack([m.predict(X[valid]) for m in self.models])
            self.corrections = conformal_corrections(self.levels, preds, y[valid])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Corrected predictions, one column per level."""
        return np.column_stack([m.predict(X) for m in self.models]) + self.corrections


def conformal_corrections(levels: np.ndarray, preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Split-conformal shifts of the levels' predictions, from held-out ``y``.

    For the pair ``(levels[i], levels[-1 - i])`` with nominal coverage ``c``, the
    score of a held-out point is ``max(lower - y, y - upper)`` and the shift is
    the ``ceil((m + 1) c)``-th smallest of the ``m`` scores (the largest if that
    exceeds ``m``): the band widened by it covers a new point with probability at
    least ``c``. Lower levels move down by it, upper levels up; the median stays.
    """
    k = levels.size
    m = y.size
    out = np.zeros(k)
    for i in range(k // 2):
        j = k - 1 - i
        scores = np.sort(np.maximum(preds[:, i] - y, y - preds[:, j]))
        rank = min(m, math.ceil((m + 1) * (levels[j] - levels[i])))
        out[i], out[j] = -scores[rank - 1], scores[rank - 1]
    return out


class CQRSearcher(Searcher):
    """Conformalized quantile regression: sample a quantile per candidate, take the lowest."""

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
        num_init_random: int = 5,
        quantiles: int = 5,
        num_candidates: int = 2000,
        update_frequency: int = 1,
        min_samples_to_conformalize: int = 32,
        valid_fraction: float = 0.1,
        max_fit_samples: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise ImportError(
                "the CQR searcher needs scikit-learn: pip install 'aiotune[surrogate]'"
            ) from None
        self.resource_attr = resource_attr
        self.num_init_random = check_positive_int("num_init_random", num_init_random)
        q = check_positive_int("quantiles", quantiles)
        if q % 2 == 0:
            raise InvalidArgumentError(
                f"quantiles must be odd (symmetric pairs around the median), got {quantiles}"
            )
        self.quantiles = q
        self.levels = default_quantile_levels(q)
        self.num_candidates = check_positive_int("num_candidates", num_candidates)
        self.update_frequency = check_positive_int("update_frequency", update_frequency)
        self.min_samples_to_conformalize = int(
            check_number("min_samples_to_conformalize", min_samples_to_conformalize, 0, 1e9)
        )
        self.valid_fraction = check_number("valid_fraction", valid_fraction, 1e-6, 0.5)
        self.max_fit_samples = (
            None if max_fit_samples is None
            else check_positive_int("max_fit_samples", max_fit_samples)
        )
        if model_kwargs is not None and not isinstance(model_kwargs, dict):
            raise InvalidArgumentError(
                f"model_kwargs must be a dict of GradientBoostingRegressor arguments, "
                f"got {model_kwargs!r}"
            )
        self.model_kwargs = dict(model_kwargs or {})
        from sklearn.ensemble import GradientBoostingRegressor

        try:
            GradientBoostingRegressor(**self.model_kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(f"model_kwargs: {exc}") from None
        self.encoder = SpaceEncoder(config_space)
        self._lock = threading.Lock()
        # trial_id -> (config, value): the data of the model.
        self._obs: dict[int, tuple[dict[str, Any], float]] = {}
        self._latest: dict[int, float] = {}  # FIFO: running trials' latest values
        self._model: QuantileModel | None = None
        self._fitted_on = -1  # number of observations at the last fit
        self._pool: np.ndarray = np.zeros((0, self.encoder.dim))
        self._pool_pred: np.ndarray = np.zeros((0, q))

    # -- hooks ----------------------------------------------------------------------------

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """With a resource the latest value counts at once; without, at completion."""
        value = self.metric_value(result)
        if value is None or not math.isfinite(value):
            return
        with self._lock:
            if self.resource_attr is None:
                self._latest[trial.trial_id] = value
            else:
                self._obs[trial.trial_id] = (dict(trial.config), value)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """The final value (or the last usable one reported)."""
        value = self.metric_value(result)
        with self._lock:
            latest = self._latest.pop(trial.trial_id, None)
            if value is None or not math.isfinite(value):
                value = latest
            if value is not None:
                self._obs[trial.trial_id] = (dict(trial.config), value)

    def on_trial_error(self, trial: Trial) -> None:
        """Forget a failed trial's unfinished values (what it reported with a resource stays)."""
        with self._lock:
            self._latest.pop(trial.trial_id, None)

    # -- model ----------------------------------------------------------------------------

    def _suggest(self) -> dict[str, Any] | None:
        with self._lock:
            rows = list(self._obs.values())
        if len(rows) < self.num_init_random:
            return self.random_config()
        if self._model is None or len(rows) - self._fitted_on >= self.update_frequency:
            self._fit(rows)
        if self.restrict_configurations is not None:
            return self.best_unseen_allowed(self.encoder.encode, self._sampled_score)
        while len(self._pool):
            pick = int(np.argmax(self._sampled_score(self._pool, self._pool_pred)))
            x = self._pool[pick]
            keep = np.arange(len(self._pool)) != pick  # not proposed twice
            self._pool, self._pool_pred = self._pool[keep], self._pool_pred[keep]
            config = self.encoder.decode(x)
            if not self.is_seen(config):
                return config
        return self.random_config()

    def _fit(self, rows: list[tuple[dict[str, Any], float]]) -> None:
        """Refit the quantile models and redraw the candidate pool."""
        n_obs = len(rows)
        if self.max_fit_samples is not None and len(rows) > self.max_fit_samples:
            keep = self.rng.choice(len(rows), size=self.max_fit_samples, replace=False)
            rows = [rows[int(i)] for i in np.sort(keep)]
        X = np.array([self.encoder.encode(c) for c, _ in rows])
        y = np.array([v for _, v in rows])
        self._model = QuantileModel(
            self.levels,
            self.valid_fraction,
            self.min_samples_to_conformalize,
            self.rng,
            **self.model_kwargs,
        ).fit(X, y)
        self._fitted_on = n_obs
        if self.restrict_configurations is None:
            self._pool = self.encoder.random(self.num_candidates, self.rng)
            self._pool_pred = self._model.predict(self._pool)

    def _sampled_score(self, X: np.ndarray, pred: np.ndarray | None = None) -> np.ndarray:
        """Minus one randomly chosen quantile prediction per row (higher is better)."""
        if pred is None:
            assert self._model is not None
            pred = self._model.predict(X)
        pick = self.rng.integers(pred.shape[1], size=pred.shape[0])
        return -pred[np.arange(pred.shape[0]), pick]

    # -- state ------------------------------------------------------------------------------

    def state(self) -> CQRState:
        """Base state plus the observations (the models are refitted after a restore)."""
        base = super().state()
        with self._lock:
            obs = [(t, dict(c), v) for t, (c, v) in self._obs.items()]
            latest = list(self._latest.items())
        return CQRState(**msgspec.structs.asdict(base), observations=obs, latest=latest)

    def restore(self, state: CQRState | Mapping[str, Any]) -> None:
        """Continue from ``state``; the next model-based suggestion refits."""
        if not isinstance(state, CQRState):
            state = msgspec.convert(state, CQRState)
        self._restore_base(state)
        with self._lock:
            self._obs = {t: (dict(c), float(v)) for t, c, v in state.observations}
            self._latest = {t: float(v) for t, v in state.latest}
            self._model = None
            self._fitted_on = -1


register_searcher("cqr", CQRSearcher)
