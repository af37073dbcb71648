"""The experiment folder: append-only event log, atomic snapshots, results table, names."""

from __future__ import annotations

from .event_log import EventLog as EventLog
from .event_log import LogContents as LogContents
from .event_log import LogTail as LogTail
from .event_log import read_log as read_log
from .experiment_dir import ExperimentDir as ExperimentDir
from .names import default_results_root as default_results_root
from .results_table import ResultsTable as ResultsTable

__all__ = [
    "EventLog",
    "ExperimentDir",
    "LogContents",
    "LogTail",
    "ResultsTable",
    "default_results_root",
    "read_log",
]
