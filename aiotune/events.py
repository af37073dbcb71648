"""Decisions, suggestions and the events backends send to the tuner loop.

Events are tagged msgspec Structs: the same types go into the event log, so what
the loop acted on is exactly what a replay sees.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from .trial import TrialStatus

__all__ = [
    "Decision",
    "Event",
    "Metrics",
    "ResultEvent",
    "Suggestion",
    "TrialEndedEvent",
]

Metrics = dict[str, Any]
"""A report: metric name -> int, float or bool (NaN and inf are kept as data)."""


class Decision(enum.Enum):
    """What a scheduler wants done with a trial after one of its results."""

    CONTINUE = "continue"
    STOP = "stop"
    PAUSE = "pause"


class Suggestion(msgspec.Struct, frozen=True, kw_only=True):
    """A scheduler's answer to ``suggest``: start ``config``, or resume a paused trial.

    ``checkpoint_from`` names a trial whose checkpoint the new trial starts from
    (population based training exploits that way).
    """

    config: dict[str, Any] | None = None
    resume_trial_id: int | None = None
    checkpoint_from: int | None = None

    @classmethod
    def start(cls, config: dict[str, Any], checkpoint_from: int | None = None) -> Suggestion:
        """Start a new trial with ``config``."""
        return cls(config=dict(config), checkpoint_from=checkpoint_from)

    @classmethod
    def resume(cls, trial_id: int, config: dict[str, Any] | None = None) -> Suggestion:
        """Resume the paused trial ``trial_id``; ``config`` changes the values of the keys
        it names (Syne Tune's ``config[max_resource_attr]`` = the next milestone)."""
        return cls(resume_trial_id=trial_id, config=config)


class ResultEvent(msgspec.Struct, tag="result", frozen=True, kw_only=True):
    """A trial reported ``metrics``; ``(trial_id, attempt, seq)`` identifies it uniquely."""

    trial_id: int
    attempt: int
    seq: int
    time: float
    metrics: Metrics


class TrialEndedEvent(msgspec.Struct, tag="ended", frozen=True, kw_only=True):
    """A trial's process is gone; ``status`` says how (completed, failed, stopped, paused)."""

    trial_id: int
    attempt: int
    time: float
    status: TrialStatus
    reason: str = ""
    exit_code: int | None = None


Event = ResultEvent | TrialEndedEvent
"""What a backend's event stream yields."""
