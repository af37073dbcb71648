"""First-in-first-out scheduling: start what the searcher suggests, never stop a trial early."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import msgspec

from .._spec import component
from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from ._thinking import think
from .base import BaseScheduler
from .searchers import grid as _grid  # noqa: F401  (registers "grid")
from .searchers import random as _random  # noqa: F401  (registers "random")
from .searchers.base import Searcher, resolve_searcher

__all__ = ["FIFOScheduler", "FIFOState"]


class FIFOState(msgspec.Struct, tag="fifo", kw_only=True):
    """A FIFO scheduler's state: its searcher's state as plain data."""

    searcher: dict[str, Any]


@component
class FIFOScheduler(BaseScheduler):
    """Runs every trial to completion; a searcher (by name or instance) picks the configs.

    ``searcher`` is a registered name (``"random"``, ``"grid"``, and whatever
    other modules registered with
    :func:`aiotune.schedulers.searchers.base.register_searcher`) built with
    ``config_space``, the first metric and mode, ``random_seed``,
    ``points_to_evaluate`` and ``searcher_kwargs``; or a ready
    :class:`Searcher`, which then owns those settings. With several metrics
    a multi-objective searcher (``"mo_rea"``, ``"mo_bayesopt"``) gets them all;
    any other optimizes the first. A searcher that ``thinks_hard`` is asked
    in a worker thread, so reports keep flowing while it fits its model.
    """

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        searcher: str | Searcher = "random",
        random_seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        searcher_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(metric, mode)
        if searcher_kwargs is not None and not isinstance(searcher_kwargs, dict):
            raise InvalidArgumentError(
                f"searcher_kwargs must be a dict, got {type(searcher_kwargs).__name__}"
            )
        if isinstance(searcher, str):
            factory = resolve_searcher(searcher)
            several = getattr(factory, "multi_objective", False)
            self.searcher: Searcher = factory(
                config_space,
                metric=self.metric if several else self.metric[0],
                mode=self.mode if several else self.mode[0],
                random_seed=random_seed,
                points_to_evaluate=points_to_evaluate,
                **(searcher_kwargs or {}),
            )
        elif isinstance(searcher, Searcher):
            if points_to_evaluate or searcher_kwargs:
                raise InvalidArgumentError(
                    "points_to_evaluate and searcher_kwargs go to the searcher's constructor "
                    "when a Searcher instance is passed"
                )
            if searcher.multi_objective:
                wanted = (getattr(searcher, "metrics", None), getattr(searcher, "modes", None))
                given = (self.metric, self.mode)
            else:
                wanted, given = (searcher.metric, searcher.mode), (self.metric[0], self.mode[0])
            if wanted != given:
                raise InvalidArgumentError(
                    f"searcher optimizes {wanted[0]!r} ({wanted[1]}) but the scheduler "
                    f"optimizes {given[0]!r} ({given[1]})"
                )
            self.searcher = searcher
        else:
            raise InvalidArgumentError(
                f"searcher must be a name or a Searcher, got {type(searcher).__name__}"
            )
        self.config_space = config_space
        self.random_seed = random_seed
        self._think_lock: anyio.Lock | None = None

    async def suggest(self) -> Suggestion | None:
        """Start the searcher's next config; None once the searcher is exhausted.

        A searcher that thinks hard runs in a worker thread, one ``suggest`` at a
        time; the ``on_*`` hooks keep running on the event loop meanwhile (such a
        searcher guards its own data, as the GP searcher does with a lock).
        """
        searcher = self.searcher
        if searcher.thinks_hard:
            if self._think_lock is None:
                self._think_lock = anyio.Lock()
            async with self._think_lock:
                config = await think(searcher.suggest)
        else:
            config = searcher.suggest()
        if config is None:
            return None
        return Suggestion.start(config)

    async def on_trial_add(self, trial: Trial) -> None:
        """Tell the searcher a trial now runs one of its configs."""
        self.searcher.on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Feed the result to the searcher; FIFO always lets the trial continue."""
        self.searcher.on_result(trial, result)
        return Decision.CONTINUE

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Feed the final result to the searcher."""
        self.searcher.on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """Tell the searcher the trial failed."""
        self.searcher.on_trial_error(trial)

    def state(self) -> FIFOState:
        """The searcher's state, as builtins (JSON- and msgpack-able)."""
        return FIFOState(searcher=msgspec.to_builtins(self.searcher.state()))

    def restore(self, state: FIFOState | Mapping[str, Any]) -> None:
        """Restore the searcher; ``state`` may also be the builtins form of a FIFOState."""
        if not isinstance(state, FIFOState):
            state = msgspec.convert(state, FIFOState)
        state_type = type(self.searcher.state())
        self.searcher.restore(msgspec.convert(state.searcher, state_type))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metric={self.metric!r}, mode={self.mode!r}, "
            f"searcher={self.searcher!r})"
        )
