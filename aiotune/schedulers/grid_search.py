"""Grid search as a scheduler: FIFO with the grid searcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .fifo import FIFOScheduler

__all__ = ["GridSearch"]


@component
class GridSearch(FIFOScheduler):
    """Every grid point once, each trial run to completion; None when the grid is done.

    Categorical, ordinal and ``finrange`` domains contribute all their values,
    continuous ones ``num_samples`` evenly spaced points (on the log scale for log
    domains), and integer ones all their values if there are at most
    ``num_samples``, else ``num_samples`` spread evenly (``randint(1, 3)`` with
    ``num_samples=2`` gives 1 and 3); ``shuffle=True`` visits the grid in a random
    order drawn from ``random_seed``. With ``restrict_configurations`` (a tabulated
    benchmark's rows) the grid is those configurations.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        num_samples: int = 3,
        shuffle: bool = False,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"num_samples": num_samples, "shuffle": shuffle}
        if restrict_configurations is not None:
            kwargs["restrict_configurations"] = restrict_configurations
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="grid",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=kwargs,
        )
