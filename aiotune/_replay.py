"""Rebuild trials, status, results table and scheduler from an event log (``Tuner.load``).

The replay mirrors what the tuning loop (:mod:`aiotune._loop`) did with each
record, in log order:

* status and results table: every record (each result once: duplicates by
  ``(trial_id, attempt, seq)`` are dropped, G4); a completed trial without
  results is failed, a paused trial that was stopped is stopped, a failed
  attempt followed by its retry is not counted as a failure;
* the scheduler: only the records after the ``tuner.json`` snapshot (its saved
  state already reflects the others), through its hooks, in the order the loop
  called them: ``suggest`` + ``on_trial_add`` for a new trial, ``suggest`` for a
  resumed one, ``on_result`` for a result the loop acted on, ``on_trial_remove``
  after a logged STOP decision, ``on_trial_complete`` / ``on_trial_error`` for
  an end. Calling ``suggest`` again moves a seeded searcher's generator (and a
  grid's position) exactly where the dead run had it; what it returns is
  discarded, the logged config is what ran.

Trials still running at the end of the log (the tuner died) are returned as
*interrupted*; :mod:`aiotune._resume` decides what becomes of them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ._loop import ended_status
from .events import Decision, ResultEvent, TrialEndedEvent
from .status import TuningStatus
from .store.records import DecisionMade, TrialAdded
from .store.results_table import ResultsTable
from .trial import Trial, TrialStatus

__all__ = [
    "INTERRUPTED",
    "LogReplay",
    "feed_scheduler",
    "frame_end_offsets",
    "replay",
    "retried_ends",
    "time_origin",
]

INTERRUPTED = "interrupted: the tuner ended while the trial ran"

_FRAME = struct.Struct(">II")
_UNIX_EPOCH_2001 = 1e9  # a clock reading above this is unix time, below it virtual time


def frame_end_offsets(data: bytes, count: int) -> list[int]:
    """Byte offset where each of the first ``count`` records after the header ends."""
    ends: list[int] = []
    off = 0
    first = True
    while off + _FRAME.size <= len(data) and len(ends) < count:
        (length, _crc) = _FRAME.unpack_from(data, off)
        off += _FRAME.size + length
        if first:
            first = False
            continue
        ends.append(off)
    return ends


def time_origin(created: float, records: Sequence[Any]) -> float:
    """What logged times are measured from: the log's creation (unix) or 0 (a virtual clock)."""
    for record in records:
        t = getattr(record, "time", None)
        if isinstance(t, int | float):
            return created if t > _UNIX_EPOCH_2001 else 0.0
    return created


class LogReplay:
    """Replays logged records into a status, a results table and (optionally) a scheduler."""

    def __init__(self, status: TuningStatus, results: ResultsTable, origin: float) -> None:
        self.status = status
        self.results = results
        self.origin = origin
        self.trials: dict[int, Trial] = {}
        self.seen: set[tuple[int, int, int]] = set()
        self.decided: dict[int, Decision] = {}
        self.num_results: dict[int, int] = {}
        self.clones: set[int] = set()  # trials started from another trial's checkpoint
        self.last_time = 0.0

    # ---- status and results (synchronous) -----------------------------------------------
    def apply(self, record: Any, retried: bool = False) -> str | None:
        """Apply one record to status and results; name the scheduler hook the loop called.

        Returns one of ``"add"``, ``"resume"``, ``"result"``, ``"remove"``,
        ``"complete"``, ``"error"``, or None when the loop told the scheduler nothing.
        ``retried``: this is a FAILED end the loop retried at once (no ``on_trial_error``).
        """
        t = getattr(record, "time", None)
        if isinstance(t, int | float):
            self.last_time = max(self.last_time, t - self.origin)
        if isinstance(record, TrialAdded):
            return self._added(record)
        if isinstance(record, ResultEvent):
            return self._result(record)
        if isinstance(record, DecisionMade):
            trial = self.trials.get(record.trial_id)
            if trial is None or record.attempt != trial.attempt:
                return None
            decision = Decision(record.decision)
            self.decided[record.trial_id] = decision
            return "remove" if decision is Decision.STOP else None
        if isinstance(record, TrialEndedEvent):
            return self._ended(record, retried)
        return None

    def _added(self, record: TrialAdded) -> str:
        trial = self.trials.get(record.trial_id)
        hook = "resume"
        if trial is None:
            trial = Trial(
                trial_id=record.trial_id,
                config=dict(record.config),
                creation_time=record.time - self.origin,
            )
            self.trials[record.trial_id] = trial
            self.status.on_trial_started(trial.trial_id, trial.config)
            self.results.add_trial(trial.trial_id, trial.config)
            if record.checkpoint_from is not None:
                self.clones.add(trial.trial_id)
            hook = "add"
        else:
            if trial.status is TrialStatus.FAILED:
                hook = "retry"
            trial.config = dict(record.config)
            self.status.on_trial_resumed(trial.trial_id, trial.config)
            self.results.add_trial(trial.trial_id, trial.config)
        trial.attempt = record.attempt
        trial.status = TrialStatus.RUNNING
        self.decided.pop(trial.trial_id, None)
        self.results.set_status(trial.trial_id, TrialStatus.RUNNING.value)
        return hook

    def _result(self, record: ResultEvent) -> str | None:
        key = (record.trial_id, record.attempt, record.seq)
        trial = self.trials.get(record.trial_id)
        if key in self.seen or trial is None:
            return None
        self.seen.add(key)
        self.status.on_result(record.trial_id, record.metrics)
        self.results.add_result(record.trial_id, record.time - self.origin, record.metrics)
        if (
            record.attempt != trial.attempt
            or record.trial_id in self.decided
            or trial.status is not TrialStatus.RUNNING
        ):
            return None  # a late result: logged, never shown to the scheduler
        return "result"

    def _ended(self, record: TrialEndedEvent, retried: bool) -> str | None:
        trial = self.trials.get(record.trial_id)
        if trial is None or record.attempt != trial.attempt:
            return None
        tid = trial.trial_id
        decided = self.decided.pop(tid, None)
        status, reason = ended_status(
            record, decided, self.status.trials[tid].num_results, tid in self.clones
        )
        trial.status = status
        trial.reason = reason
        if status is TrialStatus.FAILED and retried:
            return None
        self.status.on_trial_ended(tid, status, reason)
        self.results.set_status(tid, status.value)
        if status is TrialStatus.COMPLETED:
            return "complete"
        if status is TrialStatus.FAILED:
            return "error"
        return None

    def interrupted(self) -> list[Trial]:
        """Trials still running at the end of the log (their tuner died)."""
        return [t for t in self.trials.values() if t.status is TrialStatus.RUNNING]


def retried_ends(records: Sequence[Any]) -> set[int]:
    """Indices of FAILED ends the loop retried at once (the next record restarts the trial)."""
    out: set[int] = set()
    for i, record in enumerate(records[:-1]):
        if isinstance(record, TrialEndedEvent) and record.status is TrialStatus.FAILED:
            nxt = records[i + 1]
            if (
                isinstance(nxt, TrialAdded)
                and nxt.trial_id == record.trial_id
                and nxt.attempt == record.attempt + 1
            ):
                out.add(i)
    return out


async def feed_scheduler(
    scheduler: Any,
    replay: LogReplay,
    records: Sequence[Any],
    start: int,
    trials: dict[int, Trial] | None = None,
) -> None:
    """Replay ``records`` into ``replay``; call the scheduler's hooks for those from ``start`` on.

    Records before ``start`` must already have been applied to ``replay``. The
    scheduler is handed the objects of ``trials`` (the tuner's own) where given.
    """
    retried = retried_ends(records)
    on_remove = getattr(scheduler, "on_trial_remove", None)
    for i in range(start, len(records)):
        record = records[i]
        hook = replay.apply(record, i in retried)
        if hook is None or hook == "retry":
            continue
        trial = replay.trials[record.trial_id]
        if trials is not None:
            trial = trials.get(record.trial_id, trial)
        if hook == "add":
            await scheduler.suggest()
            await scheduler.on_trial_add(trial)
        elif hook == "resume":
            await scheduler.suggest()
        elif hook == "result":
            await scheduler.on_result(trial, record.metrics)
        elif hook == "remove":
            if on_remove is not None:
                await on_remove(trial)
        elif hook == "complete":
            last = replay.status.trials[trial.trial_id].last_result
            await scheduler.on_trial_complete(trial, last)
        elif hook == "error":
            await scheduler.on_trial_error(trial)


def replay(
    records: Sequence[Any], status: TuningStatus, results: ResultsTable, start_time: float
) -> dict[int, Trial]:
    """Apply logged records to ``status`` and ``results``; return the trials by id.

    Trials still running at the end of the log (the tuner died) end as STOPPED
    with :data:`INTERRUPTED` as their reason; they do not count as failures.
    (The reading side, :mod:`aiotune.experiments`, uses this; ``Tuner.load``
    uses :class:`LogReplay` and :mod:`aiotune._resume`.)
    """
    records = list(records)
    rep = LogReplay(status, results, time_origin(start_time, records))
    retried = retried_ends(records)
    for i, record in enumerate(records):
        rep.apply(record, i in retried)
    for trial in rep.interrupted():
        trial.status = TrialStatus.STOPPED
        trial.reason = INTERRUPTED
        status.on_trial_ended(trial.trial_id, TrialStatus.STOPPED, INTERRUPTED)
        results.set_status(trial.trial_id, TrialStatus.STOPPED.value)
    return rep.trials
