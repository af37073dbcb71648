"""The records of the event log: tagged msgspec Structs, one per kind of entry.

Schema evolution: a new field gets a default and goes last; a new kind of
record gets a new tag. The log opens with a :class:`LogHeader` carrying the
format version, so a reader knows what it is looking at before it decodes more.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..events import ResultEvent, TrialEndedEvent

__all__ = [
    "FORMAT_VERSION",
    "DecisionMade",
    "LogHeader",
    "LogRecord",
    "TrialAdded",
    "TuningEnded",
]

FORMAT_VERSION = 1
"""The event-log format this code writes (and the newest it reads)."""


class LogHeader(msgspec.Struct, tag="header", frozen=True, kw_only=True):
    """First record of every event log: format version, tuner name, creation time (unix)."""

    format_version: int = FORMAT_VERSION
    tuner_name: str
    created: float


class TrialAdded(msgspec.Struct, tag="trial_added", frozen=True, kw_only=True):
    """The tuner started attempt ``attempt`` of trial ``trial_id`` with ``config``."""

    trial_id: int
    attempt: int
    config: dict[str, Any]
    time: float
    checkpoint_from: int | None = None


class DecisionMade(msgspec.Struct, tag="decision", frozen=True, kw_only=True):
    """The scheduler's decision ("continue", "stop", "pause") on result ``seq`` of a trial."""

    trial_id: int
    attempt: int
    seq: int
    decision: str
    time: float


class TuningEnded(msgspec.Struct, tag="tuning_ended", frozen=True, kw_only=True):
    """The tuning loop ended (stopping criterion met, error, cancellation) and why."""

    time: float
    reason: str


LogRecord = LogHeader | TrialAdded | ResultEvent | TrialEndedEvent | DecisionMade | TuningEnded
"""Everything the event log holds, decoded by one typed decoder."""
