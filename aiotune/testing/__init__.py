"""Reusable conformance suites (as optuna ships its storage tests); needs pytest, pytest-asyncio.

Every scheduler passes :class:`SchedulerTestCase`, every backend
:class:`BackendTestCase`: subclass one in a ``Test...`` class and implement its
factory method to run the whole battery.
"""

from .backend_case import BackendTestCase as BackendTestCase
from .scheduler_case import SchedulerDriver as SchedulerDriver
from .scheduler_case import SchedulerTestCase as SchedulerTestCase

__all__ = ["BackendTestCase", "SchedulerDriver", "SchedulerTestCase"]
