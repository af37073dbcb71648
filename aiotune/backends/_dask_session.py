"""What a :class:`~aiotune.backends.dask.DaskBackend` session knows about its attempts.

The records the backend's modules share (one submitted attempt, one attempt lost
to a silent worker, the open session) and the one way they ask the Dask scheduler
a question.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from ..events import Event
from ..trial import TrialStatus
from ._report_server import ReportServer
from .base import ExperimentPaths

RPC_TIMEOUT = 30.0
"""Seconds a request to the Dask scheduler may take before it is given up."""
logger = logging.getLogger("aiotune.backends.dask")
"""The logger of DaskBackend's module: its helpers log under the same name."""


def _event(key: str, kind: str) -> str:
    """The name of an attempt's Dask event: ``stop`` (set by the tuner), ``claim`` (the
    first worker to run it), ``done`` (its processes are gone)."""
    return f"{key}-{kind}"


@dataclass(eq=False, kw_only=True)
class _Attempt:
    """One attempt submitted to the cluster and what is known about it."""

    trial_id: int
    attempt: int
    key: str
    future: Any = None
    """Dask's future of the attempt's task; None until it is submitted."""
    intent: TrialStatus | None = None
    worker: str = ""
    worker_pid: int | None = None
    pid: int | None = None
    last_beat: float = 0.0
    lost_reason: str = ""
    silent_worker: str = ""
    """The worker whose silence lost the attempt (its processes may still run)."""
    lines_delivered: int = 0
    early_lines: dict[int, str] = field(default_factory=dict)
    """Metric lines that arrived before a lower-numbered one (kept until it comes)."""
    lines_changed: anyio.Event = field(default_factory=anyio.Event)
    started: anyio.Event = field(default_factory=anyio.Event)
    stop_asked: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def stop_event(self) -> str:
        return _event(self.key, "stop")

    @property
    def claim_event(self) -> str:
        return _event(self.key, "claim")

    @property
    def done_event(self) -> str:
        return _event(self.key, "done")


@dataclass(eq=False, kw_only=True)
class _Lost:
    """An attempt given up because its worker fell silent: its processes may still run."""

    attempt: int
    worker: str
    gone: anyio.Event = field(default_factory=anyio.Event)
    """Set once its worker said its processes are gone, or the worker left the cluster."""


@dataclass(eq=False)
class _Session:
    experiment: ExperimentPaths
    tg: TaskGroup
    send: MemoryObjectSendStream[Event]
    server: ReportServer
    client: Any
    topic: str
    attempts: dict[int, _Attempt] = field(default_factory=dict)
    lost: dict[int, _Lost] = field(default_factory=dict)
    """Per trial, its latest attempt lost to a silent worker, until its processes are gone."""
    silent: set[str] = field(default_factory=set)
    """Workers that fell silent: left out of placement until the scheduler hears from them."""
    seen: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per worker, the last heartbeat time the scheduler reported and when the tuner first
    saw that value (tuner clock)."""


async def ask(state: _Session, op: str, **kwargs: Any) -> Any:
    """The scheduler's answer to ``op``; None if it fails or takes over ``RPC_TIMEOUT``."""
    with anyio.move_on_after(RPC_TIMEOUT):
        try:
            return await getattr(state.client.scheduler, op)(**kwargs)
        except Exception as exc:  # a broken connection, an older scheduler: no answer
            logger.debug("DaskBackend: scheduler call %s failed: %s", op, exc)
    return None
