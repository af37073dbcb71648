"""End to end: the Tuner with real trial subprocesses on LocalBackend, real sockets, real files."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiotune import (
    Decision,
    InvalidArgumentError,
    StoppingCriterion,
    TooManyFailuresError,
    Trial,
    TrialStatus,
    Tuner,
    TunerCallback,
)
from aiotune.backends import LocalBackend
from aiotune.config_space import choice, loguniform
from aiotune.events import TrialEndedEvent
from aiotune.schedulers import GridSearch, RandomSearch
from aiotune.store.event_log import read_log
from aiotune.store.records import TrialAdded, TuningEnded

SPACE = {"lr": loguniform(1e-4, 1.0), "epochs": 3}


def _tuner(script: Path, **kwargs: Any) -> Tuner:
    defaults: dict[str, Any] = {
        "trial_backend": LocalBackend(entry_point=script),
        "scheduler": RandomSearch(SPACE, metric="loss", mode="min", random_seed=1),
        "stop_criterion": StoppingCriterion(max_num_trials_completed=5),
        "n_workers": 4,
    }
    defaults.update(kwargs)
    return Tuner(**defaults)


def _rows(tuner: Tuner) -> list[dict[str, str]]:
    with open(tuner.tuner_path / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_quickstart_runs_and_writes_the_experiment_folder(train_script: Path) -> None:
    tuner = _tuner(train_script, metadata={"owner": "tests"})
    tuner.run()
    status = tuner.status
    # "more than 5": the run ends once the sixth trial completes.
    assert status.num_trials_completed >= 6
    assert status.num_trials_failed == 0
    trial_id, config = tuner.best_config()
    assert 1e-4 <= config["lr"] <= 1.0 and config["epochs"] == 3
    best_loss = min(float(r["loss"]) for r in _rows(tuner))
    assert status.trials[trial_id].best["loss"] == pytest.approx(best_loss)
    rows = _rows(tuner)
    completed = [t for t in status.trials.values() if t.status is TrialStatus.COMPLETED]
    assert len(rows) == status.num_evaluations >= 3 * len(completed)
    assert {"trial_id", "status", "tuner_time", "config_lr", "loss", "epoch"} <= set(rows[0])
    meta = json.loads((tuner.tuner_path / "metadata.json").read_text())
    assert meta["owner"] == "tests" and meta["scheduler"] == "RandomSearch"
    assert meta["metric_names"] == ["loss"]
    log = read_log(tuner.tuner_path / "events.log")
    assert log.torn_tail_bytes == 0
    assert sum(isinstance(r, TrialAdded) for r in log.records) == status.num_trials_started
    assert (tuner.tuner_path / "tuner.json").exists()
    assert (tuner.tuner_path / "trials" / "0" / "stdout").exists()


@pytest.mark.asyncio
async def test_run_async_keeps_the_application_responsive(train_script: Path) -> None:
    tuner = _tuner(
        train_script,
        scheduler=RandomSearch({"lr": loguniform(1e-4, 1.0), "epochs": 10, "sleep": 0.02}, "loss"),
        stop_criterion=StoppingCriterion(max_num_trials_completed=7),
    )
    lateness: list[float] = []
    control: list[float] = []
    done = threading.Event()

    async def ticker(out: list[float]) -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.01)
            out.append(loop.time() - t0 - 0.01)

    # The control ticks at the same time on an event loop of its own, in another thread:
    # the trial processes, the machine's other load and the GIL delay both tickers alike,
    # only the tuner's own loop can delay the first one more.
    thread = threading.Thread(target=asyncio.run, args=(ticker(control),))
    thread.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker, lateness)
            await tuner.run_async()
            done.set()
    finally:
        done.set()
        thread.join()
    assert tuner.status.num_trials_completed >= 8
    assert len(lateness) > 20 and len(control) > 20
    lateness.sort()
    control.sort()

    def q(values: list[float], p: float) -> float:
        return values[int(p * (len(values) - 1))]

    # The tuner adds at most a few ms to the median tick, and under 10 ms to the 90th
    # percentile.
    assert q(lateness, 0.5) < q(control, 0.5) + 0.003, (q(lateness, 0.5), q(control, 0.5))
    assert q(lateness, 0.9) < q(control, 0.9) + 0.010, (lateness[-10:], control[-5:])


def test_max_failures_aborts_naming_the_trial_and_its_stderr(train_script: Path) -> None:
    space = {"lr": loguniform(1e-4, 1.0), "epochs": 3, "fail_at": 2}
    tuner = _tuner(
        train_script,
        scheduler=RandomSearch(space, metric="loss", random_seed=0),
        n_workers=1,
        max_failures=1,
        stop_criterion=StoppingCriterion(max_num_trials_started=10),
    )
    with pytest.raises(TooManyFailuresError) as info:
        tuner.run()
    message = str(info.value)
    assert "trial 1" in message and "exit code 3" in message
    assert "boom at epoch 2" in message  # the tail of its stderr
    # Nothing reported before the failures was lost.
    assert tuner.status.num_trials_failed == 2
    assert tuner.status.num_evaluations == 2
    assert len(_rows(tuner)) == 2


def test_space_exhausted_finishes_running_trials(train_script: Path) -> None:
    space = {"lr": choice([0.01, 0.1, 0.5]), "epochs": 2}
    tuner = _tuner(
        train_script,
        scheduler=GridSearch(space, metric="loss"),
        stop_criterion=StoppingCriterion(max_num_trials_completed=100),
    )
    tuner.run()
    assert tuner.status.num_trials_started == 3
    assert tuner.status.num_trials_completed == 3
    assert tuner.best_config()[1]["lr"] == 0.1
    assert tuner.stop_reason == "search space exhausted"


class Recorder(TunerCallback):
    """Records every hook; half of them async to show both kinds work."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_tuning_start(self, tuner: Tuner) -> None:
        self.calls.append("tuning_start")

    async def on_trial_start(self, trial: Trial) -> None:
        await anyio.lowlevel.checkpoint()
        self.calls.append(f"start {trial.trial_id}")

    def on_trial_result(self, trial: Trial, status: Any, result: dict, decision: Decision) -> None:
        self.calls.append(f"result {trial.trial_id} {result['epoch']}")

    async def on_trial_complete(self, trial: Trial, result: dict) -> None:
        self.calls.append(f"complete {trial.trial_id} {result['epoch']}")

    def on_trial_error(self, trial: Trial) -> None:
        self.calls.append(f"error {trial.trial_id}")

    async def on_tuning_end(self) -> None:
        self.calls.append("tuning_end")


def test_callbacks_sync_and_async(train_script: Path) -> None:
    rec = Recorder()
    space = {"lr": choice([0.01, 0.1]), "epochs": 2}
    tuner = _tuner(train_script, scheduler=GridSearch(space, metric="loss"), callbacks=[rec])
    tuner.run()
    assert rec.calls[0] == "tuning_start" and rec.calls[-1] == "tuning_end"
    for tid in (0, 1):
        mine = [
            c
            for c in rec.calls
            if c.split()[0] in ("start", "result", "complete") and c.split()[1] == str(tid)
        ]
        assert mine == [f"start {tid}", f"result {tid} 1", f"result {tid} 2", f"complete {tid} 2"]


def test_synchronous_scheduling_runs_in_batches(train_script: Path) -> None:
    space = {"lr": loguniform(1e-4, 1.0), "epochs": 2, "sleep": 0.01}
    tuner = _tuner(
        train_script,
        scheduler=RandomSearch(space, metric="loss", random_seed=3),
        asynchronous_scheduling=False,
        n_workers=3,
        stop_criterion=StoppingCriterion(max_num_trials_started=7),
    )
    tuner.run()
    running: set[int] = set()
    batch_starts = []
    for record in read_log(tuner.tuner_path / "events.log").records:
        if isinstance(record, TrialAdded):
            if not running:
                batch_starts.append(record.trial_id)
            running.add(record.trial_id)
        elif getattr(record, "status", None) is not None and hasattr(record, "exit_code"):
            running.discard(record.trial_id)
    assert batch_starts[:3] == [0, 3, 6]


class StopAll(RandomSearch):
    """Stops every trial at its first result, to load the stop path."""

    async def on_result(self, trial: Trial, result: dict) -> Decision:
        return Decision.STOP


class BusyProbe(TunerCallback):
    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.max_busy = 0

    async def on_trial_start(self, trial: Trial) -> None:
        self.max_busy = max(self.max_busy, len(await self.backend.busy_trial_ids()))


def test_start_jobs_without_delay_false_never_exceeds_n_workers(train_script: Path) -> None:
    backend = LocalBackend(entry_point=train_script)
    probe = BusyProbe(backend)
    space = {"lr": loguniform(1e-4, 1.0), "epochs": 50, "sleep": 0.05}
    tuner = _tuner(
        train_script,
        trial_backend=backend,
        scheduler=StopAll(space, metric="loss", random_seed=0),
        n_workers=2,
        start_jobs_without_delay=False,
        callbacks=[probe],
        stop_criterion=StoppingCriterion(max_num_trials_started=5),
    )
    tuner.run()
    assert probe.max_busy <= 2
    assert tuner.status.num_trials_stopped >= 5


@pytest.mark.parametrize("wait", [True, False])
def test_wait_trial_completion_when_stopping(train_script: Path, wait: bool) -> None:
    space = {"lr": loguniform(1e-4, 1.0), "epochs": 4, "sleep": 0.1}
    tuner = _tuner(
        train_script,
        scheduler=RandomSearch(space, metric="loss", random_seed=0),
        n_workers=2,
        stop_criterion=StoppingCriterion(max_num_evaluations=0),
        wait_trial_completion_when_stopping=wait,
    )
    tuner.run()
    statuses = {t.status for t in tuner.status.trials.values()}
    assert statuses == ({TrialStatus.COMPLETED} if wait else {TrialStatus.STOPPED})


def test_max_wallclock_time_is_a_deadline(train_script: Path) -> None:
    space = {"lr": loguniform(1e-4, 1.0), "epochs": 100, "sleep": 0.5}
    tuner = _tuner(
        train_script,
        scheduler=RandomSearch(space, metric="loss"),
        n_workers=2,
        stop_criterion=StoppingCriterion(max_wallclock_time=1.0),
    )
    t0 = time.monotonic()
    tuner.run()
    assert time.monotonic() - t0 < 8.0
    assert "wallclock" in (tuner.stop_reason or "")
    assert all(t.status is TrialStatus.STOPPED for t in tuner.status.trials.values())


def test_tuner_name_suffix_and_load(train_script: Path, results_root: Path) -> None:
    tuner = _tuner(
        train_script,
        tuner_name="my-exp",
        suffix_tuner_name=False,
        stop_criterion=StoppingCriterion(max_num_trials_completed=2),
    )
    tuner.run()
    assert tuner.tuner_path == results_root / "my-exp"
    first = tuner.best_config()
    loaded = Tuner.load(tuner.tuner_path)
    assert loaded.best_config() == first
    assert loaded.status.num_trials_completed == tuner.status.num_trials_completed
    # Continue the same experiment: the criterion counts what was done before.
    loaded.stop_criterion = StoppingCriterion(max_num_trials_completed=5)
    loaded.run()
    assert loaded.status.num_trials_completed >= 6
    ids = sorted(loaded.status.trials)
    assert ids == list(range(len(ids)))  # new trials got new ids, no duplicates
    suffixed = _tuner(train_script, tuner_name="my-exp")
    assert suffixed.name.startswith("my-exp-") and suffixed.name != "my-exp"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_workers": 0}, "n_workers"),
        ({"max_failures": -1}, "max_failures"),
        ({"results_update_interval": 0}, "results_update_interval"),
        ({"stop_criterion": 5}, "stop_criterion"),
        ({"trial_backend": object()}, "trial_backend"),
        ({"tuner_name": "../escape", "suffix_tuner_name": False}, "escape"),
        ({"metadata": {"x": object()}}, "metadata"),
    ],
)
def test_bad_arguments_are_named(train_script: Path, kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=name):
        _tuner(train_script, **kwargs)


def test_run_works_where_an_event_loop_is_already_running(train_script: Path) -> None:
    tuner = _tuner(train_script, stop_criterion=StoppingCriterion(max_num_trials_completed=1))

    async def notebook_cell() -> None:
        tuner.run()  # a Jupyter user calls the blocking API from inside a running loop

    asyncio.run(notebook_cell())
    assert tuner.status.num_trials_completed >= 2


@pytest.mark.asyncio
async def test_cancelling_run_async_from_outside_kills_trials_promptly(train_script: Path) -> None:
    backend = LocalBackend(entry_point=train_script, stop_grace_period=1.0)
    space = {"lr": loguniform(1e-4, 1.0), "epochs": 1000, "sleep": 0.05}
    tuner = _tuner(train_script, trial_backend=backend, scheduler=RandomSearch(space, "loss"))
    t0 = time.monotonic()
    with anyio.move_on_after(1.5):
        await tuner.run_async()
    assert time.monotonic() - t0 < 10.0
    assert await backend.busy_trial_ids() == set()
    assert tuner.status.num_evaluations > 0
    assert len(_rows(tuner)) == tuner.status.num_evaluations  # flushed at the end
    # The cancelled run's trials are recorded as stopped, not left "running" forever.
    assert tuner.stop_reason == "cancelled"
    status = tuner.status
    assert status.num_trials_started == 4 and status.num_trials_running == 0
    assert status.num_trials_stopped == 4
    assert {row["status"] for row in _rows(tuner)} == {"stopped"}
    records = read_log(tuner.tuner_path / "events.log").records
    ends = [r for r in records if isinstance(r, TrialEndedEvent)]
    assert sorted(r.trial_id for r in ends) == [0, 1, 2, 3]
    assert {(r.status, r.reason) for r in ends} == {(TrialStatus.STOPPED, "tuning cancelled")}
    assert isinstance(records[-1], TuningEnded) and records[-1].reason == "cancelled"
    # Running the same Tuner again counts only its new trials as running.
    tuner.stop_criterion = StoppingCriterion(max_num_trials_started=5)
    await tuner.run_async()
    assert tuner.status.num_trials_running == 0


LAST_WORDS = """\
import signal, sys, time
from aiotune import Reporter
report = Reporter()
epoch = 0

def on_term(signum, frame):  # finish the epoch: one more report, then leave
    report(epoch=epoch + 0.5, loss=1.0)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
for epoch in range(1, 1000):
    report(epoch=epoch, loss=1.0 / epoch)
    time.sleep(0.05)
"""


def test_results_sent_while_the_run_stops_its_trials_are_late_in_the_log_too(
    tmp_path: Path,
) -> None:
    """A trial that reports once more on SIGTERM: the loop logs that result without showing it
    to the scheduler, and a replay of the log (what Tuner.load feeds a scheduler) must agree."""
    from aiotune._replay import LogReplay, retried_ends, time_origin
    from aiotune.status import TuningStatus
    from aiotune.store.results_table import ResultsTable

    script = tmp_path / "last_words.py"
    script.write_text(LAST_WORDS)
    fed: list[tuple[int, float]] = []

    class Recording(RandomSearch):
        async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
            fed.append((trial.trial_id, float(result["epoch"])))
            return await super().on_result(trial, result)

    tuner = _tuner(
        script,
        scheduler=Recording(SPACE, metric="loss", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_evaluations=12),
        n_workers=2,
        tuner_name="last-words",
        suffix_tuner_name=False,
    )
    tuner.run()
    records = read_log(tuner.tuner_path / "events.log").records
    late = [r for r in records if getattr(r, "metrics", {}).get("epoch", 1) % 1]
    assert late, "no trial reported on its way out"
    replay = LogReplay(TuningStatus(), ResultsTable(), time_origin(0.0, records))
    retried = retried_ends(records)
    shown = [
        (r.trial_id, float(r.metrics["epoch"]))
        for i, r in enumerate(records)
        if replay.apply(r, i in retried) == "result"
    ]
    assert shown == fed
