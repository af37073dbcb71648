"""Gaussian-process Bayesian optimization as a scheduler: FIFO with the ``"bayesopt"``
searcher, or with ``"bayesopt_constrained"`` under a black-box constraint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .fifo import FIFOScheduler
from .searchers import bayesopt as _bayesopt  # noqa: F401 - registers searcher="bayesopt"
from .searchers import constrained_bayesopt as _constrained  # noqa: F401 - its searcher

__all__ = ["BayesianOptimization", "ConstrainedBayesianOptimization"]


@component
class BayesianOptimization(FIFOScheduler):
    """GP-based BO (Matern-5/2 ARD, expected improvement), each trial run to completion.

    The first ``num_init_random`` configs (default ``max(5, encoded dim + 1)``)
    are random; after that a GP fitted to the results picks the config of
    highest expected improvement, with running trials counted as pending
    (kriging believer fantasies) so parallel workers explore different places.
    The model is fitted in a worker thread: results keep reaching the
    scheduler while it thinks. Further
    options of :class:`~aiotune.schedulers.searchers.bayesopt.BayesOptSearcher`
    go in ``searcher_kwargs``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        num_init_random: int | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = dict(searcher_kwargs or {})
        if num_init_random is not None:
            kwargs["num_init_random"] = num_init_random
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="bayesopt",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=kwargs,
        )


@component
class ConstrainedBayesianOptimization(FIFOScheduler):
    """GP-based BO under a black-box constraint (Syne Tune's name): trials report
    ``metric`` and ``constraint_attr``, and a config is feasible when the latter is <= 0.

    The next config maximizes expected improvement over the best feasible value
    times the probability, under a second GP, that the constraint holds (only
    that probability until a feasible config is found). Options as for
    :class:`BayesianOptimization`.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        constraint_attr: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        num_init_random: int | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = dict(searcher_kwargs or {}, constraint_attr=constraint_attr)
        if num_init_random is not None:
            kwargs["num_init_random"] = num_init_random
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="bayesopt_constrained",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=kwargs,
        )
