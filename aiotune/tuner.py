"""``Tuner``: runs trials through a backend under a scheduler until a stopping criterion.

``Tuner.run()`` is ``anyio.run(tuner.run_async)``; ``await tuner.run_async()``
runs inside any asyncio application. The loop itself lives in
:mod:`aiotune._loop`; this module validates arguments, owns the experiment
folder (lock, metadata, event log, results table, ``tuner.json``) and the
periodic housekeeping (fsync, results, status printing).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import msgspec

from . import __version__
from ._checks import check_positive_int
from ._live import make_display
from ._loop import RunSettings, TuningRun
from ._printer import format_status
from ._tuner_state import TunerArgs, TunerState, try_spec
from .callbacks import CallbackDispatcher
from .errors import MAIN_GUARD_ADVICE, AiotuneError, InvalidArgumentError
from .schedulers._thinking import let_thinks_finish
from .schedulers.base import Scheduler, normalize_metric_mode
from .schedulers.sync_adapter import SyncSchedulerAdapter, as_async_scheduler
from .status import TuningStatus
from .stopping import StoppingCriterion
from .store.atomic import (
    run_in_thread_to_end,
    write_atomic_async,
    write_json_atomic,
    write_json_atomic_async,
)
from .store.event_log import EventLog, KnownLog
from .store.experiment_dir import ExperimentDir
from .store.names import default_results_root, experiment_path, make_tuner_name
from .store.records import LogHeader, TuningEnded
from .store.results_table import ResultsTable
from .trial import Trial

__all__ = ["Tuner"]

logger = logging.getLogger("aiotune.tuner")

_THINK_WAIT = 120.0  # s: the longest model fit the end of a run waits for


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


class Tuner:
    """Tunes ``scheduler``'s config space by running trials on ``trial_backend``.

    Every argument means what Syne Tune's ``Tuner`` argument of the same name
    means. ``sleep_time`` only bounds waits on backends that cannot push events
    (all of aiotune's push them). ``max_retries_per_trial`` restarts a failed
    trial as a new attempt before it counts toward ``max_failures``.
    ``fsync_before_act`` (strict mode) fsyncs the event log before each start,
    stop or pause is carried out, so even a power failure loses nothing acted on.
    A new Tuner refuses to run in a folder that already holds another run's
    event log (a fixed ``tuner_name`` with ``suffix_tuner_name=False``): it would
    mix its trials into that run's record. :meth:`load` resumes such a run.
    """

    def __init__(
        self,
        trial_backend: Any,
        scheduler: Any,
        stop_criterion: Callable[[TuningStatus], bool],
        n_workers: int,
        sleep_time: float = 5.0,
        results_update_interval: float = 10.0,
        print_update_interval: float = 30.0,
        max_failures: int = 1,
        tuner_name: str | None = None,
        asynchronous_scheduling: bool = True,
        wait_trial_completion_when_stopping: bool = False,
        callbacks: Sequence[Any] | None = None,
        metadata: dict[str, Any] | None = None,
        suffix_tuner_name: bool = True,
        save_tuner: bool = True,
        start_jobs_without_delay: bool = True,
        trial_backend_path: str | Path | None = None,
        max_retries_per_trial: int = 0,
        fsync_before_act: bool = False,
    ) -> None:
        for method in ("session", "start_trial", "stop_trial", "pause_trial", "resume_trial"):
            if not callable(getattr(trial_backend, method, None)):
                raise InvalidArgumentError(
                    f"trial_backend {trial_backend!r} has no {method}(): not a TrialBackend"
                )
        if not callable(stop_criterion):
            raise InvalidArgumentError(
                f"stop_criterion must be a StoppingCriterion or a callable, got {stop_criterion!r}"
            )
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidArgumentError(f"metadata must be a dict, got {type(metadata).__name__}")
        self.trial_backend = trial_backend
        self.scheduler: Scheduler = as_async_scheduler(scheduler)
        self.stop_criterion = stop_criterion
        self.args = TunerArgs(
            n_workers=check_positive_int("n_workers", n_workers, 1),
            sleep_time=_positive("sleep_time", sleep_time, allow_zero=True),
            results_update_interval=_positive("results_update_interval", results_update_interval),
            print_update_interval=_positive("print_update_interval", print_update_interval),
            max_failures=check_positive_int("max_failures", max_failures, 0),
            asynchronous_scheduling=bool(asynchronous_scheduling),
            wait_trial_completion_when_stopping=bool(wait_trial_completion_when_stopping),
            metadata=dict(metadata or {}),
            save_tuner=bool(save_tuner),
            start_jobs_without_delay=bool(start_jobs_without_delay),
            trial_backend_path=None if trial_backend_path is None else str(trial_backend_path),
            max_retries_per_trial=check_positive_int(
                "max_retries_per_trial", max_retries_per_trial, 0
            ),
            fsync_before_act=bool(fsync_before_act),
        )
        try:
            msgspec.json.encode(self.args.metadata)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InvalidArgumentError(f"metadata must be JSON-serializable: {exc}") from exc
        self.callbacks = list(callbacks or [])
        entry = getattr(trial_backend, "entry_point", None)
        self.name = make_tuner_name(
            tuner_name, suffix_tuner_name, None if entry is None else str(entry)
        )
        self.tuner_path = experiment_path(default_results_root(), self.name)
        metrics, modes = normalize_metric_mode(
            self.scheduler.metric, getattr(self.scheduler, "mode", "min")
        )  # a custom scheduler may name one metric as a str, and its mode too
        self.status = TuningStatus(metrics, modes)
        if isinstance(stop_criterion, StoppingCriterion):
            self.status.watch(list(stop_criterion.min_metric_value or {}))
            self.status.watch(list(stop_criterion.max_metric_value or {}))
        self.results = ResultsTable()
        self.trials: dict[int, Trial] = {}
        self.stop_reason: str | None = None
        self._next_trial_id = 0
        self._elapsed = 0.0
        self._run: TuningRun | None = None
        self._loop_scope: anyio.CancelScope | None = None
        self._interrupted: str | None = None
        self._hurry: anyio.Event | None = None  # set by a second SIGINT/SIGTERM
        self._resume: Any = None  # a ResumePlan set by Tuner.load (aiotune._resume)
        # May this Tuner append to an existing events.log? Only its own (after a run)
        # or one Tuner.load read: a new Tuner must not mix its trials into another run's.
        self._owns_log = False
        self._known_log: KnownLog | None = None  # the log as Tuner.load read it

    # ---- running -----------------------------------------------------------------
    def run(self) -> None:
        """Run the tuning loop to its end, blocking the calling thread.

        Inside a thread whose event loop is already running (a Jupyter notebook),
        the loop runs in a helper thread and this call blocks until it ends.
        """
        if not _loop_running_here():
            main = threading.current_thread() is threading.main_thread()
            anyio.run(self._run_ending_on_signals if main else self.run_async)
            return
        errors: list[BaseException] = []

        def target() -> None:
            try:
                anyio.run(self.run_async)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=target, name=f"aiotune-{self.name}")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    async def _run_ending_on_signals(self) -> None:
        """``run_async``, ended gracefully by SIGTERM or SIGINT, then re-raised as the signal.

        The run is cancelled, so its shielded teardown stops the trials, logs how
        they ended and flushes every file; then SIGINT becomes KeyboardInterrupt
        and SIGTERM ``SystemExit(143)``, so the process still exits as signalled.
        """
        received: list[signal.Signals] = []
        self._hurry = anyio.Event()

        async def watch() -> None:
            # Open for the whole run: a second Ctrl-C must not fall back to Python's
            # handler (a KeyboardInterrupt in the middle of the teardown, ends unlogged).
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    received.append(signal.Signals(signum))
                    if len(received) == 1:
                        self._interrupt(f"interrupted by {received[0].name}")
                        continue
                    logger.warning("%s again: ending already (trials being stopped, ends "
                                   "logged); not waiting for a model fit",
                                   received[-1].name)
                    self._hurry.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                try:
                    await self.run_async()
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _sole_exception(group) from None
        if received:
            if received[0] is signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + received[0].value)

    def _interrupt(self, reason: str) -> None:
        """End the decision loop as a stopping criterion would (trials stopped, ends logged)."""
        self._interrupted = reason
        if self._loop_scope is not None:
            self._loop_scope.cancel()

    async def run_async(self) -> None:
        """Run the tuning loop inside the running event loop; return when it ends.

        Raises :class:`~aiotune.errors.TooManyFailuresError` when more than
        ``max_failures`` trials failed and
        :class:`~aiotune.errors.StorageError` when the experiment folder cannot be
        written; in both cases running trials are stopped first. Cancelled at any
        point once it has started, it leaves a run that ``load_experiment`` and
        ``Tuner.load`` read, ended with reason ``"cancelled"``, and no file write
        still going on after it returns.
        """
        _refuse_inside_a_trial_import()
        self._interrupted = None
        self.stop_reason = None
        experiment = ExperimentDir(self.tuner_path)
        experiment.create()
        experiment.lock()
        try:
            if not self._owns_log and experiment.log_path.exists():
                raise InvalidArgumentError(
                    f"tuner_name {self.name!r}: {experiment.path} already holds another run "
                    "(events.log); Tuner.load(path) resumes it, another tuner_name or "
                    "suffix_tuner_name=True starts a new one (or remove the folder first)"
                )
            await self._run_locked(experiment)
        except BaseExceptionGroup as group:
            raise _sole_exception(group) from None
        finally:
            experiment.unlock()

    async def _run_locked(self, experiment: ExperimentDir) -> None:
        """Open the log, run, and end the run in the log and the snapshots, however it ends.

        Once the log exists, every way out (a criterion, an error, a cancellation
        at any await, even during the open) goes through :meth:`_finish`, so the
        folder always holds a complete, loadable run.
        """
        callbacks = CallbackDispatcher(self.callbacks)
        opened: list[EventLog] = []
        run: TuningRun | None = None
        try:
            await run_in_thread_to_end(self._open_experiment, experiment, opened)
            run = self._new_run(opened[0], callbacks)
            await callbacks.call("on_tuning_start", self)
            await self._run_session(experiment, run)
        except anyio.get_cancelled_exc_class():
            self.stop_reason = self.stop_reason or "cancelled"
            raise
        finally:
            if opened:
                with anyio.CancelScope(shield=True):
                    run = run or self._new_run(opened[0], callbacks)
                    await self._finish(experiment, opened[0], run, callbacks)

    def _open_experiment(self, experiment: ExperimentDir, opened: list[EventLog]) -> None:
        """Create or reopen ``events.log``, put it in ``opened``, then write ``metadata.json``.

        Runs in a worker thread. ``opened`` rather than a return value: the caller
        may be cancelled meanwhile and must still find the log to end the run in it.
        """
        header = LogHeader(tuner_name=self.name, created=time.time())
        known, self._known_log = self._known_log, None
        log = EventLog.open(experiment.log_path, header, known)
        opened.append(log)
        self._owns_log = True
        # The run started when its log was created: a resumed run keeps that time.
        start = log.recovered.header.created if log.recovered is not None else header.created
        write_json_atomic(experiment.metadata_path, self._metadata(start), indent=2)

    def _new_run(self, log: EventLog, callbacks: CallbackDispatcher) -> TuningRun:
        """The loop's state for this run, continuing the trial ids and time of earlier runs."""
        run = self._run = TuningRun(
            backend=self.trial_backend,
            scheduler=self.scheduler,
            stop_criterion=self.stop_criterion,
            settings=RunSettings(**msgspec.structs.asdict(self.args)),
            status=self.status,
            log=log,
            results=self.results,
            callbacks=callbacks,
            trials=self.trials,
            next_trial_id=self._next_trial_id,
            time_offset=self._elapsed,
        )
        return run

    async def _run_session(self, experiment: ExperimentDir, run: TuningRun) -> None:
        """Open the backend session, catch up a loaded tuner, run the loop, stop the trials."""
        backend_paths = experiment
        if self.args.trial_backend_path is not None:
            backend_paths = ExperimentDir(Path(self.args.trial_backend_path) / self.name)
            backend_paths.create()
        async with self.trial_backend.session(backend_paths) as events:
            await self._begin(experiment, run)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._housekeeping, experiment, run.log, run)
                cancelled = False
                try:
                    await self._main(run, events)
                except anyio.get_cancelled_exc_class():
                    # Cancelled from outside: the backend's own tasks are being
                    # cancelled too, so ends cannot be awaited; its teardown kills them.
                    cancelled = True
                    raise
                finally:
                    with anyio.CancelScope(shield=True):
                        wait = self.args.wait_trial_completion_when_stopping and (
                            self.stop_reason or ""
                        ).startswith("stopping criterion")
                        await run.shutdown(events, wait=wait, drain=not cancelled)
                        if cancelled:
                            await run.end_cancelled("tuning cancelled")
                    tg.cancel_scope.cancel()

    async def _begin(self, experiment: ExperimentDir, run: TuningRun) -> None:
        """Catch a loaded tuner up (scheduler, interrupted trials), then write tuner.json.

        The plan is dropped only once applied: until then the scheduler lags the
        log and :meth:`_save` keeps the ``tuner.json`` it was loaded from.
        """
        plan = self._resume
        if plan is not None:
            await plan.apply(run)
            self._resume = None
        await self._save(experiment)

    async def _main(self, run: TuningRun, events: Any) -> None:
        limit = getattr(self.stop_criterion, "max_wallclock_time", None)
        budget = math.inf if limit is None else max(0.0, limit - run.elapsed())
        with anyio.CancelScope() as self._loop_scope:
            if self._interrupted is not None:
                self._loop_scope.cancel()
            with run.clock.deadline(budget) as scope:
                self.stop_reason = await run.main(events)
            if scope.cancelled_caught:
                self.stop_reason = f"stopping criterion: wallclock time > {limit}s"
        self._loop_scope = None
        if self._interrupted is not None:
            self.stop_reason = self._interrupted

    async def _finish(
        self,
        experiment: ExperimentDir,
        log: EventLog,
        run: TuningRun,
        callbacks: CallbackDispatcher,
    ) -> None:
        self._next_trial_id = run.next_trial_id
        self._elapsed = run.elapsed()
        self.status.set_time(self._elapsed)
        reason = self.stop_reason or "error"
        try:
            if not _resumed_an_ended_run(log):
                log.append(TuningEnded(time=run.clock.now(), reason=reason))
            await log.fsync()
        finally:
            log.close()
            await let_thinks_finish(self._hurry, _THINK_WAIT)
            await self._save(experiment)
        print(
            format_status(self.status, header=f"[aiotune] {self.name} ended: {reason}"), flush=True
        )
        await callbacks.call("on_tuning_end")

    async def _housekeeping(self, experiment: ExperimentDir, log: EventLog, run: TuningRun) -> None:
        """Every interval (real time): fsync the log, rewrite results, print the status."""
        save_every = self.args.results_update_interval
        print_every = self.args.print_update_interval
        next_save, next_print = save_every, print_every
        elapsed = 0.0
        # live panel hook (aiotune._live): a rich panel on a terminal, the plain table elsewhere
        display = make_display(self.name, self.status, self.stop_criterion)
        try:
            while True:
                wait = min(next_save, next_print) - elapsed
                await anyio.sleep(wait)
                elapsed += wait
                if elapsed >= next_save:
                    next_save += save_every
                    await log.fsync()
                    await self._save(experiment)
                if elapsed >= next_print:
                    next_print += print_every
                    self.status.set_time(run.elapsed())
                    display.update()
        finally:
            self.status.set_time(run.elapsed())
            display.close()

    async def _save(self, experiment: ExperimentDir) -> None:
        """Rewrite results.csv and (with ``save_tuner``) tuner.json, atomically.

        Not tuner.json while a loaded tuner's scheduler has not caught up with the
        log (a run cancelled before :meth:`_begin`): its state would claim records
        it never saw, and the next ``Tuner.load`` would not feed them to it.
        """
        csv = await run_in_thread_to_end(self.results.to_csv)
        await write_atomic_async(experiment.results_path, csv)
        if self.args.save_tuner and self._resume is None:
            await write_json_atomic_async(experiment.tuner_path, self._state())

    def _state(self) -> TunerState:
        run = self._run
        stop = self.stop_criterion
        return TunerState(
            tuner_name=self.name,
            args=self.args,
            trial_backend=try_spec(self.trial_backend, "trial_backend"),
            scheduler=try_spec(_unwrap(self.scheduler), "scheduler"),
            scheduler_state=msgspec.to_builtins(self.scheduler.state()),
            stop_criterion=msgspec.to_builtins(stop)
            if isinstance(stop, StoppingCriterion)
            else None,
            next_trial_id=run.next_trial_id if run is not None else self._next_trial_id,
            elapsed_time=run.elapsed() if run is not None else self._elapsed,
            log_offset=run.log.size if run is not None else None,
        )

    def _metadata(self, start_time: float) -> dict[str, Any]:
        """The content of ``metadata.json`` (user metadata last: it may override any key).

        ``start_time`` is when the experiment's log was created (its header's
        ``created``), not when this run began: ``aiotune ls`` and ``show`` date
        a resumed experiment by its first start.
        """
        scheduler = _unwrap(self.scheduler)
        meta: dict[str, Any] = {
            "tuner_name": self.name,
            "aiotune_version": __version__,
            "start_time": start_time,
            "scheduler": type(scheduler).__name__,
            "backend": type(self.trial_backend).__name__,
            "metric_names": self.status.metric_names,
            "metric_modes": self.status.metric_modes,
            "n_workers": self.args.n_workers,
        }
        space = getattr(scheduler, "config_space", None)
        if isinstance(space, dict):
            from .config_space import config_space_to_json

            try:
                meta["config_space"] = config_space_to_json(space)
            except (ValueError, TypeError):
                pass
        if isinstance(self.stop_criterion, StoppingCriterion):
            meta["stop_criterion"] = msgspec.to_builtins(self.stop_criterion)
        meta.update(self.args.metadata)
        return meta

    # ---- results -----------------------------------------------------------------
    def best_config(
        self, metric: int | str = 0, mode: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """``(trial_id, config)`` of the trial with the best value of ``metric`` so far.

        Each trial counts with its best report over all its epochs (Syne Tune's
        rule), not its latest one as in :meth:`pareto_front`. ``metric``: an
        index into the scheduler's metrics or the name of any reported metric;
        ``mode`` defaults to the scheduler's mode for its metrics and "min" for
        others. NaN, infinities and non-numeric values never count (a diverged
        trial's ``inf`` does not win in "max" mode). Raises InvalidArgumentError
        for a metric neither the scheduler's nor reported by any trial (naming
        those that are) and ``AiotuneError`` when no trial reported a usable value.
        """
        best = self.status.best_trial(metric, mode)
        if best is None:
            name, _ = self.status.resolve_metric(metric, mode)
            raise AiotuneError(
                f"no trial reported a usable value of metric {name!r} "
                "(NaN and infinities do not count)"
            )
        return best.trial_id, dict(best.config)

    def pareto_front(
        self, metrics: Sequence[str] | None = None, mode: str | Sequence[str] | None = None
    ) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
        """``(trial_id, config, values)`` of each trial on the Pareto front of ``metrics``.

        ``metrics`` defaults to the scheduler's. Each trial is judged by its
        latest report (its objectives measured together), not by each metric's
        best over its reports as in :meth:`best_config`; a latest report with a
        NaN or an infinity among ``metrics`` leaves the trial out; see
        :meth:`TuningStatus.pareto_front`. ``values`` holds those metrics. Empty
        before any usable report; raises InvalidArgumentError for a metric
        neither the scheduler's nor reported by any trial.
        """
        names = list(self.status.metric_names if metrics is None else metrics)
        front = self.status.pareto_front(names, mode)
        return [(t.trial_id, dict(t.config), {n: t.last_result[n] for n in names}) for t in front]

    # ---- loading -----------------------------------------------------------------
    @classmethod
    def load(
        cls,
        tuner_path: str | Path,
        *,
        trial_backend: Any = None,
        scheduler: Any = None,
        stop_criterion: Callable[[TuningStatus], bool] | None = None,
    ) -> Tuner:
        """Rebuild a tuner from ``tuner.json`` and its event log, ready to ``run()`` on.

        aiotune's own schedulers and backends are rebuilt from the data saved in
        ``tuner.json``; others (a user's function, a custom class) must be passed
        again. The whole log is replayed (status, results; the stopping criterion
        counts what was done before); the scheduler gets its saved state plus the
        records logged after it. Trial processes the dead tuner left running are
        killed; ``run()`` then restarts those trials from their checkpoints (or
        marks them failed when the backend cannot). Nothing in the folder can
        execute code when loaded. Raises InvalidArgumentError for a missing
        folder, LogCorruptError for a missing or corrupt ``tuner.json`` or log.
        """
        from ._resume import load_tuner

        return load_tuner(
            cls,
            tuner_path,
            trial_backend=trial_backend,
            scheduler=scheduler,
            stop_criterion=stop_criterion,
        )

    def __repr__(self) -> str:
        return (
            f"Tuner(name={self.name!r}, backend={type(self.trial_backend).__name__}, "
            f"scheduler={type(_unwrap(self.scheduler)).__name__}, n_workers={self.args.n_workers})"
        )


def _refuse_inside_a_trial_import() -> None:
    """Fail clearly when a child process importing the tuning script reaches its run().

    A PythonBackend trial loads the script to find the tune function, and
    ``multiprocessing`` (a local Dask cluster's workers, for one) loads it in
    every process it spawns; unguarded tuning code there would start a second
    tuner inside the child.
    """
    from .backends._python_worker import IMPORTING_MAIN_ENV

    script = os.environ.get(IMPORTING_MAIN_ENV)
    if script is not None:
        raise AiotuneError(
            f"{script} started a Tuner while a PythonBackend trial was importing it to find "
            f"its tune function: {MAIN_GUARD_ADVICE}"
        )
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # as multiprocessing
        raise AiotuneError(
            "a Tuner was started while a process spawned by multiprocessing (a Dask "
            f"worker, for one) was importing the main script: {MAIN_GUARD_ADVICE}"
        )


def _unwrap(scheduler: Any) -> Any:
    """The user's scheduler object behind a sync adapter."""
    return scheduler.scheduler if isinstance(scheduler, SyncSchedulerAdapter) else scheduler


def _resumed_an_ended_run(log: EventLog) -> bool:
    """True when this run reopened a log that already ends with TuningEnded and added nothing.

    Resuming a finished experiment (its tuner killed after the end was logged)
    then leaves the log as it was instead of ending the run a second time.
    """
    old = log.recovered
    ended = old is not None and isinstance(old.last_record, TuningEnded)
    return ended and log.bytes_written == 0


def _sole_exception(group: BaseExceptionGroup) -> BaseException:
    """The one real error inside nested task-group wrappers, or the group itself."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else group


def _loop_running_here() -> bool:
    try:
        import asyncio

        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
