"""Grid search: every combination of per-hyperparameter grids, in order or shuffled."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from ..._spec import component
from ...config_space import Domain
from ...errors import InvalidArgumentError
from .base import Searcher, SearcherState, register_searcher

__all__ = ["GridSearcher", "GridSearcherState"]

# A shuffled grid holds a permutation of its indices in memory (8 bytes each).
_MAX_SHUFFLED = 10_000_000


class GridSearcherState(SearcherState, tag="grid_searcher", kw_only=True):
    """Base searcher state plus the position in the grid and the shuffle's seed."""

    position: int = 0
    shuffle_seed: int | None = None


@component
class GridSearcher(Searcher):
    """Walks the grid: all values of categorical, ordinal and ``finrange`` domains,
    ``num_samples`` points of continuous ones, and of integer ones with more values;
    with ``restrict_configurations`` (a table's rows), those configurations instead.

    ``points_to_evaluate`` come first, and grid points equal to one of them are
    skipped. The first key of the space varies slowest (as in
    :func:`aiotune.config_space.grid_configs`); ``shuffle=True`` visits the grid
    in a random order drawn from ``random_seed``. Returns None when done.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str,
        mode: str = "min",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        num_samples: int = 3,
        shuffle: bool = False,
        restrict_configurations: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            config_space, metric, mode, random_seed, points_to_evaluate, restrict_configurations
        )
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise InvalidArgumentError(f"num_samples={num_samples!r} must be an int >= 1")
        if not isinstance(shuffle, bool):
            raise InvalidArgumentError(f"shuffle={shuffle!r} must be a bool")
        self.num_samples = num_samples
        self.shuffle = shuffle
        # The grid is finite even on a continuous space: never repeat one of its points.
        self._track_seen = True
        self._axes: list[list[Any]] = [d.grid(num_samples) for d in self.hp_domains]
        self._radix = [len(a) for a in self._axes]
        self.grid_size = math.prod(self._radix)
        if self.restrict_configurations is not None:  # a table: its rows are the grid
            self.grid_size = len(self.restrict_configurations)
        self._position = 0
        self._shuffle_seed: int | None = None
        self._order: np.ndarray | None = None
        if shuffle:
            if self.grid_size > _MAX_SHUFFLED:
                raise InvalidArgumentError(
                    f"grid of {self.grid_size} points is too large to shuffle "
                    f"(max {_MAX_SHUFFLED}); lower num_samples or use random search"
                )
            self._set_shuffle_seed(int(self.rng.integers(2**62)))

    def _set_shuffle_seed(self, seed: int) -> None:
        self._shuffle_seed = seed
        self._order = np.random.default_rng(seed).permutation(self.grid_size)

    def _grid_point(self, index: int) -> dict[str, Any]:
        """The ``index``-th grid configuration (mixed radix, first key slowest), or the
        ``index``-th of ``restrict_configurations``."""
        if self.restrict_configurations is not None:
            return dict(self.restrict_configurations[index])
        values: list[Any] = [None] * len(self._axes)
        for j in range(len(self._axes) - 1, -1, -1):
            index, r = divmod(index, self._radix[j])
            values[j] = self._axes[j][r]
        it = iter(values)
        return {k: (next(it) if isinstance(v, Domain) else v) for k, v in self.config_space.items()}

    def _suggest(self) -> dict[str, Any] | None:
        while self._position < self.grid_size:
            index = self._position
            self._position += 1
            if self._order is not None:
                index = int(self._order[index])
            config = self._grid_point(index)
            if not self.is_seen(config):
                return config
        return None

    def state(self) -> GridSearcherState:
        """Base state plus grid position and shuffle seed."""
        base = super().state()
        return GridSearcherState(
            **msgspec.structs.asdict(base),
            position=self._position,
            shuffle_seed=self._shuffle_seed,
        )

    def restore(self, state: GridSearcherState | Mapping[str, Any]) -> None:
        """Continue from ``state`` (the grid order is rebuilt from its shuffle seed)."""
        if not isinstance(state, GridSearcherState):
            state = msgspec.convert(state, GridSearcherState)
        self._restore_base(state)
        if state.position < 0 or state.position > self.grid_size:
            raise InvalidArgumentError(
                f"grid position {state.position} outside a grid of {self.grid_size} points"
            )
        self._position = state.position
        if self.shuffle and state.shuffle_seed is not None:
            if state.shuffle_seed != self._shuffle_seed:
                self._set_shuffle_seed(state.shuffle_seed)

    def __repr__(self) -> str:
        return (
            f"GridSearcher(metric={self.metric!r}, mode={self.mode!r}, "
            f"num_samples={self.num_samples}, shuffle={self.shuffle}, grid_size={self.grid_size})"
        )


register_searcher("grid", GridSearcher)
