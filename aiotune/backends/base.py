"""The backend protocol: how the tuner starts, stops, pauses and resumes trials.

A backend runs trials somewhere (subprocesses, a worker pool, a simulation) and
pushes what happens to them as :data:`aiotune.events.Event` values into the
event stream its ``session`` yields. The tuner loop awaits that stream; it never
polls a backend.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from anyio.streams.memory import MemoryObjectReceiveStream

from ..clock import Clock
from ..events import Event
from ..trial import Trial

__all__ = ["EventStream", "ExperimentPaths", "TrialBackend", "event_waiting"]

EventStream = AsyncIterator[Event]
"""Events of one session, in the order the tuner must see them."""


def event_waiting(events: EventStream) -> Callable[[], bool] | None:
    """A check that ``events`` holds another event already due (None: it cannot tell).

    The tuner then handles that event before starting new trials, so that trials
    ending together are all known when the scheduler suggests. A memory object
    stream answers from its buffer; any other stream by a ``ready_now()`` method
    of its own (the simulator's: the next event is at the current simulated time).
    """
    if isinstance(events, MemoryObjectReceiveStream):
        stream = events
        return lambda: stream.statistics().current_buffer_used > 0
    ready_now = getattr(events, "ready_now", None)
    return ready_now if callable(ready_now) else None


class ExperimentPaths(Protocol):
    """The folders a backend may write to (implemented by ``aiotune.store.ExperimentDir``).

    Absolute paths: trials run in other folders (their script's, a Dask worker's),
    so a relative one handed on to a trial would point elsewhere.
    """

    @property
    def path(self) -> Path: ...

    def trial_dir(self, trial_id: int) -> Path:
        """``<experiment>/trials/<trial_id>``, created on demand."""
        ...

    def checkpoint_dir(self, trial_id: int) -> Path:
        """``<experiment>/trials/<trial_id>/checkpoints``, created on demand."""
        ...


@runtime_checkable
class TrialBackend(Protocol):
    """Runs trials and reports their events.

    Contract:

    * ``start_trial`` launches attempt ``trial.attempt`` of ``trial`` with
      ``trial.config``. Every report becomes a ``ResultEvent`` whose ``seq``
      counts 0, 1, 2, ... within that attempt; when the attempt's process is
      gone, exactly one ``TrialEndedEvent`` follows its last ``ResultEvent``:
      ``COMPLETED`` (exit 0), ``FAILED`` (reason names exit code or signal),
      ``STOPPED`` (after ``stop_trial``) or ``PAUSED`` (after ``pause_trial``).
    * ``stop_trial`` and ``pause_trial`` return once the request is made; the
      ended event arrives when the process is really gone.
    * ``resume_trial`` launches ``trial`` again (a new ``attempt``) from its
      latest checkpoint.
    * ``checkpoint_from`` asks the backend to copy another trial's latest
      checkpoint into the new trial's checkpoint folder before it starts.
    """

    clock: Clock

    def session(
        self, experiment: ExperimentPaths
    ) -> contextlib.AbstractAsyncContextManager[EventStream]:
        """Set up (report server, workers) and yield the event stream; tear down on exit.

        Leaving the context stops every trial still running.
        """
        ...

    async def start_trial(self, trial: Trial, checkpoint_from: int | None = None) -> None: ...

    async def stop_trial(self, trial_id: int) -> None: ...

    async def pause_trial(self, trial_id: int) -> None: ...

    async def resume_trial(self, trial: Trial) -> None: ...

    async def busy_trial_ids(self) -> set[int]:
        """Trial ids whose process is still alive (stopping ones included)."""
        ...
