"""The plain status table printed every ``print_update_interval`` (a terminal or a log file)."""

from __future__ import annotations

import math
from typing import Any

from .status import TuningStatus
from .trial import TrialStatus

__all__ = ["format_status", "pareto_line"]

_MAX_ROWS = 12


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def pareto_line(status: TuningStatus) -> str | None:
    """With several objectives: which trials are on the Pareto front so far; else None."""
    names = status.metric_names
    if len(names) < 2:
        return None
    ids = [t.trial_id for t in status.pareto_front()]
    shown = ", ".join(str(i) for i in ids[:_MAX_ROWS])
    if len(ids) > _MAX_ROWS:
        shown += ", ..."
    what = f"{len(ids)} trials ({shown})" if ids else "no trial yet"
    return f"Pareto front of {', '.join(names)}: {what}"


def format_status(status: TuningStatus, header: str = "") -> str:
    """Counts by status, the best so far, and the running trials with their latest metrics."""
    lines = []
    if header:
        lines.append(header)
    lines.append(
        f"time {status.wallclock_time:.1f}s | started {status.num_trials_started} | "
        f"running {status.num_trials_running} | paused {status.num_trials_paused} | "
        f"completed {status.num_trials_completed} | stopped {status.num_trials_stopped} | "
        f"failed {status.num_trials_failed} | results {status.num_evaluations}"
    )
    if status.metric_names:
        best = status.best_trial(0)
        if best is not None:
            name = status.metric_names[0]
            lines.append(
                f"best {name}={_fmt(best.best[name])} (trial {best.trial_id}) {best.config}"
            )
        front = pareto_line(status)
        if front is not None:
            lines.append(front)
    running = [t for t in status.trials.values() if t.status is TrialStatus.RUNNING]
    if running:
        shown = sorted(running, key=lambda t: t.trial_id)[-_MAX_ROWS:]
        metric_keys = [m for m in status.metric_names][:3]
        lines.append("trial_id  results  " + "  ".join(metric_keys))
        for t in shown:
            vals = "  ".join(_fmt(t.last_result.get(k, "-")) for k in metric_keys)
            lines.append(f"{t.trial_id:>8}  {t.num_results:>7}  {vals}")
        if len(running) > len(shown):
            lines.append(f"... and {len(running) - len(shown)} more running")
    return "\n".join(lines)
