"""Cancelling ``run_async`` in its first moments: the folder is a loadable, cancelled run.

A user test cancelled ``await tuner.run_async()`` after a millisecond or so and
found only ``.lock`` and ``trials/`` (no log, nothing ``load_experiment`` or
``Tuner.load`` could read), a worker thread still writing ``events.log`` after
``run_async`` had returned and unlocked the folder, or a run logged as ended by
"error". Real trial subprocesses, real files.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiotune import StoppingCriterion, Tuner, TunerCallback
from aiotune.backends import LocalBackend
from aiotune.config_space import loguniform
from aiotune.experiments import load_experiment
from aiotune.schedulers import RandomSearch
from aiotune.store.event_log import EventLog
from aiotune.store.experiment_dir import ExperimentDir

SPACE = {"lr": loguniform(1e-4, 1.0), "epochs": 50, "sleep": 0.05}


def _tuner(script: Path, callbacks: list[Any] | None = None) -> Tuner:
    return Tuner(
        trial_backend=LocalBackend(entry_point=script, stop_grace_period=1.0),
        scheduler=RandomSearch(SPACE, metric="loss", mode="min", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=20),
        n_workers=2,
        print_update_interval=3600.0,
        callbacks=callbacks,
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            st = os.stat(Path(root) / name)
            out[os.path.relpath(Path(root) / name, folder)] = (st.st_size, st.st_mtime_ns)
    return out


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _assert_cancelled_run(tuner: Tuner) -> None:
    """A complete run ended by "cancelled": read back, resumable, unlocked, nothing left behind."""
    path = tuner.tuner_path
    assert tuner.stop_reason == "cancelled"
    result = load_experiment(path)
    assert result.end_reason == "cancelled"
    assert result.metric_names == ["loss"]
    assert len(result.trial_records) == tuner.status.num_trials_started
    assert tuner.status.num_trials_running == 0
    assert not [n for n in os.listdir(path) if n.endswith(".tmp")]
    loaded = Tuner.load(path)
    assert loaded.status.num_trials_started == tuner.status.num_trials_started
    with ExperimentDir(path):  # the lock was released
        pass


@pytest.mark.asyncio
async def test_cancelled_before_it_starts_leaves_no_folder(train_script: Path) -> None:
    tuner = _tuner(train_script)
    task = asyncio.create_task(tuner.run_async())
    await _cancel_and_wait(task)  # the coroutine never ran
    assert not tuner.tuner_path.exists()


@pytest.mark.asyncio
@pytest.mark.parametrize("steps", [1, 2, 3, 5, 8, 13, 30])
async def test_cancelled_after_a_few_loop_iterations_is_a_loadable_cancelled_run(
    train_script: Path, steps: int
) -> None:
    tuner = _tuner(train_script)
    task = asyncio.create_task(tuner.run_async())
    for _ in range(steps):
        await asyncio.sleep(0)
    await _cancel_and_wait(task)
    _assert_cancelled_run(tuner)


@pytest.mark.asyncio
@pytest.mark.parametrize("delay", [0.001, 0.003, 0.005, 0.01, 0.05])
async def test_cancelled_after_a_few_milliseconds_is_a_loadable_cancelled_run(
    train_script: Path, delay: float
) -> None:
    tuner = _tuner(train_script)
    task = asyncio.create_task(tuner.run_async())
    await asyncio.sleep(delay)
    await _cancel_and_wait(task)
    _assert_cancelled_run(tuner)


class _CancelAt(TunerCallback):
    """Cancels the task running the tuner from inside one of its hooks."""

    def __init__(self, hook: str) -> None:
        self.hook = hook
        self.task: asyncio.Task[None] | None = None

    def _cancel(self) -> None:
        assert self.task is not None
        self.task.cancel()

    def on_tuning_start(self, tuner: Tuner) -> None:
        if self.hook == "on_tuning_start":
            self._cancel()

    def on_trial_start(self, trial: Any) -> None:
        if self.hook == "on_trial_start":
            self._cancel()


@pytest.mark.asyncio
@pytest.mark.parametrize("hook", ["on_tuning_start", "on_trial_start"])
async def test_cancelled_from_a_start_hook_is_a_loadable_cancelled_run(
    train_script: Path, hook: str
) -> None:
    canceller = _CancelAt(hook)
    tuner = _tuner(train_script, callbacks=[canceller])
    task = canceller.task = asyncio.create_task(tuner.run_async())
    with pytest.raises(asyncio.CancelledError):
        await task
    _assert_cancelled_run(tuner)
    if hook == "on_trial_start":
        assert tuner.status.num_trials_started >= 1
        assert tuner.status.num_trials_stopped == tuner.status.num_trials_started


@pytest.mark.asyncio
async def test_cancelled_by_an_anyio_scope_at_once_is_a_loadable_cancelled_run(
    train_script: Path,
) -> None:
    tuner = _tuner(train_script)
    with anyio.move_on_after(0):
        await tuner.run_async()
    _assert_cancelled_run(tuner)


@pytest.mark.asyncio
async def test_no_thread_writes_the_folder_after_a_cancelled_run_returns(
    train_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while its worker thread opens the log: run_async waits for the open to end."""
    real_open = EventLog.open
    opening = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_open(cls: type[EventLog], *args: Any) -> EventLog:
        loop.call_soon_threadsafe(opening.set)
        time.sleep(0.3)  # a slow disk
        return real_open(*args)

    monkeypatch.setattr(EventLog, "open", classmethod(slow_open))
    tuner = _tuner(train_script)
    task = asyncio.create_task(tuner.run_async())
    await opening.wait()
    await _cancel_and_wait(task)
    returned = _snapshot(tuner.tuner_path)
    assert "events.log" in returned and "metadata.json" in returned
    await asyncio.sleep(0.5)  # a thread still running would write meanwhile
    assert _snapshot(tuner.tuner_path) == returned
    _assert_cancelled_run(tuner)


class _KeepFirstSnapshot(TunerCallback):
    """Keeps tuner.json as written before the first trial: older than the log by its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: bytes | None = None

    def on_trial_start(self, trial: Any) -> None:
        if self.data is None:
            self.data = self.path.read_bytes()


@pytest.mark.asyncio
async def test_a_resumed_run_cancelled_before_catching_up_keeps_its_tuner_json(
    train_script: Path,
) -> None:
    """Until a loaded tuner's scheduler has been fed the log, its tuner.json must not be
    rewritten: the new one would claim records the scheduler never saw, and the next
    Tuner.load would not feed them to it. (Cancelled from on_tuning_start, the run ends
    at the backend session's first await, before the catch-up.)"""
    first = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=RandomSearch({**SPACE, "epochs": 2, "sleep": 0.0}, metric="loss"),
        stop_criterion=StoppingCriterion(max_num_trials_started=3),
        n_workers=1,
        print_update_interval=3600.0,
    )
    keep = _KeepFirstSnapshot(first.tuner_path / "tuner.json")
    first.callbacks = [keep]
    await first.run_async()
    # As if the tuner had died before its next snapshot: tuner.json lags the log.
    assert keep.data is not None
    (first.tuner_path / "tuner.json").write_bytes(keep.data)
    more = StoppingCriterion(max_num_trials_started=6)
    loaded = Tuner.load(first.tuner_path, stop_criterion=more)
    canceller = _CancelAt("on_tuning_start")
    loaded.callbacks = [canceller]
    task = canceller.task = asyncio.create_task(loaded.run_async())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert loaded.stop_reason == "cancelled"
    assert (first.tuner_path / "tuner.json").read_bytes() == keep.data
    # The catch-up is still due: the same tuner, run again, makes it and goes on.
    loaded.callbacks = []
    await loaded.run_async()
    assert loaded.status.num_trials_started >= 6
    assert (first.tuner_path / "tuner.json").read_bytes() != keep.data
    assert load_experiment(first.tuner_path).end_reason.startswith("stopping criterion")
