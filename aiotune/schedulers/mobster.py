"""MOBSTER: asynchronous Hyperband with a Gaussian process over (config, resource level)."""

from __future__ import annotations

from typing import Any, ClassVar

from .._spec import component
from ..errors import InvalidArgumentError
from ._rung_table import rung_levels
from ._scheduler_args import infer_max_t
from .hyperband import Hyperband
from .searchers import mf_gp as _mf_gp  # noqa: F401 - registers searcher="bayesopt_mf"

__all__ = ["MOBSTER"]


@component
class MOBSTER(Hyperband):
    """ASHA/Hyperband whose new configs maximize GP expected improvement (Syne Tune's ``MOBSTER``).

    Results at the rung levels (and ``max_t``) train a GP over the encoded
    config and the resource level; a new config maximizes expected improvement
    at the highest level with enough data, with trials not yet reporting
    counted as pending. The GP is fitted in a worker thread, so results keep
    reaching the scheduler (and trials are stopped on time) while it thinks. As
    in Syne Tune, ``brackets=1`` by default; pass ``brackets=None`` for all
    brackets. Options of
    :class:`~aiotune.schedulers.searchers.mf_gp.MultiFidelityGPSearcher` go in
    ``searcher_kwargs``. Unlike Syne Tune, a ``random_fraction`` (0.33) of the
    suggestions after the initial design is random, and the rung cutoffs a
    model-proposed trial meets are those of the randomly drawn trials
    (``rung_reference="prior"``; ``"all"`` and ``random_fraction=0`` for Syne Tune's).
    The GP's kernel is Matern-5/2 over config and log resource; Syne Tune's default
    exponential-decay learning-curve model is ``searcher_kwargs={"resource_kernel":
    "exp-decay-sum"}`` (or ``"freeze-thaw"``, one curve per config).
    """

    searcher_name: ClassVar[str] = "bayesopt_mf"
    """The registered multi-fidelity GP searcher this scheduler builds."""

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
        kwargs = gp_searcher_kwargs(
            searcher_kwargs, config_space, max_t, max_resource_attr, grace_period,
            reduction_factor,
        )
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
            searcher=self.searcher_name,
            searcher_kwargs=kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )


def gp_searcher_kwargs(
    searcher_kwargs: dict[str, Any] | None,
    config_space: dict[str, Any],
    max_t: Any,
    max_resource_attr: str | None,
    grace_period: Any,
    reduction_factor: Any,
) -> dict[str, Any]:
    """``searcher_kwargs`` for the multi-fidelity GP, its ``fidelity_levels`` filled in
    (the rung levels and ``max_t``) unless given."""
    kwargs = dict(searcher_kwargs or {})
    if "fidelity_levels" not in kwargs:
        kwargs["fidelity_levels"] = _fidelity_levels(
            config_space, max_t, max_resource_attr, grace_period, reduction_factor
        )
    return kwargs


def _fidelity_levels(
    config_space: dict[str, Any],
    max_t: Any,
    max_resource_attr: str | None,
    grace_period: Any,
    reduction_factor: Any,
) -> list[float] | None:
    """The rung levels and ``max_t`` (None if the arguments are invalid: ASHA says why)."""
    try:
        top = infer_max_t(config_space, max_t, max_resource_attr, "MOBSTER")
    except InvalidArgumentError:
        return None
    numbers = (grace_period, reduction_factor)
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        return None
    if not (grace_period >= 1 and reduction_factor >= 2):
        return None
    return [float(v) for v in rung_levels(grace_period, reduction_factor, top)] + [float(top)]
