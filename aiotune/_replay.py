"""Rebuild trials, status and the results table from an event log (``Tuner.load``).

A replay feeds each logged result once (duplicates by ``(trial_id, attempt,
seq)`` are dropped), so a loaded run counts exactly what the earlier run did.
"""

from __future__ import annotations

from collections.abc import Iterable

from .events import ResultEvent, TrialEndedEvent
from .status import TuningStatus
from .store.records import LogRecord, TrialAdded
from .store.results_table import ResultsTable
from .trial import Trial, TrialStatus

__all__ = ["INTERRUPTED", "replay"]

INTERRUPTED = "interrupted: the tuner ended while the trial ran"


def replay(
    records: Iterable[LogRecord], status: TuningStatus, results: ResultsTable, start_time: float
) -> dict[int, Trial]:
    """Apply logged records to ``status`` and ``results``; return the trials by id.

    Trials still running at the end of the log (the tuner died) end as STOPPED
    with :data:`INTERRUPTED` as their reason; they do not count as failures.
    """
    trials: dict[int, Trial] = {}
    seen: set[tuple[int, int, int]] = set()
    for record in records:
        if isinstance(record, TrialAdded):
            trial = trials.get(record.trial_id)
            if trial is None:
                trial = Trial(
                    trial_id=record.trial_id,
                    config=dict(record.config),
                    creation_time=record.time - start_time,
                )
                trials[record.trial_id] = trial
                status.on_trial_started(trial.trial_id, trial.config)
                results.add_trial(trial.trial_id, trial.config)
            else:
                trial.config = dict(record.config)
                status.on_trial_resumed(trial.trial_id, trial.config)
            trial.attempt = record.attempt
            trial.status = TrialStatus.RUNNING
        elif isinstance(record, ResultEvent):
            key = (record.trial_id, record.attempt, record.seq)
            if key in seen or record.trial_id not in trials:
                continue
            seen.add(key)
            status.on_result(record.trial_id, record.metrics)
            results.add_result(record.trial_id, record.time - start_time, record.metrics)
        elif isinstance(record, TrialEndedEvent):
            trial = trials.get(record.trial_id)
            if trial is None or record.attempt != trial.attempt:
                continue
            trial.status = record.status
            trial.reason = record.reason
            status.on_trial_ended(record.trial_id, record.status, record.reason)
            results.set_status(record.trial_id, record.status.value)
    for trial in trials.values():
        if trial.status is TrialStatus.RUNNING:
            trial.status = TrialStatus.STOPPED
            trial.reason = INTERRUPTED
            status.on_trial_ended(trial.trial_id, TrialStatus.STOPPED, INTERRUPTED)
            results.set_status(trial.trial_id, TrialStatus.STOPPED.value)
    return trials
