"""Trial processes in their own process groups: spawn, watch, signal, and tear down.

:class:`ProcessBackend` is the machinery :class:`~aiotune.backends.local.LocalBackend`
and :class:`~aiotune.backends.python.PythonBackend` share. Each attempt runs as
the leader of a fresh session (``start_new_session=True``), so one ``killpg``
reaches every process it started. One watcher task per attempt copies the
child's stdout and stderr to ``trials/<id>/``, turns ``[tune-metric]: {json}``
stdout lines into reports, learns the moment the leader exits from a pidfd
(asyncio's own ``wait()`` on Python < 3.13 returns only once every holder of
the pipes is gone, which a grandchild can delay forever), kills what is left of
the group, waits until every report of the attempt is in the event stream, and
only then sends the one ``TrialEndedEvent``. With ``trial_timeout`` or
``heartbeat_timeout`` a watchdog task per attempt sleeps until the next deadline
and ends a hung attempt (SIGTERM to the group, SIGKILL after the grace period) as
FAILED with the reason. Nothing polls: exits, reads and deadlines are awaited.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import math
import os
import shutil
import signal
import site
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles
import anyio
from anyio.abc import ByteReceiveStream, Process, TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._checks import check_positive_int
from ..clock import RealClock
from ..errors import InvalidArgumentError
from ..events import Event, TrialEndedEvent
from ..trial import Trial, TrialStatus
from ..wire import ENV_CHECKPOINT_DIR, parse_tune_metric_line
from ._gpus import CUDA_VISIBLE_DEVICES, GpuRotation, check_gpus_to_use, detect_gpus
from ._metric_lines import MetricLines
from ._orphans import record_process
from ._report_server import ReportServer
from .base import EventStream, ExperimentPaths

__all__ = ["LaunchSpec", "ProcessBackend", "describe_exit", "signal_group"]

EVENT_BUFFER = 10_000
"""Events held for a slow consumer before producers (and so trials) are slowed down."""
DRAIN_TIMEOUT = 2.0
"""Seconds to wait, after a trial's process is gone, for its last socket reports."""
PIPE_TIMEOUT = 2.0
"""Seconds to finish reading stdout/stderr once the group is killed (a pipe held elsewhere)."""
STDERR_TAIL_LINES = 50
_MAX_TAIL_LINE = 2000
_AIOTUNE_ROOT = str(Path(__file__).resolve().parents[2])


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if no process of the group is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def describe_exit(returncode: int) -> str:
    """``"exit code N"`` or ``"killed by signal SIGKILL"``: the reason a failed trial gets."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {name}"
    return f"exit code {returncode}"


def child_pythonpath(env: Mapping[str, str], extra: Sequence[str] = ()) -> str | None:
    """PYTHONPATH for a child: ``env``'s own, then ``extra``, then aiotune's root if needed.

    aiotune's root is added when aiotune is not installed in a site folder, so a
    trial script run from a source checkout can still ``from aiotune import Reporter``.
    """
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    parts += [p for p in extra if p not in parts]
    if not _installed_in_site() and _AIOTUNE_ROOT not in parts:
        parts.append(_AIOTUNE_ROOT)
    return os.pathsep.join(parts) if parts else None


@functools.cache
def _installed_in_site() -> bool:
    return _AIOTUNE_ROOT in {*site.getsitepackages(), site.getusersitepackages()}


@dataclass(frozen=True, kw_only=True)
class LaunchSpec:
    """How to start one attempt: argv (never a shell), extra environment, folder, stdin bytes."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    stdin: bytes | None = None


@dataclass(eq=False, kw_only=True)
class _Attempt:
    """One running attempt of a trial and what was asked of it."""

    trial_id: int
    attempt: int
    process: Process
    pidfd: int | None
    """Readable once the leader exits; -1 if it was already reaped, None without pidfds."""
    intent: TrialStatus | None = None
    failure: str | None = None
    """Why the backend ended the attempt itself (timeout, no heartbeat); it then ends FAILED."""
    kill_scheduled: bool = False
    started_at: float = 0.0
    last_report: float = 0.0
    """``anyio.current_time()`` of the start and of the latest accepted report."""
    exited: anyio.Event = field(default_factory=anyio.Event)
    """Set once the leader process has exited (its pipes may still be open)."""
    done: anyio.Event = field(default_factory=anyio.Event)
    """Set when the watcher is gone (ended event sent, or the watcher was cancelled)."""
    settled: anyio.Event = field(default_factory=anyio.Event)
    """Set by whichever of ``exited`` and ``done`` comes first."""

    @property
    def pgid(self) -> int:
        return self.process.pid


@dataclass(eq=False, kw_only=True)
class _Session:
    """What lives while ``session()`` is open."""

    experiment: ExperimentPaths
    tg: TaskGroup
    send: MemoryObjectSendStream[Event]
    server: ReportServer
    attempts: dict[int, _Attempt] = field(default_factory=dict)


class ProcessBackend:
    """Runs each trial attempt as a process group and pushes its events (see module doc).

    Subclasses say how to start an attempt (:meth:`_launch_spec`); this class
    owns the session, the watchers, stop/pause and teardown.
    """

    clock: RealClock
    delete_checkpoints: bool = False

    def __init__(
        self,
        stop_grace_period: float = 5.0,
        trial_timeout: float | None = None,
        heartbeat_timeout: float | None = None,
        rotate_gpus: bool = True,
        num_gpus_per_trial: int = 1,
        gpus_to_use: Sequence[int | str] | None = None,
    ) -> None:
        self.rotate_gpus = bool(rotate_gpus)
        self.num_gpus_per_trial = check_positive_int("num_gpus_per_trial", num_gpus_per_trial)
        self.gpus_to_use = check_gpus_to_use(gpus_to_use)
        self._gpus: GpuRotation | None = None  # set up at the first launch (may run nvidia-smi)
        self.stop_grace_period = _seconds("stop_grace_period", stop_grace_period, allow_zero=True)
        self.trial_timeout = (
            None if trial_timeout is None else _seconds("trial_timeout", trial_timeout)
        )
        self.heartbeat_timeout = (
            None if heartbeat_timeout is None else _seconds("heartbeat_timeout", heartbeat_timeout)
        )
        self.clock = RealClock()
        self._session: _Session | None = None
        self._tails: dict[int, collections.deque[str]] = {}

    # -- what subclasses provide -------------------------------------------------------------

    async def _launch_spec(self, trial: Trial, experiment: ExperimentPaths) -> LaunchSpec:
        """argv, env, cwd and stdin for attempt ``trial.attempt``; raise ValueError if invalid."""
        raise NotImplementedError

    # -- the protocol ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self, experiment: ExperimentPaths) -> AsyncIterator[EventStream]:
        """Start the report server and yield the event stream; on exit stop every live trial.

        Raises InvalidArgumentError if a session of this backend is already open.
        """
        if self._session is not None:
            raise InvalidArgumentError(f"{type(self).__name__} already has an open session")
        send, receive = anyio.create_memory_object_stream[Event](EVENT_BUFFER)
        self._tails = {}
        body_error: Exception | None = None
        with send, receive:
            async with anyio.create_task_group() as tg:
                on_report = self._on_report if self.heartbeat_timeout is not None else None
                server = ReportServer(send.clone(), self.clock, on_report=on_report)
                await tg.start(server.serve)
                state = _Session(experiment=experiment, tg=tg, send=send, server=server)
                self._session = state
                try:
                    yield receive
                except Exception as exc:  # re-raised below, outside the task group
                    body_error = exc
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown(state, receive)
                    self._session = None
                    tg.cancel_scope.cancel()
        if body_error is not None:
            raise body_error

    async def start_trial(self, trial: Trial, checkpoint_from: int | None = None) -> None:
        """Start attempt ``trial.attempt`` of ``trial`` now (copying a checkpoint first if asked).

        An invalid config or a process that cannot be started becomes a FAILED
        ended event, not an exception. Raises InvalidArgumentError outside a
        session or if the trial is still running.
        """
        state = self._require_session(trial.trial_id)
        if checkpoint_from is not None and checkpoint_from != trial.trial_id:
            source = state.experiment.checkpoint_dir(checkpoint_from)
            target = state.experiment.checkpoint_dir(trial.trial_id)
            await anyio.to_thread.run_sync(_copy_tree, source, target)
        await self._launch(state, trial)

    async def resume_trial(self, trial: Trial) -> None:
        """Start ``trial`` again as attempt ``trial.attempt``, with the same checkpoint folder."""
        state = self._require_session(trial.trial_id)
        await self._launch(state, trial)

    async def stop_trial(self, trial_id: int) -> None:
        """Ask the trial's process group to end (SIGTERM, SIGKILL after the grace period)."""
        self._request(trial_id, TrialStatus.STOPPED)

    async def pause_trial(self, trial_id: int) -> None:
        """Like ``stop_trial``, but the trial ends PAUSED and keeps its checkpoint."""
        self._request(trial_id, TrialStatus.PAUSED)

    async def busy_trial_ids(self) -> set[int]:
        """Trial ids whose attempt has not sent its ended event yet."""
        return set(self._session.attempts) if self._session is not None else set()

    def stderr_tail(self, trial_id: int) -> str:
        """The last lines the trial wrote to stderr (all attempts), for error messages."""
        return "\n".join(self._tails.get(trial_id, ()))

    # -- starting --

    def _require_session(self, trial_id: int) -> _Session:
        state = self._session
        if state is None:
            raise InvalidArgumentError(f"{type(self).__name__}: start trials inside session()")
        if trial_id in state.attempts:
            raise InvalidArgumentError(f"trial {trial_id} is still running")
        return state

    async def _launch(self, state: _Session, trial: Trial) -> None:
        try:
            spec = await self._launch_spec(trial, state.experiment)
        except ValueError as exc:
            state.tg.start_soon(self._send_failed, state, trial, f"invalid config: {exc}")
            return
        env = dict(os.environ)
        env.update(spec.env)
        if self.rotate_gpus and CUDA_VISIBLE_DEVICES not in spec.env:  # the user's own wins
            gpus = await self._gpu_rotation()
            if gpus.gpus:
                env[CUDA_VISIBLE_DEVICES] = gpus.acquire(trial.trial_id)
        env.update(state.server.register(trial.trial_id, trial.attempt))
        env[ENV_CHECKPOINT_DIR] = str(state.experiment.checkpoint_dir(trial.trial_id))
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            process = await anyio.open_process(
                spec.argv,
                stdin=subprocess.PIPE if spec.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            state.server.unregister(trial.trial_id, trial.attempt)
            if self._gpus is not None:
                self._gpus.release(trial.trial_id)
            reason = f"could not start {spec.argv[0]!r}: {exc}"
            state.tg.start_soon(self._send_failed, state, trial, reason)
            return
        now = anyio.current_time()
        att = _Attempt(
            trial_id=trial.trial_id,
            attempt=trial.attempt,
            process=process,
            pidfd=_open_pidfd(process.pid),
            started_at=now,
            last_report=now,
        )
        state.attempts[trial.trial_id] = att
        state.tg.start_soon(self._watch, state, att, spec.stdin)
        if self.trial_timeout is not None or self.heartbeat_timeout is not None:
            state.tg.start_soon(self._watchdog, state, att)
        trial_dir = state.experiment.trial_dir(trial.trial_id)
        state.tg.start_soon(  # for Tuner.load after a crash (G8); it fsyncs, so in a thread
            anyio.to_thread.run_sync, record_process, trial_dir, process.pid, trial.attempt
        )

    async def _send_failed(self, state: _Session, trial: Trial, reason: str) -> None:
        event = TrialEndedEvent(
            trial_id=trial.trial_id,
            attempt=trial.attempt,
            time=self.clock.now(),
            status=TrialStatus.FAILED,
            reason=reason,
        )
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await state.send.send(event)

    # -- watching --

    async def _watch(self, state: _Session, att: _Attempt, stdin: bytes | None) -> None:
        """Copy output, parse metric lines, await the exit, then send the one ended event."""
        try:
            trial_dir = state.experiment.trial_dir(att.trial_id)
            tail = self._tails.setdefault(
                att.trial_id, collections.deque(maxlen=STDERR_TAIL_LINES)
            )
            proc = att.process
            async with _append_file(trial_dir / "stdout") as out_file, _append_file(
                trial_dir / "stderr"
            ) as err_file:
                async with anyio.create_task_group() as pumps:
                    if stdin is not None and proc.stdin is not None:
                        pumps.start_soon(_feed, proc.stdin, stdin)
                    assert proc.stdout is not None and proc.stderr is not None
                    pumps.start_soon(self._pump_stdout, state, att, proc.stdout, out_file)
                    pumps.start_soon(_pump_stderr, proc.stderr, err_file, tail)
                    await _wait_leader(att)
                    att.exited.set()
                    att.settled.set()
                    signal_group(att.pgid, signal.SIGKILL)  # no grandchild survives
                    pumps.cancel_scope.deadline = anyio.current_time() + PIPE_TIMEOUT
                with anyio.move_on_after(PIPE_TIMEOUT):
                    await proc.aclose()  # closes our pipe ends even if an escapee holds theirs
            await _drain(state, att)
            returncode = proc.returncode
            status, reason = _outcome(att.intent, att.failure, returncode)
            if self.delete_checkpoints and status in (TrialStatus.COMPLETED, TrialStatus.STOPPED):
                path = state.experiment.checkpoint_dir(att.trial_id)
                await anyio.to_thread.run_sync(shutil.rmtree, path, True)
            event = TrialEndedEvent(
                trial_id=att.trial_id,
                attempt=att.attempt,
                time=self.clock.now(),
                status=status,
                reason=reason,
                exit_code=returncode,
            )
            self._forget(state, att)
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await state.send.send(event)
        finally:
            self._forget(state, att)
            att.done.set()
            att.settled.set()

    async def _gpu_rotation(self) -> GpuRotation:
        """The GPU pool, found once (``nvidia-smi`` runs in a worker thread)."""
        if self._gpus is None:
            pool = self.gpus_to_use
            if pool is None:
                pool = await anyio.to_thread.run_sync(detect_gpus, dict(os.environ))
            if self._gpus is None:
                self._gpus = GpuRotation(pool, self.num_gpus_per_trial)
        return self._gpus

    def _forget(self, state: _Session, att: _Attempt) -> None:
        if state.attempts.get(att.trial_id) is att:
            del state.attempts[att.trial_id]
            state.server.unregister(att.trial_id, att.attempt)
            if self._gpus is not None:
                self._gpus.release(att.trial_id)
            if att.pidfd is not None and att.pidfd >= 0:
                os.close(att.pidfd)
            att.pidfd = None

    async def _pump_stdout(
        self, state: _Session, att: _Attempt, stream: ByteReceiveStream, file: Any
    ) -> None:
        """Append stdout to its file and deliver every ``[tune-metric]`` line as a report."""
        lines = MetricLines()
        async for chunk in stream:
            await file.write(chunk)
            for line in lines.feed(chunk):
                _deliver_line(state.server, att, line)
        for line in lines.close():
            _deliver_line(state.server, att, line)

    # -- deadlines --

    def _on_report(self, trial_id: int, attempt: int) -> None:
        """The report server accepted a report: the attempt is alive (its heartbeat)."""
        state = self._session
        att = state.attempts.get(trial_id) if state is not None else None
        if att is not None and att.attempt == attempt:
            att.last_report = anyio.current_time()

    async def _watchdog(self, state: _Session, att: _Attempt) -> None:
        """End the attempt as FAILED once it outlives ``trial_timeout`` or stops reporting.

        It sleeps until the earliest deadline (the exit wakes it at once); a
        report that moved the heartbeat deadline meanwhile just means one more
        sleep, so it wakes at most once per heartbeat period, never on a timer.
        """
        timeout, heartbeat = self.trial_timeout, self.heartbeat_timeout
        while not att.exited.is_set():
            wake = math.inf
            if timeout is not None:
                wake = att.started_at + timeout
            if heartbeat is not None:
                wake = min(wake, att.last_report + heartbeat)
            with anyio.move_on_after(max(wake - anyio.current_time(), 0.0)):
                await att.exited.wait()
            if att.exited.is_set() or att.intent is not None:
                return  # ended, or being stopped/paused already: the grace-period kill applies
            now = anyio.current_time()
            if timeout is not None and now >= att.started_at + timeout:
                reason = f"timeout: still running after trial_timeout={timeout:g} s"
            elif heartbeat is not None and now >= att.last_report + heartbeat:
                reason = f"no report for {heartbeat:g} s (heartbeat_timeout)"
            else:
                continue
            att.failure = reason
            self._terminate(state, att)
            return

    # -- stopping --

    def _request(self, trial_id: int, intent: TrialStatus) -> None:
        state = self._session
        att = state.attempts.get(trial_id) if state is not None else None
        if state is None or att is None:
            return
        if att.intent is not TrialStatus.STOPPED:
            att.intent = intent
        if att.exited.is_set():
            return
        self._terminate(state, att)

    def _terminate(self, state: _Session, att: _Attempt) -> None:
        """SIGTERM the attempt's process group now, SIGKILL it after the grace period."""
        signal_group(att.pgid, signal.SIGTERM)
        if not att.kill_scheduled:
            att.kill_scheduled = True
            state.tg.start_soon(self._kill_after_grace, att)

    async def _kill_after_grace(self, att: _Attempt) -> None:
        with anyio.move_on_after(self.stop_grace_period):
            await att.exited.wait()
        if not att.exited.is_set():
            signal_group(att.pgid, signal.SIGKILL)

    async def _shutdown(self, state: _Session, receive: MemoryObjectReceiveStream[Event]) -> None:
        """Stop every live attempt, wait for the processes, let the watchers finish."""
        state.tg.start_soon(_discard, receive)  # nobody reads any more: never block a producer
        live = list(state.attempts.values())
        for att in live:
            att.intent = att.intent or TrialStatus.STOPPED
            signal_group(att.pgid, signal.SIGTERM)
        with anyio.move_on_after(self.stop_grace_period):
            for att in live:
                await att.settled.wait()
                if not att.exited.is_set():  # watcher cancelled: the pipes tell instead
                    await att.process.wait()
        for att in live:
            signal_group(att.pgid, signal.SIGKILL)
        with anyio.move_on_after(PIPE_TIMEOUT + DRAIN_TIMEOUT + 1.0):
            for att in live:
                await att.done.wait()
        for att in live:  # watchers cancelled from outside: still reap and release
            with anyio.move_on_after(PIPE_TIMEOUT):
                await att.process.aclose()
            self._forget(state, att)


def _outcome(
    intent: TrialStatus | None, failure: str | None, returncode: int | None
) -> tuple[TrialStatus, str]:
    if failure is not None:  # the backend ended it (timeout) before anyone asked it to stop
        return TrialStatus.FAILED, failure
    if intent is not None:
        return intent, ""
    if returncode == 0:
        return TrialStatus.COMPLETED, ""
    if returncode is None:
        return TrialStatus.FAILED, "exit status unknown"
    return TrialStatus.FAILED, describe_exit(returncode)


def _seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` as a finite number of seconds (> 0, or >= 0); InvalidArgumentError otherwise."""
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _open_pidfd(pid: int) -> int | None:
    """A pidfd for ``pid`` (readable once it exits), or None where pidfds are unavailable."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except ProcessLookupError:
        return -1  # already gone and reaped
    except OSError:
        return None


async def _wait_leader(att: _Attempt) -> None:
    """Return once the attempt's leader process has exited (its pipes may still be open).

    A pidfd says so the moment it happens. Without pidfds (not Linux), anyio's
    ``wait()`` is used: recent anyio returns on exit too, older anyio on asyncio
    only once the pipes close (a grandchild holding them then delays the end).
    """
    if att.exited.is_set() or att.pidfd == -1:
        return
    if att.pidfd is not None:
        await anyio.wait_readable(att.pidfd)
    else:
        await att.process.wait()


async def _drain(state: _Session, att: _Attempt) -> None:
    """Wait until every report of the attempt is in the event stream, so the ended event is last.

    The server's drain gives up after DRAIN_TIMEOUT (a socket held open by a
    process that escaped the group must not hold the trial forever); while the
    stream is congested the holdup may be a slow consumer instead, so wait on.
    """
    while True:
        started = anyio.current_time()
        await state.server.drain(att.trial_id, att.attempt, timeout=DRAIN_TIMEOUT)
        if anyio.current_time() - started < DRAIN_TIMEOUT:
            return
        stats = state.send.statistics()
        if not stats.tasks_waiting_send and stats.current_buffer_used < stats.max_buffer_size:
            return


def _deliver_line(server: ReportServer, att: _Attempt, line: bytes) -> None:
    """Deliver one metric line's report (never blocks: the server queues it)."""
    metrics = parse_tune_metric_line(line.decode("utf-8", "replace"))
    if metrics is not None:
        server.deliver(att.trial_id, att.attempt, metrics)


async def _feed(stream: Any, data: bytes) -> None:
    """Write ``data`` to the child's stdin and close it; a child that died early is fine."""
    try:
        await stream.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, anyio.BrokenResourceError):
            await stream.aclose()


async def _pump_stderr(
    stream: ByteReceiveStream, file: Any, tail: collections.deque[str]
) -> None:
    """Append stderr to its file and keep its last lines in ``tail``."""
    partial = b""
    async for chunk in stream:
        await file.write(chunk)
        data = partial + chunk if partial else chunk
        lines = data.split(b"\n")
        partial = lines.pop()
        if len(partial) > _MAX_TAIL_LINE:
            partial = partial[:_MAX_TAIL_LINE]
        for line in lines[-STDERR_TAIL_LINES:]:
            tail.append(line[:_MAX_TAIL_LINE].decode("utf-8", "replace"))
    if partial:
        tail.append(partial.decode("utf-8", "replace"))


async def _discard(receive: MemoryObjectReceiveStream[Event]) -> None:
    with contextlib.suppress(anyio.ClosedResourceError, anyio.EndOfStream):
        async for _ in receive:
            pass


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a checkpoint folder's content into ``target`` (nothing if ``source`` is missing).

    The donor trial may still be running and replacing its files (a temporary file
    renamed over the checkpoint): a file listed but gone by the time it is copied is
    skipped, not an error; its replacement, listed too, is copied.
    """
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, copy_function=_copy_if_present)


def _copy_if_present(src: str, dst: str) -> None:
    """``shutil.copy2`` unless ``src`` vanished since it was listed."""
    try:
        shutil.copy2(src, dst)
    except FileNotFoundError:
        if os.path.exists(src):  # the target's folder is what is missing: a real error
            raise


@contextlib.asynccontextmanager
async def _append_file(path: Path) -> AsyncIterator[Any]:
    """An aiofiles file opened for appending whose close survives cancellation.

    ``async with aiofiles.open(...)`` closes in a worker thread; a cancelled
    session would abandon that close and leak the file. Here the close is shielded.
    """
    file = await aiofiles.open(path, "ab")
    try:
        yield file
    finally:
        with anyio.CancelScope(shield=True):
            await file.close()
