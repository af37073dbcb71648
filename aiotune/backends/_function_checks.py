"""Checks of a PythonBackend tune function at construction: faults every trial would hit.

Each would otherwise surface only in the trials, one failed subprocess at a time
(a generator that never runs, a config key the function cannot take, a function
the trial process cannot find), so the constructor raises instead, naming it.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["check_callable_kind", "check_outside_main_guard", "check_signature"]

_ACCEPTS_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def check_callable_kind(function: Callable[..., Any], name: str) -> None:
    """Refuse a generator function: called once per trial, its body would never run."""
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise InvalidArgumentError(
            f"tune_function {name} is a generator function (it yields): PythonBackend calls "
            "it once per trial and never iterates it. Report with aiotune.Reporter, or return "
            "a dict of metrics, from a plain or async def function"
        )


def check_signature(
    function: Callable[..., Any], name: str, keys: Collection[str], supplied: Iterable[str]
) -> None:
    """Every config key must be a keyword parameter (or **kwargs), every required one a key.

    ``supplied`` names parameters the backend passes itself (``st_checkpoint_dir``).
    Nothing is checked when the signature cannot be read.
    """
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        accepted = {p.name for p in parameters if p.kind in _ACCEPTS_KEYWORD}
        missing = [key for key in keys if key not in accepted]
        if missing:
            raise InvalidArgumentError(
                f"tune_function {name} has no parameter {_names(missing)} for the config "
                f"key{'s' if len(missing) > 1 else ''} of the same name: every key of "
                "config_space (constants too) is passed as a keyword argument. Add the "
                "parameter, or **kwargs"
            )
    given = {*keys, *supplied}
    required = [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and (p.name not in given or p.kind is inspect.Parameter.POSITIONAL_ONLY)
    ]
    if required:
        raise InvalidArgumentError(
            f"tune_function {name} requires the parameter{'s' if len(required) > 1 else ''} "
            f"{_names(required)}, which config_space does not pass (only its keys are passed, "
            "as keyword arguments): add the key to config_space or give the parameter a default"
        )


def check_outside_main_guard(function: Callable[..., Any], script: str) -> None:
    """Refuse a ``__main__`` function defined only under ``if __name__ == "__main__":``.

    The trial imports ``script`` again without running that block, so it could not
    find the function. Conservative: any mention of the name elsewhere at the top
    level of the script (an import, an assignment, a string) lets it pass; the trial
    then explains the failure itself if the function is still missing.
    """
    top = getattr(function, "__qualname__", "").split(".")[0]
    try:
        tree = ast.parse(Path(script).read_bytes(), filename=script)
    except (OSError, SyntaxError, ValueError):
        return
    guarded: list[ast.stmt] = []
    outside: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            guarded += node.body
            outside += node.orelse  # runs in the trial's import
        else:
            outside.append(node)
    if _defines(guarded, top) and not _mentions(outside, top):
        raise InvalidArgumentError(
            f"tune_function {function.__qualname__} is defined under "
            f'`if __name__ == "__main__":` in {script}; the trial process imports that '
            "script without running that block, so it cannot find the function. Define it at "
            "module level, above the guard"
        )


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and len(test.comparators) == 1
    ):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _defines(statements: list[ast.stmt], name: str) -> bool:
    """Whether a def, class or assignment in ``statements`` binds ``name``."""
    for node in (n for stmt in statements for n in ast.walk(stmt)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
            return True
    return False


def _mentions(statements: list[ast.stmt], name: str) -> bool:
    """Whether ``statements`` could bind ``name`` in any way (or import ``*``)."""
    for node in (n for stmt in statements for n in ast.walk(stmt)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Name) and node.id == name:
            return True
        elif isinstance(node, ast.alias):
            if node.name == "*" or (node.asname or node.name.split(".")[0]) == name:
                return True
        elif isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
        elif isinstance(node, ast.Constant) and node.value == name:
            return True
    return False
