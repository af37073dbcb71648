"""TuningStatus: which trial is best, which are on the Pareto front, and which metrics exist.

Pure bookkeeping, no event loop. ``best_trial`` judges each trial by its best
report, ``pareto_front`` by its latest one; neither counts NaN or infinities; a
metric neither the scheduler's nor reported by any trial is an error in both.
"""

from __future__ import annotations

import math

import pytest

from aiotune import InvalidArgumentError
from aiotune.status import TuningStatus

INF, NAN = math.inf, math.nan


def _best_id(status: TuningStatus, metric: int | str = 0, mode: str | None = None) -> int | None:
    best = status.best_trial(metric, mode)
    return None if best is None else best.trial_id


def _status(reports: dict[int, list[dict[str, object]]], mode: str = "min") -> TuningStatus:
    status = TuningStatus(["score"], [mode])
    for tid, results in reports.items():
        status.on_trial_started(tid, {"tid": tid})
        for result in results:
            status.on_result(tid, result)
    return status


@pytest.mark.parametrize("mode", ["min", "max"])
def test_non_finite_values_never_win(mode: str) -> None:
    """+inf used to win in "max" mode and -inf in "min" mode (a diverged trial as the best)."""
    winning_inf = INF if mode == "max" else -INF
    status = _status(
        {
            0: [{"score": winning_inf}],
            1: [{"score": 2.0}, {"score": winning_inf}],
            2: [{"score": 3.0}],
            3: [{"score": NAN}],
            4: [{"score": -winning_inf}],
        },
        mode,
    )
    best = status.best_trial(0)
    assert best is not None
    assert best.trial_id == (2 if mode == "max" else 1)
    assert best.best["score"] == (3.0 if mode == "max" else 2.0)
    assert status.trials[0].best == {} and status.trials[4].best == {}
    # The same for a mode asked for explicitly, and for the other direction.
    other = "min" if mode == "max" else "max"
    assert _best_id(status, "score", mode) == best.trial_id
    assert _best_id(status, "score", other) == (1 if other == "min" else 2)
    # The run's extremes, which stopping criteria bound, still see the infinities.
    assert status.metric_min["score"] == -INF and status.metric_max["score"] == INF


def test_only_non_finite_values_mean_no_best() -> None:
    status = _status({0: [{"score": INF}], 1: [{"score": -INF}], 2: [{"score": NAN}]}, "max")
    assert status.best_trial(0) is None
    assert status.best_trial("score", "min") is None


def test_huge_ints_and_non_numbers_are_ignored_not_fatal() -> None:
    status = _status(
        {0: [{"score": 10**400}, {"score": "bad"}, {"score": True}], 1: [{"score": 5}]}
    )
    best = status.best_trial(0)
    assert best is not None and best.trial_id == 1 and best.best["score"] == 5.0


def test_best_counts_each_trials_best_report_the_front_its_latest() -> None:
    """Trial 0 peaks at 0.9 then falls to 0.1; trial 1 stays at 0.5."""
    status = _status(
        {0: [{"score": 0.9}, {"score": 0.1}], 1: [{"score": 0.5}, {"score": 0.5}]}, "max"
    )
    assert _best_id(status, 0) == 0
    assert [t.trial_id for t in status.pareto_front()] == [1]


def test_the_front_leaves_out_latest_reports_with_infinities() -> None:
    status = TuningStatus(["a", "b"], ["min", "min"])
    for tid, (a, b) in enumerate([(-INF, 5.0), (1.0, 2.0), (2.0, 1.0), (3.0, 3.0), (0.5, NAN)]):
        status.on_trial_started(tid, {})
        status.on_result(tid, {"a": a, "b": b})
    assert [t.trial_id for t in status.pareto_front()] == [1, 2]


def test_any_reported_metric_has_a_best_in_either_mode() -> None:
    status = _status(
        {
            0: [{"score": 1.0, "acc": 0.2}, {"score": 1.0, "acc": 0.5}],
            1: [{"score": 2.0, "acc": 0.6}, {"score": 2.0}],
            2: [{"score": 3.0, "acc": INF}],
        }
    )
    assert status.reported_metrics == ["score", "acc"]
    assert status.resolve_metric("acc") == ("acc", "min")  # Syne Tune's default mode
    assert _best_id(status, "acc") == 0  # 0.2
    assert _best_id(status, "acc", "max") == 1  # 0.6, though its latest report lacks acc
    assert [t.trial_id for t in status.pareto_front(["acc"], "max")] == [0]


def test_an_unknown_metric_is_named_with_those_that_exist() -> None:
    status = _status({0: [{"score": 1.0, "acc": 0.5}]})
    for call in (
        lambda: status.best_trial("nope"),
        lambda: status.pareto_front(["nope"]),
        lambda: status.pareto_front(["score", "nope"]),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        message = str(info.value)
        assert "'nope'" in message and "['score']" in message and "'acc'" in message
    with pytest.raises(InvalidArgumentError, match="index 1 out of range .*'score'"):
        status.best_trial(1)
    with pytest.raises(InvalidArgumentError, match="index -1 out of range"):
        status.best_trial(-1)
    with pytest.raises(InvalidArgumentError, match="mode must be 'min' or 'max', got 'maximize'"):
        status.best_trial("score", "maximize")


def test_a_scheduler_metric_not_reported_yet_is_no_error() -> None:
    """Before any report the front is empty and there is no best; neither is a typo."""
    status = TuningStatus(["a", "b"], ["min", "max"])
    assert status.best_trial("b") is None
    assert status.pareto_front() == []
