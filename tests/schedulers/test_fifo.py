"""FIFOScheduler (searcher resolution, hook forwarding, worker-thread searchers, state)
and the adapter that lets the tuner await a plain synchronous scheduler."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import anyio
import msgspec
import pytest

from aiotune._spec import from_spec, to_spec
from aiotune.config_space import choice, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision, Suggestion
from aiotune.schedulers.base import Scheduler
from aiotune.schedulers.fifo import FIFOScheduler, FIFOState
from aiotune.schedulers.random_search import RandomSearch
from aiotune.schedulers.searchers.base import Searcher, register_searcher
from aiotune.schedulers.searchers.grid import GridSearcher
from aiotune.schedulers.searchers.random import RandomSearcher
from aiotune.schedulers.sync_adapter import (
    SyncSchedulerAdapter,
    as_async_scheduler,
    to_decision,
)
from aiotune.trial import Trial, TrialStatus

SPACE = {"x": uniform(0.0, 1.0), "act": choice(["a", "b"])}


class RecordingSearcher(Searcher):
    """Counts in order: records every hook call it receives (a real searcher, not a mock)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, Any]] = []

    def _suggest(self) -> dict[str, Any] | None:
        self.calls.append(("suggest", threading.get_ident()))
        return self.sample_config()

    def on_trial_add(self, trial: Trial) -> None:
        self.calls.append(("add", trial.trial_id))

    def on_result(self, trial: Trial, result: dict[str, Any]) -> None:
        self.calls.append(("result", self.metric_value(result)))

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self.calls.append(("complete", trial.trial_id))

    def on_trial_error(self, trial: Trial) -> None:
        self.calls.append(("error", trial.trial_id))


class HardThinker(RecordingSearcher):
    """A model-based stand-in: its suggest blocks until the event loop proves it is alive."""

    thinks_hard: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop_alive = threading.Event()

    def _suggest(self) -> dict[str, Any] | None:
        # If suggest ran on the event loop thread, nothing could set the event.
        if not self.loop_alive.wait(timeout=5.0):
            raise AssertionError("the event loop was blocked while the searcher thought")
        return super()._suggest()


register_searcher("test-recording", RecordingSearcher)


@pytest.mark.asyncio
async def test_forwards_hooks_and_always_continues() -> None:
    fifo = FIFOScheduler(SPACE, "acc", mode="max", searcher="test-recording", random_seed=0)
    searcher = fifo.searcher
    assert isinstance(searcher, RecordingSearcher) and searcher.mode == "max"
    suggestion = await fifo.suggest()
    assert suggestion is not None and suggestion.config is not None
    trial = Trial(trial_id=0, config=suggestion.config, status=TrialStatus.RUNNING)
    await fifo.on_trial_add(trial)
    assert await fifo.on_result(trial, {"acc": 0.5}) is Decision.CONTINUE
    assert await fifo.on_result(trial, {"acc": float("nan")}) is Decision.CONTINUE
    await fifo.on_trial_complete(trial, {"acc": 0.5})
    await fifo.on_trial_error(trial)
    assert [c[0] for c in searcher.calls] == [
        "suggest",
        "add",
        "result",
        "result",
        "complete",
        "error",
    ]
    assert searcher.calls[0][1] == threading.get_ident()  # cheap searchers stay on the loop
    assert searcher.calls[2][1] == -0.5 and searcher.calls[3][1] is None


@pytest.mark.asyncio
async def test_thinking_searcher_runs_in_worker_thread() -> None:
    searcher = HardThinker(SPACE, "loss", random_seed=0)
    fifo = FIFOScheduler(SPACE, "loss", searcher=searcher)
    result: list[Suggestion | None] = []

    async def ask() -> None:
        result.append(await fifo.suggest())

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        await anyio.sleep(0.01)  # the loop keeps running while the searcher thinks
        searcher.loop_alive.set()
    assert result and result[0] is not None
    assert searcher.calls[0][1] != threading.get_ident()


class ConcurrencyProbe(RandomSearcher):
    """Thinks hard and records how many of its suggests ever ran at the same time."""

    thinks_hard: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.active = 0
        self.max_active = 0

    def _suggest(self) -> dict[str, Any] | None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        time.sleep(0.01)  # a worker thread: blocking here is the point
        self.active -= 1
        return super()._suggest()


@pytest.mark.asyncio
async def test_concurrent_suggests_of_thinking_searcher_are_serialized() -> None:
    probe = ConcurrencyProbe(SPACE, "loss", random_seed=0)
    fifo = FIFOScheduler(SPACE, "loss", searcher=probe)
    got: list[Suggestion | None] = []

    async def ask() -> None:
        got.append(await fifo.suggest())

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(ask)
    assert probe.max_active == 1
    configs = [s.config for s in got if s is not None]
    assert len(configs) == 4 and all(configs.count(c) == 1 for c in configs)


def test_searcher_resolution_and_argument_errors() -> None:
    fifo = FIFOScheduler(
        SPACE, "loss", searcher="grid", searcher_kwargs={"num_samples": 5, "shuffle": True}
    )
    assert isinstance(fifo.searcher, GridSearcher) and fifo.searcher.grid_size == 10
    assert isinstance(FIFOScheduler(SPACE, "loss").searcher, RandomSearcher)
    with pytest.raises(InvalidArgumentError, match="unknown searcher 'nope'"):
        FIFOScheduler(SPACE, "loss", searcher="nope")
    with pytest.raises(InvalidArgumentError, match="searcher must be"):
        FIFOScheduler(SPACE, "loss", searcher=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="searcher_kwargs"):
        FIFOScheduler(SPACE, "loss", searcher_kwargs=[1])  # type: ignore[arg-type]
    searcher = RandomSearcher(SPACE, "loss")
    with pytest.raises(InvalidArgumentError, match="points_to_evaluate"):
        FIFOScheduler(SPACE, "loss", searcher=searcher, points_to_evaluate=[{"x": 0.1}])
    with pytest.raises(InvalidArgumentError, match="optimizes"):
        FIFOScheduler(SPACE, "acc", mode="max", searcher=searcher)
    with pytest.raises(InvalidArgumentError, match="mode"):
        FIFOScheduler(SPACE, "loss", mode="up")
    with pytest.raises(TypeError):
        FIFOScheduler(SPACE, "loss", searcher="grid", searcher_kwargs={"bogus": 1})


@pytest.mark.asyncio
async def test_multiple_metrics_searcher_uses_first() -> None:
    fifo = FIFOScheduler(SPACE, ["acc", "cost"], mode=["max", "min"], random_seed=1)
    assert fifo.metric == ["acc", "cost"] and fifo.mode == ["max", "min"]
    assert fifo.searcher.metric == "acc" and fifo.searcher.mode == "max"
    assert isinstance(fifo, Scheduler)
    assert "FIFOScheduler" in repr(fifo) and "RandomSearcher" in repr(fifo)


@pytest.mark.asyncio
@pytest.mark.parametrize("codec", ["json", "msgpack", "builtins"])
async def test_state_round_trip(codec: str) -> None:
    a = FIFOScheduler(SPACE, "loss", random_seed=5, points_to_evaluate=[{"x": 0.5}, {}])
    await a.suggest()
    state = a.state()
    assert isinstance(state, FIFOState)
    if codec == "json":
        restored_state: Any = msgspec.json.decode(msgspec.json.encode(state), type=FIFOState)
    elif codec == "msgpack":
        restored_state = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=FIFOState)
    else:
        restored_state = msgspec.to_builtins(state)
    b = FIFOScheduler(SPACE, "loss", random_seed=5, points_to_evaluate=[{"x": 0.5}, {}])
    b.restore(restored_state)
    assert [await b.suggest() for _ in range(6)] == [await a.suggest() for _ in range(6)]


@pytest.mark.asyncio
async def test_spec_with_searcher_instance() -> None:
    searcher = GridSearcher(SPACE, "loss", random_seed=3, num_samples=4, shuffle=True)
    fifo = FIFOScheduler(SPACE, "loss", searcher=searcher)
    spec = to_spec(fifo)
    data = msgspec.json.encode(spec)
    rebuilt = from_spec(msgspec.json.decode(data, type=type(spec)))
    assert isinstance(rebuilt.searcher, GridSearcher)
    assert [await rebuilt.suggest() for _ in range(8)] == [await fifo.suggest() for _ in range(8)]


# -- the synchronous adapter -------------------------------------------------------------


class PlainScheduler:
    """A Syne-Tune-style synchronous scheduler: plain methods, string decisions."""

    def __init__(self, answer: Any = "continue") -> None:
        self.metric = "loss"
        self.mode = "min"
        self.answer = answer
        self.events: list[str] = []
        self.count = 0

    def suggest(self) -> dict[str, Any] | None:
        self.count += 1
        return {"x": self.count / 10} if self.count <= 2 else None

    def on_trial_add(self, trial: Trial) -> None:
        self.events.append(f"add {trial.trial_id}")

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Any:
        self.events.append(f"result {result['loss']}")
        return self.answer

    def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self.events.append("complete")

    def state(self) -> dict[str, Any]:
        return {"count": self.count}

    def restore(self, state: dict[str, Any]) -> None:
        self.count = state["count"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("continue", Decision.CONTINUE),
        ("STOP", Decision.STOP),
        ("pause", Decision.PAUSE),
        (Decision.STOP, Decision.STOP),
        (None, Decision.CONTINUE),
    ],
)
async def test_adapter_wraps_plain_scheduler(answer: Any, expected: Decision) -> None:
    plain = PlainScheduler(answer)
    wrapped = as_async_scheduler(plain)
    assert isinstance(wrapped, SyncSchedulerAdapter) and wrapped.scheduler is plain
    assert isinstance(wrapped, Scheduler) and wrapped.metric == ["loss"]
    s = await wrapped.suggest()
    assert s == Suggestion(config={"x": 0.1})
    trial = Trial(trial_id=0, config={"x": 0.1})
    await wrapped.on_trial_add(trial)
    assert await wrapped.on_result(trial, {"loss": 1.0}) is expected
    await wrapped.on_trial_complete(trial, {"loss": 1.0})
    await wrapped.on_trial_error(trial)  # missing hook: a no-op
    assert plain.events == ["add 0", "result 1.0", "complete"]
    assert await wrapped.suggest() is not None and await wrapped.suggest() is None
    state = msgspec.json.decode(msgspec.json.encode(wrapped.state()), type=type(wrapped.state()))
    other = SyncSchedulerAdapter(PlainScheduler())
    other.restore(state)
    assert other.scheduler.count == 3


@pytest.mark.asyncio
async def test_adapter_bad_decision_and_suggestion() -> None:
    wrapped = as_async_scheduler(PlainScheduler("halt"))
    with pytest.raises(InvalidArgumentError, match="'halt'"):
        await wrapped.on_result(Trial(trial_id=0, config={}), {"loss": 1.0})
    with pytest.raises(InvalidArgumentError):
        to_decision(3)

    class Weird(PlainScheduler):
        def suggest(self) -> Any:
            return ["not", "a", "config"]

    with pytest.raises(InvalidArgumentError, match="list"):
        await as_async_scheduler(Weird()).suggest()


@pytest.mark.asyncio
async def test_adapter_trial_id_suggest_and_syne_tune_suggestion() -> None:
    class TrialSuggestion:  # shaped like Syne Tune's
        def __init__(self, config: dict | None, spawn: bool, checkpoint: int | None) -> None:
            self.config, self.spawn_new_trial_id, self.checkpoint_trial_id = (
                config,
                spawn,
                checkpoint,
            )

    class OldStyle:
        thinks_hard = True

        def __init__(self) -> None:
            self.seen: list[tuple[int, int]] = []

        def metric_names(self) -> list[str]:
            return ["acc"]

        def metric_mode(self) -> str:
            return "max"

        def suggest(self, trial_id: int) -> Any:
            self.seen.append((trial_id, threading.get_ident()))
            if trial_id == 0:
                return TrialSuggestion({"x": 1}, True, None)
            return TrialSuggestion(None, False, 0)

    old = OldStyle()
    wrapped = as_async_scheduler(old)
    assert wrapped.metric == ["acc"] and wrapped.mode == ["max"]
    assert await wrapped.suggest() == Suggestion(config={"x": 1})
    await wrapped.on_trial_add(Trial(trial_id=0, config={"x": 1}))
    assert await wrapped.suggest() == Suggestion(resume_trial_id=0)
    assert [i for i, _ in old.seen] == [0, 1]
    assert all(ident != threading.get_ident() for _, ident in old.seen)


@pytest.mark.asyncio
async def test_adapter_never_runs_a_hook_while_a_thinking_suggest_runs() -> None:
    """The tuner handles events while a scheduler thinks; a wrapped plain scheduler is
    not thread-safe, so its hooks wait for the suggestion's thread to finish."""

    class Thinker(PlainScheduler):
        thinks_hard = True

        def __init__(self) -> None:
            super().__init__()
            self.in_suggest = threading.Event()

        def suggest(self) -> dict[str, Any] | None:
            self.in_suggest.set()
            time.sleep(0.3)
            self.events.append("suggested")
            self.in_suggest.clear()
            return {"x": 0.5}

        def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> Any:
            assert not self.in_suggest.is_set(), "a hook ran during suggest"
            return super().on_trial_result(trial, result)

    inner = Thinker()
    wrapped = as_async_scheduler(inner)
    trial = Trial(trial_id=0, config={"x": 0.1})
    async with anyio.create_task_group() as tg:
        tg.start_soon(wrapped.suggest)
        await anyio.to_thread.run_sync(inner.in_suggest.wait)
        assert await wrapped.on_result(trial, {"loss": 1.0}) is Decision.CONTINUE
    assert inner.events == ["suggested", "result 1.0"]
    # No suggestion in progress: hooks are called at once, without the lock.
    assert await wrapped.on_result(trial, {"loss": 2.0}) is Decision.CONTINUE


def test_as_async_scheduler_keeps_async_and_rejects_odd_objects() -> None:
    rs = RandomSearch(SPACE, "loss")
    assert as_async_scheduler(rs) is rs

    class Mixed(PlainScheduler):
        async def on_trial_add(self, trial: Trial) -> None:  # type: ignore[override]
            return None

    with pytest.raises(InvalidArgumentError, match="mixes"):
        as_async_scheduler(Mixed())
    with pytest.raises(InvalidArgumentError, match="no suggest"):
        as_async_scheduler(object())

    class NoMetric:
        def suggest(self) -> None:
            return None

    with pytest.raises(InvalidArgumentError, match="metric"):
        as_async_scheduler(NoMetric())
