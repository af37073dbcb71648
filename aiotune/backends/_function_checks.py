"""Checks of a PythonBackend tune function at construction: faults every trial would hit.

Each would otherwise surface only in the trials, one failed subprocess at a time
(a generator that never runs), so the constructor raises instead, naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["check_callable_kind"]


def check_callable_kind(function: Callable[..., Any], name: str) -> None:
    """Refuse a generator function: called once per trial, its body would never run."""
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise InvalidArgumentError(
            f"tune_function {name} is a generator function (it yields): PythonBackend calls "
            "it once per trial and never iterates it. Report with aiotune.Reporter, or return "
            "a dict of metrics, from a plain or async def function"
        )
