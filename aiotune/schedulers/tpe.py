"""TPE as a scheduler: FIFO with the kernel-density (``"kde"``) searcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .fifo import FIFOScheduler
from .searchers import kde as _kde  # noqa: F401 - registers searcher="kde"

__all__ = ["TPE"]


@component
class TPE(FIFOScheduler):
    """Tree-structured Parzen estimator search (BOHB's KDE model), each trial run to completion.

    Suggests configs where the density of the best ``top_n_percent`` results is
    high relative to that of the others; ``random_fraction`` of suggestions stay
    random. Further options of
    :class:`~aiotune.schedulers.searchers.kde.KernelDensitySearcher` go in
    ``searcher_kwargs``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        top_n_percent: float = 15.0,
        random_fraction: float = 0.33,
        num_candidates: int = 64,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = dict(searcher_kwargs or {})
        kwargs.setdefault("top_n_percent", top_n_percent)
        kwargs.setdefault("random_fraction", random_fraction)
        kwargs.setdefault("num_candidates", num_candidates)
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="kde",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=kwargs,
        )
