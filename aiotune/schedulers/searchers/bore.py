"""Bayesian optimization by density-ratio estimation (Tiao et al., ICML 2021): ``"bore"``.

Syne Tune's ``BORE`` / ``ASHABORE``. The best ``gamma`` fraction of the
observations are labelled good and a probabilistic classifier learns to tell
them from the rest on the unit-cube encoding; its probability of "good" is
proportional to the density ratio ``l(x) / g(x)`` that TPE estimates with two
densities, and is the acquisition. Each suggestion scores ``num_candidates``
random configs (drawn afresh, so parallel suggestions differ; on a table, its
unused rows) and takes the most probably good one.

Which values count: as BOHB's KDE (:mod:`._levels`): without ``resource_attr``
each trial's latest value; with it (inside ASHA) the values at each resource
level, the classifier fitted on the highest level with ``num_init_random``
of them. Needs scikit-learn (the ``surrogate`` extra); ``classifier`` is
``"gbt"`` (gradient-boosted trees, the default), ``"rf"``, ``"logreg"``,
``"mlp"`` or, if installed, ``"xgboost"`` (Syne Tune's default), with
``classifier_kwargs`` for its constructor.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ...errors import InvalidArgumentError
from ...trial import Trial
from ._checks import check_number, check_positive_int
from ._levels import LevelObservations
from .base import Searcher, SearcherState, register_searcher
from .gp.encoding import SpaceEncoder

__all__ = ["CLASSIFIERS", "BOREState", "BORESearcher", "make_classifier"]

CLASSIFIERS = ("gbt", "rf", "logreg", "mlp", "xgboost")
"""The classifiers :func:`make_classifier` builds."""


class BOREState(SearcherState, tag="bore", kw_only=True):
    """Base state plus the observations: ``[level, trial_id, config, value]`` rows."""

    observations: list[tuple[float, int, dict[str, Any], float]] = []


def make_classifier(name: str, seed: int, **kwargs: Any) -> Any:
    """An unfitted scikit-learn-style classifier with ``predict_proba``."""
    if name == "xgboost":
        try:
            from xgboost import XGBClassifier
        except ImportError:
            raise ImportError("classifier='xgboost' needs the xgboost package: "
                              "pip install xgboost") from None
        return XGBClassifier(random_state=seed, **kwargs)
    if name == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(random_state=seed, **kwargs)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, **kwargs)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **kwargs)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(random_state=seed, **{"max_iter": 500, **kwargs})
    raise InvalidArgumentError(f"classifier must be one of {CLASSIFIERS}, got {name!r}")


class BORESearcher(Searcher):
    """Suggest the config a classifier finds most likely to be among the best ``gamma``."""

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
        gamma: float = 0.25,
        classifier: str = "gbt",
        classifier_kwargs: dict[str, Any] | None = None,
        num_candidates: int = 500,
        num_init_random: int = 6,
        random_fraction: float = 0.0,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise ImportError(
                "the BORE searcher needs scikit-learn: pip install 'aiotune[surrogate]'"
            ) from None
        self.gamma = check_number("gamma", gamma, 1e-3, 0.999)
        if classifier not in CLASSIFIERS:
            raise InvalidArgumentError(
                f"classifier must be one of {CLASSIFIERS}, got {classifier!r}"
            )
        self.classifier = classifier
        if classifier_kwargs is not None and not isinstance(classifier_kwargs, dict):
            raise InvalidArgumentError(
                f"classifier_kwargs must be a dict of the classifier's arguments, "
                f"got {classifier_kwargs!r}"
            )
        self.classifier_kwargs = dict(classifier_kwargs or {})
        try:
            make_classifier(classifier, 0, **self.classifier_kwargs)
        except TypeError as exc:
            raise InvalidArgumentError(f"classifier_kwargs: {exc}") from None
        self.num_candidates = check_positive_int("num_candidates", num_candidates)
        self.num_init_random = max(2, check_positive_int("num_init_random", num_init_random))
        self.random_fraction = check_number("random_fraction", random_fraction, 0.0, 1.0)
        self.resource_attr = resource_attr
        self.max_resource = max_resource  # given by ASHA; BORE fits one level at a time
        self.encoder = SpaceEncoder(config_space)
        self._data = LevelObservations(resource_attr)
        self._model: Any = None
        self._fitted_on: list[tuple[dict[str, Any], float]] | None = None

    # -- hooks ----------------------------------------------------------------------------

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the value at its resource level (or as the trial's latest value)."""
        self._data.record(trial.trial_id, trial.config, self.metric_value(result), result)

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the final value."""
        self._data.record(trial.trial_id, trial.config, self.metric_value(result), result)

    # -- model ----------------------------------------------------------------------------

    def _suggest(self) -> dict[str, Any] | None:
        if self.random_fraction and self.rng.random() < self.random_fraction:
            return self.random_config()
        rows = self._data.highest(self.num_init_random)
        if rows is None or not self._fit(rows):
            return self.random_config()
        if self.restrict_configurations is not None:
            return self.best_unseen_allowed(self.encoder.encode, self.probability_good)
        cands = self.encoder.random(self.num_candidates, self.rng)
        return self.best_unseen_candidate(cands, self.probability_good(cands), self.encoder.decode)

    def _fit(self, rows: list[tuple[dict[str, Any], float]]) -> bool:
        """Fit the classifier to ``rows`` unless it already was; False if one class is empty."""
        if rows == self._fitted_on:
            return self._model is not None
        self._fitted_on, self._model = rows, None
        y = np.array([v for _, v in rows])
        good = y <= np.quantile(y, self.gamma)
        if good.all() or not good.any():  # all values equal: nothing to learn
            return False
        from sklearn.exceptions import ConvergenceWarning

        X = np.array([self.encoder.encode(c) for c, _ in rows])
        seed = int(self.rng.integers(2**31 - 1))
        model = make_classifier(self.classifier, seed, **self.classifier_kwargs)
        with warnings.catch_warnings():  # an MLP's "not converged yet" on a few points
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._model = model.fit(X, good.astype(int))
        return True

    def probability_good(self, X: np.ndarray) -> np.ndarray:
        """The fitted classifier's probability that each encoded row is among the best."""
        assert self._model is not None
        classes = list(self._model.classes_)
        return self._model.predict_proba(X)[:, classes.index(1)]

    # -- state ------------------------------------------------------------------------------

    def state(self) -> BOREState:
        """Base state plus every observation (the classifier is refitted after a restore)."""
        return BOREState(**msgspec.structs.asdict(super().state()), observations=self._data.rows())

    def restore(self, state: BOREState | Mapping[str, Any]) -> None:
        """Continue from ``state``; the next model-based suggestion refits."""
        if not isinstance(state, BOREState):
            state = msgspec.convert(state, BOREState)
        self._restore_base(state)
        self._data.restore(state.observations)
        self._model, self._fitted_on = None, None


register_searcher("bore", BORESearcher)

