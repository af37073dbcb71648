"""Schedulers: async decision providers that choose configs and stop, pause or resume trials."""

from __future__ import annotations

from .base import BaseScheduler as BaseScheduler
from .base import Scheduler as Scheduler
from .fifo import FIFOScheduler as FIFOScheduler
from .grid_search import GridSearch as GridSearch
from .random_search import RandomSearch as RandomSearch
from .sync_adapter import SyncSchedulerAdapter as SyncSchedulerAdapter
from .sync_adapter import as_async_scheduler as as_async_scheduler

__all__ = [
    "BaseScheduler",
    "FIFOScheduler",
    "GridSearch",
    "RandomSearch",
    "Scheduler",
    "SyncSchedulerAdapter",
    "as_async_scheduler",
]
