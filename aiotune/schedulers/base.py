"""The scheduler protocol (async decision provider) and a base class for implementations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial

__all__ = ["BaseScheduler", "Scheduler", "normalize_metric_mode"]


@runtime_checkable
class Scheduler(Protocol):
    """Decides which configurations to start and what to do with each result.

    The tuner assigns trial ids: after ``suggest`` returns a new config, it calls
    ``on_trial_add`` with the created :class:`Trial`. ``suggest`` returning
    ``None`` means the space is exhausted: the tuner finishes the running trials
    and ends.

    On a real-time backend the tuner handles events while ``suggest`` awaits (a
    model fit in a worker thread), so the ``on_*`` hooks may run between its
    awaits; one ``suggest`` runs at a time. A suggestion to resume a trial that
    has meanwhile ended otherwise than paused is declined (logged).
    """

    metric: list[str]
    mode: list[str]

    async def suggest(self) -> Suggestion | None: ...

    async def on_trial_add(self, trial: Trial) -> None: ...

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision: ...

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None: ...

    async def on_trial_error(self, trial: Trial) -> None: ...

    def state(self) -> msgspec.Struct: ...

    def restore(self, state: msgspec.Struct) -> None: ...


def normalize_metric_mode(
    metric: str | Sequence[str], mode: str | Sequence[str]
) -> tuple[list[str], list[str]]:
    """Turn ``metric``/``mode`` (one or several) into equal-length lists, validating both."""
    if isinstance(metric, str):
        metrics = [metric]
    elif isinstance(metric, Sequence):
        metrics = list(metric)
    else:
        metrics = []
    if not metrics or not all(isinstance(m, str) and m for m in metrics):
        raise InvalidArgumentError(
            f"metric must be a non-empty name or list of names, got {metric!r}"
        )
    if len(set(metrics)) != len(metrics):
        raise InvalidArgumentError(f"metric names repeat: {metrics!r}")
    modes = [mode] * len(metrics) if isinstance(mode, str) else list(mode)
    if len(modes) != len(metrics):
        raise InvalidArgumentError(f"mode {mode!r} does not match metric {metric!r} in length")
    for m in modes:
        if m not in ("min", "max"):
            raise InvalidArgumentError(f"mode must be 'min' or 'max', got {m!r}")
    return metrics, modes


class BaseScheduler:
    """Defaults for the optional hooks, and metric helpers shared by schedulers.

    Subclasses implement ``suggest`` and usually ``on_result``; NaN metric values
    are "no usable value" everywhere (:meth:`metric_value` returns ``None``).
    """

    def __init__(self, metric: str | Sequence[str], mode: str | Sequence[str] = "min") -> None:
        self.metric, self.mode = normalize_metric_mode(metric, mode)

    async def suggest(self) -> Suggestion | None:
        raise NotImplementedError

    async def on_trial_add(self, trial: Trial) -> None:
        return None

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        return Decision.CONTINUE

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        return None

    async def on_trial_error(self, trial: Trial) -> None:
        return None

    async def on_trial_remove(self, trial: Trial) -> None:
        """Called when the tuner stopped ``trial`` (a STOP decision or the end of the run)."""
        return None

    def state(self) -> msgspec.Struct:
        return _EmptyState()

    def restore(self, state: msgspec.Struct) -> None:
        return None

    def metric_value(self, result: Mapping[str, Any], index: int = 0) -> float | None:
        """The ``index``-th metric as a float to *minimize*, or None if missing or NaN."""
        value = result.get(self.metric[index])
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        value = float(value)
        if math.isnan(value):
            return None
        return value if self.mode[index] == "min" else -value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metric={self.metric!r}, mode={self.mode!r})"


class _EmptyState(msgspec.Struct, tag="empty"):
    """State of a scheduler that keeps none."""
