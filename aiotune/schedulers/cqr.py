"""CQR and ASHACQR: conformal quantile regression (Salinas et al., 2023) as schedulers."""

from __future__ import annotations

from .._spec import component
from ._named_searcher import NamedSearcherASHA, NamedSearcherFIFO
from .searchers import cqr as _cqr  # noqa: F401 - registers searcher="cqr"

__all__ = ["ASHACQR", "CQR"]


@component
class CQR(NamedSearcherFIFO):
    """Syne Tune's ``CQR``: each trial run to completion, configs from conformalized
    quantile regression (gradient-boosted trees; scikit-learn, the ``surrogate`` extra).

    Options of :class:`~aiotune.schedulers.searchers.cqr.CQRSearcher` (``quantiles``,
    ``num_candidates``, ``update_frequency``, ...) go in ``searcher_kwargs``.
    """

    searcher_name = "cqr"


@component
class ASHACQR(NamedSearcherASHA):
    """Syne Tune's ``ASHACQR``: asynchronous successive halving whose new configs come
    from conformalized quantile regression on every trial's latest value.

    As in Syne Tune, the rungs judge every trial against all values recorded there
    (``rung_reference="all"``).
    """

    searcher_name = "cqr"
