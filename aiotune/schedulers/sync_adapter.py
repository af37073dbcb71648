"""Run a plain synchronous scheduler under the async tuner: wrapped, not rewritten.

A scheduler written for a polling tuner (Syne Tune style: ``suggest()``,
``on_trial_result`` returning ``"continue"``, ...) has ordinary methods. The
tuner awaits every scheduler hook, so :func:`as_async_scheduler` wraps such an
object in :class:`SyncSchedulerAdapter`; an object whose methods are already
coroutines is returned unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio
import msgspec

from ..errors import InvalidArgumentError
from ..events import Decision, Suggestion
from ..trial import Trial
from ._thinking import think
from .base import BaseScheduler, Scheduler, normalize_metric_mode

__all__ = ["SyncAdapterState", "SyncSchedulerAdapter", "as_async_scheduler"]

_HOOKS = ("suggest", "on_trial_add", "on_result", "on_trial_complete", "on_trial_error")

# Syne Tune's names for the same hooks, tried when ours are missing.
_ALIASES: dict[str, tuple[str, ...]] = {
    "on_result": ("on_trial_result",),
}

_DECISIONS = {d.value: d for d in Decision}


class SyncAdapterState(msgspec.Struct, tag="sync_adapter", kw_only=True):
    """The wrapped scheduler's own state as plain data, plus the adapter's trial counter."""

    inner: Any = None
    next_trial_id: int = 0


def to_decision(value: Any) -> Decision:
    """Turn what a synchronous ``on_result`` returned into a :class:`Decision`.

    Accepts a Decision, ``None`` (continue) or one of the strings ``"continue"``,
    ``"stop"``, ``"pause"`` in any case; anything else raises InvalidArgumentError.
    """
    if isinstance(value, Decision):
        return value
    if value is None:
        return Decision.CONTINUE
    if isinstance(value, str):
        decision = _DECISIONS.get(value.strip().lower())
        if decision is not None:
            return decision
    # An enum from another library whose value is one of our strings.
    inner = getattr(value, "value", None)
    if isinstance(inner, str) and inner.strip().lower() in _DECISIONS:
        return _DECISIONS[inner.strip().lower()]
    raise InvalidArgumentError(
        f"scheduler on_result returned {value!r}; expected a Decision or "
        "'continue', 'stop' or 'pause'"
    )


def to_suggestion(value: Any) -> Suggestion | None:
    """Turn what a synchronous ``suggest`` returned into a :class:`Suggestion` (or None).

    Accepts None, a Suggestion, a config dict, or an object shaped like Syne
    Tune's ``TrialSuggestion`` (``config``, ``spawn_new_trial_id``,
    ``checkpoint_trial_id``).
    """
    if value is None or isinstance(value, Suggestion):
        return value
    if isinstance(value, dict):
        return Suggestion.start(value)
    if hasattr(value, "spawn_new_trial_id"):
        config = getattr(value, "config", None)
        checkpoint = getattr(value, "checkpoint_trial_id", None)
        if value.spawn_new_trial_id:
            if not isinstance(config, dict):
                raise InvalidArgumentError(f"scheduler suggested {value!r} without a config dict")
            return Suggestion.start(config, checkpoint_from=checkpoint)
        if checkpoint is None:
            raise InvalidArgumentError(
                f"scheduler suggested a resume without a trial id: {value!r}"
            )
        return Suggestion.resume(int(checkpoint), config)
    raise InvalidArgumentError(
        f"scheduler suggest returned {type(value).__name__}; expected None, a Suggestion "
        "or a config dict"
    )


def _metric_and_mode(obj: Any) -> tuple[Any, Any]:
    """Read metric name(s) and mode(s) from a synchronous scheduler, Syne Tune style too."""
    metric = getattr(obj, "metric", None)
    if metric is None:
        metric = getattr(obj, "metrics", None)
    if metric is None and callable(getattr(obj, "metric_names", None)):
        metric = obj.metric_names()
    mode = getattr(obj, "mode", None)
    if mode is None and callable(getattr(obj, "metric_mode", None)):
        mode = obj.metric_mode()
    if mode is None and hasattr(obj, "do_minimize"):
        mode = "min" if obj.do_minimize else "max"
    if metric is None:
        raise InvalidArgumentError(
            f"cannot wrap {type(obj).__name__}: it has no 'metric' attribute "
            "naming what it optimizes"
        )
    return metric, "min" if mode is None else mode


class SyncSchedulerAdapter(BaseScheduler):
    """Awaitable facade over a scheduler object whose hooks are plain functions.

    Hooks the wrapped object lacks are no-ops (``on_result`` then continues).
    If the object sets ``thinks_hard = True``, ``suggest`` runs in a worker
    thread so the event loop keeps serving reports meanwhile; the wrapped object
    is not assumed thread-safe, so its other hooks wait for that thread (the
    reports are logged at once; their decisions follow the suggestion). If its
    ``suggest`` takes a ``trial_id`` argument (Syne Tune 0.13), the adapter
    passes the id the tuner will assign next.
    """

    def __init__(self, scheduler: Any) -> None:
        if not callable(getattr(scheduler, "suggest", None)):
            raise InvalidArgumentError(
                f"cannot wrap {type(scheduler).__name__}: it has no suggest() method"
            )
        metric, mode = _metric_and_mode(scheduler)
        super().__init__(metric, mode)
        self.scheduler = scheduler
        self._hooks: dict[str, Callable[..., Any] | None] = {
            name: self._find_hook(scheduler, name) for name in (*_HOOKS, "on_trial_remove")
        }
        self._suggest_takes_id = _takes_positional(scheduler.suggest)
        self._thinks_hard = bool(getattr(scheduler, "thinks_hard", False))
        self._thinking = anyio.Lock() if self._thinks_hard else None
        self._next_trial_id = 0

    @staticmethod
    def _find_hook(obj: Any, name: str) -> Callable[..., Any] | None:
        for candidate in (name, *_ALIASES.get(name, ())):
            fn = getattr(obj, candidate, None)
            if callable(fn):
                return fn
        return None

    async def suggest(self) -> Suggestion | None:
        """Ask the wrapped scheduler (in a worker thread if it thinks hard)."""
        fn = self._hooks["suggest"]
        assert fn is not None  # checked in __init__
        args = (self._next_trial_id,) if self._suggest_takes_id else ()
        if self._thinking is not None:
            async with self._thinking:
                raw = await think(fn, *args)
        else:
            raw = fn(*args)
        return to_suggestion(raw)

    async def _forward(self, name: str, *args: Any) -> Any:
        """Call hook ``name`` if the wrapped object has it (after a suggestion in progress)."""
        fn = self._hooks[name]
        if fn is None:
            return None
        if self._thinking is not None and self._thinking.locked():
            async with self._thinking:
                return fn(*args)
        return fn(*args)

    async def on_trial_add(self, trial: Trial) -> None:
        """Forward; also track the next trial id for id-taking ``suggest`` methods."""
        self._next_trial_id = max(self._next_trial_id, trial.trial_id + 1)
        await self._forward("on_trial_add", trial)

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Forward and convert the answer (Decision, string or None) to a Decision; a
        PAUSE also calls ``on_trial_remove``, as Syne Tune's tuner does."""
        if self._hooks["on_result"] is None:
            return Decision.CONTINUE
        decision = to_decision(await self._forward("on_result", trial, result))
        if decision is Decision.PAUSE:
            await self._forward("on_trial_remove", trial)
        return decision

    async def on_trial_remove(self, trial: Trial) -> None:
        """Forward (the tuner calls it on a STOP decision): Syne Tune's schedulers drop
        the trial's pending evaluations there."""
        await self._forward("on_trial_remove", trial)

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        """Forward if the wrapped scheduler has this hook."""
        await self._forward("on_trial_complete", trial, result)

    async def on_trial_error(self, trial: Trial) -> None:
        """Forward if the wrapped scheduler has this hook."""
        await self._forward("on_trial_error", trial)

    def state(self) -> SyncAdapterState:
        """The wrapped scheduler's ``state()`` (a Struct or plain data) as builtins."""
        inner = None
        fn = getattr(self.scheduler, "state", None)
        if callable(fn):
            inner = msgspec.to_builtins(fn())
        return SyncAdapterState(inner=inner, next_trial_id=self._next_trial_id)

    def restore(self, state: msgspec.Struct | dict[str, Any]) -> None:
        """Give the wrapped scheduler back its state, converted to the type it produces."""
        if not isinstance(state, SyncAdapterState):
            state = msgspec.convert(state, SyncAdapterState)
        self._next_trial_id = state.next_trial_id
        fn = getattr(self.scheduler, "restore", None)
        if state.inner is None or not callable(fn):
            return
        current = self.scheduler.state()
        if isinstance(current, msgspec.Struct):
            fn(msgspec.convert(state.inner, type(current)))
        else:
            fn(state.inner)

    def __repr__(self) -> str:
        return f"SyncSchedulerAdapter({self.scheduler!r})"


def _takes_positional(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` has a required positional parameter (a trial id)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(
        p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for p in sig.parameters.values()
    )


def as_async_scheduler(obj: Any) -> Scheduler:
    """Return ``obj`` if its hooks are coroutines, else wrap it in SyncSchedulerAdapter.

    Raises InvalidArgumentError when ``obj`` has no ``suggest`` or mixes
    coroutine and plain hooks (it would be half-awaited either way).
    """
    suggest = getattr(obj, "suggest", None)
    if not callable(suggest):
        raise InvalidArgumentError(f"{type(obj).__name__} is not a scheduler: no suggest() method")
    kinds = {
        name: inspect.iscoroutinefunction(getattr(obj, name))
        for name in _HOOKS
        if callable(getattr(obj, name, None))
    }
    if all(kinds.values()):
        check_async_scheduler(obj)
        return obj  # type: ignore[no-any-return]
    if not any(kinds.values()):
        return SyncSchedulerAdapter(obj)
    mixed = sorted(name for name, is_async in kinds.items() if is_async)
    plain = sorted(name for name, is_async in kinds.items() if not is_async)
    hint = (
        " (BaseScheduler's hooks are coroutines: make yours `async def` too, or do not "
        "subclass BaseScheduler for a synchronous scheduler)"
        if isinstance(obj, BaseScheduler) else ""
    )
    raise InvalidArgumentError(
        f"{type(obj).__name__} mixes coroutine hooks {mixed} with plain ones {plain}; "
        f"make all of them coroutines or none{hint}"
    )


def check_async_scheduler(obj: Any) -> None:
    """Refuse, naming what is wrong, an async scheduler the tuning loop could not drive:
    a missing hook, ``state``/``restore`` or ``metric``, or a bad metric or mode."""
    name = type(obj).__name__
    missing = [h for h in (*_HOOKS, "state", "restore") if not callable(getattr(obj, h, None))]
    if missing:
        raise InvalidArgumentError(
            f"{name} is an async scheduler without {missing}; subclass "
            "aiotune.schedulers.BaseScheduler for the optional hooks' defaults"
        )
    if not hasattr(obj, "metric"):
        raise InvalidArgumentError(f"{name} has no 'metric' attribute (the metric(s) it optimizes)")
    try:
        normalize_metric_mode(obj.metric, getattr(obj, "mode", "min"))
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{name}: {exc}") from None
