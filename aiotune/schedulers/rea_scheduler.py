"""Regularized evolution as a scheduler: FIFO with the ``"rea"`` searcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .fifo import FIFOScheduler
from .searchers import rea as _rea  # noqa: F401 - registers searcher="rea"

__all__ = ["REA"]


@component
class REA(FIFOScheduler):
    """Regularized evolution (Syne Tune's ``RegularizedEvolution``), trials run to completion.

    ``population_size`` random configs first; then each new config mutates one
    hyperparameter of the best of ``sample_size`` random members of the
    ``population_size`` most recent results.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        population_size: int = 100,
        sample_size: int = 10,
        restrict_configurations: list[dict[str, Any]] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"population_size": population_size, "sample_size": sample_size}
        if restrict_configurations is not None:
            kwargs["restrict_configurations"] = restrict_configurations
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="rea",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=kwargs,
        )
