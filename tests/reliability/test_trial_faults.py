"""Trial faults through the whole Tuner: each fault is a trial state with its cause (G6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from aiotune._loop import NO_METRICS
from aiotune.backends.local import LocalBackend
from aiotune.errors import TooManyFailuresError
from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.store.event_log import read_log
from aiotune.store.experiment_dir import ExperimentDir
from aiotune.store.records import TrialAdded
from aiotune.trial import Trial, TrialStatus
from aiotune.tuner import Tuner

from .conftest import FAULTY, ListScheduler, gone_soon, zombie_children

FAULTS: list[tuple[dict[str, Any], TrialStatus, str, int]] = [
    # config, status, reason (prefix), results kept
    ({"mode": "ok", "n": 3}, TrialStatus.COMPLETED, "", 3),
    ({"mode": "crash", "k": 2}, TrialStatus.FAILED, "exit code 7", 2),
    ({"mode": "noreport"}, TrialStatus.FAILED, NO_METRICS, 0),
    ({"mode": "hang", "k": 1, "ignore_term": 1}, TrialStatus.FAILED, "timeout", 1),
    ({"mode": "sigkill", "k": 2}, TrialStatus.FAILED, "killed by signal SIGKILL", 2),
    ({"mode": "oom", "k": 1}, TrialStatus.FAILED, "exit code 1", 1),
    ({"mode": "midframe", "k": 2}, TrialStatus.FAILED, "killed by signal SIGKILL", 2),
    ({"mode": "ok", "n": 4}, TrialStatus.COMPLETED, "", 4),
]
N_FAILING = sum(1 for f in FAULTS if f[1] is TrialStatus.FAILED)


def _tuner(configs: list[dict[str, Any]], **kwargs: Any) -> Tuner:
    backend = LocalBackend(FAULTY, trial_timeout=4.0, stop_grace_period=0.5)
    args: dict[str, Any] = {
        "trial_backend": backend,
        "scheduler": ListScheduler(configs),
        "stop_criterion": lambda status: False,
        "n_workers": 4,
        "tuner_name": "faults",
        "suffix_tuner_name": False,
        "print_update_interval": 1000.0,
    }
    args.update(kwargs)
    return Tuner(**args)


def _results_per_trial(path: Path) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for record in read_log(path / "events.log").records:
        if isinstance(record, ResultEvent):
            out.setdefault(record.trial_id, []).append(record.seq)
    return out


def test_every_fault_ends_with_its_cause_and_the_run_goes_on() -> None:
    tuner = _tuner([f[0] for f in FAULTS], max_failures=N_FAILING)
    tuner.run()  # N_FAILING failures is not *more* than max_failures: no abort
    status = tuner.status
    assert status.num_trials_failed == N_FAILING
    assert status.num_trials_completed == len(FAULTS) - N_FAILING
    logged = _results_per_trial(tuner.tuner_path)
    for tid, (config, want, reason, kept) in enumerate(FAULTS):
        summary = status.trials[tid]
        assert summary.status is want, (config, summary.reason)
        assert summary.reason.startswith(reason), (config, summary.reason)
        assert summary.num_results == kept, config  # earlier results kept
        assert logged.get(tid, []) == list(range(kept)), config  # logged once each, in order
    oom_stderr = (tuner.tuner_path / "trials" / "5" / "stderr").read_text()
    assert "MemoryError" in oom_stderr
    pids = json.loads((tuner.tuner_path / "trials" / "3" / "checkpoints" / "pids.json").read_text())
    assert gone_soon(pids["child"]) and gone_soon(pids["grandchild"])  # group gone
    assert zombie_children() == []


def test_the_run_aborts_when_failures_exceed_max_failures() -> None:
    configs = [{"mode": "crash", "k": 1}] * 3 + [{"mode": "hang", "k": 1}] + [{"mode": "ok"}] * 4
    tuner = _tuner(configs, max_failures=2, n_workers=2)
    with pytest.raises(TooManyFailuresError, match="3 trials failed, more than max_failures=2"):
        tuner.run()
    assert tuner.status.num_trials_failed == 3
    assert tuner.status.num_trials_started <= 5  # the abort came before the list ran out
    for summary in tuner.status.trials.values():
        assert summary.status is not TrialStatus.RUNNING  # everything it started was ended
    assert zombie_children() == []


def test_max_failures_zero_means_the_first_failure_aborts() -> None:
    tuner = _tuner(
        [{"mode": "ok"}, {"mode": "crash", "k": 1}, {"mode": "ok"}], max_failures=0, n_workers=1
    )
    with pytest.raises(TooManyFailuresError, match="trial 1 .exit code 7"):
        tuner.run()
    assert tuner.status.num_trials_completed == 1


def test_a_failed_trial_is_retried_from_its_checkpoint() -> None:
    tuner = _tuner(
        [{"mode": "ckpt", "n": 5, "crash_at": 3}], max_failures=0, max_retries_per_trial=1
    )
    tuner.run()
    summary = tuner.status.trials[0]
    assert summary.status is TrialStatus.COMPLETED and tuner.status.num_trials_failed == 0
    records = read_log(tuner.tuner_path / "events.log").records
    results = [r for r in records if isinstance(r, ResultEvent)]
    assert [(r.attempt, r.seq, r.metrics["epoch"]) for r in results] == [
        (0, 0, 1),
        (0, 1, 2),
        (1, 0, 3),
        (1, 1, 4),
        (1, 2, 5),
    ]  # attempt 1 starts at epoch 3: the checkpoint of attempt 0 was used, nothing redone
    assert all(r.metrics["start"] == 3 for r in results if r.attempt == 1)
    added = [r.attempt for r in records if isinstance(r, TrialAdded)]
    assert added == [0, 1]
    ends = [(r.attempt, r.status) for r in records if isinstance(r, TrialEndedEvent)]
    assert ends == [(0, TrialStatus.FAILED), (1, TrialStatus.COMPLETED)]


def test_retries_run_out_then_the_failure_counts_once() -> None:
    sched = ListScheduler([{"mode": "crash", "k": 1}, {"mode": "ok"}])
    tuner = _tuner([], scheduler=sched, max_failures=1, max_retries_per_trial=2, n_workers=1)
    tuner.run()
    assert tuner.status.num_trials_failed == 1 and tuner.status.num_trials_completed == 1
    assert sched.errors == [0]  # the scheduler hears of the failure once, after the last retry
    records = read_log(tuner.tuner_path / "events.log").records
    assert [r.attempt for r in records if isinstance(r, TrialAdded) and r.trial_id == 0] == [
        0,
        1,
        2,
    ]
    assert tuner.status.trials[0].reason == "exit code 7"


@pytest.mark.asyncio
async def test_death_in_the_middle_of_a_frame_is_confined(tmp_path: Path) -> None:
    exp = ExperimentDir(tmp_path / "exp")
    backend = LocalBackend(FAULTY)
    seen = []
    with anyio.fail_after(30):
        async with backend.session(exp) as events:
            server = backend._session.server  # type: ignore[union-attr]
            await backend.start_trial(Trial(trial_id=0, config={"mode": "midframe", "k": 3}))
            await backend.start_trial(Trial(trial_id=1, config={"mode": "ok", "n": 5}))
            ended = 0
            async for event in events:
                seen.append(event)
                if isinstance(event, TrialEndedEvent):
                    ended += 1
                    if ended == 2:
                        break
            stats = server.stats
    assert stats.frames_rejected == 1 and "truncated frame" in stats.rejections[-1]
    assert [e.seq for e in seen if isinstance(e, ResultEvent) and e.trial_id == 0] == [0, 1, 2]
    assert [e.seq for e in seen if isinstance(e, ResultEvent) and e.trial_id == 1] == list(range(5))
