"""``Tuner.load``: rebuild a tuner from ``tuner.json`` plus its event log, and resume it (G8).

Loading (synchronous, nothing in the folder is executed):

1. ``tuner.json`` gives the constructor arguments, the specs of aiotune's own
   backend and scheduler, the scheduler's saved state and ``log_offset``, the
   log size that state reflects;
2. the whole log is replayed into the status and the results table, so the
   stopping criterion counts what was done before and nothing reported is lost;
3. trial processes the dead tuner left running are found (process group and
   start time, or their environment) and killed.

When the resumed run starts (inside the backend's session, before any trial
is started) :meth:`ResumePlan.apply` feeds the scheduler the records logged
after the snapshot, then deals with the interrupted trials: each one's attempt
is logged as FAILED ("interrupted ...") and, when the backend can restart a
trial from its checkpoint folder, restarted at once as a new attempt (a retry,
not a failure); otherwise it stays failed and the scheduler hears
``on_trial_error``.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ._replay import INTERRUPTED, LogReplay, feed_scheduler, frame_end_offsets, retried_ends
from ._replay import time_origin as _time_origin
from ._spec import NotSerializableError, from_spec
from ._tuner_state import TunerState
from .errors import InvalidArgumentError, LogCorruptError, StorageError
from .events import TrialEndedEvent
from .schedulers.sync_adapter import as_async_scheduler
from .status import TuningStatus
from .stopping import StoppingCriterion
from .store.atomic import read_json
from .store.event_log import KnownLog, log_fingerprint, parse_log, tail_of
from .store.experiment_dir import ExperimentDir
from .store.results_table import ResultsTable
from .trial import Trial, TrialStatus

if TYPE_CHECKING:
    from ._loop import TuningRun

__all__ = ["ResumePlan", "can_restart", "load_tuner"]

logger = logging.getLogger("aiotune.resume")


def can_restart(backend: Any) -> bool:
    """True when ``backend`` restarts a trial from its checkpoint folder (process backends)."""
    flag = getattr(backend, "supports_restart_after_crash", None)
    if flag is not None:
        return bool(flag)
    from .backends._process import ProcessBackend

    return isinstance(backend, ProcessBackend)


@dataclass
class ResumePlan:
    """What the resumed run must do first: scheduler catch-up, interrupted trials."""

    records: list[Any]
    scheduler_from: int
    """Index of the first record the scheduler's state does not reflect."""
    origin: float
    interrupted: list[int] = field(default_factory=list)
    restart: bool = True
    decided: dict[int, str] = field(default_factory=dict)
    """Logged STOP/PAUSE decisions on interrupted trials ("stop" or "pause")."""

    async def apply(self, run: TuningRun) -> None:
        """Run inside the backend session, before the loop starts any trial."""
        if self.scheduler_from < len(self.records):
            scratch = LogReplay(TuningStatus(), ResultsTable(), self.origin)
            retried = retried_ends(self.records)
            for i in range(self.scheduler_from):
                scratch.apply(self.records[i], i in retried)
            await feed_scheduler(
                run.scheduler, scratch, self.records, self.scheduler_from, trials=run.trials
            )
        for tid in self.interrupted:
            await self._interrupted(run, run.trials[tid])

    async def _interrupted(self, run: TuningRun, trial: Trial) -> None:
        """End the dead tuner's attempt of ``trial`` in the log; restart it when possible.

        A trial the scheduler had decided to stop (or pause) before the crash
        ends stopped (paused) instead: the decision was logged, so it stands.
        """
        tid = trial.trial_id
        decided = self.decided.get(tid)
        if decided in ("stop", "pause"):
            status = TrialStatus.STOPPED if decided == "stop" else TrialStatus.PAUSED
            reason = f"{INTERRUPTED} (after a {decided} decision)"
        else:
            status, reason = TrialStatus.FAILED, INTERRUPTED
        run.log.append(
            TrialEndedEvent(
                trial_id=tid,
                attempt=trial.attempt,
                time=run.clock.now(),
                status=status,
                reason=reason,
            )
        )
        if status is TrialStatus.FAILED and self.restart:
            logger.warning("restarting trial %d, interrupted when its tuner died", tid)
            await run.launch(trial, resume=True)
            return
        trial.status = status
        trial.reason = reason
        run.status.on_trial_ended(tid, status, reason)
        run.results.set_status(tid, status.value)
        if status is TrialStatus.FAILED:
            await run.scheduler.on_trial_error(trial)


def _read_state(experiment: ExperimentDir) -> TunerState:
    path = experiment.tuner_path
    if not path.exists():
        if not experiment.path.is_dir():
            raise InvalidArgumentError(f"no experiment folder at {experiment.path}")
        raise LogCorruptError(
            f"{path} is missing: this experiment cannot be resumed (it was run with "
            "save_tuner=False, or its tuner died before the first snapshot, in which "
            "case nothing ran and it can simply be started again)"
        )
    return read_json(path, TunerState)


def load_tuner(
    cls: Any,
    tuner_path: str | Path,
    *,
    trial_backend: Any = None,
    scheduler: Any = None,
    stop_criterion: Any = None,
    kill_orphans: bool = True,
) -> Any:
    """Build a ``cls`` (``Tuner``) from the experiment at ``tuner_path``; see the module doc.

    With ``kill_orphans`` the experiment's lock is held for the whole load, taken
    first: a live tuner's experiment is refused ("locked by pid N") before
    anything is read or rebuilt, and its trials are never taken for orphans.
    """
    experiment = ExperimentDir(Path(tuner_path).expanduser())
    if kill_orphans and experiment.path.is_dir():
        experiment.lock()
    try:
        return _load(cls, experiment, trial_backend, scheduler, stop_criterion, kill_orphans)
    finally:
        experiment.unlock()


def _load(
    cls: Any,
    experiment: ExperimentDir,
    trial_backend: Any,
    scheduler: Any,
    stop_criterion: Any,
    kill_orphans: bool,
) -> Any:
    state = _read_state(experiment)
    backend = (
        trial_backend
        if trial_backend is not None
        else _rebuild(state.trial_backend, "trial_backend")
    )
    sched = scheduler if scheduler is not None else _rebuild(state.scheduler, "scheduler")
    if stop_criterion is None:
        if state.stop_criterion is None:
            raise InvalidArgumentError("tuner.json holds no stop_criterion: pass stop_criterion=")
        stop_criterion = msgspec.convert(state.stop_criterion, StoppingCriterion)
    try:
        with open(experiment.log_path, "rb") as file:
            fingerprint = log_fingerprint(os.fstat(file.fileno()))
            data = file.read()
    except OSError as exc:
        raise StorageError(
            exc.errno or 0, f"cannot read event log {experiment.log_path}: {exc.strerror}"
        ) from exc
    contents = parse_log(data, experiment.log_path)
    records = list(contents.records)
    snapshot_at = len(records)  # records before this index are reflected in tuner.json
    if state.log_offset is not None:
        ends = frame_end_offsets(data, len(records))
        snapshot_at = sum(1 for end in ends if end <= state.log_offset)
    scheduler_from = 0
    if scheduler is None and state.scheduler_state is not None:
        sched = as_async_scheduler(sched)
        state_type = type(sched.state())
        sched.restore(msgspec.convert(state.scheduler_state, state_type, strict=False))
        scheduler_from = snapshot_at
    tuner = cls(
        trial_backend=backend,
        scheduler=sched,
        stop_criterion=stop_criterion,
        tuner_name=state.tuner_name,
        suffix_tuner_name=False,
        **msgspec.structs.asdict(state.args),
    )
    tuner.tuner_path = experiment.path
    origin = _time_origin(contents.header.created, records)
    rep = LogReplay(tuner.status, tuner.results, origin)
    retried = retried_ends(records)
    for i, record in enumerate(records):
        rep.apply(record, i in retried)
    tuner.trials = rep.trials
    tuner._next_trial_id = max(state.next_trial_id, max(rep.trials, default=-1) + 1)
    tuner._elapsed = state.elapsed_time + _time_since(records, snapshot_at, origin)
    tuner.status.set_time(tuner._elapsed)  # what the dead run had used, shown before run()
    _continue_virtual_clock(backend, origin, rep.last_time)
    interrupted = [t.trial_id for t in rep.interrupted()]
    if kill_orphans:
        from .backends._orphans import kill_orphans as _kill

        folders = [experiment.path]
        if state.args.trial_backend_path is not None:
            folders.append(Path(state.args.trial_backend_path) / state.tuner_name)
        # A live tuner's trials are not orphans: load_tuner holds the lock (or raised).
        experiment.lock()
        for folder in folders:
            _kill(folder)
    tuner._owns_log = True
    if fingerprint[1] == len(data):  # run() reopens the log without reading it again
        tuner._known_log = KnownLog(fingerprint, tail_of(contents))
    tuner._resume = ResumePlan(
        records=records,
        scheduler_from=scheduler_from,
        origin=origin,
        interrupted=interrupted,
        restart=can_restart(backend),
        decided={tid: rep.decided[tid].value for tid in interrupted if tid in rep.decided},
    )
    return tuner


def _time_since(records: list[Any], index: int, origin: float) -> float:
    """Clock time the log covers after record ``index - 1`` (what tuner.json's time misses).

    Measured between logged records, so the time the tuner was dead is not counted.
    A snapshot taken before any record (a run killed before its first periodic
    save) misses the time since the log began: ``origin``, its creation time (or 0
    on a virtual clock).
    """
    times = [r.time for r in records if isinstance(getattr(r, "time", None), int | float)]
    before = [r.time for r in records[:index] if isinstance(getattr(r, "time", None), int | float)]
    if not times or len(times) == len(before):
        return 0.0
    return max(0.0, times[-1] - (before[-1] if before else origin))


def _continue_virtual_clock(backend: Any, origin: float, last_time: float) -> None:
    """Move a simulator's virtual clock to the last logged time, so logged times never go back.

    ``last_time`` is the replay's latest logged time (relative to ``origin``).
    """
    advance_to = getattr(getattr(backend, "clock", None), "advance_to", None)
    if origin != 0.0 or advance_to is None:
        return  # a real clock: logged times are unix times already
    advance_to(last_time)


def _rebuild(spec: Any, what: str) -> Any:
    if spec is None:
        raise InvalidArgumentError(
            f"tuner.json cannot rebuild the {what}: pass {what}= to Tuner.load"
        )
    try:
        return from_spec(spec)
    except NotSerializableError:
        _import_component_modules()  # a registered class whose module was not imported yet
        return from_spec(spec)


_COMPONENT_PACKAGES = ("aiotune.backends", "aiotune.schedulers", "aiotune.blackbox")


def _import_component_modules() -> None:
    """Import aiotune's own backend, scheduler and blackbox modules (they register components).

    Only modules of the installed aiotune package are imported, never anything
    the experiment folder names.
    """
    for package_name in _COMPONENT_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ImportError:
            continue
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # an optional dependency missing (dask, ...)
                logger.debug("not importing %s: %s", info.name, exc)
