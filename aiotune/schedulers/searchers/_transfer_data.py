"""Offline evaluations of earlier tasks, the input of the transfer-learning searchers.

Syne Tune's ``TransferLearningTaskEvaluations``: the configurations a task
evaluated and their objective values, shaped ``(configs, seeds, fidelities,
objectives)``. The searchers use the mean over seeds at the last fidelity.
Given as lists (not a DataFrame or an array), the evaluations are saved with
the scheduler and ``Tuner.load`` rebuilds it; otherwise pass ``scheduler=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..._spec import component
from ...config_space import Domain
from ...errors import ConfigValueError, InvalidArgumentError
from .base import impute_config

__all__ = ["TransferLearningTaskEvaluations", "best_configs", "check_transfer_evaluations"]


@component
class TransferLearningTaskEvaluations:
    """The evaluations of one earlier task.

    ``hyperparameters``: one config per evaluated configuration (a list of dicts or
    a pandas DataFrame, one row each). ``objectives_evaluations``: their values,
    shaped ``(configs, seeds, fidelities, objectives)``; with one objective a
    shape of ``(configs,)`` is also accepted. NaN means "not evaluated" and
    counts as the worst value.
    """

    def __init__(
        self,
        configuration_space: dict[str, Any],
        hyperparameters: Any,
        objectives_names: list[str],
        objectives_evaluations: Any,
    ) -> None:
        if hasattr(hyperparameters, "to_dict"):  # a pandas DataFrame
            hyperparameters = hyperparameters.to_dict("records")
        if not isinstance(objectives_names, list | tuple) or not all(
            isinstance(n, str) for n in objectives_names
        ) or not objectives_names:
            raise InvalidArgumentError(
                f"objectives_names must be a non-empty list of names, got {objectives_names!r}"
            )
        values = np.asarray(objectives_evaluations, dtype=float)
        if values.ndim == 1 and len(objectives_names) == 1:
            values = values.reshape(-1, 1, 1, 1)
        if values.ndim != 4 or values.shape[3] != len(objectives_names):
            raise InvalidArgumentError(
                "objectives_evaluations must be shaped (configs, seeds, fidelities, "
                f"objectives={len(objectives_names)}), got shape {values.shape}"
            )
        if not isinstance(hyperparameters, list | tuple) or len(hyperparameters) != len(values):
            raise InvalidArgumentError(
                f"hyperparameters must list one config per row of objectives_evaluations "
                f"({len(values)}), got {type(hyperparameters).__name__} "
                f"of length {len(hyperparameters) if hasattr(hyperparameters, '__len__') else '?'}"
            )
        self.configuration_space = configuration_space
        self.hyperparameters = [_complete(configuration_space, c, i)
                                for i, c in enumerate(hyperparameters)]
        self.objectives_names = list(objectives_names)
        self.objectives_evaluations = values
        # Saved with the scheduler as plain data, whatever the caller passed (an array,
        # a DataFrame): ``Tuner.load`` then rebuilds it (JSON keeps NaN as null).
        spec = getattr(self, "_spec_kwargs", None)
        if spec is not None:
            spec["hyperparameters"] = self.hyperparameters
            spec["objectives_evaluations"] = values.tolist()

    def objective_values(self, name: str) -> np.ndarray:
        """The values of objective ``name``, shaped ``(configs, seeds, fidelities)``."""
        if name not in self.objectives_names:
            raise InvalidArgumentError(
                f"objective {name!r} is not among the evaluated ones {self.objectives_names}"
            )
        return self.objectives_evaluations[..., self.objectives_names.index(name)]

    def final_values(self, name: str, mode: str = "min") -> np.ndarray:
        """Per config, the mean over seeds at the last fidelity, signed so that lower is
        better (negated for ``mode="max"``); NaN (not evaluated) becomes +inf."""
        return self._signed(self._seed_means(name)[:, -1], mode)

    def best_values(self, name: str, mode: str = "min") -> np.ndarray:
        """Per config, the best over the fidelities of its mean over seeds (Syne Tune's
        ranking of the best configs), signed as :meth:`final_values`."""
        signed = self._signed(self._seed_means(name), mode)
        return signed.min(axis=1)

    def _seed_means(self, name: str) -> np.ndarray:
        """``(configs, fidelities)``: the mean over the seeds with a value (NaN if none)."""
        values = self.objective_values(name)
        finite = np.isfinite(values)
        counts = finite.sum(axis=1)
        means = np.where(finite, values, 0.0).sum(axis=1) / np.maximum(counts, 1)
        means[counts == 0] = np.nan
        return means

    @staticmethod
    def _signed(values: np.ndarray, mode: str) -> np.ndarray:
        if mode == "max":
            values = -values
        return np.where(np.isnan(values), np.inf, values)

    def __repr__(self) -> str:
        return (
            f"TransferLearningTaskEvaluations({len(self.hyperparameters)} configs, "
            f"objectives={self.objectives_names}, shape={self.objectives_evaluations.shape})"
        )


def _complete(space: dict[str, Any], config: Any, i: int) -> dict[str, Any]:
    """Row ``i`` as a full, valid config of ``space`` (constants may be left out)."""
    if not isinstance(config, Mapping):
        raise ConfigValueError(f"hyperparameters[{i}] must be a dict, got {type(config).__name__}")
    missing = [k for k, v in space.items() if isinstance(v, Domain) and k not in config]
    if missing:
        raise ConfigValueError(f"hyperparameters[{i}] lacks {missing}")
    try:
        return impute_config(space, config)
    except ConfigValueError as exc:
        raise ConfigValueError(f"hyperparameters[{i}]: {exc}") from None


def check_transfer_evaluations(
    evaluations: Any, config_space: dict[str, Any], metric: str
) -> dict[str, TransferLearningTaskEvaluations]:
    """``evaluations`` checked: a non-empty dict of task name to evaluations, each holding
    ``metric`` and made for the same hyperparameters; the error names the task."""
    if not isinstance(evaluations, Mapping) or not evaluations:
        raise InvalidArgumentError(
            "transfer_learning_evaluations must be a non-empty dict of task name to "
            f"TransferLearningTaskEvaluations, got {evaluations!r:.80}"
        )
    for task, evals in evaluations.items():
        if not isinstance(evals, TransferLearningTaskEvaluations):
            raise InvalidArgumentError(
                f"transfer_learning_evaluations[{task!r}] must be a "
                f"TransferLearningTaskEvaluations, got {type(evals).__name__}"
            )
        if metric not in evals.objectives_names:
            raise InvalidArgumentError(
                f"transfer_learning_evaluations[{task!r}] has no values of {metric!r} "
                f"(it has {evals.objectives_names})"
            )
        names = sorted(k for k, v in config_space.items() if isinstance(v, Domain))
        theirs = sorted(k for k, v in evals.configuration_space.items() if isinstance(v, Domain))
        if names != theirs:
            raise InvalidArgumentError(
                f"transfer_learning_evaluations[{task!r}] tunes {theirs}, "
                f"this search {names}"
            )
    return dict(evaluations)


def best_configs(
    tasks: Mapping[str, TransferLearningTaskEvaluations], metric: str, mode: str, k: int
) -> list[dict[str, Any]]:
    """Each task's ``k`` best configurations (by their best value over the fidelities,
    Syne Tune's ranking), task after task."""
    best: list[dict[str, Any]] = []
    for evals in tasks.values():
        values = evals.best_values(metric, mode)
        order = np.argsort(values, kind="stable")
        best.extend(evals.hyperparameters[i] for i in order[:k] if np.isfinite(values[i]))
    return best
