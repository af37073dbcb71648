"""SIGTERM and SIGINT end a tuner gracefully: trials stopped, ends logged, files flushed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.store.event_log import read_log
from aiotune.store.records import TuningEnded
from aiotune.trial import TrialStatus

DRIVER = """\
import sys
from aiotune import StoppingCriterion, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import uniform
from aiotune.schedulers import RandomSearch
tuner = Tuner(LocalBackend(entry_point=sys.argv[1]),
              RandomSearch({"lr": uniform(0, 1), "epochs": 1000, "sleep": 0.05}, "loss"),
              StoppingCriterion(max_wallclock_time=120), n_workers=2,
              tuner_name="sig", suffix_tuner_name=False)
tuner.run()
"""


def _wait_for_results(log_path: Path, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # a test waiting on another process's file
        if log_path.exists():
            records = read_log(log_path).records
            if sum(isinstance(r, ResultEvent) for r in records) >= n:
                return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} results in {log_path} after {timeout}s")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, None)])
def test_signal_stops_trials_and_flushes(
    tmp_path: Path, train_script: Path, results_root: Path, signum: int, code: int | None
) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER))
    env = {**os.environ, "AIOTUNE_RESULTS": str(results_root)}
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(train_script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        log_path = results_root / "sig" / "events.log"
        _wait_for_results(log_path, 4)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if code is None:  # SIGINT: KeyboardInterrupt after the graceful shutdown
        assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    else:
        assert proc.returncode == code, err.decode()[-2000:]
    records = read_log(log_path).records
    ended = [r for r in records if isinstance(r, TrialEndedEvent)]
    assert ended and all(r.status is TrialStatus.STOPPED for r in ended)
    last = records[-1]
    assert isinstance(last, TuningEnded)
    assert last.reason == f"interrupted by {signal.Signals(signum).name}"
    csv_rows = (results_root / "sig" / "results.csv").read_text().splitlines()
    assert len(csv_rows) - 1 == sum(isinstance(r, ResultEvent) for r in records)


THINKING_DRIVER = """\
import sys, time
import anyio.to_thread
from aiotune import StoppingCriterion, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import choice, uniform
from aiotune.schedulers import RandomSearch

class Thinks(RandomSearch):
    calls = 0
    async def suggest(self):
        self.calls += 1
        if self.calls == 3:  # the first trial has ended; the second keeps reporting
            print("thinking", flush=True)
            await anyio.to_thread.run_sync(time.sleep, 3.0)
        return await super().suggest()

tuner = Tuner(LocalBackend(entry_point=sys.argv[1]),
              Thinks({"lr": uniform(0, 1), "epochs": choice([2, 1000]), "sleep": 0.05}, "loss",
                     points_to_evaluate=[{"lr": 0.5, "epochs": 2}, {"lr": 0.5, "epochs": 1000}]),
              StoppingCriterion(max_wallclock_time=120), n_workers=2,
              tuner_name="sigthink", suffix_tuner_name=False)
tuner.run()
"""


def test_a_signal_while_the_scheduler_thinks_ends_the_run_cleanly(
    tmp_path: Path, train_script: Path, results_root: Path
) -> None:
    """SIGTERM arrives while the loop handles reports during a suggestion: the run still
    stops every trial and logs every end, once the scheduler's thread returns."""
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(THINKING_DRIVER))
    env = {**os.environ, "AIOTUNE_RESULTS": str(results_root)}
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(train_script)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"thinking"
        log_path = results_root / "sigthink" / "events.log"
        before = sum(isinstance(r, ResultEvent) for r in read_log(log_path).records)
        time.sleep(1.0)  # the process writes the log on its own; nothing to wait on here
        during = sum(isinstance(r, ResultEvent) for r in read_log(log_path).records)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err.decode()[-2000:]
    records = read_log(log_path).records
    assert during > before  # trial 1's reports were handled while the scheduler thought
    ended = {r.trial_id: r.status for r in records if isinstance(r, TrialEndedEvent)}
    assert ended == {0: TrialStatus.COMPLETED, 1: TrialStatus.STOPPED}  # nothing else started
    assert isinstance(records[-1], TuningEnded)


LONG_FIT_DRIVER = """\
import sys, time
from aiotune import StoppingCriterion, Tuner
from aiotune.backends import LocalBackend
from aiotune.config_space import uniform
from aiotune.schedulers import FIFOScheduler
from aiotune.schedulers.searchers import RandomSearcher

class LongFit(RandomSearcher):
    thinks_hard = True
    def _suggest(self):
        if self.num_suggested == 2:
            print("fitting", flush=True)
            time.sleep(10.0)
        return super()._suggest()

space = {"lr": uniform(0, 1), "epochs": 1000, "sleep": 0.05}
tuner = Tuner(LocalBackend(entry_point=sys.argv[1], stop_grace_period=1.0),
              FIFOScheduler(space, "loss", searcher=LongFit(space, "loss", random_seed=0)),
              StoppingCriterion(max_wallclock_time=120), n_workers=3,
              tuner_name="sigfit", suffix_tuner_name=False)
tuner.run()
"""


@pytest.mark.parametrize("twice", [False, True])
def test_ctrl_c_during_a_long_fit(
    tmp_path: Path, train_script: Path, results_root: Path, twice: bool
) -> None:
    """Ctrl-C while a 10 s fit runs: the trials are stopped and their ends logged at
    once. The run then waits for the fit to save the scheduler's state; a second Ctrl-C
    ends that wait (and never interrupts the teardown with a raw KeyboardInterrupt)."""
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(LONG_FIT_DRIVER))
    env = {**os.environ, "AIOTUNE_RESULTS": str(results_root)}
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(train_script)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    log_path = results_root / "sigfit" / "events.log"
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"fitting"
        _wait_for_results(log_path, 4)
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # another process's log: nothing to await
            if any(isinstance(r, TuningEnded) for r in read_log(log_path).records):
                break
            time.sleep(0.1)
        ended_at = time.monotonic()
        if twice:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        exited_at = time.monotonic()
    finally:
        proc.kill()
    records = read_log(log_path).records
    assert isinstance(records[-1], TuningEnded), "the trials' ends were not all logged"
    ended = [r for r in records if isinstance(r, TrialEndedEvent)]
    assert len(ended) == 2 and all(r.status is TrialStatus.STOPPED for r in ended)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    assert err.count(b"Traceback") <= 1, err.decode()[-3000:]
    if twice:
        assert exited_at - ended_at < 4  # not the rest of the 10 s fit
    else:
        assert exited_at - ended_at > 5  # it waited for the fit
