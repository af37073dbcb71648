"""CQR and ASHACQR: conformal quantile regression (Salinas et al., 2023) as schedulers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._spec import component
from .asha import ASHA
from .fifo import FIFOScheduler
from .searchers import cqr as _cqr  # noqa: F401 - registers searcher="cqr"

__all__ = ["ASHACQR", "CQR"]


@component
class CQR(FIFOScheduler):
    """Syne Tune's ``CQR``: each trial run to completion, configs from conformalized
    quantile regression (gradient-boosted trees; scikit-learn, the ``surrogate`` extra).

    Options of :class:`~aiotune.schedulers.searchers.cqr.CQRSearcher` (``quantiles``,
    ``num_candidates``, ``update_frequency``, ...) go in ``searcher_kwargs``.
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
            searcher="cqr",
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=searcher_kwargs,
        )


@component
class ASHACQR(ASHA):
    """Syne Tune's ``ASHACQR``: asynchronous successive halving whose new configs come
    from conformalized quantile regression on every trial's latest value.

    As in Syne Tune, the rungs judge every trial against all values recorded
    there (``rung_reference="all"``): CQR proposes every config after its first
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
            searcher="cqr",
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )
