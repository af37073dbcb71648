"""The Tuner with PythonBackend, a plain synchronous scheduler, silent trials, the CLI."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aiotune
from aiotune import StoppingCriterion, TrialStatus, Tuner
from aiotune.backends import LocalBackend, PythonBackend
from aiotune.config_space import loguniform, uniform

sys.path.insert(0, str(Path(__file__).parent / "fns"))
from tune_functions import train_quadratic  # noqa: E402


def test_python_backend_end_to_end() -> None:
    space = {"lr": loguniform(1e-3, 1.0), "epochs": 3}
    from aiotune.schedulers import RandomSearch

    tuner = Tuner(
        trial_backend=PythonBackend(train_quadratic, space),
        scheduler=RandomSearch(space, metric="loss", random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_completed=3),
        n_workers=2,
    )
    tuner.run()
    assert tuner.status.num_trials_completed >= 4
    assert tuner.status.num_evaluations >= 12
    _, config = tuner.best_config()
    assert set(config) == {"lr", "epochs"}


class PlainScheduler:
    """A synchronous scheduler (no coroutines): suggests a fixed list, never stops anything."""

    metric = "loss"
    mode = "min"

    def __init__(self) -> None:
        self.todo = [{"lr": 0.05}, {"lr": 0.1}, {"lr": 0.3}]
        self.results: list[float] = []

    def suggest(self) -> dict[str, Any] | None:
        return self.todo.pop(0) if self.todo else None

    def on_trial_result(self, trial: Any, result: dict[str, Any]) -> str:
        self.results.append(result["loss"])
        return "continue"


def test_plain_synchronous_scheduler_is_wrapped(train_script: Path) -> None:
    plain = PlainScheduler()
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=plain,
        stop_criterion=StoppingCriterion(),
        n_workers=2,
    )
    tuner.run()
    assert tuner.status.num_trials_completed == 3
    assert len(plain.results) == 9
    assert tuner.best_config()[1] == {"lr": 0.1}


class SyneTuneShaped(PlainScheduler):
    """Stops the first trial and pauses the second at their first report, and records
    ``on_trial_remove`` calls (Syne Tune's tuner makes one on each STOP and PAUSE)."""

    def __init__(self) -> None:
        super().__init__()
        self.removed: list[int] = []
        self.answers = {0: "STOP", 1: "PAUSE"}

    def on_trial_result(self, trial: Any, result: dict[str, Any]) -> str:
        super().on_trial_result(trial, result)
        return self.answers.pop(trial.trial_id, "continue")

    def on_trial_remove(self, trial: Any) -> None:
        self.removed.append(trial.trial_id)


def test_a_wrapped_schedulers_on_trial_remove_is_called_on_stop_and_pause(
    train_script: Path,
) -> None:
    wrapped = SyneTuneShaped()
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=wrapped,
        stop_criterion=StoppingCriterion(),
        n_workers=1,
    )
    tuner.run()
    assert sorted(wrapped.removed) == [0, 1]
    assert tuner.status.trials[0].status is TrialStatus.STOPPED
    assert tuner.status.trials[1].status is TrialStatus.PAUSED


def test_trial_exiting_without_metrics_fails_but_the_run_goes_on(tmp_path: Path) -> None:
    script = tmp_path / "silent.py"
    script.write_text(
        "import argparse\n"
        "p = argparse.ArgumentParser(); p.add_argument('--x', type=float)\n"
        "a, _ = p.parse_known_args()\n"
        "if a.x < 0.5:\n"
        "    from aiotune import Reporter\n"
        "    Reporter()(loss=a.x)\n"
    )
    from aiotune.schedulers import GridSearch

    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=script),
        scheduler=GridSearch({"x": uniform(0.0, 1.0)}, metric="loss", num_samples=4),
        stop_criterion=StoppingCriterion(),
        n_workers=2,
        max_failures=5,
    )
    tuner.run()
    failed = [t for t in tuner.status.trials.values() if t.status is TrialStatus.FAILED]
    assert len(failed) == 2 and all("no metrics" in t.reason for t in failed)
    assert tuner.status.num_trials_completed == 2


def test_cli_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aiotune.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"aiotune {aiotune.__version__}"


def test_status_table_is_printed_every_interval(
    train_script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiotune.schedulers import RandomSearch

    space = {"lr": loguniform(1e-3, 1.0), "epochs": 6, "sleep": 0.1}
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=RandomSearch(space, metric="loss"),
        stop_criterion=StoppingCriterion(max_num_trials_completed=1),
        n_workers=2,
        print_update_interval=0.2,
    )
    tuner.run()
    out = capsys.readouterr().out
    assert out.count(f"[aiotune] {tuner.name}\n") >= 2  # periodic tables
    assert "ended: stopping criterion" in out
    assert "running 2" in out  # the table lists running trials while they run


def test_trial_backend_path_holds_the_trial_folders(train_script: Path, tmp_path: Path) -> None:
    from aiotune.schedulers import RandomSearch

    elsewhere = tmp_path / "scratch"
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=RandomSearch({"lr": uniform(0.01, 0.5), "epochs": 2}, metric="loss"),
        stop_criterion=StoppingCriterion(max_num_trials_completed=0),
        n_workers=1,
        trial_backend_path=elsewhere,
    )
    tuner.run()
    assert (elsewhere / tuner.name / "trials" / "0" / "stdout").exists()
    assert not (tuner.tuner_path / "trials" / "0" / "stdout").exists()
    assert (tuner.tuner_path / "events.log").exists()


def _sim_tuner(seed: int, trials: int = 3) -> Tuner:
    """A simulated random search under the fixed name 'same' (no timestamp suffix)."""
    from aiotune.backends.simulator import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.schedulers import RandomSearch

    bb = SyntheticLearningCurves(max_epochs=3)
    return Tuner(
        trial_backend=SimulatorBackend(bb, seed=seed),
        scheduler=RandomSearch(bb.config_space, metric=bb.metric, random_seed=seed),
        stop_criterion=StoppingCriterion(max_num_trials_started=trials),
        n_workers=1,
        tuner_name="same",
        suffix_tuner_name=False,
    )


def test_a_new_tuner_does_not_append_to_another_runs_log(results_root: Path) -> None:
    """Two runs under one fixed name used to mix their trial ids in one events.log."""
    from aiotune.experiments import load_experiment

    first = _sim_tuner(0)
    first.run()
    started = first.status.num_trials_started
    log = first.tuner_path / "events.log"
    before = log.read_bytes()
    with pytest.raises(aiotune.InvalidArgumentError) as info:
        _sim_tuner(1).run()
    assert "tuner_name 'same'" in str(info.value) and str(first.tuner_path) in str(info.value)
    assert "Tuner.load" in str(info.value)
    assert log.read_bytes() == before  # the first run's record is untouched
    assert len(load_experiment(first.tuner_path).trial_records) == started
    # The tuner that wrote the log may run again: it continues with new trial ids.
    first.stop_criterion = StoppingCriterion(max_num_trials_started=started + 2)
    first.run()
    assert first.status.num_trials_started > started
    trials = len(load_experiment(first.tuner_path).trial_records)
    assert trials == first.status.num_trials_started
    # And so may a tuner that Tuner.load read back.
    more = first.status.num_trials_started + 2
    criterion = StoppingCriterion(max_num_trials_started=more)
    again = Tuner.load(first.tuner_path, stop_criterion=criterion)
    again.run()
    trials = len(load_experiment(first.tuner_path).trial_records)
    assert trials == again.status.num_trials_started > started + 2


def test_best_config_before_any_result_names_the_metric() -> None:
    tuner = _sim_tuner(0)
    for metric in (0, "valid_error"):
        with pytest.raises(aiotune.AiotuneError, match="usable value of metric 'valid_error'"):
            tuner.best_config(metric)


def test_a_metric_no_trial_reports_is_named_in_a_warning(
    train_script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A misspelt metric would otherwise give a whole run of unscored trials in silence."""
    from aiotune.schedulers import RandomSearch

    def run(metric: str) -> None:
        Tuner(
            trial_backend=LocalBackend(entry_point=train_script),
            scheduler=RandomSearch({"lr": uniform(0.0, 0.2), "epochs": 2}, metric=metric),
            stop_criterion=StoppingCriterion(max_num_trials_completed=1),
            n_workers=1,
        ).run()

    with caplog.at_level(logging.WARNING, logger="aiotune.tuner"):
        run("los")
    warnings = [r.getMessage() for r in caplog.records if "which the scheduler optimizes" in
                r.getMessage()]
    assert len(warnings) == 1, caplog.text  # once per run, not once per result
    assert "reported ['epoch', 'loss'] but not 'los'" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiotune.tuner"):
        run("loss")
    assert "which the scheduler optimizes" not in caplog.text


class ThinksPastTheDeadline:
    """Random search that thinks (in a worker thread) past the deadline once: at its
    second suggestion, or (``at="result"``) at its second result, which it then stops."""

    def __init__(self, space: dict[str, Any], think: float, at: str = "suggest") -> None:
        from aiotune.schedulers import RandomSearch

        self.inner = RandomSearch(space, metric="loss", random_seed=0)
        self.metric, self.mode = self.inner.metric, self.inner.mode
        self.config_space = space
        self.think, self.at = think, at
        self.calls = {"suggest": 0, "result": 0}

    async def _maybe_think(self, what: str) -> bool:
        import time

        import anyio.to_thread

        self.calls[what] += 1
        if what == self.at and self.calls[what] == 2:
            await anyio.to_thread.run_sync(time.sleep, self.think)
            return True
        return False

    async def suggest(self) -> Any:
        await self._maybe_think("suggest")
        return await self.inner.suggest()

    async def on_result(self, trial: Any, result: dict[str, Any]) -> Any:
        from aiotune.events import Decision

        if await self._maybe_think("result"):
            return Decision.STOP
        return await self.inner.on_result(trial, result)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_deadline_during_a_trial_launch_neither_hangs_nor_orphans_the_trial(
    train_script: Path,
) -> None:
    """The wallclock deadline passes while the scheduler thinks in a thread: anyio delivers
    the cancel at the next await, inside the trial's launch. The launch completes (or
    never begins) as a whole, so the shutdown stops that trial at once instead of
    waiting out its drain timeout for an end that would never come."""
    import time

    space = {"lr": uniform(0.0, 0.2), "epochs": 1}
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=ThinksPastTheDeadline(space, think=2.0),
        stop_criterion=StoppingCriterion(max_wallclock_time=1.0),
        n_workers=1,
        print_update_interval=1e9,
    )
    t0 = time.monotonic()
    tuner.run()
    assert time.monotonic() - t0 < 20.0  # the drain timeout is 60 s
    assert "wallclock" in (tuner.stop_reason or "")
    statuses = [t.status for t in tuner.trials.values()]
    assert TrialStatus.RUNNING not in statuses, statuses


def test_a_deadline_during_a_stop_decision_still_stops_the_trial(train_script: Path) -> None:
    """In strict mode the log is fsynced before the backend acts; a cancel delivered
    there must not leave a decided STOP that never reached the trial (the shutdown
    skips decided trials and would wait for this one to train on)."""
    import time

    space = {"lr": uniform(0.0, 0.2), "epochs": 200, "sleep": 0.1}
    tuner = Tuner(
        trial_backend=LocalBackend(entry_point=train_script),
        scheduler=ThinksPastTheDeadline(space, think=2.0, at="result"),
        stop_criterion=StoppingCriterion(max_wallclock_time=1.0),
        n_workers=1,
        print_update_interval=1e9,
        fsync_before_act=True,
    )
    t0 = time.monotonic()
    tuner.run()
    assert time.monotonic() - t0 < 12.0  # the trial alone would train for 20 s
    assert [t.status for t in tuner.trials.values()] == [TrialStatus.STOPPED]
