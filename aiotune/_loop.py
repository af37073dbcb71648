"""The tuning loop: await an event, record it, ask the scheduler, act, refill workers.

``TuningRun`` holds the state of one run (trials, busy workers, decisions in
flight) so the coroutines stay short. The bookkeeping it feeds — the event log,
``TuningStatus``, the results table — is synchronous; this module only awaits
the backend, the scheduler and the callbacks, in the order of DESIGN.md's flow:
log, status, scheduler, act, callbacks, stopping criterion, fill workers (once
no further event is already waiting). On a real-time backend, events that
arrive while the scheduler thinks about a suggestion are handled meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream

from ._blas import one_blas_thread
from .backends.base import EventStream, TrialBackend, event_waiting
from .callbacks import CallbackDispatcher
from .config_space import normalize_config
from .errors import ConfigValueError, InvalidArgumentError, TooManyFailuresError
from .events import Decision, Event, ResultEvent, Suggestion, TrialEndedEvent
from .schedulers.base import Scheduler
from .schedulers.sync_adapter import to_decision, to_suggestion
from .status import TuningStatus
from .store.event_log import EventLog
from .store.records import DecisionMade, TrialAdded
from .store.results_table import ResultsTable
from .trial import Trial, TrialStatus

__all__ = ["NO_METRICS", "RunSettings", "TuningRun", "ended_status"]

NO_METRICS = "no metrics: the trial exited 0 without reporting"
NOTHING_LEFT = "completed: nothing left to train after its donor's checkpoint"

logger = logging.getLogger("aiotune.tuner")

_STOP_DRAIN_TIMEOUT = 60.0
NO_END_REPORTED = (
    f"stopped by the tuner: the backend reported no end within {_STOP_DRAIN_TIMEOUT:g} s "
    "of the stop, or its event stream ended first"
)
_YIELD_EVERY = 256
# Events handled back to back (each already waiting) before free workers are filled anyway.
_MAX_DRAIN = 1024


def ended_status(
    event: TrialEndedEvent, decided: Decision | None, num_results: int, cloned: bool = False
) -> tuple[TrialStatus, str]:
    """The status and reason a trial ends with: one rule for the loop and for a replay.

    A PAUSE overtaken by a STOP ends stopped; a trial that exits 0 after the
    scheduler paused it is paused (it stopped itself at its milestone, told by
    ``config[max_resource_attr]``, before the pause reached it); a trial that
    exits 0 without any report is failed (Syne Tune aborts the run there; here it
    is a failed trial, G6), unless it started from another trial's checkpoint (a
    PBT clone): a donor may reach its last epoch between the decision and the
    copy, and its clone then rightly finds nothing to train.
    """
    status, reason = event.status, event.reason
    if decided is Decision.STOP and status is TrialStatus.PAUSED:
        status = TrialStatus.STOPPED
    if decided is Decision.PAUSE and status is TrialStatus.COMPLETED and num_results > 0:
        return TrialStatus.PAUSED, reason
    if status is TrialStatus.COMPLETED and num_results == 0:
        status, reason = (
            (TrialStatus.COMPLETED, NOTHING_LEFT) if cloned else (TrialStatus.FAILED, NO_METRICS)
        )
    return status, reason


class _Thinking:
    """One suggestion in progress while events are handled (see ``TuningRun.suggest``)."""

    __slots__ = ("done", "answer", "wait")

    def __init__(self) -> None:
        self.done = False
        self.answer: Suggestion | None = None
        self.wait: anyio.CancelScope | None = None  # the wait for the next event, if any

    def finish(self) -> None:
        """The scheduler answered: stop waiting for events (never cut one's handling)."""
        self.done = True
        if self.wait is not None:
            self.wait.cancel()


class RunSettings:
    """The tuner arguments the loop reads on every event."""

    __slots__ = (
        "n_workers",
        "max_failures",
        "asynchronous_scheduling",
        "wait_trial_completion_when_stopping",
        "start_jobs_without_delay",
        "max_retries_per_trial",
        "fsync_before_act",
    )

    def __init__(self, **kwargs: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, kwargs[name])


class TuningRun:
    """One run of the loop over a backend session's event stream."""

    def __init__(
        self,
        *,
        backend: TrialBackend,
        scheduler: Scheduler,
        stop_criterion: Callable[[TuningStatus], bool],
        settings: RunSettings,
        status: TuningStatus,
        log: EventLog,
        results: ResultsTable,
        callbacks: CallbackDispatcher,
        trials: dict[int, Trial] | None = None,
        next_trial_id: int = 0,
        time_offset: float = 0.0,
    ) -> None:
        self.backend = backend
        self.scheduler = scheduler
        self.stop_criterion = stop_criterion
        self.settings = settings
        self.status = status
        self.log = log
        self.results = results
        self.callbacks = callbacks
        self.clock = backend.clock
        self.trials: dict[int, Trial] = trials if trials is not None else {}
        self.next_trial_id = next_trial_id
        self.busy: set[int] = set()
        self.decided: dict[int, Decision] = {}
        self.deferred: dict[int, Suggestion] = {}  # resumes waiting for the pause to end
        self.declined: set[int] = set()  # trials a stale resume was asked for (not paused)
        self.clones: set[int] = set()  # trials started from another trial's checkpoint
        self.last_seq: dict[int, int] = {}
        self.retries: dict[int, int] = {}
        self.exhausted = False
        self.stopping = False
        self.stop_reason: str | None = None
        self.failures = sum(
            1
            for t in self.trials.values()
            if t.status is TrialStatus.FAILED and not t.reason.startswith("interrupted:")
        )  # a trial cut short by the tuner's own death is not the trial's failure
        self.started_at = self.clock.now() - time_offset
        self.late_results = 0
        self.events_ended = False
        # A stream read while the scheduler thinks (set by ``main``; see ``suggest``).
        self._live: MemoryObjectReceiveStream[Event] | None = None
        self._has_result_cb = callbacks.has("on_trial_result")
        self._on_remove = getattr(scheduler, "on_trial_remove", None)
        self._reason_fn = getattr(stop_criterion, "reason", None)
        space = getattr(scheduler, "config_space", None)
        self._space: dict[str, Any] = space if isinstance(space, dict) else {}
        self._metrics = tuple(status.metric_names)  # the scheduler's, as the Tuner read them
        self._metric_checked = not self._metrics  # the first result of the run is checked

    # ---- the loop ------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the run started (including earlier runs of a loaded tuner)."""
        return self.clock.now() - self.started_at

    async def main(self, events: EventStream) -> str:
        """Run until the stopping criterion, exhaustion or the end of the stream; say why.

        BLAS stays on one thread meanwhile, so a model fit does not take the loop's
        core (see :mod:`aiotune._blas`)."""
        with one_blas_thread():
            return await self._main(events)

    async def _main(self, events: EventStream) -> str:
        if self.check_stop():  # a resumed run may have met its criterion before it died
            return self.stop_reason or "stopping criterion met"
        if isinstance(events, MemoryObjectReceiveStream):
            self._live = events
        await self.fill_workers()
        if self.stop_reason is not None:
            return self.stop_reason
        if not self.busy:  # trials may have run and ended while the scheduler thought
            return self.idle_reason() if self.trials else "no trial to run"
        handled = drained = 0
        waiting = event_waiting(events)
        async for event in events:
            await self.handle(event)
            handled += 1
            if handled % _YIELD_EVERY == 0:
                # A backend whose events never wait (the simulator) would otherwise
                # starve the housekeeping task (fsync, snapshots) and the host app.
                await anyio.lowlevel.checkpoint()
            if self.check_stop():
                return self.stop_reason or "stopping criterion met"
            if waiting is not None and drained < _MAX_DRAIN and waiting():
                # Trials that ended together all reach the scheduler before it suggests.
                drained += 1
                continue
            drained = 0
            await self.fill_workers()
            if self.stop_reason is not None:
                return self.stop_reason
            if not self.busy:
                return self.idle_reason()
        return "backend event stream ended"

    def idle_reason(self) -> str:
        """Why the run ends with no trial running and no criterion met."""
        return "search space exhausted" if self.exhausted else "all trials done"

    def check_stop(self) -> bool:
        """Evaluate the stopping criterion on the current status (every event)."""
        self.status.wallclock_time = self.clock.now() - self.started_at
        reason_fn = self._reason_fn
        if reason_fn is not None:
            reason = reason_fn(self.status)
        else:
            reason = "stopping criterion met" if self.stop_criterion(self.status) else None
        if reason is not None:
            self.stop_reason = f"stopping criterion: {reason}"
            return True
        return False

    # ---- events --------------------------------------------------------------------
    async def handle(self, event: Event) -> None:
        """One event of the stream: a report or a trial's end."""
        if type(event) is ResultEvent:
            await self.on_result(event)
        else:
            await self.on_ended(event)  # type: ignore[arg-type]

    async def on_result(self, event: ResultEvent) -> None:
        """Record a report, then (if the trial is still live) ask the scheduler and act."""
        trial = self.trials.get(event.trial_id)
        if trial is None:
            logger.warning("result for unknown trial %d dropped", event.trial_id)
            return
        key = event.trial_id
        if event.attempt == trial.attempt:
            if event.seq <= self.last_seq.get(key, -1):
                return  # a duplicate (G4): already logged and acted on
            self.last_seq[key] = event.seq
        self.log.append(event)
        metrics = event.metrics
        self.status.on_result(key, metrics)
        self.results.add_result(key, event.time - self.started_at, metrics)
        if not self._metric_checked:
            self.check_metric_names(key, metrics)
        if (
            event.attempt != trial.attempt
            or key in self.decided
            or trial.status is not TrialStatus.RUNNING
        ):
            self.late_results += 1  # logged and flagged (after a decision), not acted on
            return
        decision = await self.scheduler.on_result(trial, metrics)
        if type(decision) is not Decision:
            decision = self.checked_decision(decision)
        if decision is not Decision.CONTINUE:
            await self.act(trial, event.seq, decision)
        if self._has_result_cb:
            await self.callbacks.call("on_trial_result", trial, self.status, metrics, decision)

    def check_metric_names(self, trial_id: int, metrics: dict[str, Any]) -> None:
        """Warn if the run's first result lacks the scheduler's metric: a misspelt name
        otherwise gives a run in which no trial is scored (Syne Tune and Ray Tune raise)."""
        missing = [m for m in self._metrics if m not in metrics]
        if missing:
            logger.warning(
                "trial %d reported %s but not %s, which the scheduler optimizes; results "
                "without it are logged but cannot guide the search (check the metric name)",
                trial_id, sorted(k for k in metrics if not k.startswith("st_worker_")),
                " or ".join(map(repr, missing)),
            )
        self._metric_checked = True

    async def act(self, trial: Trial, seq: int, decision: Decision) -> None:
        """Carry out a STOP or PAUSE decision (written to the log first).

        Recorded and requested under one shield, as :meth:`launch`: a decided trial
        is one the backend was asked to end (the shutdown does not ask again).
        """
        with anyio.CancelScope(shield=True):
            self.log.append(
                DecisionMade(
                    trial_id=trial.trial_id,
                    attempt=trial.attempt,
                    seq=seq,
                    decision=decision.value,
                    time=self.clock.now(),
                )
            )
            self.decided[trial.trial_id] = decision
            await self.sync_before_act()
            if decision is Decision.STOP:
                await self.backend.stop_trial(trial.trial_id)
            elif decision is Decision.PAUSE:
                await self.backend.pause_trial(trial.trial_id)
        if decision is Decision.STOP and self._on_remove is not None:
            await self._on_remove(trial)

    async def on_ended(self, event: TrialEndedEvent) -> None:
        """A trial's process is gone: update its status and tell the scheduler."""
        self.log.append(event)
        trial = self.trials.get(event.trial_id)
        if trial is None or event.attempt != trial.attempt:
            return
        tid = trial.trial_id
        self.busy.discard(tid)
        decided = self.decided.pop(tid, None)
        status, reason = ended_status(
            event, decided, self.status.trials[tid].num_results, tid in self.clones
        )
        trial.status = status
        trial.reason = reason
        if status is TrialStatus.FAILED and await self.retry(trial, reason):
            return
        self.status.on_trial_ended(tid, status, reason)
        self.results.set_status(tid, status.value)
        if status is TrialStatus.COMPLETED:
            last = self.status.trials[tid].last_result
            await self.scheduler.on_trial_complete(trial, last)
            await self.callbacks.call("on_trial_complete", trial, last)
        elif status is TrialStatus.FAILED:
            self.failures += 1
            await self.scheduler.on_trial_error(trial)
            await self.callbacks.call("on_trial_error", trial)
            if self.failures > self.settings.max_failures:
                raise TooManyFailuresError(self.failure_message(trial))
        if tid in self.deferred:
            # A resume asked for before the pause took effect: due now if it paused;
            # otherwise (completed, stopped, failed) ``start`` declines it.
            await self.start(self.deferred.pop(tid))

    async def end_cancelled(self, reason: str) -> None:
        """Record the trials still running as stopped: the run was cancelled from outside,
        or the backend never reported their end after a stop.

        Their end events will never be read (the backend is being torn down, which
        stops them), so without this they would stay "running" in the status and the
        log, and a later run of the same Tuner would count them.
        """
        for tid in sorted(self.busy):
            trial = self.trials[tid]
            self.decided.setdefault(tid, Decision.STOP)
            await self.on_ended(TrialEndedEvent(
                trial_id=tid, attempt=trial.attempt, time=self.clock.now(),
                status=TrialStatus.STOPPED, reason=reason,
            ))

    async def retry(self, trial: Trial, reason: str) -> bool:
        """Restart a failed trial as a new attempt while it has retries left."""
        used = self.retries.get(trial.trial_id, 0)
        if self.stopping or used >= self.settings.max_retries_per_trial:
            return False
        self.retries[trial.trial_id] = used + 1
        logger.warning(
            "trial %d failed (%s); retry %d of %d",
            trial.trial_id,
            reason,
            used + 1,
            self.settings.max_retries_per_trial,
        )
        await self.launch(trial, resume=True)
        return True

    def failure_message(self, trial: Trial) -> str:
        """Name the trial that broke the failure budget and show the tail of its stderr."""
        tail_fn = getattr(self.backend, "stderr_tail", None)
        tail = tail_fn(trial.trial_id) if tail_fn is not None else ""
        msg = (
            f"{self.failures} trials failed, more than max_failures={self.settings.max_failures}; "
            f"the last was trial {trial.trial_id} ({trial.reason or 'no reason given'}) "
            f"with config {trial.config}"
        )
        if tail:
            msg += f"\n--- tail of trial {trial.trial_id}'s stderr ---\n{tail}"
        return msg

    async def sync_before_act(self) -> None:
        """Strict mode (G2): fsync the log before the backend acts (one fsync covers all
        records appended since the last, a group commit); a no-op otherwise."""
        if self.settings.fsync_before_act:
            await self.log.fsync()

    # ---- starting trials -------------------------------------------------------------
    def checked_decision(self, value: Any) -> Decision:
        """``on_result``'s answer as a Decision (a custom scheduler may answer "stop",
        None, ...: Syne Tune's forms); anything else is refused naming the hook."""
        try:
            return to_decision(value)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{self.scheduler!r}.on_result: {exc}") from None

    def checked_suggestion(self, value: Any) -> Suggestion | None:
        """``suggest``'s answer as a Suggestion (a config dict starts it), else refused."""
        if value is None or type(value) is Suggestion:
            return value
        try:
            return to_suggestion(value)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{self.scheduler!r}.suggest: {exc}") from None

    def checked_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The scheduler's config as plain values that round-trip unchanged (G10).

        Raises ConfigValueError naming the key (a set, a datetime, an object,
        NaN, ...) before anything is logged or spawned: a scheduler suggesting
        such a config is a bug the run cannot work around, so it stops (its
        running trials are stopped by the tuner's shutdown) instead of starting
        a trial whose config would arrive changed.
        """
        try:
            return normalize_config(self._space, dict(config))
        except ConfigValueError as exc:
            raise ConfigValueError(
                f"{self.scheduler!r} suggested a config that cannot be passed to a trial "
                f"unchanged: {exc}"
            ) from exc

    def workers_in_use(self) -> int:
        """Busy workers; trials being stopped still count unless ``start_jobs_without_delay``."""
        if self.settings.start_jobs_without_delay:
            return len(self.busy) - len(self.decided) + len(self.deferred)
        return len(self.busy)

    async def fill_workers(self) -> None:
        """Ask the scheduler for work until every worker is busy or the space is exhausted."""
        if self.stopping or self.exhausted:
            return
        if not self.settings.asynchronous_scheduling and self.busy:
            return  # synchronous scheduling: the whole batch finishes first
        while self.workers_in_use() < self.settings.n_workers:
            suggestion = await self.suggest()
            if self.stop_reason is not None or self.events_ended:
                return  # met (or the stream ended) while the scheduler thought: start nothing
            if suggestion is None:
                self.exhausted = True
                return
            await self.start(suggestion)
            if self.check_stop():
                return

    async def suggest(self) -> Suggestion | None:
        """The scheduler's next suggestion; events arriving meanwhile are handled.

        A scheduler that thinks in a worker thread (a model fit) would otherwise hold
        up every other trial's report and decision until it answers. Only on a stream
        whose wait can be cancelled without losing an event and whose events come in
        real time (a memory object stream: the process and Dask backends); the
        simulator's clock moves when its stream is read, so there a decision takes no
        simulated time and the scheduler is asked alone, as before.
        """
        live = self._live
        if live is None:
            return self.checked_suggestion(await self.scheduler.suggest())
        thinking = _Thinking()
        async with anyio.create_task_group() as tg:  # errors: the Tuner unwraps the group
            tg.start_soon(self._ask, thinking)
            await self._handle_while_thinking(live, thinking)
        return thinking.answer

    async def _ask(self, thinking: _Thinking) -> None:
        try:
            thinking.answer = self.checked_suggestion(await self.scheduler.suggest())
        finally:
            thinking.finish()

    async def _handle_while_thinking(
        self, events: MemoryObjectReceiveStream[Event], thinking: _Thinking
    ) -> None:
        """Handle events until the scheduler answers, the criterion is met or the stream ends.

        Only the wait for the next event is cancelled when the answer comes; an event
        being handled is handled to the end (anyio hands an item only to a receiver
        with no cancel pending, so none is lost).
        """
        while not thinking.done:
            event: Event | None = None
            with anyio.CancelScope() as wait:
                thinking.wait = wait
                try:
                    event = await events.receive()
                except anyio.EndOfStream:
                    self.events_ended = True
                finally:
                    thinking.wait = None
            if event is None:
                return
            await self.handle(event)
            if self.check_stop():
                return

    async def start(self, suggestion: Suggestion) -> None:
        """Start a new trial or resume a paused one, as the suggestion says."""
        if suggestion.resume_trial_id is not None:
            tid = suggestion.resume_trial_id
            if tid not in self.trials:
                raise InvalidArgumentError(
                    f"{self.scheduler!r} asked to resume unknown trial {tid}"
                )
            if tid in self.busy and tid in self.decided:
                # Paused (or being stopped) but its process has not ended yet: resume it
                # when its ended event arrives; until then it keeps its worker.
                self.deferred[tid] = suggestion
                return
            trial = self.trials[tid]
            if trial.status is not TrialStatus.PAUSED:
                # Running (never paused), or it ended otherwise (completed, stopped,
                # failed) after the scheduler chose it, e.g. while the scheduler thought:
                # nothing to resume. Asked again, it is the scheduler's bug (and would
                # loop here for ever).
                if tid in self.declined:
                    raise InvalidArgumentError(
                        f"{self.scheduler!r} asked again to resume trial {tid}, which is "
                        f"{trial.status.value}, not paused"
                    )
                self.declined.add(tid)
                logger.warning(
                    "%r asked to resume trial %d, which is %s, not paused; not resumed",
                    self.scheduler, tid, trial.status.value,
                )
                return
            if suggestion.config is not None:  # the keys it names change, the rest stay
                trial.config = self.checked_config({**trial.config, **suggestion.config})
                self.results.add_trial(tid, trial.config)  # results.csv shows it, as status
            await self.launch(trial, resume=True)
            return
        if suggestion.config is None:
            raise TypeError(
                f"{self.scheduler!r}.suggest() returned {suggestion!r} without a config"
            )
        config = self.checked_config(suggestion.config)
        trial = Trial(
            trial_id=self.next_trial_id,
            config=config,
            creation_time=self.elapsed(),
        )
        self.next_trial_id += 1
        self.trials[trial.trial_id] = trial
        self.status.on_trial_started(trial.trial_id, trial.config)
        self.results.add_trial(trial.trial_id, trial.config)
        await self.scheduler.on_trial_add(trial)
        if suggestion.checkpoint_from is not None:
            self.clones.add(trial.trial_id)
        await self.launch(trial, resume=False, checkpoint_from=suggestion.checkpoint_from)

    async def launch(
        self, trial: Trial, *, resume: bool, checkpoint_from: int | None = None
    ) -> None:
        """Log the start (write before act), then start or resume the trial's process.

        Shielded from cancellation as a whole: a deadline or Ctrl-C that arrives
        meanwhile (anyio delivers a cancel that came during a scheduler's worker
        thread at the next await, which is often in here) takes effect after the
        backend knows the trial, so the shutdown can stop it. Cancelled halfway, the
        trial would be busy for the tuner but unknown to the backend, and the
        shutdown would wait out its drain timeout for an end that never comes.
        Backends bound their launch time (process spawn; Dask calls with timeouts).
        """
        with anyio.CancelScope(shield=True):
            if resume:
                trial.attempt += 1
                self.status.on_trial_resumed(trial.trial_id, trial.config)
            trial.status = TrialStatus.RUNNING
            self.log.append(
                TrialAdded(
                    trial_id=trial.trial_id,
                    attempt=trial.attempt,
                    config=trial.config,
                    time=self.clock.now(),
                    checkpoint_from=checkpoint_from,
                )
            )
            self.last_seq.pop(trial.trial_id, None)
            self.busy.add(trial.trial_id)
            self.results.set_status(trial.trial_id, TrialStatus.RUNNING.value)
            await self.sync_before_act()
            if resume:
                await self.backend.resume_trial(trial)
            else:
                await self.backend.start_trial(trial, checkpoint_from=checkpoint_from)
        await self.callbacks.call("on_trial_start", trial)

    # ---- the end -----------------------------------------------------------------------
    async def shutdown(self, events: EventStream, *, wait: bool, drain: bool = True) -> None:
        """Stop (or, with ``wait``, let finish) the running trials and record how they end.

        Runs shielded from cancellation by the caller so a cancelled run still
        stops its trials and logs their ends; with ``drain=False`` (the backend's
        tasks are being cancelled) it only asks for the stops.
        """
        self.stopping = True
        if not wait:
            for tid in sorted(self.busy):
                if tid not in self.decided:
                    # Logged as any STOP is, so a replay of the log treats the results
                    # still in flight as the loop does: late, not shown to the scheduler.
                    await self.act(self.trials[tid], self.last_seq.get(tid, -1), Decision.STOP)
        if not self.busy or not drain:
            return
        with anyio.move_on_after(None if wait else _STOP_DRAIN_TIMEOUT):
            try:
                async for event in events:
                    await self.handle(event)
                    if not self.busy:
                        return
            except StopAsyncIteration:  # pragma: no cover - stream closed under us
                pass
        if self.busy:  # a backend that lost them (a frozen worker): never left "running"
            await self.end_cancelled(NO_END_REPORTED)
