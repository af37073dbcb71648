"""BORE and ASHABORE: Bayesian optimization by density-ratio estimation (Tiao et al.,
2021) as schedulers."""

from __future__ import annotations

from .._spec import component
from ._named_searcher import NamedSearcherASHA, NamedSearcherFIFO
from .searchers import bore as _bore  # noqa: F401 - registers searcher="bore"

__all__ = ["ASHABORE", "BORE"]


@component
class BORE(NamedSearcherFIFO):
    """Syne Tune's ``BORE``: each trial run to completion, configs from a classifier of
    good vs other results (scikit-learn, the ``surrogate`` extra).

    Options of :class:`~aiotune.schedulers.searchers.bore.BORESearcher` (``gamma``,
    ``classifier``, ``num_candidates``, ...) go in ``searcher_kwargs``.
    """

    searcher_name = "bore"


@component
class ASHABORE(NamedSearcherASHA):
    """Syne Tune's ``ASHABORE``: asynchronous successive halving whose new configs come
    from BORE's classifier, fitted on the highest rung level with enough results.

    As in Syne Tune, the rungs judge every trial against all values recorded there
    (``rung_reference="all"``).
    """

    searcher_name = "bore"
