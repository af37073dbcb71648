"""Hyper-Tune (Li et al., VLDB 2022): MOBSTER with a GP ensemble over the rung levels and,
with several brackets, a bracket distribution learned from it (Syne Tune's ``HyperTune``)."""

from __future__ import annotations

from .._spec import component
from .asha import default_bracket_probabilities
from .mobster import MOBSTER
from .searchers import hypertune as _hypertune  # noqa: F401 - registers "hypertune"

__all__ = ["HyperTune"]


@component
class HyperTune(MOBSTER):
    """Asynchronous Hyperband whose new configs maximize EI of an ensemble of the GP's
    predictions at each rung level, each level weighted by how well it ranks the
    highest well-supported level's values.

    MOBSTER's arguments. As in Syne Tune, ``brackets=1`` by default; with more,
    each new trial's bracket is drawn with probability proportional to its level's
    weight over the level, once the weights exist (before that, and for brackets
    beyond the supported levels, Hyperband's default distribution). Options of
    :class:`~aiotune.schedulers.searchers.hypertune.HyperTuneSearcher` (those of
    MOBSTER's searcher and ``num_samples``) go in ``searcher_kwargs``; like our
    MOBSTER, a third of the suggestions after the initial design are random and
    model-proposed trials meet the rung cutoffs of the random ones.
    """

    searcher_name = "hypertune"

    def _sample_bracket(self) -> int:
        """Draw from the learned head of the bracket distribution and the default tail."""
        if self.num_brackets > 1:
            head = self.searcher.bracket_distribution(self.num_brackets)
            if head is not None:
                probs = default_bracket_probabilities(
                    self.levels, self.max_t, self.num_brackets
                )
                probs[: head.size] = head * probs[: head.size].sum()
                self._probs = probs / probs.sum()
        return super()._sample_bracket()
