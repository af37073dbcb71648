"""Random search: each configuration drawn independently and uniformly from the space."""

from __future__ import annotations

from typing import Any

from ..._spec import component
from .base import Searcher, register_searcher

__all__ = ["RandomSearcher"]


@component
class RandomSearcher(Searcher):
    """Uniform random configurations (``points_to_evaluate`` first); never repeats on finite spaces.

    On a finite space ``suggest`` returns None once every configuration was
    suggested; on an infinite one it never runs out.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        restrict_configurations: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )

    def _suggest(self) -> dict[str, Any] | None:
        return self.random_config()


register_searcher("random", RandomSearcher)
