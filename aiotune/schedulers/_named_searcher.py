"""FIFO and ASHA schedulers fixed to one registered searcher (CQR, BORE and their ASHA
variants): the argument lists once, the searcher's name per subclass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .asha import ASHA
from .fifo import FIFOScheduler

__all__ = ["NamedSearcherASHA", "NamedSearcherFIFO"]


class NamedSearcherFIFO(FIFOScheduler):
    """Each trial run to completion, configs from the searcher ``searcher_name``.

    Options of the searcher go in ``searcher_kwargs``.
    """

    searcher_name: ClassVar[str]

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
            searcher=self.searcher_name,
            random_seed=random_seed,
            points_to_evaluate=points_to_evaluate,
            searcher_kwargs=searcher_kwargs,
        )


class NamedSearcherASHA(ASHA):
    """Asynchronous successive halving, new configs from the searcher ``searcher_name``.

    The rungs judge every trial against all values recorded there
    (``rung_reference="all"``, Syne Tune's rule): these searchers propose every
    config after their first few, so the randomly drawn ones would be too few to
    serve as the reference.
    """

    searcher_name: ClassVar[str]

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
            searcher=self.searcher_name,
            searcher_kwargs=searcher_kwargs,
            max_resource_attr=max_resource_attr,
            rung_reference=rung_reference,
        )
