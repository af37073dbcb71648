"""Model-based multi-objective search, trials run to completion: ``MOREA``,
``NSGA2``, ``MORandomScalarizationBayesOpt``, ``MOLinearScalarizationBayesOpt`` and
``EHVI`` (Syne Tune's names), FIFO with the ``"mo_rea"``, ``"nsga2"``,
``"mo_bayesopt"``, ``"mo_linear_bayesopt"`` and ``"ehvi"`` searchers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .._spec import component
from ._scheduler_args import objective_names
from .fifo import FIFOScheduler
from .searchers import ehvi as _ehvi  # noqa: F401 - registers "ehvi"
from .searchers import mo_bayesopt as _mo_bayesopt  # noqa: F401 - registers "mo_bayesopt"
from .searchers import mo_rea as _mo_rea  # noqa: F401 - registers "mo_rea"
from .searchers import nsga2 as _nsga2  # noqa: F401 - registers "nsga2"

__all__ = [
    "EHVI",
    "MOREA",
    "NSGA2",
    "MOLinearScalarizationBayesOpt",
    "MORandomScalarizationBayesOpt",
]


@component
class MOREA(FIFOScheduler):
    """Multi-objective regularized evolution: the parent is the best of ``sample_size``
    random members of the recent population by non-dominated front, then crowding.

    ``metric`` lists the objectives (Syne Tune's ``metrics=`` is accepted too),
    ``mode`` is one mode or one per metric; ``searcher_kwargs`` go to the
    searcher (e.g. ``restrict_configurations``).
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        population_size: int = 100,
        sample_size: int = 10,
        searcher_kwargs: dict[str, Any] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        names = objective_names(type(self).__name__, metric, metrics, "REA")
        super().__init__(
            config_space,
            names,
            mode,
            searcher="mo_rea",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs={
                "population_size": population_size,
                "sample_size": sample_size,
                **(searcher_kwargs or {}),
            },
        )


@component
class NSGA2(FIFOScheduler):
    """NSGA-II, steady state: each suggestion is one child of two tournament winners of
    the population (the ``population_size`` best members by front, then crowding), so
    it never waits for a generation and runs on any number of workers.

    ``metric`` lists the objectives (Syne Tune's ``metrics=`` is accepted too),
    ``mode`` is one mode or one per metric; ``searcher_kwargs`` go to the searcher:
    ``crossover_probability`` (0.9), ``crossover_eta`` (15), ``mutation_eta`` (20),
    ``restrict_configurations``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        population_size: int = 20,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        names = objective_names(type(self).__name__, metric, metrics, "RandomSearch")
        super().__init__(
            config_space,
            names,
            mode,
            searcher="nsga2",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs={"population_size": population_size, **(searcher_kwargs or {})},
        )


class _GPSearcherFIFO(FIFOScheduler):
    """Trials run to completion, configs from the multi-objective GP searcher
    ``searcher_name``; ``metric`` lists the objectives (Syne Tune's ``metrics=`` is
    accepted too), ``mode`` is one mode or one per metric."""

    searcher_name: ClassVar[str]

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str] | None = None,
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        names = objective_names(type(self).__name__, metric, metrics, "BayesianOptimization")
        super().__init__(
            config_space,
            names,
            mode,
            searcher=self.searcher_name,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=searcher_kwargs,
        )


@component
class MORandomScalarizationBayesOpt(_GPSearcherFIFO):
    """Gaussian-process BO of a random Chebyshev scalarization of the objectives, drawn
    anew for every suggestion (ParEGO), so the suggestions spread along the front.

    ``metric`` lists the objectives (Syne Tune's ``metrics=`` is accepted too),
    ``mode`` is one mode or one per metric; ``searcher_kwargs`` go to the
    searcher: ``rho`` (the weight of the sum in the scalarization, 0.05) and
    every option of ``BayesianOptimization``'s GP searcher.
    """

    searcher_name = "mo_bayesopt"


@component
class MOLinearScalarizationBayesOpt(FIFOScheduler):
    """Gaussian-process BO of one fixed weighted sum of the objectives (each taken to
    minimize): for a known trade-off; ``scalarization_weights`` default to all 1.

    ``metric`` lists the objectives (Syne Tune's ``metrics=`` is accepted too),
    ``mode`` is one mode or one per metric; ``searcher_kwargs`` go to the GP
    searcher, as for ``BayesianOptimization``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: Sequence[str] | None = None,
        scalarization_weights: Sequence[float] | None = None,
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> None:
        names = objective_names(type(self).__name__, metric, metrics, "BayesianOptimization")
        super().__init__(
            config_space,
            names,
            mode,
            searcher="mo_linear_bayesopt",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs={"scalarization_weights": scalarization_weights,
                             **(searcher_kwargs or {})},
        )


@component
class EHVI(_GPSearcherFIFO):
    """Gaussian-process BO of the expected hypervolume improvement: one GP per objective,
    the next config the one expected to grow the observed front's hypervolume most
    (computed exactly, Syne Tune's ``EHVI`` uses Monte Carlo).

    ``metric`` lists the objectives (Syne Tune's ``metrics=`` is accepted too),
    ``mode`` is one mode or one per metric; ``searcher_kwargs`` go to the GP
    searcher, as for ``BayesianOptimization``.
    """

    searcher_name = "ehvi"
