"""MOASHA and the Pareto helpers: fronts, crowding and decisions checked by hand, against
brute force, through a state round trip, and in a simulated run read back from its folder."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiotune._pareto import (
    ParetoRanking,
    crowding_distance,
    nondominated_fronts,
    nsga2_order,
    pareto_mask,
)
from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.events import Decision
from aiotune.schedulers import MOASHA
from aiotune.schedulers.base import Scheduler
from aiotune.schedulers.moasha import MOASHAState
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

C, S = Decision.CONTINUE, Decision.STOP
SPACE = {"x": uniform(0.0, 1.0), "epochs": 9}

# -- the Pareto helpers -------------------------------------------------------------------


def test_fronts_crowding_and_order_by_hand() -> None:
    p = np.array([[1, 5], [2, 3], [3, 4], [4, 1], [5, 5], [2, 3]])
    fronts = nondominated_fronts(p)
    assert [f.tolist() for f in fronts] == [[0, 1, 3, 5], [2], [4]]
    assert pareto_mask(p).tolist() == [True, True, False, True, False, True]
    # front 0 sorted by x: 0 (1), 1 (2), 5 (2), 3 (4); by y: 3 (1), 1 (3), 5 (3), 0 (5)
    # interior 1: (2-1)/3 + (3-1)/4; interior 5: (4-2)/3 + (5-3)/4; ends inf
    assert crowding_distance(p[fronts[0]]).tolist() == pytest.approx(
        [math.inf, 1 / 3 + 1 / 2, math.inf, 2 / 3 + 1 / 2]
    )
    assert nsga2_order(p).tolist() == [0, 3, 5, 1, 2, 4]
    assert nondominated_fronts(np.zeros((0, 2))) == []
    with pytest.raises(ValueError, match="2-d"):
        pareto_mask(np.zeros(3))


points_2d_or_3d = st.integers(2, 3).flatmap(
    lambda m: st.lists(st.lists(st.integers(0, 4), min_size=m, max_size=m),
                       min_size=1, max_size=25)
)


@settings(max_examples=80, deadline=None)
@given(points_2d_or_3d)
def test_fronts_agree_with_brute_force(rows: list[list[int]]) -> None:
    """Both paths: the O(n log n) sweep for two objectives, the matrix for more."""
    p = np.array(rows, dtype=float)

    def dominates(a: np.ndarray, b: np.ndarray) -> bool:
        return bool((a <= b).all() and (a < b).any())

    left = set(range(len(p)))
    expected = []
    while left:  # peel by brute force: the points nothing left dominates
        front = {i for i in left if not any(dominates(p[j], p[i]) for j in left)}
        expected.append(sorted(front))
        left -= front
    assert [f.tolist() for f in nondominated_fronts(p)] == expected
    assert np.flatnonzero(pareto_mask(p)).tolist() == expected[0]
    assert sorted(nsga2_order(p).tolist()) == list(range(len(p)))


@settings(max_examples=80, deadline=None)
@given(points_2d_or_3d)
def test_incremental_ranking_matches_a_whole_sort(rows: list[list[int]]) -> None:
    """MOASHA's per-rung ranking gives each new point the place a full NSGA-II sort would."""
    p = np.array(rows, dtype=float)
    ranking = ParetoRanking(p.shape[1])
    for i in range(len(p)):
        order = nsga2_order(p[: i + 1])
        assert ranking.insert(p[i]) == int(np.flatnonzero(order == i)[0])
        numbers = np.empty(i + 1, dtype=int)
        for k, front in enumerate(nondominated_fronts(p[: i + 1])):
            numbers[front] = k
        assert ranking.fronts().tolist() == numbers.tolist()


# -- MOASHA decisions ----------------------------------------------------------------------


def make(**kw: Any) -> MOASHA:
    kw.setdefault("random_seed", 0)
    return MOASHA(SPACE, kw.pop("metric", ["loss", "size"]), **kw)


async def add(s: MOASHA, tid: int) -> Trial:
    sug = await s.suggest()
    assert sug is not None
    trial = Trial(trial_id=tid, config=sug.config)
    await s.on_trial_add(trial)
    return trial


async def report(s: MOASHA, t: Trial, epoch: int, loss: float, size: float) -> Decision:
    return await s.on_result(t, {"epoch": epoch, "loss": loss, "size": size})


@pytest.mark.asyncio
async def test_decisions_by_hand() -> None:
    s = make()  # rungs at epochs 1 and 3
    assert s.levels == [1, 3]
    t = [await add(s, i) for i in range(6)]
    assert await report(s, t[0], 1, 1.0, 1.0) is C  # first at the rung
    assert await report(s, t[1], 1, 2.0, 2.0) is S  # dominated: place 1 of 2
    assert await report(s, t[2], 1, 0.5, 3.0) is C  # front {0, 2}: place 1 of 3 (1/3)
    assert await report(s, t[3], 1, 3.0, 0.5) is C  # an end of front {0, 2, 3}: place 1 of 4
    # dominates 0 and 1, but sits inside front {2, 3, 4} where the ends go first: place 2 of 5
    assert await report(s, t[4], 1, 0.9, 0.9) is S
    assert await report(s, t[0], 2, 9.0, 9.0) is C  # between rungs: no decision
    assert await report(s, t[0], 3, 1.0, 1.0) is C  # first at rung 3
    assert await report(s, t[2], 3, 2.0, 3.0) is S  # dominated there
    assert await report(s, t[0], 10, 1.0, 1.0) is S  # beyond max_t
    assert sorted(s.rung_values()[0]) == [0, 1, 2, 3, 4]
    assert s.rung_values()[1] == {0: [1.0, 1.0], 2: [2.0, 3.0]}
    assert await report(s, t[5], 1, 0.1, 0.1) is C  # dominates the whole rung


@pytest.mark.asyncio
async def test_modes_nan_and_missing_objectives() -> None:
    s = make(mode=["min", "max"])
    t = [await add(s, i) for i in range(4)]
    assert await report(s, t[0], 1, 1.0, 5.0) is C
    assert await report(s, t[1], 1, 1.0, 4.0) is S  # less "size" is worse when maximized
    assert s.rung_values()[0][1] == [1.0, -4.0]
    assert await report(s, t[2], 1, math.nan, 9.0) is S  # never recorded
    assert 2 not in s.rung_values()[0]
    assert await s.on_result(t[3], {"epoch": 1, "loss": 0.1}) is C  # waits for both
    assert 3 not in s.rung_values()[0]
    assert await report(s, t[3], 3, 0.1, 9.0) is C  # decided at the rung it reached
    assert s.rung_values()[1] == {3: [0.1, -9.0]}


@pytest.mark.asyncio
async def test_state_round_trip_gives_the_same_decisions() -> None:
    a = make(brackets=2)
    trials = [await add(a, i) for i in range(8)]
    rng = np.random.default_rng(0)
    values = rng.random((8, 2))
    for t, (loss, size) in zip(trials[:6], values, strict=False):
        await report(a, t, 1, loss, size)
    data = msgspec.json.decode(msgspec.json.encode(a.state()))  # what tuner.json holds
    b = make(brackets=2)
    b.restore(data)
    assert isinstance(b.state(), MOASHAState)
    for t, (loss, size) in zip(trials[6:], values[6:], strict=True):
        assert await report(a, t, 1, loss, size) is await report(b, t, 1, loss, size)
    assert (await a.suggest()).config == (await b.suggest()).config
    with pytest.raises(InvalidArgumentError, match="rungs"):
        make(max_t=27).restore(data)


def test_arguments() -> None:
    assert make(metrics=["loss", "size"]).metric == ["loss", "size"]  # Syne Tune's name
    assert make(resource_attr="step").time_attr == "step"
    with pytest.raises(InvalidArgumentError, match="at least two objectives.*use ASHA"):
        make(metric="loss")
    with pytest.raises(InvalidArgumentError, match="two names for the same setting"):
        make(metric=["a", "b"], metrics=["b", "c"])
    with pytest.raises(InvalidArgumentError, match="repeat"):
        make(metric=["a", "a"])
    with pytest.raises(InvalidArgumentError, match="mode"):
        make(mode=["min"])
    with pytest.raises(InvalidArgumentError, match="grace_period"):
        make(grace_period=10)


class TestMOASHAConformance(SchedulerTestCase):
    """The shared battery; the epoch is the second objective, so every report is ranked."""

    max_epochs = 9

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return MOASHA(
            config_space, [metric, "epoch"], mode=[mode, "min"], max_t=9, random_seed=seed
        )


# -- a whole run --------------------------------------------------------------------------


def test_simulated_run_and_its_pareto_front(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune import StoppingCriterion, Tuner
    from aiotune.backends import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves
    from aiotune.experiments import load_experiment

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=27, seed=0)
    objectives = ["valid_error", "elapsed_time"]
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=MOASHA(bb.config_space, objectives, max_t=27, random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_started=60),
        n_workers=4,
        tuner_name="mo",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    tuner.run()
    status = tuner.status
    assert status.num_trials_stopped > 0  # MOASHA stopped some trials early
    front = tuner.pareto_front()
    assert front
    last = {tid: t.last_result for tid, t in status.trials.items() if t.last_result}
    points = {tid: [r["valid_error"], r["elapsed_time"]] for tid, r in last.items()}
    for tid, config, values in front:
        assert config == status.trials[tid].config
        assert values == dict(zip(objectives, points[tid], strict=True))
        assert not any(  # nobody dominates a front member ...
            all(b <= a for a, b in zip(points[tid], q, strict=True)) and points[tid] != q
            for q in points.values()
        )
    front_ids = {tid for tid, _, _ in front}
    for tid, p in points.items():  # ... and everyone else is dominated
        if tid not in front_ids:
            assert any(all(b <= a for a, b in zip(p, q, strict=True)) and p != q
                       for q in points.values())
    df = load_experiment("mo").pareto_front()
    assert df["trial_id"].tolist() == sorted(front_ids)
    assert df["valid_error"].tolist() == [points[t][0] for t in sorted(front_ids)]
    # one objective maximized instead: another front, from the same reports
    flipped = tuner.pareto_front(mode=["min", "max"])
    assert {t for t, _, _ in flipped} != front_ids
    with pytest.raises(InvalidArgumentError, match="mode"):
        tuner.pareto_front(mode="best")


def test_a_moasha_run_resumes_from_its_folder(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tuner.json rebuilds MOASHA (a list-valued metric) and its saved rungs continue."""
    from aiotune import StoppingCriterion, Tuner
    from aiotune.backends import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    first = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=MOASHA(bb.config_space, metrics=["valid_error", "elapsed_time"], max_t=9,
                         random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_started=20),
        n_workers=2, tuner_name="mo-resume", suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    first.run()
    loaded = Tuner.load(tmp_path / "mo-resume", trial_backend=SimulatorBackend(bb, seed=0),
                        stop_criterion=StoppingCriterion(max_num_trials_started=40))
    assert isinstance(loaded.scheduler, MOASHA)
    recorded = [dict(rung) for rung in loaded.scheduler.rung_values()]
    assert recorded == first.scheduler.rung_values()  # restored, not rebuilt empty
    loaded.run()
    assert loaded.status.num_trials_started == 41
    assert sum(len(r) for r in loaded.scheduler.rung_values()) > sum(len(r) for r in recorded)
