"""BOHB: asynchronous successive halving / Hyperband with a kernel-density searcher."""

from __future__ import annotations

from typing import Any

from .._spec import component
from .hyperband import Hyperband
from .searchers import kde as _kde  # noqa: F401 - registers searcher="kde"

__all__ = ["BOHB"]


@component
class BOHB(Hyperband):
    """ASHA/Hyperband whose new configs come from BOHB's KDE model (Syne Tune's ``BOHB``).

    Every result is recorded at the resource level it reports; the KDE is fitted
    on the highest level with enough observations (``num_min_data_points + 2``)
    and proposes where good results are dense relative to bad ones. As in Syne
    Tune, ``brackets=1`` by default (asynchronous successive halving); pass
    ``brackets=None`` for all Hyperband brackets. Options of
    :class:`~aiotune.schedulers.searchers.kde.KernelDensitySearcher` (e.g.
    ``top_n_percent``, ``random_fraction``) go in ``searcher_kwargs``. Unlike
    Syne Tune, the rung cutoffs a model-proposed trial meets are those of the
    randomly drawn trials (``rung_reference="prior"``; ``"all"`` for Syne Tune's).
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
        rung_reference: str = "prior",
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
            searcher="kde",
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )
