"""A scheduler thinks in a thread that a deadline or Ctrl-C does not wait for.

A model fit cannot be interrupted, and waiting for it would let a run overrun its
``max_wallclock_time`` (and its trials train on) by the length of the fit. So a
cancelled :func:`think` returns at once and its fit finishes on its own, in a
daemon thread: the process can exit without it (a second Ctrl-C). The tuner waits
for running fits (:func:`wait_idle`) only before it saves the scheduler's state,
after its trials have been stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

__all__ = ["let_thinks_finish", "think", "thinking", "wait_idle"]

T = TypeVar("T")

logger = logging.getLogger("aiotune.tuner")

_idle = threading.Condition()
_running = 0


def _enter() -> None:
    global _running
    with _idle:
        _running += 1


def _leave() -> None:
    global _running
    with _idle:
        _running -= 1
        _idle.notify_all()


class _Call:
    """``fn(*args)`` in a daemon thread, and its outcome."""

    __slots__ = ("done", "error", "fn", "args", "result", "counted")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], counted: bool) -> None:
        self.fn, self.args, self.counted = fn, args, counted
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # handed to the awaiting task
            self.error = exc
        finally:
            self.done.set()
            if self.counted:
                _leave()


async def _in_daemon_thread(fn: Callable[..., T], *args: Any, counted: bool) -> T:
    """Run ``fn(*args)`` in a new daemon thread and await it; cancelled, return at once.

    The wait itself runs in anyio's (non-daemon) pool thread, which a cancel frees:
    only daemon threads outlive the task, so the process may exit without them.
    """
    call = _Call(fn, args, counted)
    if counted:
        _enter()
    threading.Thread(target=call.run, name="aiotune-think", daemon=True).start()
    try:
        await anyio.to_thread.run_sync(call.done.wait, abandon_on_cancel=True)
    except BaseException:
        call.done.set()  # frees the pool thread that waits; the call itself runs on
        raise
    if call.error is not None:
        raise call.error
    return call.result  # type: ignore[no-any-return]


async def think(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a daemon thread; cancelled, it returns at once (see the module)."""
    return await _in_daemon_thread(fn, *args, counted=True)


def thinking() -> int:
    """How many fits are running now (in this process)."""
    with _idle:
        return _running


def _wait_idle(timeout: float) -> bool:
    with _idle:
        return _idle.wait_for(lambda: _running == 0, timeout)


async def wait_idle(limit: float) -> bool:
    """Wait until no fit runs (True), or ``limit`` seconds passed (False); cancellable."""
    return await _in_daemon_thread(_wait_idle, limit, counted=False)


async def let_thinks_finish(hurry: anyio.Event | None, limit: float) -> None:
    """Wait (off the loop, at most ``limit`` s, or until ``hurry`` is set: a second
    Ctrl-C) for a fit the run's end did not wait for, so the scheduler's saved state
    is not read while the fit changes it."""
    if thinking() == 0:
        return
    logger.info("waiting for the scheduler's model fit to end before saving its state")
    idle = False
    async with anyio.create_task_group() as tg:

        async def wait() -> None:
            nonlocal idle
            idle = await wait_idle(limit)
            tg.cancel_scope.cancel()

        tg.start_soon(wait)
        if hurry is not None:
            await hurry.wait()
            tg.cancel_scope.cancel()
    if not idle:
        logger.warning("a model fit still runs; saving the scheduler's state anyway")
