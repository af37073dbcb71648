"""A scheduler thinking in a worker thread does not hold up other trials' decisions.

End to end (issue 7, part 4): real trial processes report over the socket while
the tuner waits for a slow model fit; their reports must reach the scheduler,
and its decisions reach the trials, within milliseconds, not after the fit.
"""

from __future__ import annotations

import logging
import statistics
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from aiotune import StoppingCriterion, TrialStatus, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError, TooManyFailuresError
from aiotune.events import Decision, ResultEvent, Suggestion
from aiotune.experiments import load_experiment
from aiotune.schedulers import FIFOScheduler, RandomSearch
from aiotune.schedulers._thinking import thinking
from aiotune.schedulers.searchers import BayesOptSearcher, RandomSearcher
from aiotune.store.event_log import read_log
from aiotune.store.records import TuningEnded
from aiotune.trial import Trial

FIT_SECONDS = 0.5

REPORTING = """\
import argparse, time
from aiotune import Reporter
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--steps", type=int)
args, _ = p.parse_known_args()
report = Reporter()
for step in range(1, args.steps + 1):
    time.sleep(0.01)
    report(step=step, y=(args.x - 0.3) ** 2, sent=time.time())
"""


def local_tuner(script: Path, scheduler: Any, n_workers: int, max_failures: int = 1,
                **criterion: Any) -> Tuner:
    """A Tuner over real trial processes of ``script``, stopping on ``criterion``."""
    return Tuner(trial_backend=LocalBackend(entry_point=script), scheduler=scheduler,
                 stop_criterion=StoppingCriterion(**criterion), n_workers=n_workers,
                 max_failures=max_failures, print_update_interval=1e9)


class SlowFitBO(BayesOptSearcher):
    """BO whose every model fit takes FIT_SECONDS in its worker thread (a big GP)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fitting = threading.Event()
        self.fits = 0

    def _suggest(self) -> dict[str, Any] | None:
        self.fitting.set()
        self.fits += 1
        time.sleep(FIT_SECONDS)
        try:
            return super()._suggest()
        finally:
            self.fitting.clear()


class TimedFIFO(FIFOScheduler):
    """FIFO over SlowFitBO that records each report's age when it reaches the scheduler,
    and stops every trial at step ``stop_at`` (a decision that must reach it on time)."""

    def __init__(self, space: dict[str, Any], stop_at: int) -> None:
        self.slow = SlowFitBO(space, "y", random_seed=0, num_init_random=2)
        super().__init__(space, "y", searcher=self.slow)
        self.stop_at = stop_at
        self.ages_while_fitting: list[float] = []

    async def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        if self.slow.fitting.is_set():
            self.ages_while_fitting.append(time.time() - result["sent"])
        await super().on_result(trial, result)
        return Decision.STOP if result["step"] >= self.stop_at else Decision.CONTINUE


def test_reports_reach_the_scheduler_while_it_fits_a_model(tmp_path: Path) -> None:
    script = tmp_path / "reporting.py"
    script.write_text(textwrap.dedent(REPORTING))
    scheduler = TimedFIFO({"x": uniform(0.0, 1.0), "steps": 400}, stop_at=120)
    tuner = local_tuner(script, scheduler, 3, max_num_trials_started=7)
    tuner.run()
    assert scheduler.slow.fits >= 4
    # Reports kept reaching the scheduler during the fits (the loop waited on none).
    assert len(scheduler.ages_while_fitting) >= 20, len(scheduler.ages_while_fitting)
    median = statistics.median(scheduler.ages_while_fitting)
    assert median < 0.020, (median, max(scheduler.ages_while_fitting))
    assert max(scheduler.ages_while_fitting) < FIT_SECONDS / 2
    # ... and its STOP decisions reached the trials on time: each stopped at step 120
    # (a few reports in flight at most), not hundreds of steps later after a fit.
    trials = tuner.trials.values()
    assert [t.status for t in trials] == [TrialStatus.STOPPED] * len(trials)
    last_steps = [s.last_result.get("step", 0) for s in tuner.status.trials.values()]
    assert max(last_steps) < 120 + 25, last_steps


class ResumesACompletedTrial(RandomSearch):
    """Random search that, once trial 0 has completed, asks to resume it (a stale choice:
    what a scheduler may answer when the trial ended while it thought)."""

    def __init__(self, space: dict[str, Any]) -> None:
        super().__init__(space, metric="loss", random_seed=0)
        self.completed: set[int] = set()
        self.asked = False

    async def suggest(self) -> Suggestion | None:
        if 0 in self.completed and not self.asked:
            self.asked = True
            return Suggestion.resume(0)
        return await super().suggest()

    async def on_trial_complete(self, trial: Trial, result: dict[str, Any]) -> None:
        self.completed.add(trial.trial_id)
        await super().on_trial_complete(trial, result)


def test_a_resume_of_a_trial_that_is_no_longer_paused_is_declined(
    train_script: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = ResumesACompletedTrial({"lr": uniform(0.0, 0.2), "epochs": 1})
    tuner = local_tuner(train_script, scheduler, 1, max_num_trials_completed=3)
    with caplog.at_level(logging.WARNING, logger="aiotune.tuner"):
        tuner.run()
    assert scheduler.asked
    assert tuner.trials[0].status is TrialStatus.COMPLETED
    assert tuner.trials[0].attempt == 0  # not run again
    assert len(tuner.trials) >= 3  # the worker went on to new trials
    assert any("resume trial 0, which is completed" in r.getMessage() for r in caplog.records)


def test_a_scheduler_asking_again_to_resume_a_finished_trial_is_named(
    train_script: Path,
) -> None:
    """A scheduler that keeps answering a resume the loop declines would make it spin."""

    class KeepsAsking(ResumesACompletedTrial):
        async def suggest(self) -> Suggestion | None:
            if 0 in self.completed:
                return Suggestion.resume(0)
            return await super().suggest()

    scheduler = KeepsAsking({"lr": uniform(0.0, 0.2), "epochs": 1})
    tuner = local_tuner(train_script, scheduler, 1, max_num_trials_completed=3)
    with pytest.raises(InvalidArgumentError, match="asked again to resume trial 0"):
        tuner.run()


class ThinksWhileTrialsFail(RandomSearch):
    """Random search whose second suggestion takes a second in a worker thread."""

    def __init__(self, space: dict[str, Any], fail_in_suggest: bool = False) -> None:
        super().__init__(space, metric="loss", random_seed=0)
        self.calls = 0
        self.fail_in_suggest = fail_in_suggest

    async def suggest(self) -> Suggestion | None:
        self.calls += 1
        if self.calls == 2:
            await anyio.to_thread.run_sync(time.sleep, 1.0)
            if self.fail_in_suggest:
                raise RuntimeError("the model fit broke")
        return await super().suggest()


def test_errors_while_the_scheduler_thinks_are_raised_as_themselves(
    train_script: Path,
) -> None:
    """A failure budget broken by an event handled during a suggestion, or the suggestion's
    own error, reaches the caller as that exception (not wrapped in an ExceptionGroup)."""
    space = {"lr": uniform(0.0, 0.2), "epochs": 3, "fail_at": 1}
    tuner = local_tuner(train_script, ThinksWhileTrialsFail(space), 2, max_failures=0,
                        max_num_trials_started=10)
    with pytest.raises(TooManyFailuresError, match="trial 0"):
        tuner.run()
    space = {"lr": uniform(0.0, 0.2), "epochs": 1}
    scheduler = ThinksWhileTrialsFail(space, fail_in_suggest=True)
    tuner = local_tuner(train_script, scheduler, 2, max_num_trials_started=10)
    with pytest.raises(RuntimeError, match="the model fit broke"):
        tuner.run()


class OneTrialThenThinksAndEnds(RandomSearch):
    """Starts one trial, then thinks for a second and finds nothing more to suggest."""

    def __init__(self, space: dict[str, Any]) -> None:
        super().__init__(space, metric="loss", random_seed=0)
        self.calls = 0

    async def suggest(self) -> Suggestion | None:
        self.calls += 1
        if self.calls == 1:
            return await super().suggest()
        await anyio.to_thread.run_sync(time.sleep, 1.0)
        return None


def test_a_run_whose_trials_ended_while_the_scheduler_thought_says_why_it_ended(
    train_script: Path,
) -> None:
    scheduler = OneTrialThenThinksAndEnds({"lr": uniform(0.0, 0.2), "epochs": 1})
    tuner = local_tuner(train_script, scheduler, 2, max_num_trials_started=10)
    tuner.run()
    assert [t.status for t in tuner.trials.values()] == [TrialStatus.COMPLETED]
    assert tuner.stop_reason == "search space exhausted"  # not "no trial to run"


class SleepyRandom(RandomSearcher):
    """Random search whose suggestions after the first two take ``THINK`` s in a worker
    thread (a model fit longer than what is left of the run's time budget)."""

    thinks_hard = True
    THINK = 3.0

    def _suggest(self) -> dict[str, Any] | None:
        if self.num_suggested >= 2:
            time.sleep(self.THINK)
        return super()._suggest()


def test_the_deadline_does_not_wait_for_a_model_fit(tmp_path: Path) -> None:
    """``max_wallclock_time`` stops the trials on time while a fit is in progress; the
    run then waits for the fit only to save the scheduler's state consistently."""
    script = tmp_path / "reporting.py"
    script.write_text(textwrap.dedent(REPORTING))
    space = {"x": uniform(0.0, 1.0), "steps": 100_000}
    scheduler = FIFOScheduler(space, "y", searcher=SleepyRandom(space, "y", random_seed=0))
    tuner = local_tuner(script, scheduler, 3, max_wallclock_time=1.5)
    started = time.monotonic()
    tuner.run()
    assert time.monotonic() - started >= SleepyRandom.THINK  # it waited for the fit to save
    records = read_log(tuner.tuner_path / "events.log")
    ended = [r for r in records.records if isinstance(r, TuningEnded)]
    assert ended and ended[0].reason.startswith("stopping criterion: wallclock")
    last_report = max(r.time for r in records.records if isinstance(r, ResultEvent))
    assert last_report - records.header.created < 1.5 + 0.7  # not 1 + 3 s: stopped on time
    assert thinking() == 0
    assert "running" not in set(load_experiment(tuner.tuner_path).trials()["status"])
