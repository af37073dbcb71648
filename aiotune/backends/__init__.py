"""Trial backends: where trials run (local subprocesses, Python functions, Dask, a simulation)."""

from __future__ import annotations

from .base import EventStream as EventStream
from .base import ExperimentPaths as ExperimentPaths
from .base import TrialBackend as TrialBackend
from .dask import DaskBackend as DaskBackend
from .local import LocalBackend as LocalBackend
from .python import PythonBackend as PythonBackend
from .simulator import SimulatorBackend as SimulatorBackend

__all__ = [
    "DaskBackend",
    "EventStream",
    "ExperimentPaths",
    "LocalBackend",
    "PythonBackend",
    "SimulatorBackend",
    "TrialBackend",
]
