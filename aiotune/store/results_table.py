"""The results table behind ``results.csv``: pure, synchronous bookkeeping (no I/O).

One row per report: ``trial_id``, ``status`` (the trial's *latest* status, on
all of its rows), ``tuner_time``, then one ``config_<name>`` column per config
key and one column per metric, both in first-seen order. Missing values are
empty cells; NaN and infinities are written as ``nan``, ``inf`` and ``-inf``
(never ``null``, which is what a JSON encoder would make of them).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any

import msgspec

__all__ = ["ResultsTable"]

_FIXED = ("trial_id", "status", "tuner_time")
_NEEDS_QUOTES = frozenset(',"\r\n')


def _quote(text: str) -> str:
    """Quote a CSV field the way ``csv.QUOTE_MINIMAL`` does."""
    if _NEEDS_QUOTES.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def _field(value: Any) -> str:
    """Render one cell: floats by repr with ``nan``/``inf``/``-inf`` explicit, others as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(float(value))  # float(): a numpy.float64 prints as a plain float
    item = getattr(value, "item", None)  # other numpy scalars
    if callable(item):
        try:
            scalar = item()
        except (TypeError, ValueError):
            scalar = value
        if scalar is not value and isinstance(scalar, str | int | float):
            return _field(scalar)
    try:
        return _quote(msgspec.json.encode(value).decode())
    except (TypeError, msgspec.EncodeError):
        return _quote(str(value))


def _pad(block: str, width: int, target: int) -> str:
    """Extend a rendered block of ``width`` fields with empty fields to ``target`` fields."""
    if width == 0:
        return "," * (target - 1)
    return block + "," * (target - width)


class ResultsTable:
    """Rows of reports and the latest status of each trial, rendered as CSV on demand.

    ``add_result`` only appends the raw report (the loop's hot path); rows are
    rendered by :meth:`to_csv`, usually in a worker thread, each row once: the
    rendered text is cached, so rewriting ``results.csv`` every interval costs
    only the new rows plus a join. Columns only ever grow at the end of their
    block, so older rendered rows are padded, never re-rendered. A raw report
    is dropped once rendered (its text is all the table needs), which roughly
    halves what a long run keeps per result.
    """

    def __init__(self) -> None:
        self._configs: dict[int, tuple[str, int]] = {}  # trial id -> (rendered cells, width)
        self._status: dict[int, str] = {}  # trial id -> rendered status cell
        self._config_cols: dict[str, int] = {}  # config key -> position
        self._metric_cols: dict[str, int] = {}  # metric name -> position
        # Raw reports not rendered yet: the loop appends, the renderer pops (both atomic).
        self._pending: deque[tuple[int, float, dict[str, Any]]] = deque()
        self._num_rows = 0
        self._rendered: list[tuple[int, str, str, int]] = []  # (trial id, time, metrics, width)
        self._render_lock = threading.Lock()

    def __len__(self) -> int:
        return self._num_rows

    def __repr__(self) -> str:
        return (
            f"ResultsTable(rows={self._num_rows}, trials={len(self._configs)}, "
            f"metrics={list(self._metric_cols)})"
        )

    @property
    def columns(self) -> list[str]:
        """The CSV header, in order (metrics of rows not yet rendered are included)."""
        with self._render_lock:
            self._render_pending()
            return [*_FIXED, *(f"config_{k}" for k in self._config_cols), *self._metric_cols]

    @staticmethod
    def _render(values: dict[str, Any], columns: dict[str, int]) -> tuple[str, int]:
        for key in values:
            if key not in columns:
                columns[key] = len(columns)
        cells = [""] * len(columns)
        for key, value in values.items():
            cells[columns[key]] = _field(value)
        return ",".join(cells), len(cells)

    def _render_pending(self) -> None:
        """Render the rows added since the last call, in order (caller holds the lock)."""
        pop, render, columns = self._pending.popleft, self._render, self._metric_cols
        out = self._rendered.append
        for _ in range(len(self._pending)):  # rows added meanwhile wait for the next call
            tid, tuner_time, metrics = pop()
            block, width = render(metrics, columns)
            out((tid, _field(tuner_time), block, width))

    def add_trial(self, trial_id: int, config: dict[str, Any]) -> None:
        """Register trial ``trial_id`` with ``config`` (again: the config is replaced)."""
        self._configs[trial_id] = self._render(config, self._config_cols)
        self._status.setdefault(trial_id, "")

    def add_result(self, trial_id: int, tuner_time: float, metrics: dict[str, Any]) -> None:
        """Append one row for a report of ``trial_id`` at ``tuner_time``."""
        self._pending.append((trial_id, tuner_time, metrics))
        self._num_rows += 1

    def set_status(self, trial_id: int, status: str) -> None:
        """Record ``trial_id``'s latest status (shown on all its rows)."""
        self._status[trial_id] = _field(str(status))

    def to_csv(self, *, include_trials_without_results: bool = False) -> bytes:
        """Render the table as UTF-8 CSV (``\\n`` line ends, csv-module quoting rules).

        With ``include_trials_without_results``, a trial that never reported
        gets one row with empty time and metrics (so failed trials show up).
        """
        # Rendering happens here, under a lock: popping a pending row and copying the
        # rendered list are atomic under the GIL, so a worker thread can render while
        # the event loop keeps adding rows (the reports' dicts are never mutated once added).
        with self._render_lock:
            self._render_pending()
            rows = self._rendered[:]
            metric_cols = list(self._metric_cols)
        raw_configs = dict(self._configs)
        status = dict(self._status)
        config_cols = list(self._config_cols)
        n_config = len(config_cols)
        n_metric = len(metric_cols)
        configs = {
            tid: "," + _pad(block, width, n_config) if n_config else ""
            for tid, (block, width) in raw_configs.items()
        }
        no_config = "," + "," * (n_config - 1) if n_config else ""
        columns = [*_FIXED, *(f"config_{k}" for k in config_cols), *metric_cols]
        lines = [",".join(_quote(name) for name in columns)]
        append = lines.append
        for tid, tuner_time, block, width in rows:
            metrics = "," + _pad(block, width, n_metric) if n_metric else ""
            append(
                f"{tid},{status.get(tid, '')},{tuner_time}{configs.get(tid, no_config)}{metrics}"
            )
        if include_trials_without_results:
            reported = {row[0] for row in rows}
            empty_metrics = "," * n_metric
            for tid, config in configs.items():
                if tid not in reported:
                    append(f"{tid},{status.get(tid, '')},{config}{empty_metrics}")
        lines.append("")
        return "\n".join(lines).encode("utf-8")
