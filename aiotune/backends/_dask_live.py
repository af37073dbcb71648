"""The live-attempt marker of :class:`~aiotune.backends.dask.DaskBackend` on an external cluster.

``trials/<id>/dask_attempt.json`` names the attempt running on the cluster, so a
tuner resumed after a crash stops the attempt its predecessor left and waits
until it is gone before it starts the trial again: two attempts do not share the
checkpoint folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import anyio
import msgspec

from ._dask_session import RPC_TIMEOUT, _Attempt, _event, _Session, logger

LIVE_ATTEMPT_NAME = "dask_attempt.json"
_END_SLACK = 5.0
"""Seconds beyond the grace period to wait for an earlier tuner's attempt to end."""
_json_encoder = msgspec.json.Encoder()


class _LiveAttempt(msgspec.Struct, frozen=True):
    """``trials/<id>/dask_attempt.json``: the attempt running on an external cluster.

    Written before the task is submitted and removed once it ended, so a tuner
    resumed after a crash finds the attempt its predecessor left running.
    """

    scheduler_address: str
    key: str


async def record_live(state: _Session, att: _Attempt, scheduler_address: str) -> None:
    """Write the attempt's marker, before its task is submitted."""
    live = _LiveAttempt(scheduler_address, att.key)
    path = state.experiment.trial_dir(att.trial_id) / LIVE_ATTEMPT_NAME
    await anyio.Path(path).write_bytes(_json_encoder.encode(live))


async def end_earlier_attempt(
    state: _Session, trial_dir: Path, scheduler_address: str | None, stop_grace_period: float
) -> None:
    """Stop an attempt a crashed tuner left on this cluster, and wait until it is gone.

    Its worker would end it at its next heartbeat anyway (its task was
    cancelled with the dead tuner's client), but until then it could still
    write to the checkpoint folder the new attempt reads.
    """
    marker = anyio.Path(trial_dir / LIVE_ATTEMPT_NAME)
    try:
        earlier = msgspec.json.decode(await marker.read_bytes(), type=_LiveAttempt)
    except FileNotFoundError:
        return
    except (OSError, msgspec.DecodeError) as exc:
        logger.warning("DaskBackend: ignoring unreadable %s: %s", marker, exc)
        return
    if earlier.scheduler_address == scheduler_address:
        scheduler = state.client.scheduler
        with anyio.move_on_after(RPC_TIMEOUT):
            await scheduler.event_set(name=_event(earlier.key, "stop"))
        wait = stop_grace_period + _END_SLACK
        with anyio.move_on_after(wait + RPC_TIMEOUT):
            await scheduler.event_wait(name=_event(earlier.key, "done"), timeout=wait)
        with anyio.move_on_after(RPC_TIMEOUT):
            for suffix in ("stop", "claim", "done"):
                await scheduler.event_clear(name=_event(earlier.key, suffix))
    with contextlib.suppress(FileNotFoundError):
        await marker.unlink()


async def forget_live(state: _Session, att: _Attempt, scheduler_address: str | None) -> None:
    """The attempt ended: remove its marker (only if it still names this attempt)."""
    if scheduler_address is None:
        return
    marker = anyio.Path(state.experiment.trial_dir(att.trial_id) / LIVE_ATTEMPT_NAME)
    with contextlib.suppress(OSError, msgspec.DecodeError):
        if msgspec.json.decode(await marker.read_bytes(), type=_LiveAttempt).key == att.key:
            await marker.unlink()
