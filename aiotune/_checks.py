"""Argument checks shared across the package; each error names the argument."""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidArgumentError

__all__ = ["check_number", "check_positive_int"]


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``, else InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_number(name: str, value: Any, lo: float, hi: float = math.inf) -> float:
    """``value`` as a float if it is a number (not a bool) in ``[lo, hi]``, else the error."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        bounds = f">= {lo}" if hi == math.inf else f"in [{lo}, {hi}]"
        raise InvalidArgumentError(f"{name} must be a number {bounds}, got {value!r}")
    return float(value)
