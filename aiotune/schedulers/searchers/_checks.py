"""Argument checks shared by the model-based searchers; each error names the argument."""

from __future__ import annotations

from typing import Any

from ..._checks import check_positive_int
from ...errors import InvalidArgumentError

__all__ = ["check_number", "check_positive_int"]


def check_number(name: str, value: Any, lo: float, hi: float) -> float:
    """``value`` as a float if it is a number (not a bool) in ``[lo, hi]``, else the error."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidArgumentError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)
