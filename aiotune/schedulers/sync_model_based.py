"""Synchronous Hyperband with a model proposing the configs: ``SyncBOHB`` (KDE) and
``SyncMOBSTER`` (GP over config and resource level), Syne Tune's names."""

from __future__ import annotations

from typing import Any

from .._spec import component
from .mobster import gp_searcher_kwargs
from .searchers import kde as _kde  # noqa: F401 - registers searcher="kde"
from .searchers import mf_gp as _mf_gp  # noqa: F401 - registers searcher="bayesopt_mf"
from .sync_hyperband import SyncHyperband

__all__ = ["SyncBOHB", "SyncMOBSTER"]


@component
class SyncBOHB(SyncHyperband):
    """Synchronous Hyperband whose new configs come from BOHB's KDE model.

    As :class:`~aiotune.schedulers.BOHB`, but rungs fill and promote in
    lockstep (:class:`~aiotune.schedulers.SyncHyperband`); options of the KDE
    searcher (``top_n_percent``, ``random_fraction``, ...) go in ``searcher_kwargs``.
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
        brackets: int | None = None,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        resource_attr: str | None = None,
    ) -> None:
        super().__init__(
            config_space,
            metric,
            mode,
            time_attr=time_attr,
            max_t=max_t,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            brackets=brackets,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher="kde",
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            resource_attr=resource_attr,
        )


@component
class SyncMOBSTER(SyncHyperband):
    """Synchronous Hyperband whose new configs maximize expected improvement of a GP over
    (config, resource level), as :class:`~aiotune.schedulers.MOBSTER` does.

    The GP is fitted in a worker thread; its options go in ``searcher_kwargs``.
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
        brackets: int | None = None,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
        max_resource_attr: str | None = None,
        resource_attr: str | None = None,
    ) -> None:
        kwargs = gp_searcher_kwargs(
            searcher_kwargs, config_space, max_t, max_resource_attr, grace_period,
            reduction_factor,
        )
        super().__init__(
            config_space,
            metric,
            mode,
            time_attr=time_attr,
            max_t=max_t,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            brackets=brackets,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher="bayesopt_mf",
            searcher_kwargs=kwargs,
            max_resource_attr=max_resource_attr,
            resource_attr=resource_attr,
        )
