"""Asynchronous Hyperband: ASHA over several brackets, one drawn per new trial."""

from __future__ import annotations

from typing import Any

from .._spec import component
from .asha import ASHA
from .searchers.base import Searcher

__all__ = ["Hyperband"]


@component
class Hyperband(ASHA):
    """Asynchronous Hyperband (Syne Tune's ``HyperbandScheduler`` with several brackets).

    Bracket ``s`` skips the ``s`` lowest rung levels (its grace period is the
    ``s``-th rung level); a new trial draws its bracket with probability
    proportional to the number of slots that bracket has in synchronous
    Hyperband, as Syne Tune does. Each bracket keeps its own rungs.
    ``brackets=None`` (the default) uses every bracket: ``len(rung_levels) + 1``.
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
        brackets: int | None = None,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher: str | Searcher = "random",
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
            searcher=searcher,
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )

    @property
    def bracket_probabilities(self) -> list[float]:
        """The probability of each bracket for a new trial."""
        return [float(p) for p in self._probs]
