"""Transfer learning from earlier tasks' evaluations: Syne Tune's ``ZeroShotTransfer`` and
``ASHACTS`` (``BoundingBox`` and ``RUSH`` have modules of their own).

Each takes ``transfer_learning_evaluations``, a dict of task name to
:class:`TransferLearningTaskEvaluations` (the configurations an earlier task
evaluated and their values), for the same hyperparameters as this search.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._spec import component
from ._named_searcher import NamedSearcherASHA, NamedSearcherFIFO
from .searchers import cts as _cts  # noqa: F401 - registers searcher="cts"
from .searchers import zero_shot as _zero_shot  # noqa: F401 - registers searcher="zero_shot"
from .searchers._transfer_data import TransferLearningTaskEvaluations

__all__ = ["ASHACTS", "TransferLearningTaskEvaluations", "ZeroShotTransfer"]


def _with_evaluations(
    searcher_kwargs: dict[str, Any] | None, evaluations: Any
) -> dict[str, Any]:
    kwargs = dict(searcher_kwargs or {})
    kwargs["transfer_learning_evaluations"] = evaluations
    return kwargs


@component
class ZeroShotTransfer(NamedSearcherFIFO):
    """Syne Tune's ``ZeroShotTransfer``: the earlier tasks' configurations in the order of a
    greedily built portfolio of lowest average rank over those tasks (Wistuba et al.,
    2015), each run to completion; the run ends when they are used up.

    The tasks must have evaluated the same configurations (matched by value, in
    any order, so Syne Tune's ``sort_transfer_learning_evaluations`` is accepted
    but not needed), unless ``use_surrogates=True``: then one regressor per task
    predicts the values of common random configurations (the ``surrogate`` extra).
    """

    searcher_name = "zero_shot"

    def __init__(
        self,
        config_space: dict[str, Any],
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
        metric: str,
        mode: str = "min",
        sort_transfer_learning_evaluations: bool = True,
        use_surrogates: bool = False,
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        kwargs = _with_evaluations(searcher_kwargs, transfer_learning_evaluations)
        kwargs["use_surrogates"] = use_surrogates
        super().__init__(config_space, metric, mode, random_seed, points_to_evaluate, kwargs)


@component
class ASHACTS(NamedSearcherASHA):
    """Syne Tune's ``ASHACTS``: asynchronous successive halving whose new configs are
    Thompson samples of a quantile-normalized regressor of the earlier tasks' values
    (Salinas et al., 2020; the ``surrogate`` extra).

    Every ASHA argument (``max_t``, ``time_attr``, ``grace_period``, ``type``, ...) is
    accepted by name; searcher options (``normalization``, ``regressor``,
    ``num_candidates``) go in ``searcher_kwargs``.
    """

    searcher_name = "cts"

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        transfer_learning_evaluations: Mapping[str, TransferLearningTaskEvaluations],
        mode: str = "min",
        searcher_kwargs: dict[str, Any] | None = None,
        **asha_kwargs: Any,
    ) -> None:
        kwargs = _with_evaluations(searcher_kwargs, transfer_learning_evaluations)
        super().__init__(config_space, metric, mode, searcher_kwargs=kwargs, **asha_kwargs)
