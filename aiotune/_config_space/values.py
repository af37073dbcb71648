"""Plain-value checks: what may cross a file or process boundary unchanged (JSON and msgpack)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["INT_MAX", "INT_MIN", "ValueProblem", "is_number", "plain_value", "to_python"]

# msgspec encodes integers in [-2**63, 2**64 - 1]; anything wider fails at write time.
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


class ValueProblem(Exception):
    """Internal: a value that cannot round-trip; ``where`` is a path suffix like ``[2]``."""

    def __init__(self, reason: str, where: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


def to_python(value: Any) -> Any:
    """Turn a numpy scalar into the equal Python scalar; anything else is returned as is."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def is_number(value: Any) -> bool:
    """True for real numbers (Python or numpy), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def plain_value(value: Any, depth: int = 0) -> Any:
    """Return ``value`` as plain Python data that JSON and msgpack round-trip unchanged.

    numpy scalars become Python scalars; lists and ``str``-keyed dicts are converted
    element-wise. Raises :class:`ValueProblem` for anything that would come back with
    another type or value: tuples, sets, bytes, datetimes, arrays, NaN/inf, ints out of
    the 64-bit range, strings that are not valid UTF-8, arbitrary objects.
    """
    if depth > 64:
        raise ValueProblem("nested more than 64 levels deep")
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, bytes | complex) or not isinstance(
            value, str | int | float | bool
        ):
            raise ValueProblem(f"numpy scalar of unsupported type {type(value).__name__}")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValueProblem(f"integer {value} outside the 64-bit range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(f"non-finite float {value!r} does not survive JSON")
        return float(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueProblem("string is not valid UTF-8 (lone surrogate)") from exc
        return str(value)
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            try:
                out.append(plain_value(item, depth + 1))
            except ValueProblem as exc:
                raise ValueProblem(exc.reason, f"[{i}]{exc.where}") from None
        return out
    if isinstance(value, dict):
        out_d: dict[str, Any] = {}
        for k, item in value.items():
            if not isinstance(k, str):
                raise ValueProblem(f"dict key {k!r} is not a str")
            try:
                out_d[k] = plain_value(item, depth + 1)
            except ValueProblem as exc:
                raise ValueProblem(exc.reason, f"[{k!r}]{exc.where}") from None
        return out_d
    if isinstance(value, tuple):
        raise ValueProblem("tuple would come back as a list; use a list")
    if isinstance(value, set | frozenset):
        raise ValueProblem("set would come back as a list; use a sorted list")
    if isinstance(value, np.ndarray):
        raise ValueProblem("numpy array; use array.tolist()")
    from .domains import Domain  # here: domains imports this module

    if isinstance(value, Domain):
        raise ValueProblem(
            f"value is a search domain ({type(value).__name__}) nested in a dict or list; only "
            "top-level domains are searched, so flatten the space (e.g. 'opt_name': choice(...))"
        )
    raise ValueProblem(
        f"value of type {type(value).__name__} cannot round-trip through JSON/msgpack"
    )
