"""TuningStatus: which trial is best and which are on the Pareto front.

Pure bookkeeping, no event loop. Neither counts NaN or infinities: a diverged
trial reporting ``inf`` must not win.
"""

from __future__ import annotations

import math

import pytest

from aiotune.status import TuningStatus

INF, NAN = math.inf, math.nan


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
    # The run's extremes, which stopping criteria bound, still see the infinities.
    assert status.metric_min["score"] == -INF and status.metric_max["score"] == INF


def test_only_non_finite_values_mean_no_best() -> None:
    status = _status({0: [{"score": INF}], 1: [{"score": -INF}], 2: [{"score": NAN}]}, "max")
    assert status.best_trial(0) is None


def test_huge_ints_and_non_numbers_are_ignored_not_fatal() -> None:
    status = _status(
        {0: [{"score": 10**400}, {"score": "bad"}, {"score": True}], 1: [{"score": 5}]}
    )
    best = status.best_trial(0)
    assert best is not None and best.trial_id == 1 and best.best["score"] == 5.0


def test_the_front_leaves_out_latest_reports_with_infinities() -> None:
    status = TuningStatus(["a", "b"], ["min", "min"])
    for tid, (a, b) in enumerate([(-INF, 5.0), (1.0, 2.0), (2.0, 1.0), (3.0, 3.0), (0.5, NAN)]):
        status.on_trial_started(tid, {})
        status.on_result(tid, {"a": a, "b": b})
    assert [t.trial_id for t in status.pareto_front()] == [1, 2]
