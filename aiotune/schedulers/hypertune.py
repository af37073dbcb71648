"""Hyper-Tune (Li et al., VLDB 2022): MOBSTER with a GP ensemble over the rung levels and,
with several brackets, a bracket distribution learned from it (Syne Tune's ``HyperTune``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._spec import component
from .hyperband import Hyperband
from .mobster import gp_searcher_kwargs
from .searchers import hypertune as _hypertune  # noqa: F401 - registers "hypertune"

__all__ = ["HyperTune"]


@component
class HyperTune(Hyperband):
    """Asynchronous Hyperband whose new configs maximize EI of an ensemble of the GP's
    predictions at each rung level, each level weighted by how well it ranks the
    highest well-supported level's values.

    As in Syne Tune, ``brackets=1`` by default; with more, each new trial's bracket is
    drawn with probability proportional to its level's weight over the level, once
    the weights exist (before that, and for brackets beyond the supported levels,
    Hyperband's default distribution). Options of
    :class:`~aiotune.schedulers.searchers.hypertune.HyperTuneSearcher` (those of
    MOBSTER's searcher and ``num_samples``) go in ``searcher_kwargs``; like our
    MOBSTER, a third of the suggestions after the initial design are random and
    model-proposed trials meet the rung cutoffs of the random ones.
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
            searcher="hypertune",
            searcher_kwargs=kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )
        self._default_probs = np.array(self._probs, dtype=float)

    def _sample_bracket(self) -> int:
        """Draw from the learned head of the bracket distribution and the default tail."""
        if self.num_brackets > 1:
            head = getattr(self.searcher, "bracket_distribution", lambda n: None)(
                self.num_brackets
            )
            if head is not None:
                probs = self._default_probs.copy()
                probs[: head.size] = head * probs[: head.size].sum()
                self._probs = probs / probs.sum()
        return super()._sample_bracket()
