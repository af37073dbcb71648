"""The child side of PythonBackend: import the tune function by reference and call it.

Loaded by path (see ``python.py``; ``-m aiotune.backends._python_worker`` works
too, but imports the whole backends package). Reads one JSON
:class:`WorkerJob` from stdin (never pickle), imports the function it names
(``"module:qualname"``; a ``__main__`` function is loaded from the parent's
script file under another module name, the way ``multiprocessing`` spawns),
and calls ``function(**config)``; a coroutine it returns (an ``async def``
function) is run to its end with ``asyncio.run``. The function's ``Reporter``
finds the report socket in the environment. A returned dict is reported once
more, as Ray Tune's function API reports it: as the trial's last result. An
exception exits with code 1 and its traceback on stderr; a return value that is
neither None nor a dict exits with code 1 and says so. Imports only the stdlib,
msgspec and ``aiotune.reporter`` so a trial starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import AsyncGenerator, Coroutine, Generator
from types import ModuleType
from typing import Any

import msgspec

__all__ = [
    "IMPORTING_MAIN_ENV",
    "MAIN_MODULE_NAME",
    "WorkerJob",
    "final_metrics",
    "main",
    "resolve",
]

MAIN_MODULE_NAME = "__aiotune_main__"
"""Module name under which the parent's ``__main__`` script is loaded in the worker."""

IMPORTING_MAIN_ENV = "AIOTUNE_IMPORTING_MAIN_SCRIPT"
"""Set (to the script's path) while the worker executes that script's top level, so a
``Tuner.run()`` left unguarded there fails with a clear message instead of tuning again."""


class WorkerJob(msgspec.Struct, frozen=True, kw_only=True):
    """What the parent sends on stdin: the function's reference and its arguments."""

    function: str
    config: dict[str, Any]
    main_path: str | None = None
    checkpoint_dir: str | None = None
    """Passed as ``st_checkpoint_dir=`` when set (the function declares that parameter)."""


def resolve(reference: str, main_path: str | None = None) -> Any:
    """The object ``"module:qualname"`` names; ``__main__`` is loaded from ``main_path``.

    Raises AttributeError explaining where the function must be defined when the
    module has no such name (typically: defined under ``if __name__ == "__main__":``).
    """
    module_name, _, qualname = reference.partition(":")
    if not module_name or not qualname:
        raise ValueError(f"bad function reference {reference!r}: expected 'module:qualname'")
    if module_name == "__main__":
        module = _load_main(main_path)
    else:
        module = importlib.import_module(module_name)
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = main_path if module_name == "__main__" else module_name
            raise AttributeError(
                f"the trial cannot find the tune function {qualname!r} in {where}: its "
                f"module, imported again in the trial process, has no {part!r}. Define the "
                "function at module level, outside `if __name__ == \"__main__\":` (the trial "
                "imports the module without running that block)"
            ) from None
    return obj


def _load_main(path: str | None) -> ModuleType:
    if not path:
        raise ValueError("the function lives in __main__ but no script path was given")
    spec = importlib.util.spec_from_file_location(MAIN_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the tuning script {path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MAIN_MODULE_NAME] = module
    os.environ[IMPORTING_MAIN_ENV] = path
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.pop(IMPORTING_MAIN_ENV, None)
    return module


def final_metrics(name: str, result: object) -> dict[str, Any] | None:
    """The metrics a returned ``result`` reports (None: nothing to report).

    Raises TypeError, naming the function, for a result that is neither None nor
    a dict with string keys.
    """
    if result is None:
        return None
    if isinstance(result, Generator | AsyncGenerator):
        raise TypeError(
            f"tune function {name} returned a generator; PythonBackend calls it once: "
            "report with aiotune.Reporter in a plain (or async) function instead of yielding"
        )
    if not isinstance(result, dict):
        raise TypeError(
            f"tune function {name} returned a {type(result).__name__}; return a dict of "
            "metrics (reported as the trial's last result, e.g. return {\"loss\": 0.25}), or "
            "None and report with aiotune.Reporter"
        )
    for key in result:
        if not isinstance(key, str):
            raise TypeError(
                f"tune function {name} returned a dict with the key {key!r}; metric names "
                "must be strings"
            )
    return result


def main() -> None:
    """Read the job from stdin and run it."""
    job = msgspec.json.decode(sys.stdin.buffer.read(), type=WorkerJob)
    del sys.argv[1:]  # the function sees no command line of ours
    function = resolve(job.function, job.main_path)
    from aiotune.reporter import Reporter  # created now: st_worker_time counts the whole call

    reporter = Reporter()
    kwargs = dict(job.config)
    if job.checkpoint_dir is not None:
        kwargs["st_checkpoint_dir"] = job.checkpoint_dir
    result = function(**kwargs)
    if isinstance(result, Coroutine):  # an async def function: run it in a fresh loop
        import asyncio

        result = asyncio.run(result)
    try:
        metrics = final_metrics(job.function, result)
    except TypeError as exc:
        raise SystemExit(f"aiotune PythonBackend: {exc}") from None
    if metrics is not None:
        reporter.report(**metrics)


if __name__ == "__main__":
    main()
