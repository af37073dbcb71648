"""Several objectives for one searcher: names, modes, and a result's values to minimize."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import InvalidArgumentError
from ..base import normalize_metric_mode

__all__ = ["Objectives"]


class Objectives:
    """``metric`` names at least two objectives; ``mode`` is one mode or one per metric."""

    def __init__(self, who: str, metric: str | Sequence[str], mode: str | Sequence[str]) -> None:
        if isinstance(metric, str) or len(list(metric)) < 2:
            raise InvalidArgumentError(
                f"{who}: metric must list at least two objectives, got {metric!r}"
            )
        self.names, self.modes = normalize_metric_mode(metric, mode)
        if len(set(self.names)) != len(self.names):
            raise InvalidArgumentError(f"{who}: metric names repeat: {self.names}")
        self._signs = [1.0 if m == "min" else -1.0 for m in self.modes]

    def __len__(self) -> int:
        return len(self.names)

    def values(self, result: Mapping[str, Any]) -> list[float] | None:
        """Every objective of ``result`` as a float to minimize; None if one is missing or
        not a finite number (such a report says nothing about where the front lies)."""
        out = []
        for name, sign in zip(self.names, self._signs, strict=True):
            value = result.get(name)
            if isinstance(value, bool) or not isinstance(
                value, int | float | np.integer | np.floating
            ):
                return None
            value = float(value)
            if not math.isfinite(value):
                return None
            out.append(sign * value)
        return out
