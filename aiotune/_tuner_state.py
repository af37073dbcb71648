"""``tuner.json``: what ``Tuner.load`` needs, as msgspec data (never pickle).

Components are saved as :class:`aiotune._spec.ComponentSpec` when they can be
(aiotune's own schedulers and backends); anything else (a user's function, a
custom class) is recorded as ``None`` and must be passed to ``Tuner.load``.
Trials, results and the status are rebuilt from the event log, not from here.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from ._spec import ComponentSpec, NotSerializableError, to_spec

__all__ = ["TUNER_STATE_VERSION", "TunerArgs", "TunerState", "try_spec"]

TUNER_STATE_VERSION = 1
logger = logging.getLogger("aiotune.tuner")


class TunerArgs(msgspec.Struct, kw_only=True):
    """The Tuner's plain constructor arguments."""

    n_workers: int
    sleep_time: float = 5.0
    results_update_interval: float = 10.0
    print_update_interval: float = 30.0
    max_failures: int = 1
    asynchronous_scheduling: bool = True
    wait_trial_completion_when_stopping: bool = False
    metadata: dict[str, Any] = {}
    save_tuner: bool = True
    start_jobs_without_delay: bool = True
    trial_backend_path: str | None = None
    max_retries_per_trial: int = 0
    fsync_before_act: bool = False


class TunerState(msgspec.Struct, kw_only=True):
    """The content of ``tuner.json``; new fields get defaults and go last."""

    format_version: int = TUNER_STATE_VERSION
    tuner_name: str
    args: TunerArgs
    trial_backend: ComponentSpec | None = None
    scheduler: ComponentSpec | None = None
    scheduler_state: Any = None
    stop_criterion: dict[str, Any] | None = None
    next_trial_id: int = 0
    elapsed_time: float = 0.0
    log_offset: int | None = None
    """Size of the event log the scheduler state reflects (records after it are replayed)."""


def try_spec(obj: Any, what: str) -> ComponentSpec | None:
    """``to_spec(obj)``, or None (logged) when ``obj`` cannot be written as data."""
    try:
        return to_spec(obj)
    except NotSerializableError as exc:
        logger.debug("%s not saved in tuner.json (%s); pass it to Tuner.load", what, exc)
        return None
