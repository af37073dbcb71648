"""Time as the backend sees it: real time for real backends, virtual for the simulator."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "RealClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """Reads the time and bounds a block by a deadline in that time."""

    def now(self) -> float:
        """Seconds since an arbitrary fixed origin."""
        ...

    def deadline(self, seconds: float) -> contextlib.AbstractContextManager[anyio.CancelScope]:
        """A scope that ends its block once ``seconds`` of this clock's time have passed."""
        ...


class RealClock:
    """Unix time, so logged times mean the same across restarts of a tuner.

    Deadlines are anyio cancel scopes (on the event loop's monotonic clock), so
    nothing polls and a step of the system clock cannot fire them early.
    """

    def now(self) -> float:
        return time.time()

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[anyio.CancelScope]:
        with anyio.move_on_after(seconds if math.isfinite(seconds) else math.inf) as scope:
            yield scope

    def __repr__(self) -> str:
        return "RealClock()"


class VirtualClock:
    """Simulated time, advanced only by the simulator; a deadline is checked per event.

    A virtual deadline cannot fire by itself (no real time passes); the tuner's
    stopping criterion sees the virtual wallclock on every event instead.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        """Move time forward to ``t`` (never backwards)."""
        if t > self._now:
            self._now = t

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            yield scope

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:.3f})"
