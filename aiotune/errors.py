"""The exception hierarchy: one root, one subclass per condition."""

from __future__ import annotations

__all__ = [
    "AiotuneError",
    "ConfigSpaceError",
    "ConfigValueError",
    "ExperimentLockedError",
    "InvalidArgumentError",
    "LogCorruptError",
    "StorageError",
    "TooManyFailuresError",
    "WireError",
]


class AiotuneError(Exception):
    """Root of every error aiotune raises on purpose."""


class InvalidArgumentError(AiotuneError, ValueError):
    """Raised when an argument of a public constructor or function is invalid."""


class ConfigSpaceError(AiotuneError, ValueError):
    """Raised when a configuration space or one of its domains is invalid."""


class ConfigValueError(AiotuneError, ValueError):
    """Raised when a configuration value cannot cross a file or process boundary unchanged."""


class TooManyFailuresError(AiotuneError):
    """Raised when more trials failed than the tuner's ``max_failures`` allows."""


class WireError(AiotuneError):
    """Raised when a frame on the report channel is malformed, oversized or unauthenticated."""


class StorageError(AiotuneError, OSError):
    """Raised when the experiment folder cannot be written (the run fail-stops)."""


class LogCorruptError(AiotuneError):
    """Raised when the event log has a bad record before its tail."""


class ExperimentLockedError(AiotuneError):
    """Raised when another live tuner holds the experiment's lock."""


MAIN_GUARD_ADVICE = (
    "put the tuning code under 'if __name__ == \"__main__\":' (as for multiprocessing)"
)
"""The end of every error about a tuning script that a child process re-ran on import."""
