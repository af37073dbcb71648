"""Reusable conformance suites (as optuna ships its storage tests); needs pytest, pytest-asyncio.

Every scheduler passes :class:`SchedulerTestCase`, every backend
:class:`BackendTestCase`: subclass one in a ``Test...`` class and implement its
factory method to run the whole battery. :func:`drive_searcher` runs a searcher
ask/tell by hand.
"""

from .backend_case import BackendTestCase as BackendTestCase
from .scheduler_case import SchedulerDriver as SchedulerDriver
from .scheduler_case import SchedulerTestCase as SchedulerTestCase
from .searcher_drive import drive_searcher as drive_searcher

__all__ = ["BackendTestCase", "SchedulerDriver", "SchedulerTestCase", "drive_searcher"]
