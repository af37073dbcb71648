"""Worker silence for :class:`~aiotune.backends.dask.DaskBackend`: losing attempts to it.

A running attempt's worker must log a heartbeat every ``heartbeat_timeout / 5``
seconds; an attempt not started yet is lost only if the scheduler says its task
sits on a worker it has not heard from for ``heartbeat_timeout`` (clock skew
does not count). A worker that fell silent is left out of placement until the
scheduler hears from it again, and the next attempt of a trial lost to it waits
(at most ``LOST_ATTEMPT_WAIT``) until the lost attempt's processes are gone.
"""

from __future__ import annotations

from typing import Any

import anyio

from ._dask_session import _Attempt, _Lost, _Session, ask, logger

LOST_ATTEMPT_WAIT = 600.0
"""Seconds at most that the next attempt of a trial lost to a silent worker waits for the
lost attempt's processes to be gone (Dask's default ``worker-ttl`` removes the worker
after 5 minutes, which ends the wait sooner)."""


def lose(state: _Session, att: _Attempt, reason: str, silent_worker: str = "") -> None:
    """Give the attempt up; lost to a silent worker, its next attempt waits for it to go."""
    if att.lost_reason:
        return
    att.lost_reason = reason
    att.scope.cancel()
    if silent_worker:
        att.silent_worker = silent_worker
        state.lost[att.trial_id] = _Lost(attempt=att.attempt, worker=silent_worker)
        state.silent.add(silent_worker)


def forget_lost(state: _Session, trial_id: Any, attempt: Any) -> _Lost | None:
    """The lost attempt ``(trial_id, attempt)`` has no process left: its trial may go on."""
    lost = state.lost.get(trial_id)
    if lost is None or lost.attempt != attempt:
        return None
    del state.lost[trial_id]
    lost.gone.set()
    return lost


async def heartbeat_watch(state: _Session, att: _Attempt, heartbeat_timeout: float) -> None:
    """Give the attempt up once its worker stayed silent for ``heartbeat_timeout``."""
    if not await await_start(state, att, heartbeat_timeout):
        return
    while True:
        remaining = att.last_beat + heartbeat_timeout - anyio.current_time()
        if remaining <= 0:
            where = att.worker or "its worker"
            reason = f"worker lost: no heartbeat from {where} for {heartbeat_timeout:g}s"
            lose(state, att, reason, silent_worker=att.worker or "its worker")
            return
        await anyio.sleep(remaining)


async def await_start(state: _Session, att: _Attempt, heartbeat_timeout: float) -> bool:
    """Wait until the attempt started; False if it was lost on a silent worker first.

    Waiting for a free worker thread is no failure. From ``heartbeat_timeout`` after
    the submission on, every ``heartbeat_timeout / 5``, the scheduler is asked where
    the task is: one held by a worker silent for ``heartbeat_timeout`` is lost.
    """
    wait = heartbeat_timeout
    while True:
        with anyio.move_on_after(wait):
            await att.started.wait()
        if att.started.is_set():
            return True
        holder = await silent_holder(state, att.key, heartbeat_timeout)
        if holder:
            reason = (
                f"worker lost: no heartbeat from {holder} for {heartbeat_timeout:g}s "
                f"(before the attempt started)"
            )
            lose(state, att, reason, silent_worker=holder)
            return False
        wait = heartbeat_timeout / 5


async def worker_silence(state: _Session) -> dict[str, float]:
    """Seconds since the scheduler last heard from each worker ({} without an answer)."""
    info = await ask(state, "identity", n_workers=-1)
    workers = info.get("workers") if isinstance(info, dict) else None
    if not isinstance(workers, dict):
        return {}
    last_seen = {
        str(address): float(about["last_seen"])
        for address, about in workers.items()
        if isinstance(about, dict) and isinstance(about.get("last_seen"), int | float)
    }
    return _silences(last_seen, state.seen, anyio.current_time())


def silence_limit(heartbeat_timeout: float, n_workers: int) -> float:
    """The silence that loses a worker: ``heartbeat_timeout``, but at least three of
    Dask's own worker heartbeat intervals (0.5 s up to 10 workers, longer above)."""
    n = n_workers
    interval = 0.5 if n <= 10 else 1.0 if n < 50 else 2.0 if n < 200 else n / 200 + 1
    return max(heartbeat_timeout, 3 * interval)


async def silent_holder(state: _Session, key: str, heartbeat_timeout: float) -> str:
    """The worker the task ``key`` is assigned to, if that worker is silent; else ""."""
    silence = await worker_silence(state)
    processing = await ask(state, "processing") if silence else None
    if not isinstance(processing, dict):
        return ""
    limit = silence_limit(heartbeat_timeout, len(silence))
    for worker, keys in processing.items():
        if key in keys and silence.get(worker, 0.0) >= limit:
            return str(worker)
    return ""


async def healthy_workers(state: _Session, heartbeat_timeout: float) -> list[str]:
    """The workers to place a task on while some are silent; [] for no restriction."""
    if not state.silent:
        return []
    silence = await worker_silence(state)
    if not silence:
        return []
    limit = silence_limit(heartbeat_timeout, len(silence))
    state.silent = {w for w in state.silent if silence.get(w, 0.0) >= limit}
    healthy = [w for w in silence if w not in state.silent]
    return healthy if state.silent else []


async def after_lost_predecessor(state: _Session, att: _Attempt) -> bool:
    """Wait until the trial's attempt lost to a silent worker has no process left.

    Bounded by ``LOST_ATTEMPT_WAIT``; False if the attempt was asked to stop meanwhile
    (the lost attempt is then still waited for by the trial's next attempt).
    """
    lost = state.lost.get(att.trial_id)
    if lost is None:
        return True
    logger.info(
        "DaskBackend: trial %d attempt %d waits until attempt %d on the silent worker %s is gone",
        att.trial_id,
        att.attempt,
        lost.attempt,
        lost.worker,
    )
    with anyio.move_on_after(LOST_ATTEMPT_WAIT):
        await _first_of(lost.gone, att.stop_asked)
    if att.stop_asked.is_set():
        return False
    if not lost.gone.is_set():
        logger.warning(
            "DaskBackend: trial %d attempt %d starts although attempt %d may still run on "
            "the silent worker %s (not gone after %gs)",
            att.trial_id,
            att.attempt,
            lost.attempt,
            lost.worker,
            LOST_ATTEMPT_WAIT,
        )
        state.lost.pop(att.trial_id, None)
    return True


def _silences(
    last_seen: dict[str, float], seen: dict[str, tuple[float, float]], now: float
) -> dict[str, float]:
    """How long each worker has been silent, from the scheduler's ``last_seen`` times.

    The larger of two lower bounds, neither hurt by clock skew between the tuner and the
    scheduler: how far its last heartbeat lags the newest one of any worker (the
    scheduler's clock), and how long ago the tuner first saw that same heartbeat (the
    tuner's clock ``now``; ``seen`` keeps those first sightings and is updated).
    """
    newest = max(last_seen.values(), default=0.0)
    silence: dict[str, float] = {}
    for address, beat in last_seen.items():
        first = seen.get(address)
        if first is None or first[0] != beat:
            seen[address] = first = (beat, now)
        silence[address] = max(newest - beat, now - first[1])
    for address in seen.keys() - last_seen.keys():
        del seen[address]
    return silence


async def _first_of(*events: anyio.Event) -> None:
    """Return once any of ``events`` is set."""
    async with anyio.create_task_group() as tg:
        for event in events:
            tg.start_soon(_cancel_on, event, tg.cancel_scope)


async def _cancel_on(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
