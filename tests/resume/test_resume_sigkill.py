"""G8 for real: a tuner subprocess is SIGKILLed mid-run, then resumed in another subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from aiotune.backends._orphans import _group_alive, find_orphans
from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.store.event_log import read_log
from aiotune.store.records import TrialAdded, TuningEnded
from aiotune.trial import TrialStatus

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "tuner_script.py"
ROOT = HERE.parents[1]


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AIOTUNE_RESULTS"] = str(root)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _results(path: Path) -> list[ResultEvent]:
    try:
        return [r for r in read_log(path).records if isinstance(r, ResultEvent)]
    except Exception:  # not created yet, or only a header so far
        return []


def _start_and_kill(root: Path, args: list[str], min_results: int, timeout: float = 30.0) -> Path:
    """Start the tuner, wait until ``min_results`` reports are logged, SIGKILL it."""
    exp = root / args[1]
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while len(_results(exp / "events.log")) < min_results:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the tuner logged too few results in time"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return exp


def _resume(root: Path, exp: Path, cli: bool = False) -> None:
    command = ["-m", "aiotune.cli", "resume"] if cli else [str(SCRIPT), "resume"]
    done = subprocess.run(
        [sys.executable, *command, str(exp)],
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    if cli:
        assert "best trial" in done.stdout


def _check_no_loss_no_duplicates(exp: Path, before: list[object]) -> list[object]:
    after = read_log(exp / "events.log").records
    keys = [(r.trial_id, r.attempt, r.seq) for r in after if isinstance(r, ResultEvent)]
    dupes = [k for k, n in Counter(keys).items() if n > 1]
    assert not dupes, f"duplicate reports {dupes[:5]}"
    old = {(r.trial_id, r.attempt, r.seq, r.time) for r in before if isinstance(r, ResultEvent)}
    new = {(r.trial_id, r.attempt, r.seq, r.time) for r in after if isinstance(r, ResultEvent)}
    assert old <= new, "reports logged before the kill were lost"
    assert after[: len(before)] == before  # the log was appended to, never rewritten
    firsts = [r.trial_id for r in after if isinstance(r, TrialAdded) and r.attempt == 0]
    assert len(firsts) == len(set(firsts)), "a trial id was used twice"
    ends = [r for r in after if isinstance(r, TuningEnded)]
    assert len(ends) == 1 and ends[0].reason.startswith("stopping criterion")
    return after


def test_sigkill_local_backend_then_resume(tmp_path: Path) -> None:
    root = tmp_path / "results"
    exp = _start_and_kill(root, ["local", "killed"], min_results=10)
    before = read_log(exp / "events.log").records
    orphans = find_orphans(exp)
    assert orphans, "the killed tuner's running trials should have survived it"
    running = {r.trial_id for r in before if isinstance(r, TrialAdded)} - {
        r.trial_id for r in before if isinstance(r, TrialEndedEvent)
    }
    assert running

    _resume(root, exp, cli=True)  # `aiotune resume PATH`

    after = _check_no_loss_no_duplicates(exp, before)
    assert not any(_group_alive(g) for g in orphans), "an orphan trial process survived"
    assert not find_orphans(exp)
    # Each interrupted trial was logged as interrupted, restarted as attempt 1, and its
    # new attempt went on from its checkpoint instead of epoch 1.
    for tid in running:
        ended = [r for r in after if isinstance(r, TrialEndedEvent) and r.trial_id == tid]
        assert ended[0].status is TrialStatus.FAILED and "interrupted" in ended[0].reason
        again = [
            r for r in after if isinstance(r, ResultEvent) and r.trial_id == tid and r.attempt == 1
        ]
        assert again, f"trial {tid} was not restarted"
        assert again[0].metrics["resumed_from"] > 1
        assert again[-1].metrics["epoch"] == 12
    # The stopping criterion counted what was done before the kill: "more than 5".
    completed = {
        r.trial_id
        for r in after
        if isinstance(r, TrialEndedEvent) and r.status is TrialStatus.COMPLETED
    }
    assert len(completed) == 6
    from aiotune.experiments import load_experiment

    result = load_experiment(exp)
    assert len(result.results) == sum(isinstance(r, ResultEvent) for r in after)


def test_time_used_before_the_first_periodic_save_is_counted(tmp_path: Path) -> None:
    """Killed before tuner.json was saved again after its start, the run's time is
    still what the log covers, so max_wallclock_time does not start over."""
    root = tmp_path / "results"
    exp = _start_and_kill(root, ["local-nosave", "unsaved"], min_results=10)
    records = read_log(exp / "events.log")
    timed = [r.time for r in records.records if isinstance(getattr(r, "time", None), float)]
    covered = timed[-1] - records.header.created
    assert covered > 0.3
    from aiotune.tuner import Tuner

    loaded = Tuner.load(exp)
    assert loaded.status.wallclock_time == pytest.approx(covered, abs=0.05)  # was ~0


def test_sigkill_simulator_backend_then_resume(tmp_path: Path) -> None:
    root = tmp_path / "results"
    exp = _start_and_kill(root, ["sim", "simkilled", "1200"], min_results=3000)
    before = read_log(exp / "events.log").records
    started = sum(isinstance(r, TrialAdded) and r.attempt == 0 for r in before)
    assert started < 1200  # killed mid-run

    _resume(root, exp)

    after = _check_no_loss_no_duplicates(exp, before)
    completed = [
        r for r in after if isinstance(r, TrialEndedEvent) and r.status is TrialStatus.COMPLETED
    ]
    assert len(completed) == 1201
    # The simulator cannot restart a trial from a checkpoint: interrupted ones are failed.
    failed = [r for r in after if isinstance(r, TrialEndedEvent) and r.status is TrialStatus.FAILED]
    assert 1 <= len(failed) <= 4 and all("interrupted" in r.reason for r in failed)
    # The scheduler caught up with the trials started after its last snapshot: a seeded
    # random search restarted from that older state would suggest their configs again.
    configs = [str(sorted(r.config.items())) for r in after if isinstance(r, TrialAdded)]
    assert len(set(configs)) == len(configs)
    # The resumed run's virtual clock goes on from the killed run's last logged time.
    times = [r.time for r in after if isinstance(getattr(r, "time", None), float)]
    assert times == sorted(times)


def test_resume_of_a_missing_or_broken_experiment_is_one_clear_error(tmp_path: Path) -> None:
    from aiotune.errors import AiotuneError
    from aiotune.tuner import Tuner

    with pytest.raises(AiotuneError, match="no experiment folder"):
        Tuner.load(tmp_path / "nope")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tuner.json").write_text("{not json")
    with pytest.raises(AiotuneError, match="tuner.json"):
        Tuner.load(broken)
