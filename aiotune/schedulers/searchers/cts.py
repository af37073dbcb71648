"""Copula Thompson sampling from earlier tasks (Salinas, Shen and Perrone, ICML 2020): ``"cts"``.

Syne Tune's ``QuantileBasedSurrogateSearcher`` (the searcher of ``ASHACTS``).
Each earlier task's final values are mapped to a common scale by their
quantiles (``normalization="gaussian"``: ``z = Phi^-1(rank / (n + 1))``; or
``"standard"``: mean 0, variance 1), so tasks with different value ranges can
be pooled. A regressor (scikit-learn's histogram gradient boosting by default,
the ``surrogate`` extra) learns ``z`` from the configuration; its residual
spread on a held-out tenth of the data is the noise ``sigma``. Each suggestion
draws a Thompson sample ``mu(x) + sigma * N(0, 1)`` for ``num_candidates``
random configurations (drawn and predicted once; on a table, its rows) and
takes the best one not suggested yet. As in the paper's CTS and Syne Tune,
the current task's results are not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from ...errors import InvalidArgumentError
from ._checks import check_positive_int
from ._transfer_data import TransferLearningTaskEvaluations, check_transfer_evaluations
from .base import Searcher, register_searcher
from .gp.encoding import SpaceEncoder
from .zero_shot import check_regressor, fit_regressor

__all__ = ["NORMALIZATIONS", "QuantileBasedSurrogateSearcher", "normalize_task_values"]

NORMALIZATIONS = ("gaussian", "standard")


def normalize_task_values(values: np.ndarray, normalization: str) -> np.ndarray:
    """One task's values (lower is better) on the common scale of all tasks."""
    if normalization == "gaussian":
        return ndtri(rankdata(values) / (len(values) + 1))
    std = float(np.std(values))
    return (values - float(np.mean(values))) / (std if std > 0 else 1.0)


class QuantileBasedSurrogateSearcher(Searcher):
    """Thompson samples of a regressor of the earlier tasks' normalized values."""

    thinks_hard = True  # a Thompson sample over 100,000 candidates: a few ms
    uses_model = True

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations]
        | None = None,
        normalization: str = "gaussian",
        regressor: str = "hgbt",
        max_fit_samples: int = 100_000,
        num_candidates: int = 100_000,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        tasks = check_transfer_evaluations(transfer_learning_evaluations, config_space, metric)
        if normalization not in NORMALIZATIONS:
            raise InvalidArgumentError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        self.normalization = normalization
        check_regressor(regressor)
        self.max_fit_samples = check_positive_int("max_fit_samples", max_fit_samples, 2)
        self.num_candidates = check_positive_int("num_candidates", num_candidates)
        self.encoder = SpaceEncoder(config_space)
        model, self.sigma = self._fit(tasks, regressor)
        if self.restrict_configurations is not None:
            self._candidates = self.allowed_encodings(self.encoder.encode)
        else:
            self._candidates = self.encoder.random(self.num_candidates, self.rng)
        self._mu = model.predict(self._candidates)

    def _fit(
        self, tasks: dict[str, TransferLearningTaskEvaluations], regressor: str
    ) -> tuple[Any, float]:
        """The regressor of the pooled normalized values, and its held-out residual spread."""
        X_parts, z_parts = [], []
        for evals in tasks.values():
            y = evals.final_values(self.metric, self.mode)
            keep = np.isfinite(y)
            if keep.sum() < 2:
                continue
            X_parts.append(np.array([self.encoder.encode(c) for c in evals.hyperparameters])[keep])
            z_parts.append(normalize_task_values(y[keep], self.normalization))
        if not X_parts:
            raise InvalidArgumentError(
                f"transfer_learning_evaluations hold fewer than 2 finite values of "
                f"{self.metric!r} in every task: nothing to learn from"
            )
        X, z = np.concatenate(X_parts), np.concatenate(z_parts)
        order = self.rng.permutation(len(z))
        n_val = max(1, len(z) // 10) if len(z) >= 10 else 0
        val, train = order[:n_val], order[n_val:][: self.max_fit_samples]
        model = fit_regressor(regressor, X[train], z[train], int(self.rng.integers(2**31 - 1)))
        held_out = val if n_val else train
        sigma = float(np.std(z[held_out] - model.predict(X[held_out])))
        return model, max(sigma, 1e-6)

    def _suggest(self) -> dict[str, Any] | None:
        samples = self._mu + self.sigma * self.rng.standard_normal(len(self._mu))
        if self.restrict_configurations is not None:
            allowed = self.restrict_configurations
            idx = np.array(self.unseen_allowed(), dtype=int)
            if not len(idx):
                return None
            return dict(allowed[idx[int(np.argmin(samples[idx]))]])
        config = self.encoder.decode(self._candidates[int(np.argmin(samples))])
        if not self.is_seen(config):
            return config
        return self.best_unseen_candidate(self._candidates, -samples, self.encoder.decode)


register_searcher("cts", QuantileBasedSurrogateSearcher)
