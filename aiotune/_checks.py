"""Argument checks shared across the package; each error names the argument."""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgumentError

__all__ = ["check_positive_int"]


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum``, else InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
