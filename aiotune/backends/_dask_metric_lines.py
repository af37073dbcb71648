"""Syne Tune ``[tune-metric]`` lines a Dask worker sent for a DaskBackend session.

The worker numbers each attempt's lines on the session's event topic; they are
delivered to the report server in that order (Dask keeps a worker's events in
order in practice; this does not rely on it), and an attempt's ended event waits
until every line it sent was delivered.
"""

from __future__ import annotations

from typing import Any

import anyio

from ..wire import parse_tune_metric_line
from ._dask_session import _Attempt, _Session
from ._process import DRAIN_TIMEOUT, EVENT_BUFFER


def on_metric_line(state: _Session, att: _Attempt, n: Any, line: Any) -> None:
    """Deliver the attempt's ``[tune-metric]`` lines in the order its worker numbered them."""
    if not (isinstance(n, int) and isinstance(line, str)):
        return
    if not att.lines_delivered <= n < att.lines_delivered + EVENT_BUFFER:
        return  # a replay, or far ahead of a gap that will never fill
    att.early_lines[n] = line
    while att.lines_delivered in att.early_lines:
        text = att.early_lines.pop(att.lines_delivered)
        att.lines_delivered += 1
        metrics = parse_tune_metric_line(text)
        if metrics is not None:
            state.server.deliver(att.trial_id, att.attempt, metrics)
    att.lines_changed.set()
    att.lines_changed = anyio.Event()


async def drain_lines(att: _Attempt, count: int) -> None:
    """Wait until ``count`` metric lines of the attempt were delivered (bounded)."""
    with anyio.move_on_after(DRAIN_TIMEOUT):
        while att.lines_delivered < count:
            await att.lines_changed.wait()
