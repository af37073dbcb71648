"""Trials and their status: the records every room shares."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

__all__ = ["Trial", "TrialStatus"]


class TrialStatus(enum.StrEnum):
    """Where a trial is in its life; ``is_finished`` says whether it can still report."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"

    def is_finished(self) -> bool:
        """True for the states a trial never leaves on its own (completed, stopped, failed)."""
        return self in _FINISHED

    def is_active(self) -> bool:
        """True while the trial occupies a worker."""
        return self is TrialStatus.RUNNING


_FINISHED = frozenset({TrialStatus.COMPLETED, TrialStatus.STOPPED, TrialStatus.FAILED})


class Trial(msgspec.Struct, kw_only=True):
    """One configuration being evaluated; ``attempt`` counts restarts of the same trial id."""

    trial_id: int
    config: dict[str, Any]
    creation_time: float = 0.0
    attempt: int = 0
    status: TrialStatus = TrialStatus.PENDING
    reason: str = ""

    def __repr__(self) -> str:
        return (
            f"Trial(trial_id={self.trial_id}, status={self.status.value}, "
            f"attempt={self.attempt}, config={self.config!r})"
        )
