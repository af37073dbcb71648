"""Observations per resource level: the data of BOHB's KDE and of BORE.

Each trial's latest usable value at each level it reported (level 0.0 when the
searcher has no resource, so a trial's latest value is its data point); the
model is fitted on the highest level with enough observations, as BOHB does.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .base import resource_level

__all__ = ["LevelObservations"]


class LevelObservations:
    """Thread-safe ``level -> trial_id -> (config, value)``; levels from ``resource_attr``."""

    def __init__(self, resource_attr: str | None) -> None:
        self.resource_attr = resource_attr
        self._lock = threading.Lock()
        self._data: dict[float, dict[int, tuple[dict[str, Any], float]]] = {}

    def record(self, trial_id: int, config: Mapping[str, Any], value: float | None,
               result: Mapping[str, Any]) -> None:
        """Keep ``value`` at the result's level; skip a non-finite value or a missing level."""
        if value is None or not math.isfinite(value):
            return
        level = 0.0
        if self.resource_attr is not None:
            r = resource_level(result, self.resource_attr)
            if r is None:
                return
            level = r
        with self._lock:
            self._data.setdefault(level, {})[trial_id] = (dict(config), value)

    def highest(self, need: int) -> list[tuple[dict[str, Any], float]] | None:
        """``(config, value)`` rows of the highest level with at least ``need`` (None if none)."""
        with self._lock:
            levels = sorted((lv for lv, d in self._data.items() if len(d) >= need), reverse=True)
            return list(self._data[levels[0]].values()) if levels else None

    def rows(self) -> list[tuple[float, int, dict[str, Any], float]]:
        """Every observation as ``(level, trial_id, config, value)``: the saved state."""
        with self._lock:
            return [(lv, tid, dict(c), v) for lv, d in self._data.items()
                    for tid, (c, v) in d.items()]

    def restore(self, rows: Iterable[tuple[float, int, Mapping[str, Any], float]]) -> None:
        """Replace everything with ``rows`` (as :meth:`rows` gives them)."""
        data: dict[float, dict[int, tuple[dict[str, Any], float]]] = {}
        for lv, tid, config, value in rows:
            data.setdefault(float(lv), {})[tid] = (dict(config), float(value))
        with self._lock:
            self._data = data
