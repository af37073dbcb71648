"""DaskBackend: each trial attempt runs as a subprocess on a worker of a Dask cluster.

The tuner talks to the cluster through Dask's asynchronous client, so nothing
blocks its event loop. Each attempt is one ``async`` Dask task
(:func:`aiotune.backends._dask_worker.run_attempt`) that starts the entry point
in its own process group on a worker and returns its exit status with the tail
of its stderr. Trials report with :class:`aiotune.Reporter` over TCP to the
tuner's :class:`ReportServer` (bound to ``report_host``; the per-attempt 256-bit
secret authenticates them). Stop and pause set a Dask ``Event`` the task waits
on; the task then terminates the group on its worker.

Worker loss: the tuner watches the scheduler's ``remove-worker`` events and a
heartbeat each running attempt logs every ``heartbeat_timeout / 5`` seconds. A
worker that dies (or freezes longer than ``heartbeat_timeout``) fails its
attempts with the reason "worker lost: ..." at once; the attempt is unregistered,
so frames its trial still sends are rejected, and Dask's re-run of the task on
another worker starts nothing. ``Tuner(max_retries_per_trial=...)`` restarts it
as a new attempt. On Linux the trial's leader process dies with its worker.

An attempt that has not started yet may wait for a free worker thread as long as
the cluster is busy; waiting alone never fails it. But from ``heartbeat_timeout``
after its submission on, every ``heartbeat_timeout / 5`` seconds, the tuner asks
the scheduler which worker holds its task and when that worker last sent Dask's
own heartbeat: a worker silent for ``heartbeat_timeout`` (measured against the
other workers' heartbeats and the tuner's clock, so clock skew does not count)
fails the attempt with "worker lost: no heartbeat ...". A worker that went silent
is left out of placement until the scheduler hears from it again: an attempt
submitted meanwhile may run only on the workers the scheduler heard from at its
submission (if there are any).

A worker that froze cannot kill its trial: the trial's processes run on, writing
the checkpoint folder. So the next attempt of a trial lost to a silent worker is
submitted only once that worker reports the lost attempt's processes gone (it
kills them as soon as it runs again), or the scheduler removed the worker (its
``worker-ttl``, 5 minutes by default; a nanny then kills the worker process and
the trial's leader with it, and a worker without one kills its trials when it
finds itself disconnected), at most ``LOST_ATTEMPT_WAIT`` seconds. Meanwhile the
attempt counts as running, and a stop ends it without starting it. An attempt
lost before its worker claimed its task had no process, and a worker that left
the cluster took its trial's leader with it: their next attempts start at once.

A LocalCluster started by the session runs each worker in a session of its own,
so a Ctrl-C at the terminal (sent to the whole foreground process group) reaches
only the tuner, which stops the trials, and not the workers running them.

Assumptions: the workers see the tuner's filesystem at the same paths (the
experiment folder, with ``trials/<id>/stdout``, ``stderr`` and checkpoints, and
the entry point), have aiotune importable, and can reach ``report_host``.
Metrics come through the Reporter, or as Syne Tune's ``[tune-metric]`` stdout
lines, which the worker sends on the session's event topic, numbered; an
attempt's ended event waits until every line it sent was delivered (bounded by
``DRAIN_TIMEOUT``). A tuner that dies leaves no trial behind: its client's tasks
are cancelled by Dask, and each worker kills a cancelled attempt's process group
at its next heartbeat. A tuner resumed sooner does not wait for that: before it
starts a trial on an external cluster, it stops the attempt its predecessor
recorded in ``trials/<id>/dask_attempt.json`` and waits until that is gone, so
two attempts do not share the checkpoint folder. That wait lasts at most
``stop_grace_period`` plus a few seconds: an attempt on a worker frozen at that
time may still run beside the new one.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream

from .._spec import component
from ..clock import RealClock
from ..errors import InvalidArgumentError
from ..events import Event, TrialEndedEvent
from ..trial import Trial, TrialStatus
from ..wire import ENV_CHECKPOINT_DIR, ENV_REPORT_ADDR
from ._dask_cluster import _import_distributed, connect
from ._dask_live import LIVE_ATTEMPT_NAME as LIVE_ATTEMPT_NAME
from ._dask_live import end_earlier_attempt, forget_live, record_live
from ._dask_metric_lines import drain_lines, on_metric_line
from ._dask_session import RPC_TIMEOUT, _Attempt, _event, _Session, ask
from ._dask_silence import LOST_ATTEMPT_WAIT as LOST_ATTEMPT_WAIT
from ._dask_silence import _silences as _silences  # tests import it from here
from ._dask_silence import (
    after_lost_predecessor,
    forget_lost,
    healthy_workers,
    heartbeat_watch,
    lose,
)
from ._dask_worker import AttemptResult, AttemptSpec, run_attempt
from ._process import DRAIN_TIMEOUT, EVENT_BUFFER, _copy_tree, child_pythonpath, describe_exit
from ._report_server import ReportServer
from .base import EventStream, ExperimentPaths
from .local import CONFIG_JSON_ARG, CONFIG_JSON_NAME, config_to_argv

__all__ = ["DaskBackend"]

_json_encoder = msgspec.json.Encoder()
_spec_encoder = msgspec.msgpack.Encoder()
_result_decoder = msgspec.msgpack.Decoder(AttemptResult)


@component
class DaskBackend:
    """Runs ``entry_point`` once per trial attempt on a worker of a Dask cluster.

    ``scheduler_address`` names a running scheduler (``tcp://host:8786``); None
    starts a ``distributed.LocalCluster`` for the session. Trials get their
    config as argv entries (or, with ``pass_args_as_json``, a JSON file named by
    Syne Tune's ``--st_config_json_filename``) and ``--st_checkpoint_dir``,
    as with :class:`~aiotune.backends.local.LocalBackend`, and report over TCP to
    ``report_host`` (an address of this machine the workers can reach).
    ``heartbeat_timeout`` is how long a worker may stay silent before its
    trials fail with "worker lost". Needs the ``dask`` extra and asyncio.
    """

    clock: RealClock
    supports_restart_after_crash = True
    """``Tuner.load`` restarts the trials a crashed tuner left from their checkpoints: a
    local cluster's trials died with it, and an external cluster's earlier attempt is
    stopped before the new one starts."""

    def __init__(
        self,
        entry_point: str | Path,
        scheduler_address: str | None = None,
        report_host: str = "127.0.0.1",
        pass_args_as_json: bool = False,
        stop_grace_period: float = 5.0,
        heartbeat_timeout: float = 30.0,
        python: str | None = None,
        env: dict[str, Any] | None = None,
    ) -> None:
        path = Path(entry_point).expanduser().resolve()
        if not path.is_file():
            raise InvalidArgumentError(f"entry_point {str(entry_point)!r} is not a file")
        if scheduler_address is not None and not (
            isinstance(scheduler_address, str) and scheduler_address
        ):
            raise InvalidArgumentError(f"scheduler_address {scheduler_address!r} is not valid")
        if not (isinstance(report_host, str) and report_host):
            raise InvalidArgumentError(f"report_host {report_host!r} is not valid")
        for name, value, low in (
            ("stop_grace_period", stop_grace_period, 0.0),
            ("heartbeat_timeout", heartbeat_timeout, 0.05),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= low):
                raise InvalidArgumentError(
                    f"{name} must be a finite number >= {low}, got {value!r}"
                )
        if env is not None and not (isinstance(env, dict) and all(isinstance(k, str) for k in env)):
            raise InvalidArgumentError("env must be a dict with string keys")
        for key, value in (env or {}).items():
            if "\0" in key or "=" in key or not key or "\0" in str(value):
                raise InvalidArgumentError(f"env variable {key!r} cannot be set")
        self.entry_point = path
        self.scheduler_address = scheduler_address
        self.report_host = report_host
        self.pass_args_as_json = bool(pass_args_as_json)
        self.stop_grace_period = float(stop_grace_period)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.python = python
        self.env = {k: str(v) for k, v in (env or {}).items()}
        if python is not None:
            self._interpreter = [python]
        elif path.suffix == ".py":
            self._interpreter = [sys.executable]
        else:
            self._interpreter = []
        self.clock = RealClock()
        self._session: _Session | None = None
        self._tails: dict[int, list[str]] = {}

    def __repr__(self) -> str:
        return (
            f"DaskBackend(entry_point={str(self.entry_point)!r}, "
            f"scheduler_address={self.scheduler_address!r}, report_host={self.report_host!r}, "
            f"heartbeat_timeout={self.heartbeat_timeout})"
        )

    @property
    def report_server(self) -> ReportServer | None:
        """The open session's report server (its ``stats`` count rejected frames), else None."""
        return self._session.server if self._session is not None else None

    def worker_of(self, trial_id: int) -> tuple[str, int | None] | None:
        """``(worker address, worker pid)`` running the trial's live attempt, once it started."""
        att = self._session.attempts.get(trial_id) if self._session is not None else None
        if att is None or not att.started.is_set():
            return None
        return att.worker, att.worker_pid

    def stderr_tail(self, trial_id: int) -> str:
        """The last lines the trial's latest finished attempt wrote to stderr."""
        return "\n".join(self._tails.get(trial_id, ()))

    # -- the protocol ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self, experiment: ExperimentPaths) -> AsyncIterator[EventStream]:
        """Start the TCP report server, connect to the cluster and yield the event stream.

        Leaving it stops every live trial and closes the client (and the
        cluster it started). Raises InvalidArgumentError if a session is open,
        outside asyncio, or without the ``distributed`` package; OSError if
        the report server cannot bind.
        """
        if self._session is not None:
            raise InvalidArgumentError("DaskBackend already has an open session")
        client_cls, cluster_cls = _import_distributed()
        send, receive = anyio.create_memory_object_stream[Event](EVENT_BUFFER)
        self._tails = {}
        body_error: Exception | None = None
        with send, receive:
            async with anyio.create_task_group() as tg:
                server = ReportServer(send.clone(), self.clock, tcp_host=self.report_host)
                await tg.start(server.serve)
                stack = contextlib.AsyncExitStack()
                try:
                    client = await connect(stack, cluster_cls, client_cls, self.scheduler_address)
                    topic = f"aiotune-{uuid.uuid4().hex[:12]}"
                    state = _Session(experiment, tg, send, server, client, topic)
                    client.subscribe_topic(topic, self._on_trial_event)
                    client.subscribe_topic("all", self._on_cluster_event)
                    self._session = state
                    try:
                        yield receive
                    except Exception as exc:  # re-raised below, outside the task group
                        body_error = exc
                    finally:
                        with anyio.CancelScope(shield=True):
                            await self._shutdown(state, receive)
                        self._session = None
                finally:  # a cancelled session still closes the client and its cluster
                    deadline = anyio.current_time() + RPC_TIMEOUT
                    with anyio.CancelScope(shield=True, deadline=deadline):
                        await stack.aclose()
                tg.cancel_scope.cancel()
        if body_error is not None:
            raise body_error

    async def start_trial(self, trial: Trial, checkpoint_from: int | None = None) -> None:
        """Submit attempt ``trial.attempt`` (copying a checkpoint first if asked).

        An invalid config becomes a FAILED ended event, not an exception.
        Raises InvalidArgumentError outside a session or if the trial is running.
        """
        state = self._require_session(trial.trial_id)
        if checkpoint_from is not None and checkpoint_from != trial.trial_id:
            source = state.experiment.checkpoint_dir(checkpoint_from)
            target = state.experiment.checkpoint_dir(trial.trial_id)
            await anyio.to_thread.run_sync(_copy_tree, source, target)
        await self._launch(state, trial)

    async def resume_trial(self, trial: Trial) -> None:
        """Start ``trial`` again as attempt ``trial.attempt``, with the same checkpoint folder."""
        await self._launch(self._require_session(trial.trial_id), trial)

    async def stop_trial(self, trial_id: int) -> None:
        """Ask the worker to end the trial (SIGTERM, SIGKILL after the grace period)."""
        await self._request(trial_id, TrialStatus.STOPPED)

    async def pause_trial(self, trial_id: int) -> None:
        """Like ``stop_trial``, but the trial ends PAUSED and keeps its checkpoint."""
        await self._request(trial_id, TrialStatus.PAUSED)

    async def busy_trial_ids(self) -> set[int]:
        """Trial ids whose attempt has not sent its ended event yet."""
        return set(self._session.attempts) if self._session is not None else set()

    # -- starting --------------------------------------------------------------------------------

    def _require_session(self, trial_id: int) -> _Session:
        state = self._session
        if state is None:
            raise InvalidArgumentError("DaskBackend: start trials inside session()")
        if trial_id in state.attempts:
            raise InvalidArgumentError(f"trial {trial_id} is still running")
        return state

    async def _argv(self, trial: Trial, experiment: ExperimentPaths) -> list[str]:
        """The attempt's argv; raises ValueError naming a key that cannot be passed."""
        argv = [*self._interpreter, os.fspath(self.entry_point)]
        if self.pass_args_as_json:
            try:
                data = _json_encoder.encode(trial.config)
            except (TypeError, msgspec.EncodeError) as exc:
                raise ValueError(f"config cannot be written as JSON: {exc}") from exc
            path = experiment.trial_dir(trial.trial_id) / CONFIG_JSON_NAME
            await anyio.Path(path).write_bytes(data)
            argv += [f"--{CONFIG_JSON_ARG}", os.fspath(path)]
        else:
            argv += config_to_argv(trial.config)
        return [*argv, "--st_checkpoint_dir", os.fspath(experiment.checkpoint_dir(trial.trial_id))]

    async def _launch(self, state: _Session, trial: Trial) -> None:
        try:
            argv = await self._argv(trial, state.experiment)
        except ValueError as exc:
            await self._send_ended(
                state, trial.trial_id, trial.attempt, TrialStatus.FAILED, f"invalid config: {exc}"
            )
            return
        env = dict(self.env)
        pythonpath = child_pythonpath({**os.environ, **env})
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        env.update(state.server.register(trial.trial_id, trial.attempt))
        env[ENV_REPORT_ADDR] = state.server.tcp_address
        checkpoint_dir = state.experiment.checkpoint_dir(trial.trial_id)
        env[ENV_CHECKPOINT_DIR] = os.fspath(checkpoint_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        trial_dir = state.experiment.trial_dir(trial.trial_id)
        key = f"{state.topic}-{trial.trial_id}-{trial.attempt}"
        if self.scheduler_address is not None:  # a local cluster's trials died with it
            await end_earlier_attempt(
                state, trial_dir, self.scheduler_address, self.stop_grace_period
            )
        spec = AttemptSpec(
            trial_id=trial.trial_id,
            attempt=trial.attempt,
            argv=argv,
            env=env,
            cwd=os.fspath(self.entry_point.parent),
            stdout_path=os.fspath(trial_dir / "stdout"),
            stderr_path=os.fspath(trial_dir / "stderr"),
            stop_event=_event(key, "stop"),
            claim_event=_event(key, "claim"),
            topic=state.topic,
            heartbeat_interval=self.heartbeat_timeout / 5,
            stop_grace_period=self.stop_grace_period,
            key=key,
            done_event=_event(key, "done"),
        )
        att = _Attempt(trial_id=trial.trial_id, attempt=trial.attempt, key=key)
        state.attempts[trial.trial_id] = att
        state.tg.start_soon(self._watch, state, att, spec)

    async def _submit(self, state: _Session, att: _Attempt, spec: AttemptSpec) -> None:
        """Record the attempt (external cluster), then submit its task, not to silent workers."""
        if self.scheduler_address is not None:
            await record_live(state, att, self.scheduler_address)
        # Strict: with loose restrictions Dask's work stealing hands a task queued on a
        # busy worker to the idle-looking silent one.
        healthy = await healthy_workers(state, self.heartbeat_timeout)
        placement: dict[str, Any] = {"workers": healthy} if healthy else {}
        if att.stop_asked.is_set():
            return  # asked to stop meanwhile: never submitted
        att.future = state.client.submit(
            run_attempt,
            _spec_encoder.encode(spec),
            key=att.key,
            pure=False,
            retries=0,
            **placement,
        )

    # -- watching --------------------------------------------------------------------------------

    def _on_trial_event(self, event: tuple[float, Any]) -> None:
        """A worker's message about one attempt: ``started``, a heartbeat, a metric line, or
        ``gone`` (its processes are)."""
        msg = event[1]
        state = self._session
        if state is None or not isinstance(msg, dict):
            return
        if msg.get("kind") == "gone":
            lost = forget_lost(state, msg.get("trial_id"), msg.get("attempt"))
            if lost is not None:
                state.silent.discard(lost.worker)  # it speaks again
            return
        att = state.attempts.get(msg.get("trial_id", -1))
        if att is None or att.attempt != msg.get("attempt"):
            return
        att.last_beat = anyio.current_time()
        if msg.get("kind") == "metric":
            self._on_metric_line(state, att, msg.get("n"), msg.get("line"))
        elif msg.get("kind") == "started" and not att.started.is_set():
            att.worker = str(msg.get("worker", ""))
            att.worker_pid = msg.get("worker_pid")
            att.pid = msg.get("pid")
            att.started.set()

    def _on_metric_line(self, state: _Session, att: _Attempt, n: Any, line: Any) -> None:
        """Deliver the attempt's ``[tune-metric]`` lines in the order its worker numbered them."""
        on_metric_line(state, att, n, line)

    async def _drain_lines(self, att: _Attempt, count: int) -> None:
        """Wait until ``count`` metric lines of the attempt were delivered (bounded)."""
        await drain_lines(att, count)

    def _on_cluster_event(self, event: tuple[float, Any]) -> None:
        """The scheduler removed a worker: its attempts are lost, and those lost to its
        silence earlier are gone (a worker that left kills its trials)."""
        msg = event[1]
        state = self._session
        if state is None or not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        address = msg.get("worker")
        keys = set(msg.get("processing-tasks") or ())
        for att in list(state.attempts.values()):
            if (att.worker and att.worker == address) or att.key in keys:
                lose(state, att, f"worker lost: {address} left the cluster")
        for trial_id, lost in list(state.lost.items()):
            if lost.worker == address:
                forget_lost(state, trial_id, lost.attempt)
        state.silent.discard(address)

    async def _watch(self, state: _Session, att: _Attempt, spec: AttemptSpec) -> None:
        """Submit the attempt (once a lost predecessor is gone), await its task or its loss,
        then send the one ended event."""
        try:
            if await after_lost_predecessor(state, att):
                await self._submit(state, att, spec)
            if att.future is None:  # asked to stop before it was submitted: it never ran
                status, reason, code = att.intent or TrialStatus.STOPPED, "", None
            else:
                status, reason, code = await self._outcome(state, att)
            await forget_live(state, att, self.scheduler_address)
            self._forget(state, att)
            await self._send_ended(state, att.trial_id, att.attempt, status, reason, code)
        finally:
            self._forget(state, att)
            att.done.set()

    async def _outcome(self, state: _Session, att: _Attempt) -> tuple[TrialStatus, str, int | None]:
        """Await the submitted attempt's task, or its loss, and say how it ended."""
        result: AttemptResult | None = None
        error: BaseException | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(heartbeat_watch, state, att, self.heartbeat_timeout)
            with att.scope:
                try:
                    result = _result_decoder.decode(await att.future)
                except Exception as exc:  # KilledWorker, a cancelled future, ...
                    error = exc
            tg.cancel_scope.cancel()
        if att.lost_reason:
            return await self._given_up(state, att)
        return await self._finished(state, att, result, error)

    async def _given_up(
        self, state: _Session, att: _Attempt
    ) -> tuple[TrialStatus, str, int | None]:
        """A lost attempt: reject its late frames, tell the worker (if it returns) to kill it."""
        state.server.unregister(att.trial_id, att.attempt)
        with anyio.move_on_after(RPC_TIMEOUT):
            await state.client.scheduler.event_set(name=att.stop_event)
        with anyio.move_on_after(RPC_TIMEOUT):
            await state.client.cancel([att.future], force=True)
        if att.silent_worker and not att.started.is_set():
            # Its stop is set, so a worker that claims it from now on starts nothing.
            claimed = await ask(state, "event_is_set", name=att.claim_event)
            if claimed is False:
                forget_lost(state, att.trial_id, att.attempt)
        return att.intent or TrialStatus.FAILED, att.lost_reason, None

    async def _finished(
        self,
        state: _Session,
        att: _Attempt,
        result: AttemptResult | None,
        error: BaseException | None,
    ) -> tuple[TrialStatus, str, int | None]:
        """The task returned (or raised): drain the attempt's reports, then say how it ended."""
        if result is None:
            name = type(error).__name__
            lost = name == "KilledWorker"
            reason = f"worker lost: {error}" if lost else f"dask task failed: {name}: {error}"
            state.server.unregister(att.trial_id, att.attempt)
            return att.intent or TrialStatus.FAILED, reason, None
        if result.kind == "exited":
            await self._drain_lines(att, result.metric_lines)
            await state.server.drain(att.trial_id, att.attempt, timeout=DRAIN_TIMEOUT)
        state.server.unregister(att.trial_id, att.attempt)
        self._tails[att.trial_id] = list(result.stderr_tail)
        with anyio.move_on_after(RPC_TIMEOUT):  # the events end unset: the scheduler forgets them
            await state.client.scheduler.event_clear(name=att.stop_event)
            await state.client.scheduler.event_clear(name=att.claim_event)
            await state.client.scheduler.event_clear(name=att.done_event)
        code = result.exit_code
        if att.intent is not None:
            return att.intent, "", code
        if result.kind == "rerun":
            return TrialStatus.FAILED, f"worker lost: task re-run on {result.worker}", None
        if result.kind != "exited":
            return TrialStatus.FAILED, result.reason or f"not started ({result.kind})", code
        if code == 0:
            return TrialStatus.COMPLETED, "", 0
        if code is None:
            return TrialStatus.FAILED, "exit status unknown", None
        return TrialStatus.FAILED, describe_exit(code), code

    def _forget(self, state: _Session, att: _Attempt) -> None:
        if state.attempts.get(att.trial_id) is att:
            del state.attempts[att.trial_id]
            state.server.unregister(att.trial_id, att.attempt)

    async def _send_ended(
        self,
        state: _Session,
        trial_id: int,
        attempt: int,
        status: TrialStatus,
        reason: str,
        exit_code: int | None = None,
    ) -> None:
        event = TrialEndedEvent(
            trial_id=trial_id,
            attempt=attempt,
            time=self.clock.now(),
            status=status,
            reason=reason,
            exit_code=exit_code,
        )
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await state.send.send(event)

    # -- stopping --------------------------------------------------------------------------------

    async def _request(self, trial_id: int, intent: TrialStatus) -> None:
        state = self._session
        att = state.attempts.get(trial_id) if state is not None else None
        if state is None or att is None:
            return
        if att.intent is not TrialStatus.STOPPED:
            att.intent = intent
        att.stop_asked.set()
        if att.future is None:
            return  # not submitted: it never will be
        with anyio.move_on_after(RPC_TIMEOUT):
            await state.client.scheduler.event_set(name=att.stop_event)

    async def _shutdown(self, state: _Session, receive: MemoryObjectReceiveStream[Event]) -> None:
        """Stop every live attempt and wait for their tasks (bounded), then let go."""
        state.tg.start_soon(_discard, receive)  # nobody reads any more: never block a producer
        live = list(state.attempts.values())
        for att in live:
            att.intent = att.intent or TrialStatus.STOPPED
            att.stop_asked.set()
        with anyio.move_on_after(RPC_TIMEOUT):
            for att in live:
                if att.future is not None:
                    await state.client.scheduler.event_set(name=att.stop_event)
        with anyio.move_on_after(self.stop_grace_period + DRAIN_TIMEOUT + 5.0):
            for att in live:
                await att.done.wait()
        for att in live:  # unreachable workers: give the attempts up
            lose(state, att, "worker lost: no answer while the session closed")
        with anyio.move_on_after(RPC_TIMEOUT):
            for att in live:
                await att.done.wait()
        for topic in (state.topic, "all"):
            with contextlib.suppress(ValueError):
                state.client.unsubscribe_topic(topic)


async def _discard(receive: MemoryObjectReceiveStream[Event]) -> None:
    with contextlib.suppress(anyio.ClosedResourceError, anyio.EndOfStream):
        async for _ in receive:
            pass
