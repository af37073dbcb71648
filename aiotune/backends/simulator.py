"""A backend that simulates trials on a blackbox, in virtual time.

Starting a trial at virtual time ``t`` computes its whole learning curve at
once (``blackbox.learning_curve``) and schedules its result for fidelity ``f``
at ``t + runtime(f)``, ``runtime`` being the blackbox's cumulative runtime. The
pending events of all trials sit in one heap ordered by ``(time, sequence
number)``, so ties are broken by the order they were scheduled and a run is
deterministic.

The event stream is *pull based*: each ``__anext__`` pops the earliest event,
moves the :class:`~aiotune.clock.VirtualClock` to its time and returns it. The
tuner handles an event completely (scheduler decision, stop/pause, starting new
trials at the current virtual time) before it pulls the next one, so
``n_workers`` trials run "in parallel" in simulated time exactly as they would
on real workers, and a simulated day takes seconds. When nothing is pending the
stream ends.

Time accounting:

* a result's ``elapsed_time_attr`` is the trial's cumulative training time up
  to that fidelity (the blackbox's runtime), independent of pauses;
* ``pause_trial``/``stop_trial`` drop the trial's future results and end the
  attempt (``PAUSED``/``STOPPED``) at the current virtual time; a trial that has
  already reported its last fidelity is about to complete, and then the
  request changes nothing (``COMPLETED`` follows, as a real process that
  exited before the signal arrived);
* ``resume_trial`` continues after the last reported fidelity: the result for
  fidelity ``f`` arrives ``runtime(f) - runtime(last)`` after the resume; a
  changed ``trial.config`` is evaluated from there on;
* ``checkpoint_from`` (population based training) starts the new trial at the
  donor's last reported fidelity with the donor's elapsed time: the new config
  is evaluated from the next fidelity on, and each further fidelity costs what
  it costs the new config. For a tabular blackbox this means the new trial
  reports the *table's* values of its own configuration at those fidelities
  (as if it had been trained from scratch); the donor's weights do not change
  them. This is the usual approximation of simulated PBT.

Config keys that are not in the blackbox's config space (constants a scheduler
passes along) are ignored. A configuration the blackbox rejects (a value
outside its space, a missing hyperparameter) makes the trial fail (``FAILED``
with the blackbox's error as reason) instead of raising in the loop.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import itertools
import zlib
from collections.abc import AsyncIterator
from typing import Any

import anyio.lowlevel
import numpy as np

from .._spec import component
from ..blackbox.base import Blackbox
from ..clock import VirtualClock
from ..errors import AiotuneError, InvalidArgumentError
from ..events import Event, ResultEvent, TrialEndedEvent
from ..trial import Trial, TrialStatus
from .base import ExperimentPaths

__all__ = ["SimulatorBackend"]

_CHECKPOINT_EVERY = 1000


class _Run:
    """One simulated attempt: precomputed rows, its time offset and progress."""

    __slots__ = (
        "attempt", "base", "config", "end", "final", "nxt", "reason", "rows", "start", "t0",
        "times", "token", "trial_id",
    )

    def __init__(self, trial_id: int, attempt: int, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.attempt = attempt
        self.config = config
        self.rows: list[tuple[Any, ...]] = []
        self.times: list[float] = []
        self.start = self.nxt = self.end = 0
        self.t0 = self.base = 0.0
        self.token = 0
        self.reason = ""
        self.final = TrialStatus.COMPLETED

    def last(self) -> tuple[int, float]:
        """Index and elapsed time of the last delivered result (``-1``: none yet)."""
        i = self.nxt - 1
        if i < self.start:
            # nothing delivered in this attempt: what it started from
            j = self.start - 1
            return j, (self.base + self.times[j]) if j >= 0 else self.base
        return i, self.base + self.times[i]


@component
class SimulatorBackend:
    """Run trials as simulated events over ``blackbox`` (an object or a name for ``load``).

    ``time_attr`` (default: the blackbox's fidelity name) and
    ``elapsed_time_attr`` are added to every result. ``seed`` picks, with the
    trial id, the seed each trial's curve is drawn with. ``max_resource``
    caps the fidelity: trials complete after the largest fidelity
    ``<= max_resource``. ``support_checkpointing=False`` makes resumed trials
    (and ``checkpoint_from`` trials) start again from the first fidelity, as a
    training script without checkpoints would.

    A blackbox may return a curve shorter than its fidelities (the trial ends
    after the last value) and may define ``failure(config, seed) -> str | None``:
    a reason makes the trial end ``FAILED`` after its curve instead of
    ``COMPLETED`` (to simulate crashes).
    """

    def __init__(
        self,
        blackbox: Blackbox | str,
        elapsed_time_attr: str = "elapsed_time",
        time_attr: str | None = None,
        seed: int = 0,
        max_resource: int | float | None = None,
        support_checkpointing: bool = True,
    ) -> None:
        if isinstance(blackbox, str):
            from ..blackbox.registry import load

            blackbox = load(blackbox)
        for attr in ("learning_curve", "objectives", "config_space", "fidelity_space"):
            if not hasattr(blackbox, attr):
                raise InvalidArgumentError(f"blackbox {blackbox!r} has no {attr!r}; not a Blackbox")
        if not isinstance(elapsed_time_attr, str) or not elapsed_time_attr:
            raise InvalidArgumentError(f"elapsed_time_attr={elapsed_time_attr!r} must be a name")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InvalidArgumentError(f"seed={seed!r} must be an int")
        fid = blackbox.fidelity_space
        if time_attr is None and fid is not None:
            time_attr = fid.name
        name = getattr(blackbox, "registry_name", None)
        spec_kwargs = getattr(self, "_spec_kwargs", None)
        if isinstance(name, str) and spec_kwargs is not None and "blackbox" in spec_kwargs:
            spec_kwargs["blackbox"] = name  # a shipped table is saved by its name
        self.blackbox = blackbox
        self.elapsed_time_attr = elapsed_time_attr
        self.time_attr = time_attr
        self.seed = seed
        self.max_resource = max_resource
        self.support_checkpointing = bool(support_checkpointing)
        failure = getattr(blackbox, "failure", None)
        self._failure = failure if callable(failure) else None
        self._fid_values: list[Any] = list(fid.values) if fid is not None else [1]
        n = len(self._fid_values)
        if max_resource is not None:
            n = bisect.bisect_right(self._fid_values, max_resource)
            if n == 0:
                raise InvalidArgumentError(
                    f"max_resource={max_resource!r} is below the smallest fidelity "
                    f"{self._fid_values[0]!r}"
                )
        self._n_fid = n
        self._objectives = list(blackbox.objectives)
        self._runtime_name = getattr(blackbox, "runtime_name", "elapsed_time")
        if self._runtime_name not in self._objectives:
            raise InvalidArgumentError(
                f"blackbox runtime {self._runtime_name!r} is not among its objectives "
                f"{self._objectives}"
            )
        self._names = tuple(
            self._objectives + ([time_attr] if time_attr else []) + [elapsed_time_attr]
        )
        self._space_keys = frozenset(blackbox.config_space)
        self.clock = VirtualClock()
        self._reset()

    def _reset(self) -> None:
        self._heap: list[tuple[float, int, _Run, int, TrialStatus | None]] = []
        self._counter = itertools.count()
        self._running: dict[int, _Run] = {}
        self._paused: dict[int, _Run] = {}
        self._done: dict[int, tuple[int, int, float]] = {}  # id -> (attempt, last, elapsed)
        self._in_session = False

    # ----------------------------------------------------------------- session

    @contextlib.asynccontextmanager
    async def session(self, experiment: ExperimentPaths | None = None) -> AsyncIterator[_Events]:
        """Yield the (pull-based) event stream; on exit, every running trial is dropped."""
        if self._in_session:
            raise AiotuneError("SimulatorBackend: a session is already open")
        self._in_session = True
        try:
            yield _Events(self)
        finally:
            self._heap.clear()
            self._running.clear()
            self._in_session = False

    def _drop_cancelled(self) -> None:
        """Pop the events at the head of the heap that a stop or pause cancelled."""
        heap = self._heap
        while heap and heap[0][3] != heap[0][2].token:
            heapq.heappop(heap)

    def _next_event(self) -> Event | None:
        """Pop the earliest live event, advance the clock to it and build it (None: all done)."""
        heap = self._heap
        self._drop_cancelled()
        if heap:
            t, _, run, token, status = heapq.heappop(heap)
            self.clock.advance_to(t)
            if status is None:
                i = run.nxt
                run.nxt = i + 1
                if i + 1 < run.end:
                    heapq.heappush(
                        heap, (run.t0 + run.times[i + 1], next(self._counter), run, token, None)
                    )
                else:
                    heapq.heappush(heap, (t, next(self._counter), run, token, run.final))
                return ResultEvent(
                    trial_id=run.trial_id,
                    attempt=run.attempt,
                    seq=i - run.start,
                    time=t,
                    metrics=dict(zip(self._names, run.rows[i - run.start], strict=True)),
                )
            return self._end(run, t, status, run.reason)
        return None

    def _end(self, run: _Run, t: float, status: TrialStatus, reason: str = "") -> TrialEndedEvent:
        tid = run.trial_id
        if self._running.get(tid) is run:
            del self._running[tid]
        if status is not TrialStatus.PAUSED and self._paused.get(tid) is run:
            del self._paused[tid]
        prev = self._done.get(tid)
        if prev is None or prev[0] <= run.attempt:
            self._done[tid] = (run.attempt, *run.last())
        run.rows = []  # free the precomputed results
        return TrialEndedEvent(
            trial_id=tid, attempt=run.attempt, time=t, status=status, reason=reason
        )

    # ---------------------------------------------------------------- schedule

    def _trial_seed(self, trial_id: int) -> int:
        return zlib.crc32(f"{self.seed}:{trial_id}".encode()) & 0x7FFFFFFF

    def _launch(self, trial: Trial, last: int, elapsed: float) -> None:
        """Schedule ``trial`` from fidelity index ``last + 1``, ``elapsed`` seconds spent so far."""
        tid = trial.trial_id
        run = _Run(tid, trial.attempt, trial.config)
        now = self.clock.now()
        self._running[tid] = run
        try:
            config = trial.config
            if len(config) != len(self._space_keys) or not self._space_keys.issuperset(config):
                # constants the scheduler passes along (e.g. an epochs entry) are not the
                # blackbox's business; missing keys are left for the blackbox to name
                config = {k: v for k, v in config.items() if k in self._space_keys}
            seed = self._trial_seed(tid)
            curve = self.blackbox.learning_curve(config, seed=seed)
        except (AiotuneError, ValueError, KeyError, TypeError) as exc:
            run.start = run.nxt = run.end = 0
            run.times = [0.0]
            self._push_end(run, now, TrialStatus.FAILED, reason=f"blackbox: {exc}")
            return
        times = np.asarray(curve[self._runtime_name], dtype=float)
        # a curve shorter than the fidelities ends the trial early (completed or failed)
        n = min(self._n_fid, len(times))
        failure = self._failure(config, seed) if self._failure is not None else None
        run.final = TrialStatus.FAILED if failure else TrialStatus.COMPLETED
        run.reason = f"blackbox: {failure}" if failure else ""
        last = min(last, n - 1)
        start = last + 1
        done_time = float(times[last]) if last >= 0 else 0.0
        run.times = times.tolist()
        run.start = run.nxt = start
        run.end = n
        run.t0 = now - done_time
        run.base = elapsed - done_time
        if start >= n:
            self._push_end(run, now, run.final, run.reason)
            return
        cols: list[list[Any]] = [
            np.asarray(curve[o][start:n], dtype=float).tolist() for o in self._objectives
        ]
        if self.time_attr:
            cols.append(self._fid_values[start:n])
        cols.append((times[start:n] + run.base).tolist())
        run.rows = list(zip(*cols, strict=True))
        heapq.heappush(self._heap, (run.t0 + run.times[start], next(self._counter), run, 0, None))

    def _push_end(self, run: _Run, t: float, status: TrialStatus, reason: str = "") -> None:
        """Cancel the run's pending result and schedule its ended event at ``t``."""
        run.token += 1
        run.reason = reason
        heapq.heappush(self._heap, (t, next(self._counter), run, run.token, status))

    # ----------------------------------------------------------- the protocol

    async def start_trial(self, trial: Trial, checkpoint_from: int | None = None) -> None:
        """Schedule the trial's results from now (from a donor's fidelity: ``checkpoint_from``)."""
        if trial.trial_id in self._running:
            raise InvalidArgumentError(f"trial {trial.trial_id} is already running")
        last, elapsed = -1, 0.0
        if checkpoint_from is not None:
            donor = self._running.get(checkpoint_from) or self._paused.get(checkpoint_from)
            if donor is not None:
                last, elapsed = donor.last()
            elif checkpoint_from in self._done:
                _, last, elapsed = self._done[checkpoint_from]
            else:
                raise InvalidArgumentError(
                    f"checkpoint_from={checkpoint_from}: no such trial was started"
                )
            if not self.support_checkpointing:
                last, elapsed = -1, 0.0
        self._launch(trial, last, elapsed)

    async def stop_trial(self, trial_id: int) -> None:
        """End the trial's attempt now (STOPPED); no-op if it is not running or already done."""
        self._interrupt(trial_id, TrialStatus.STOPPED)

    async def pause_trial(self, trial_id: int) -> None:
        """End the trial's attempt now (PAUSED); it can be resumed from its last fidelity."""
        run = self._interrupt(trial_id, TrialStatus.PAUSED)
        if run is not None:
            self._paused[trial_id] = run

    def _interrupt(self, trial_id: int, status: TrialStatus) -> _Run | None:
        run = self._running.get(trial_id)
        if run is None or run.nxt >= run.end:
            return None  # unknown, already ending, or its last result is out: it completes
        self._push_end(run, self.clock.now(), status)
        run.end = run.nxt  # nothing more will be delivered
        return run

    async def resume_trial(self, trial: Trial) -> None:
        """Continue a paused trial after its last reported fidelity (a new attempt).

        A trial this backend has not seen (paused by an earlier tuner process)
        starts from the first fidelity, as a real trial without a checkpoint.
        Raises InvalidArgumentError if the trial is still running.
        """
        tid = trial.trial_id
        run = self._paused.pop(tid, None)
        if run is not None:
            if self._running.get(tid) is run:
                del self._running[tid]  # its PAUSED event is still pending
            last, elapsed = run.last()
        elif tid in self._running:
            raise InvalidArgumentError(f"trial {tid} is running, not paused; cannot resume it")
        elif tid in self._done:
            _, last, elapsed = self._done[tid]
        else:
            last, elapsed = -1, 0.0
        if not self.support_checkpointing:
            last, elapsed = -1, 0.0
        self._launch(trial, last, elapsed)

    async def busy_trial_ids(self) -> set[int]:
        """Trials with pending events (running, or stopping/pausing not yet reported)."""
        return set(self._running)

    def __repr__(self) -> str:
        return (
            f"SimulatorBackend(blackbox={self.blackbox!r}, time_attr={self.time_attr!r}, "
            f"elapsed_time_attr={self.elapsed_time_attr!r}, seed={self.seed}, "
            f"max_resource={self.max_resource!r}, clock={self.clock!r})"
        )


class _Events:
    """The pull-based event stream of one simulator session."""

    __slots__ = ("_backend", "_count")

    def __init__(self, backend: SimulatorBackend) -> None:
        self._backend = backend
        self._count = 0

    def __aiter__(self) -> _Events:
        return self

    def ready_now(self) -> bool:
        """True when the next live event is at the current simulated time."""
        backend = self._backend
        backend._drop_cancelled()
        return bool(backend._heap) and backend._heap[0][0] <= backend.clock.now()

    async def __anext__(self) -> Event:
        self._count += 1
        if self._count % _CHECKPOINT_EVERY == 0:
            await anyio.lowlevel.checkpoint()  # keep an outer event loop responsive
        event = self._backend._next_event()
        if event is None:
            raise StopAsyncIteration
        return event
