"""What the tuner shows while it runs: a rich live panel in a terminal, the plain table elsewhere.

In a terminal (``sys.stdout.isatty()``; ``AIOTUNE_LIVE=1`` or ``0`` forces the
choice) a :class:`rich.live.Live` panel shows the elapsed time against the
stopping criterion's budget, a progress bar for each bound the criterion
knows, the counts by status, the best so far and the running trials with
their latest metrics. Anywhere else (CI, a log file) the plain status table of
:mod:`aiotune._printer` is printed. Both are refreshed every
``print_update_interval``.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from ._printer import format_status, pareto_line
from .status import TuningStatus
from .stopping import StoppingCriterion
from .trial import TrialStatus

__all__ = ["StatusDisplay", "budget_bounds", "make_display", "render_panel", "use_live"]

_MAX_ROWS = 12
_MAX_METRICS = 4


def use_live(stream: Any = None) -> bool:
    """True when the live panel should be shown on ``stream`` (default: stdout)."""
    forced = os.environ.get("AIOTUNE_LIVE", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def budget_bounds(stop: Any, status: TuningStatus) -> list[tuple[str, float, float]]:
    """``(label, done, bound)`` for each bound of a StoppingCriterion (none for a callable)."""
    if not isinstance(stop, StoppingCriterion):
        return []
    pairs = [
        ("time (s)", status.wallclock_time, stop.max_wallclock_time),
        ("results", status.num_evaluations, stop.max_num_evaluations),
        ("trials started", status.num_trials_started, stop.max_num_trials_started),
        ("trials completed", status.num_trials_completed, stop.max_num_trials_completed),
        ("trials finished", status.num_trials_finished, stop.max_num_trials_finished),
        ("cost", status.cost, stop.max_cost),
    ]
    return [(label, float(done), float(bound)) for label, done, bound in pairs if bound is not None]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def render_panel(name: str, status: TuningStatus, stop: Any) -> Any:
    """The rich renderable of the live panel for ``status`` (pure: no I/O)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    bounds = budget_bounds(stop, status)
    time_bound = next((b for label, _, b in bounds if label == "time (s)"), None)
    budget = f" / {time_bound:.0f}s" if time_bound is not None else ""
    parts.append(Text(f"elapsed {status.wallclock_time:.1f}s{budget}", style="bold"))
    if bounds:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(width=30)
        grid.add_column(no_wrap=True)
        for label, done, bound in bounds:
            shown = min(done, bound) if math.isfinite(done) else 0.0
            numbers = f"{_fmt(done)} / {_fmt(bound)}"
            if label == "time (s)":
                numbers = f"{done:.1f} / {bound:g}"
            grid.add_row(
                label, ProgressBar(total=max(bound, 1e-9), completed=shown, width=30), numbers
            )
        parts.append(grid)
    parts.append(
        Text(
            f"started {status.num_trials_started} | running {status.num_trials_running} | "
            f"paused {status.num_trials_paused} | completed {status.num_trials_completed} | "
            f"stopped {status.num_trials_stopped} | failed {status.num_trials_failed} | "
            f"results {status.num_evaluations}"
        )
    )
    if status.metric_names:
        best = status.best_trial(0)
        metric = status.metric_names[0]
        if best is not None:
            line = f"best {metric}={_fmt(best.best[metric])} (trial {best.trial_id}) {best.config}"
            parts.append(Text(line, style="green"))
        else:
            parts.append(Text(f"best {metric}: no result yet"))
        front = pareto_line(status)
        if front is not None:
            parts.append(Text(front, style="green"))
    running = sorted(
        (t for t in status.trials.values() if t.status is TrialStatus.RUNNING),
        key=lambda t: t.trial_id,
    )
    if running:
        keys = list(status.metric_names)
        for t in running:
            keys.extend(k for k in t.last_result if k not in keys and not k.startswith("st_"))
        keys = keys[:_MAX_METRICS]
        table = Table(title="running trials", title_justify="left", expand=False)
        table.add_column("trial", justify="right")
        table.add_column("results", justify="right")
        for key in keys:
            table.add_column(key, justify="right")
        for t in running[-_MAX_ROWS:]:
            table.add_row(
                str(t.trial_id),
                str(t.num_results),
                *(_fmt(t.last_result.get(k, "-")) for k in keys),
            )
        if len(running) > _MAX_ROWS:
            table.caption = f"... and {len(running) - _MAX_ROWS} more running"
        parts.append(table)
    return Panel(Group(*parts), title=f"aiotune {name}", title_align="left")


class StatusDisplay:
    """Shows the status every ``print_update_interval``: a live panel or the plain table."""

    def __init__(self, name: str, status: TuningStatus, stop: Any, live: bool) -> None:
        self.name = name
        self.status = status
        self.stop = stop
        self._live: Any = None
        if live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                render_panel(name, status, stop),
                console=Console(file=sys.stdout),
                auto_refresh=False,
                transient=False,
            )
            self._live.start(refresh=True)

    @property
    def is_live(self) -> bool:
        """True when showing the rich live panel."""
        return self._live is not None

    def update(self) -> None:
        """Render the current status (the caller set its time)."""
        if self._live is not None:
            self._live.update(render_panel(self.name, self.status, self.stop), refresh=True)
        else:
            print(format_status(self.status, header=f"[aiotune] {self.name}"), flush=True)

    def close(self) -> None:
        """Show the final state and leave the terminal as a normal one. Idempotent."""
        live, self._live = self._live, None
        if live is not None:
            live.update(render_panel(self.name, self.status, self.stop), refresh=True)
            live.stop()


def make_display(name: str, status: TuningStatus, stop: Any) -> StatusDisplay:
    """A live panel when stdout is a terminal (and rich importable), else the plain table."""
    live = use_live()
    if live:
        try:
            import rich  # noqa: F401
        except ImportError:
            live = False
    return StatusDisplay(name, status, stop, live)
