"""Load: many reports, many trials, a slow scheduler, stops under load; nothing lost or leaked."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from aiotune.backends.local import LocalBackend
from aiotune.events import ResultEvent, TrialEndedEvent
from aiotune.store.event_log import read_log
from aiotune.store.records import DecisionMade
from aiotune.trial import TrialStatus
from aiotune.tuner import Tuner

from .conftest import FAULTY, ListScheduler, open_fds, report_dirs, zombie_children

pytestmark = pytest.mark.usefixtures("private_tmp")


def _run(configs: list[dict[str, Any]], n_workers: int, name: str, **kwargs: Any) -> Tuner:
    scheduler = kwargs.pop("scheduler", None) or ListScheduler(configs)
    tuner = Tuner(
        LocalBackend(FAULTY, stop_grace_period=5.0),
        scheduler,
        lambda s: False,
        n_workers=n_workers,
        tuner_name=name,
        suffix_tuner_name=False,
        print_update_interval=1000.0,
        results_update_interval=1000.0,
        **kwargs,
    )
    tuner.run()
    return tuner


def _logged(tuner: Tuner) -> tuple[dict[tuple[int, int], list[int]], list[Any]]:
    records = read_log(tuner.tuner_path / "events.log").records
    seqs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for r in records:
        if isinstance(r, ResultEvent):
            seqs[(r.trial_id, r.attempt)].append(r.seq)
    return seqs, records


class _Leaks:
    """Open fds, zombie children and report-socket folders, before vs after a run."""

    def __enter__(self) -> _Leaks:
        _run([{"mode": "ok", "n": 1}], 1, "warmup")  # lazy imports and caches open their files
        self.fds, self.dirs = open_fds(), report_dirs()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert open_fds() <= self.fds, "file descriptors leaked"
            assert zombie_children() == []
            assert report_dirs() <= self.dirs, "report socket folders left behind"


SLOW = [pytest.mark.slow, pytest.mark.timeout(900)]
SIZES = [
    pytest.param(8, 1000, 4, id="8x1000"),
    pytest.param(64, 2000, 8, id="64x2000", marks=SLOW),
    pytest.param(16, 5000, 16, id="16x5000", marks=SLOW),
]


@pytest.mark.parametrize(("trials", "reports", "workers"), SIZES)
def test_many_reports_flat_out_are_logged_once_in_order(
    trials: int, reports: int, workers: int
) -> None:
    with _Leaks():
        tuner = _run([{"mode": "ok", "n": reports}] * trials, workers, "flat")
    seqs, _ = _logged(tuner)
    assert sorted(seqs) == [(t, 0) for t in range(trials)]
    for key, got in seqs.items():
        assert got == list(range(reports)), key  # every report once, seq contiguous
    assert tuner.status.num_trials_completed == trials
    assert tuner.status.num_evaluations == trials * reports


SHORT = [pytest.param(40, id="40"), pytest.param(1000, id="1000", marks=SLOW)]


@pytest.mark.parametrize("trials", SHORT)
def test_many_short_trials_through_two_workers(trials: int) -> None:
    with _Leaks():
        tuner = _run([{"mode": "ok", "n": 2}] * trials, 2, "short")
    seqs, records = _logged(tuner)
    assert len(seqs) == trials and all(v == [0, 1] for v in seqs.values())
    ends = [r for r in records if isinstance(r, TrialEndedEvent)]
    assert len(ends) == trials and all(e.status is TrialStatus.COMPLETED for e in ends)
    assert len(list((tuner.tuner_path / "trials").iterdir())) == trials


def test_a_slow_scheduler_applies_backpressure_and_loses_nothing() -> None:
    full: list[bool] = []
    holder: dict[str, Tuner] = {}

    class Slow(ListScheduler):
        async def on_result(self, trial: Any, result: dict[str, Any]) -> Any:
            import anyio

            if not full:  # hold the loop until the trials have filled the event stream
                session = holder["tuner"].trial_backend._session
                with anyio.move_on_after(30):
                    while True:
                        stats = session.send.statistics()
                        if stats.current_buffer_used == stats.max_buffer_size:
                            break
                        await anyio.sleep(0.05)
                full.append(stats.current_buffer_used == stats.max_buffer_size)
                await anyio.sleep(0.5)  # the trials now block on their sockets
            return await super().on_result(trial, result)

    reports = 8000
    scheduler = Slow([{"mode": "ok", "n": reports}] * 2)

    class Grab:
        def on_tuning_start(self, tuner: Tuner) -> None:
            holder["tuner"] = tuner

    with _Leaks():
        tuner = _run([], 2, "slow", scheduler=scheduler, callbacks=[Grab()])
    assert full == [True]  # the 10,000-event stream was full: trials were held back, not dropped
    seqs, _ = _logged(tuner)
    assert seqs == {(0, 0): list(range(reports)), (1, 0): list(range(reports))}
    assert scheduler.results == {0: reports, 1: reports}


@pytest.mark.parametrize("trials", [pytest.param(6, id="6"), pytest.param(48, id="48", marks=SLOW)])
def test_stops_under_load_keep_late_results(trials: int) -> None:
    stop_at = 50
    scheduler = ListScheduler(
        [{"mode": "count", "n": 1_000_000}] * trials,
        stop_if=lambda tid, result: result["i"] >= stop_at,
    )
    with _Leaks():
        tuner = _run([], 3, "stops", scheduler=scheduler)
    seqs, records = _logged(tuner)
    late = 0
    for tid in range(trials):
        got = seqs[(tid, 0)]
        sent = int((tuner.tuner_path / f"trials/{tid}/checkpoints/sent.0").read_text())
        assert got == list(range(sent)), tid  # everything the trial sent is logged, once
        decision = [
            i for i, r in enumerate(records) if isinstance(r, DecisionMade) and r.trial_id == tid
        ]
        assert len(decision) == 1
        after = [
            r for r in records[decision[0] :] if isinstance(r, ResultEvent) and r.trial_id == tid
        ]
        late += len(after)
        assert scheduler.results[tid] == stop_at + 1  # the scheduler saw none of the late ones
        assert tuner.status.trials[tid].status is TrialStatus.STOPPED
    assert late > 0  # results after the stop decision arrived, and were logged
    assert tuner._run is not None and tuner._run.late_results == late
