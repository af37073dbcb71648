"""Random search as a scheduler: FIFO with the random searcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .fifo import FIFOScheduler

__all__ = ["RandomSearch"]


@component
class RandomSearch(FIFOScheduler):
    """Uniformly random configurations, each trial run to completion (Syne Tune's RandomSearch).

    The same ``random_seed`` gives the same configurations. On a finite space
    no configuration is repeated and ``suggest`` returns None when all are used.
    ``restrict_configurations`` limits the search to the listed configurations
    (the rows of a tabulated benchmark), each tried at most once.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="random",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=(
                None
                if restrict_configurations is None
                else {"restrict_configurations": restrict_configurations}
            ),
        )
