"""A scheduler thinks in a worker thread that a deadline or Ctrl-C does not wait for.

A model fit cannot be interrupted, and waiting for it would let a run overrun its
``max_wallclock_time`` (and its trials train on) by the length of the fit. So a
cancelled :func:`think` returns at once and its thread finishes on its own; the
tuner waits for such threads (:func:`wait_idle`) only before it saves the
scheduler's state, after its trials have been stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

__all__ = ["think", "thinking", "wait_idle"]

T = TypeVar("T")

_idle = threading.Condition()
_running = 0


class _Job:
    """One think: whether its thread took it, or the caller gave it up first."""

    __slots__ = ("lock", "state")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state = "queued"  # -> "running" (the thread took it) or "dropped" (never will)


def _enter() -> None:
    global _running
    with _idle:
        _running += 1


def _leave() -> None:
    global _running
    with _idle:
        _running -= 1
        _idle.notify_all()


def _run(job: _Job, fn: Callable[..., T], *args: Any) -> T | None:
    with job.lock:
        if job.state == "dropped":
            return None
        job.state = "running"
    try:
        return fn(*args)
    finally:
        _leave()


async def think(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread; cancelled, it returns at once (see the module)."""
    job = _Job()
    _enter()
    try:
        return await anyio.to_thread.run_sync(  # type: ignore[return-value]
            _run, job, fn, *args, abandon_on_cancel=True
        )
    except BaseException:
        with job.lock:
            if job.state == "queued":  # the thread never took it: it never will
                job.state = "dropped"
                _leave()
        raise


def thinking() -> int:
    """How many thinks are running or queued now (in this process)."""
    with _idle:
        return _running


def wait_idle(timeout: float) -> bool:
    """Block until no think runs (True), or ``timeout`` seconds passed (False)."""
    with _idle:
        return _idle.wait_for(lambda: _running == 0, timeout)
