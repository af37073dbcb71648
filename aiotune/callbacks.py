"""Tuner callbacks: hooks a user attaches to a run; each may be a plain or an async method."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .events import Decision
from .trial import Trial

if TYPE_CHECKING:
    from .tuner import Tuner

__all__ = ["CallbackDispatcher", "TunerCallback"]

HOOKS = (
    "on_tuning_start",
    "on_trial_start",
    "on_trial_result",
    "on_trial_complete",
    "on_trial_error",
    "on_tuning_end",
)


class TunerCallback:
    """Base class with every hook as a no-op; override what you need (sync or ``async def``).

    Signatures: ``on_tuning_start(tuner)``, ``on_trial_start(trial)``,
    ``on_trial_result(trial, status, result, decision)``,
    ``on_trial_complete(trial, result)``, ``on_trial_error(trial)``,
    ``on_tuning_end()``.
    """

    def on_tuning_start(self, tuner: Tuner) -> None: ...

    def on_trial_start(self, trial: Trial) -> None: ...

    def on_trial_result(
        self, trial: Trial, status: Any, result: dict[str, Any], decision: Decision
    ) -> None: ...

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None: ...

    def on_trial_error(self, trial: Trial) -> None: ...

    def on_tuning_end(self) -> None: ...


class CallbackDispatcher:
    """Calls one hook on every callback that defines it, awaiting the async ones.

    Bound methods are looked up once, and hooks that every callback leaves as the
    base no-op are skipped, so a run with no callbacks pays nothing per event.
    """

    def __init__(self, callbacks: Sequence[Any]) -> None:
        self._hooks: dict[str, list[Callable[..., Any]]] = {}
        for name in HOOKS:
            methods = []
            for cb in callbacks:
                method = getattr(cb, name, None)
                if method is None or getattr(type(cb), name, None) is getattr(TunerCallback, name):
                    continue
                methods.append(method)
            self._hooks[name] = methods

    def has(self, hook: str) -> bool:
        """True when some callback implements ``hook``."""
        return bool(self._hooks[hook])

    async def call(self, hook: str, *args: Any) -> None:
        """Run ``hook(*args)`` on each callback in order; await results that are awaitable."""
        for method in self._hooks[hook]:
            out = method(*args)
            if inspect.isawaitable(out):
                await out  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"CallbackDispatcher({ {k: len(v) for k, v in self._hooks.items() if v} })"


AsyncHook = Callable[..., Awaitable[None]]
