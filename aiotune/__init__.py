"""aiotune: an asyncio-native hyperparameter-tuning orchestrator.

The tuning loop is a coroutine that awaits trial events from async backends;
``Tuner(...).run()`` wraps ``anyio.run`` and ``await tuner.run_async()`` runs
inside an async application.
"""

from __future__ import annotations

__version__ = "0.1.0"

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

__all__ = [
    "AiotuneError",
    "ConfigSpaceError",
    "ConfigValueError",
    "Decision",
    "ExperimentLockedError",
    "InvalidArgumentError",
    "LogCorruptError",
    "Reporter",
    "StorageError",
    "StoppingCriterion",
    "Suggestion",
    "TooManyFailuresError",
    "Trial",
    "TrialStatus",
    "Tuner",
    "TunerCallback",
    "TuningStatus",
    "WireError",
    "__version__",
]
