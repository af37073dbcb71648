"""PythonBackend: each trial calls a Python function in a fresh subprocess.

Syne Tune's ``PythonBackend(tune_function, config_space)``, without pickle: the
function travels by reference (``"module:qualname"``) and the config as JSON on
the child's stdin, so the function must be importable at module level, by the
child, from the parent's ``sys.path``. Inside it, ``Reporter()`` reports as in
a script. Stop, pause, resume and failures behave exactly as in
:class:`~aiotune.backends.local.LocalBackend` (the same process machinery).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from .._spec import component
from ..errors import InvalidArgumentError
from ..trial import Trial
from ._function_checks import check_callable_kind, check_outside_main_guard, check_signature
from ._process import LaunchSpec, ProcessBackend, child_pythonpath
from ._python_worker import WorkerJob
from .base import ExperimentPaths

__all__ = ["PythonBackend"]

WORKER_PATH = str(Path(__file__).with_name("_python_worker.py"))
# The worker is loaded by path, not with ``-m aiotune.backends._python_worker``: that
# would import the whole ``aiotune.backends`` package (anyio, the report server, ...)
# in every trial, ~60 ms each; the worker itself needs only the stdlib and msgspec.
_BOOTSTRAP = (
    "import importlib.util as u, sys\n"
    "s = u.spec_from_file_location('aiotune_python_worker', sys.argv[1])\n"
    "m = u.module_from_spec(s)\n"
    "sys.modules[s.name] = m\n"
    "s.loader.exec_module(m)\n"
    "m.main()\n"
)
CHECKPOINT_PARAMETER = "st_checkpoint_dir"
_encoder = msgspec.json.Encoder()


@component
class PythonBackend(ProcessBackend):
    """Runs ``tune_function(**config)`` in a subprocess per trial attempt.

    ``tune_function`` must be a module-level function (a lambda or a function
    defined inside another function cannot be found by the child; a function of
    the main script is loaded from that script, so guard the tuning code with
    ``if __name__ == "__main__":`` as for ``multiprocessing``, and define the
    function above that guard, not in it).

    It may be ``async def``: the trial then runs it with ``asyncio.run``. It
    reports with ``Reporter``, and may also return a dict of metrics, reported as
    the trial's last result (as Ray Tune's function API does); any other return
    value but None fails the trial. Only the keys of ``config_space`` (constants
    too) are passed, as keyword arguments (all of the trial's config if it is
    empty). A function with an ``st_checkpoint_dir`` parameter gets its
    checkpoint folder there; every function finds it in
    ``AIOTUNE_CHECKPOINT_DIR``. GPUs rotate across trials as with
    :class:`~aiotune.backends.LocalBackend`.

    Raises InvalidArgumentError, naming the function, for what would fail every
    trial: a function the child could not import (also one defined under the
    main guard), a generator function, a config key the function has no
    parameter for (unless it takes ``**kwargs``), or a required parameter that is
    not a config key.
    """

    def __init__(
        self,
        tune_function: Callable[..., Any],
        config_space: dict[str, Any],
        stop_grace_period: float = 5.0,
        trial_timeout: float | None = None,
        heartbeat_timeout: float | None = None,
        rotate_gpus: bool = True,
        num_gpus_per_trial: int = 1,
        gpus_to_use: Sequence[int | str] | None = None,
    ) -> None:
        super().__init__(
            stop_grace_period=stop_grace_period,
            trial_timeout=trial_timeout,
            heartbeat_timeout=heartbeat_timeout,
            rotate_gpus=rotate_gpus,
            num_gpus_per_trial=num_gpus_per_trial,
            gpus_to_use=gpus_to_use,
        )
        if not callable(tune_function):
            raise InvalidArgumentError(
                f"tune_function must be callable, got {type(tune_function).__name__}"
            )
        if not isinstance(config_space, dict):
            raise InvalidArgumentError(
                f"config_space must be a dict, got {type(config_space).__name__}"
            )
        self.tune_function = tune_function
        self.config_space = config_space
        self._reference, self._main_path = function_reference(tune_function)
        script = _main_script(tune_function)
        if script is not None:
            check_outside_main_guard(tune_function, script)
        check_callable_kind(tune_function, self._reference)
        if config_space:  # else every key of each trial's config is passed: unknown here
            check_signature(
                tune_function, self._reference, list(config_space), [CHECKPOINT_PARAMETER]
            )
        self._wants_checkpoint_dir = _has_parameter(tune_function, CHECKPOINT_PARAMETER)

    def __repr__(self) -> str:
        return (
            f"PythonBackend(tune_function={self._reference}, "
            f"config_space_keys={sorted(self.config_space)}, "
            f"stop_grace_period={self.stop_grace_period})"
        )

    async def _launch_spec(self, trial: Trial, experiment: ExperimentPaths) -> LaunchSpec:
        """The worker command and its JSON job; raises ValueError if the config is not JSON."""
        if self.config_space:
            config = {k: v for k, v in trial.config.items() if k in self.config_space}
        else:
            config = dict(trial.config)
        checkpoint_dir = os.fspath(experiment.checkpoint_dir(trial.trial_id))
        job = WorkerJob(
            function=self._reference,
            config=config,
            main_path=self._main_path,
            checkpoint_dir=checkpoint_dir if self._wants_checkpoint_dir else None,
        )
        try:
            payload = _encoder.encode(job)
        except (TypeError, msgspec.EncodeError) as exc:
            raise ValueError(f"config cannot be written as JSON: {exc}") from exc
        paths = [p or os.getcwd() for p in sys.path if isinstance(p, str)]
        pythonpath = child_pythonpath(os.environ, paths)
        return LaunchSpec(
            argv=[sys.executable, "-c", _BOOTSTRAP, WORKER_PATH],
            env={"PYTHONPATH": pythonpath} if pythonpath else {},
            cwd=os.getcwd(),
            stdin=payload,
        )


def function_reference(function: Callable[..., Any]) -> tuple[str, str | None]:
    """``("module:qualname", main script path or None)`` by which a child imports ``function``.

    Raises InvalidArgumentError when the function cannot be found that way.
    """
    module_name = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str) or "<" in qualname:
        raise InvalidArgumentError(
            f"tune_function {function!r} must be a module-level function: a lambda, a "
            "function defined inside another function, or a callable object cannot be "
            "imported by the trial process (PythonBackend never pickles)"
        )
    module = sys.modules.get(module_name)
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not function and found != function:
        raise InvalidArgumentError(
            f"tune_function {module_name}:{qualname} is not reachable by that name in its "
            "module; define it at module level"
        )
    main_path: str | None = None
    if module_name == "__main__":
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.name and spec.name != "__main__":
            return f"{spec.name}:{qualname}", None  # run with python -m package.module
        file = getattr(module, "__file__", None)
        if not file:
            raise InvalidArgumentError(
                f"tune_function {qualname} is defined in an interactive session; put it in "
                "a module the trial process can import"
            )
        main_path = os.path.abspath(file)
    return f"{module_name}:{qualname}", main_path


def _main_script(function: Callable[..., Any]) -> str | None:
    """The file of the script run as ``__main__`` if ``function`` was defined in it."""
    if getattr(function, "__module__", None) != "__main__":
        return None
    file = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.abspath(file) if isinstance(file, str) else None


def _has_parameter(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    param = parameters.get(name)
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
