"""aiotune: an asyncio-native hyperparameter-tuning orchestrator.

The tuning loop is a coroutine that awaits trial events from async backends;
``Tuner(...).run()`` wraps ``anyio.run`` and ``await tuner.run_async()`` runs
inside an async application.

Names are loaded on first use (SPEC 1 lazy loading): a training script's
``from aiotune import Reporter`` imports only the stdlib and msgspec, not
numpy or anyio, so a trial process starts as fast as the script itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "AiotuneError": "errors",
    "ConfigSpaceError": "errors",
    "ConfigValueError": "errors",
    "ExperimentLockedError": "errors",
    "InvalidArgumentError": "errors",
    "LogCorruptError": "errors",
    "StorageError": "errors",
    "TooManyFailuresError": "errors",
    "WireError": "errors",
    "Decision": "events",
    "Suggestion": "events",
    "Reporter": "reporter",
    "TuningStatus": "status",
    "StoppingCriterion": "stopping",
    "Trial": "trial",
    "TrialStatus": "trial",
    "Tuner": "tuner",
    "TunerCallback": "callbacks",
}

__all__ = [*sorted(_LAZY), "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiotune' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from .callbacks import TunerCallback as TunerCallback
    from .errors import AiotuneError as AiotuneError
    from .errors import ConfigSpaceError as ConfigSpaceError
    from .errors import ConfigValueError as ConfigValueError
    from .errors import ExperimentLockedError as ExperimentLockedError
    from .errors import InvalidArgumentError as InvalidArgumentError
    from .errors import LogCorruptError as LogCorruptError
    from .errors import StorageError as StorageError
    from .errors import TooManyFailuresError as TooManyFailuresError
    from .errors import WireError as WireError
    from .events import Decision as Decision
    from .events import Suggestion as Suggestion
    from .reporter import Reporter as Reporter
    from .status import TuningStatus as TuningStatus
    from .stopping import StoppingCriterion as StoppingCriterion
    from .trial import Trial as Trial
    from .trial import TrialStatus as TrialStatus
    from .tuner import Tuner as Tuner
