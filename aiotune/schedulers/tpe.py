"""TPE as a scheduler: FIFO with Optuna's tree-structured Parzen estimator (``"tpe"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .fifo import FIFOScheduler
from .searchers import tpe as _tpe  # noqa: F401 - registers searcher="tpe"

__all__ = ["TPE"]


@component
class TPE(FIFOScheduler):
    """Tree-structured Parzen estimator search as Optuna's ``TPESampler``, each trial
    run to completion.

    ``n_startup_trials`` random configs first; then each suggestion is the best of
    ``n_ei_candidates`` draws from the density of the best trials by its ratio to
    the density of the others. As in Optuna 5, ``multivariate`` (the default)
    models the hyperparameters jointly and ``constant_liar`` counts running
    trials among the bad ones, so parallel workers spread out. Further options of
    :class:`~aiotune.schedulers.searchers.tpe.TPESearcher` go in ``searcher_kwargs``;
    BOHB's kernel density model is ``FIFOScheduler(..., searcher="kde")``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool = True,
        constant_liar: bool = True,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = dict(searcher_kwargs or {})
        kwargs.setdefault("n_startup_trials", n_startup_trials)
        kwargs.setdefault("n_ei_candidates", n_ei_candidates)
        kwargs.setdefault("multivariate", multivariate)
        kwargs.setdefault("constant_liar", constant_liar)
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="tpe",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=kwargs,
        )
