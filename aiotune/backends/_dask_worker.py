"""What runs on a Dask worker for one trial attempt of :class:`~aiotune.backends.dask.DaskBackend`.

:func:`run_attempt` is submitted as an ``async`` Dask task, so it runs on the
worker's event loop and never holds a worker thread hostage. It starts the
trial's entry point as a subprocess (argv, never a shell) that leads its own
session, so one ``killpg`` reaches every process it started; stdout and stderr
go to ``trials/<id>/stdout`` and ``stderr`` (a filesystem shared with the
tuner). Stdout passes through a pipe on its way: each Syne Tune
``[tune-metric]: {json}`` line in it is also sent to the tuner, numbered, on the
session's Dask event topic, and the result says how many were sent. While the
trial runs it logs a heartbeat on that topic, and it waits on the attempt's Dask
``Event``: once the tuner sets it (stop, pause, attempt given up), the group
gets SIGTERM, then SIGKILL after the grace period. The same happens when the
heartbeat finds the task cancelled by Dask, which is what a tuner that died
leaves behind (its client's keys are released). When the leader exits,
whatever is left of the group is killed, and the task says ``gone`` on the topic:
a tuner that gave the attempt up on the worker's silence waits for that before
it starts the trial's next attempt.

Only msgspec Structs, encoded as msgpack bytes, go in and out (Dask pickles the
call itself, which names this function by reference). A second run of the same
attempt (Dask reschedules a task whose worker died) starts nothing: the tuner
has already failed that attempt with "worker lost".
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
from typing import Any

import msgspec

from ._metric_lines import MetricLines

__all__ = ["AttemptResult", "AttemptSpec", "dask_setup", "run_attempt"]

STDERR_TAIL_LINES = 50
PIPE_TIMEOUT = 2.0
"""Seconds to finish reading stdout once the group is killed (a pipe held elsewhere)."""
_CHUNK = 64 * 1024
_TAIL_BYTES = 64 * 1024
_PR_SET_PDEATHSIG = 1


class AttemptSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a worker needs to run one attempt; the secret travels only in ``env``."""

    trial_id: int
    attempt: int
    argv: list[str]
    env: dict[str, str]
    cwd: str
    stdout_path: str
    stderr_path: str
    stop_event: str
    claim_event: str
    topic: str
    heartbeat_interval: float
    stop_grace_period: float
    key: str = ""
    """The Dask key of the attempt's task: once Dask cancels it, the tuner is gone."""
    done_event: str = ""
    """Set once the attempt's processes are gone (a resumed tuner waits for it)."""

    def __repr__(self) -> str:  # never print the environment (it holds the secret)
        return f"AttemptSpec(trial_id={self.trial_id}, attempt={self.attempt}, argv={self.argv!r})"


class AttemptResult(msgspec.Struct, frozen=True, kw_only=True):
    """How an attempt ended on its worker."""

    kind: str
    """``exited``, ``not_started`` (stopped before it began), ``rerun`` or ``spawn_failed``."""
    exit_code: int | None = None
    reason: str = ""
    stderr_tail: list[str] = []
    worker: str = ""
    metric_lines: int = 0
    """How many ``[tune-metric]`` lines were sent on the topic (the tuner waits for them all)."""


_spec_decoder = msgspec.msgpack.Decoder(AttemptSpec)
_encoder = msgspec.msgpack.Encoder()


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()  # loaded here: no dlopen between fork and exec


def _die_with_worker() -> None:
    """In the child before exec: SIGKILL it when the worker dies (Linux; the leader only)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _open_logs(spec: AttemptSpec) -> tuple[int, int]:
    """File descriptors of the attempt's stdout and stderr files, opened for appending."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    out = os.open(spec.stdout_path, flags, 0o644)
    try:
        return out, os.open(spec.stderr_path, flags, 0o644)
    except OSError:
        os.close(out)
        raise


def _stderr_tail(path: str) -> list[str]:
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(size - _TAIL_BYTES, 0))
            data = file.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return [line[:2000] for line in lines[-STDERR_TAIL_LINES:]]


async def run_attempt(payload: bytes) -> bytes:
    """Run one attempt on this worker; returns an encoded :class:`AttemptResult`.

    Once it claimed the attempt it says ``gone`` on the topic when it returns (its
    processes are gone by then): the tuner waits for that before it starts the next
    attempt of a trial it gave up on this worker's silence.
    """
    from distributed import get_worker

    spec = _spec_decoder.decode(payload)
    worker = get_worker()
    here = str(worker.address)
    if await worker.scheduler.event_is_set(name=spec.claim_event):
        return _encoder.encode(AttemptResult(kind="rerun", worker=here))
    await worker.scheduler.event_set(name=spec.claim_event)
    gone = {"kind": "gone", "trial_id": spec.trial_id, "attempt": spec.attempt}
    try:
        result = await _run_claimed(spec, worker, here)
    except Exception:
        worker.log_event(spec.topic, gone)  # nothing of the attempt runs any more
        raise
    worker.log_event(spec.topic, gone)
    return _encoder.encode(result)


async def _run_claimed(spec: AttemptSpec, worker: Any, here: str) -> AttemptResult:
    """Start the claimed attempt's process group, watch it until it ends, say how it ended."""
    scheduler = worker.scheduler
    if await scheduler.event_is_set(name=spec.stop_event):
        return AttemptResult(kind="not_started", worker=here)
    env = dict(os.environ)
    env.update(spec.env)
    try:
        out, err = await asyncio.to_thread(_open_logs, spec)  # a shared filesystem may be slow
    except OSError as exc:
        reason = f"could not open the trial's log files on {here}: {exc}"
        return AttemptResult(kind="spawn_failed", reason=reason, worker=here)
    try:
        proc = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=spec.cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_worker if _LIBC is not None else None,
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        os.close(out)
        reason = f"could not start {spec.argv[0]!r} on {here}: {exc}"
        return AttemptResult(kind="spawn_failed", reason=reason, worker=here)
    finally:
        os.close(err)
    ident = {"trial_id": spec.trial_id, "attempt": spec.attempt}
    worker.log_event(
        spec.topic,
        {"kind": "started", **ident, "worker": here, "worker_pid": os.getpid(), "pid": proc.pid},
    )
    exited = False
    sent = 0

    def send_line(line: bytes) -> None:
        nonlocal sent
        text = line.decode("utf-8", "replace")
        worker.log_event(spec.topic, {"kind": "metric", **ident, "n": sent, "line": text})
        sent += 1

    async def pump_stdout() -> None:
        """Copy stdout to its file until EOF, sending metric lines; owns (and closes) ``out``."""
        assert proc.stdout is not None
        lines = MetricLines()
        try:
            while chunk := await proc.stdout.read(_CHUNK):
                await asyncio.to_thread(_write_all, out, chunk)  # a shared filesystem may be slow
                for line in lines.feed(chunk):
                    send_line(line)
            for line in lines.close():
                send_line(line)
        finally:
            os.close(out)

    async def terminate() -> None:
        """SIGTERM to the group, SIGKILL after the grace period."""
        if exited:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), spec.stop_grace_period)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)

    async def beat() -> None:
        while True:
            await asyncio.sleep(spec.heartbeat_interval)
            if _released(worker, spec.key):  # nobody waits for this attempt: an orphan
                await terminate()
                return
            worker.log_event(spec.topic, {"kind": "beat", **ident})

    async def stop_when_asked() -> None:
        await scheduler.event_wait(name=spec.stop_event, timeout=None)
        await terminate()

    pumper = asyncio.ensure_future(pump_stdout())
    beater = asyncio.ensure_future(beat())
    stopper = asyncio.ensure_future(stop_when_asked())
    try:
        returncode = await proc.wait()
    finally:
        exited = True
        _signal_group(proc.pid, signal.SIGKILL)  # no grandchild survives its leader
        beater.cancel()
        # The group is gone, so the pipe ends at once unless a stray process holds it;
        # then the copy goes on without us (never cancelled mid-write: it owns the file).
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(asyncio.shield(pumper), PIPE_TIMEOUT)
    # Release our own waiter on the scheduler (the tuner clears the event afterwards).
    await scheduler.event_set(name=spec.stop_event)
    if spec.done_event:
        await scheduler.event_set(name=spec.done_event)
    with contextlib.suppress(Exception):
        await stopper
    return AttemptResult(
        kind="exited",
        exit_code=returncode,
        stderr_tail=await asyncio.to_thread(_stderr_tail, spec.stderr_path),
        worker=here,
        metric_lines=sent,
    )


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, for the workers of a LocalCluster that DaskBackend starts.

    The worker process leaves the tuner's session, so a Ctrl-C at the terminal (sent to
    the whole foreground process group) reaches only the tuner, which then stops the
    trials, instead of killing the workers under them.
    """
    if multiprocessing.parent_process() is None:
        return  # a worker inside the tuner's own process: nothing to leave
    with contextlib.suppress(OSError):  # already a group leader: nothing reaches it anyway
        os.setsid()


def _released(worker: Any, key: str) -> bool:
    """True once Dask cancelled the attempt's task: its tuner (the client) let go of it.

    A SIGKILLed tuner's client disconnects and the scheduler releases its keys,
    but a running task is only marked "cancelled", never interrupted; without
    this check its trial would run on with nobody to stop it. Dask offers no
    event for it, so the heartbeat loop looks.
    """
    state = getattr(worker, "state", None)
    tasks = getattr(state, "tasks", None)
    if not key or tasks is None:
        return False
    task = tasks.get(key)
    return task is None or task.state == "cancelled"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
