"""``RecordingSearch``: a RandomSearch that remembers, in its saved state, every hook call.

Its state (written to ``tuner.json``) lists every ``(trial_id, attempt, epoch)``
result it was fed, every trial added, completed and failed, across all the
killed and resumed runs of an experiment: what the tests compare with the log
to prove G4 (exactly once to the scheduler).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from aiotune._spec import component
from aiotune.events import Decision
from aiotune.schedulers.random_search import RandomSearch
from aiotune.trial import Trial


class RecordingState(msgspec.Struct, kw_only=True):
    """RandomSearch's state plus the log of the hooks called so far."""

    fifo: dict[str, Any]
    added: list[int] = []
    fed: list[tuple[int, int, float]] = []
    completed: list[int] = []
    errors: list[int] = []


@component
class RecordingSearch(RandomSearch):
    """RandomSearch whose state records the hooks it was called with (a test probe)."""

    def __init__(
        self,
        config_space: dict[str, Any],
        metric: str | Sequence[str],
        mode: str | Sequence[str] = "min",
        random_seed: int | None = None,
        time_attr: str = "epoch",
    ) -> None:
        super().__init__(config_space, metric, mode, random_seed=random_seed)
        self.time_attr = time_attr
        self.added: list[int] = []
        self.fed: list[tuple[int, int, float]] = []
        self.completed: list[int] = []
        self.errors: list[int] = []

    async def on_trial_add(self, trial: Trial) -> None:
        """Record the trial, then tell the searcher."""
        self.added.append(trial.trial_id)
        await super().on_trial_add(trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Record ``(trial_id, attempt, epoch)``, then feed the searcher."""
        self.fed.append((trial.trial_id, trial.attempt, float(result[self.time_attr])))
        return await super().on_result(trial, result)

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Record the completion."""
        self.completed.append(trial.trial_id)
        await super().on_trial_complete(trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """Record the failure."""
        self.errors.append(trial.trial_id)
        await super().on_trial_error(trial)

    def state(self) -> RecordingState:  # type: ignore[override]
        """The searcher's state and the recorded hook calls."""
        return RecordingState(
            fifo=msgspec.to_builtins(super().state()),
            added=list(self.added),
            fed=list(self.fed),
            completed=list(self.completed),
            errors=list(self.errors),
        )

    def restore(self, state: RecordingState | Mapping[str, Any]) -> None:  # type: ignore[override]
        """Restore the searcher and the recorded calls."""
        if not isinstance(state, RecordingState):
            state = msgspec.convert(state, RecordingState)
        super().restore(state.fifo)
        self.added = list(state.added)
        self.fed = [tuple(x) for x in state.fed]  # type: ignore[misc]
        self.completed = list(state.completed)
        self.errors = list(state.errors)
