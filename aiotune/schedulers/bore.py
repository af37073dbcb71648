"""BORE and ASHABORE: Bayesian optimization by density-ratio estimation (Tiao et al.,
2021) as schedulers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .asha import ASHA
from .fifo import FIFOScheduler
from .searchers import bore as _bore  # noqa: F401 - registers searcher="bore"

__all__ = ["ASHABORE", "BORE"]


@component
class BORE(FIFOScheduler):
    """Syne Tune's ``BORE``: each trial run to completion, configs from a classifier of
    good vs other results (scikit-learn, the ``surrogate`` extra).

    Options of :class:`~aiotune.schedulers.searchers.bore.BORESearcher` (``gamma``,
    ``classifier``, ``num_candidates``, ...) go in ``searcher_kwargs``.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            config_space,
            metric,
            mode,
            searcher="bore",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=searcher_kwargs,
        )


@component
class ASHABORE(ASHA):
    """Syne Tune's ``ASHABORE``: asynchronous successive halving whose new configs come
    from BORE's classifier, fitted on the highest rung level with enough results.

    As in Syne Tune, the rungs judge every trial against all values recorded
    there (``rung_reference="all"``): BORE proposes every config after its first
    few, so the randomly drawn ones would be too few to serve as the reference.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        time_attr: str | None = None,
        max_t: int | None = None,
        grace_period: int = 1,
        reduction_factor: float = 3,
        type: str = "stopping",
        brackets: int | None = 1,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        rung_reference: str = "all",
        resource_attr: str | None = None,
    ) -> None:
        super().__init__(
            config_space,
            metric,
            mode=mode,
            time_attr=time_attr,
            resource_attr=resource_attr,
            max_t=max_t,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            type=type,
            brackets=brackets,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher="bore",
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )
