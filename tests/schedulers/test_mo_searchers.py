"""MOREA and MORandomScalarizationBayesOpt: parents and scalarizations checked by hand,
modes and unusable reports, state round trips, the shared battery, and a whole run."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest

from aiotune._pareto import pareto_mask
from aiotune.config_space import choice, uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import MOREA, MOLinearScalarizationBayesOpt, MORandomScalarizationBayesOpt
from aiotune.schedulers.base import Scheduler
from aiotune.schedulers.searchers import (
    LinearScalarizationSearcher,
    MOBayesOptSearcher,
    MOREASearcher,
)
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}


def feed(searcher: Any, n: int, objective: Any, first_id: int = 0) -> list[dict[str, Any]]:
    """Suggest and evaluate ``n`` configs one after another; returns the configs."""
    configs = []
    for trial_id in range(first_id, first_id + n):
        config = searcher.suggest()
        trial = Trial(trial_id=trial_id, config=config)
        searcher.on_trial_add(trial)
        searcher.on_trial_complete(trial, objective(config))
        configs.append(config)
    return configs


def front_problem(config: dict[str, Any]) -> dict[str, float]:
    """Two objectives to minimize whose Pareto set is y = 0, x in [0, 1] (a convex front)."""
    x, y = config["x"], config["y"]
    return {"f1": x + y, "f2": (1.0 - x) ** 2 + y}


# -- MOREA ------------------------------------------------------------------------------


def test_morea_parent_is_the_sample_member_nsga2_places_first() -> None:
    searcher = MOREASearcher(SPACE, ["f1", "f2"], population_size=4, sample_size=4,
                             random_seed=0)
    values = {0: (0.5, 0.5), 1: (0.6, 0.6), 2: (0.7, 0.4), 3: (0.4, 0.9)}  # 1 dominated
    configs = {i: {"x": i / 10, "y": i / 10} for i in values}
    for i, (a, b) in values.items():
        searcher.on_trial_complete(Trial(trial_id=i, config=configs[i]), {"f1": a, "f2": b})
    # The first front is {0, 2, 3}; crowding puts its ends 2 and 3 before 0, and of the
    # ends the one first in input order (2) wins the tie.
    for _ in range(20):
        child = searcher.suggest()
        kept = [name for name in ("x", "y") if child[name] == configs[2][name]]
        assert len(kept) == 1, child  # one hyperparameter of trial 2 mutated


def test_morea_modes_and_unusable_reports() -> None:
    searcher = MOREASearcher(SPACE, ["acc", "cost"], mode=["max", "min"], population_size=2,
                             sample_size=2)
    t = [Trial(trial_id=i, config={"x": 0.1 * i, "y": 0.0}) for i in range(5)]
    searcher.on_result(t[0], {"acc": 0.9, "cost": 1.0})
    searcher.on_result(t[1], {"acc": 0.5, "cost": 2.0})
    searcher.on_result(t[2], {"acc": float("nan"), "cost": 0.0})
    searcher.on_result(t[3], {"acc": 0.95})
    searcher.on_result(t[4], {"acc": True, "cost": 0.0})
    state = searcher.state()
    assert [(tid, v) for tid, _, v in state.population] == [(0, [-0.9, 1.0]), (1, [-0.5, 2.0])]
    for _ in range(10):  # trial 0 dominates trial 1 (higher acc, lower cost)
        child = searcher.suggest()
        assert child["x"] == 0.0 or child["y"] == 0.0
        assert child["x"] != 0.1


def test_morea_state_round_trip_continues_the_same_sequence() -> None:
    a = MOREASearcher(SPACE, ["f1", "f2"], population_size=5, sample_size=3, random_seed=3)
    feed(a, 12, front_problem)
    data = msgspec.json.encode(a.state())
    b = MOREASearcher(SPACE, ["f1", "f2"], population_size=5, sample_size=3, random_seed=99)
    b.restore(msgspec.json.decode(data))
    assert feed(a, 6, front_problem, 12) == feed(b, 6, front_problem, 12)


# -- random scalarization BO ------------------------------------------------------------


def test_scalarization_is_augmented_chebyshev_of_scaled_objectives() -> None:
    searcher = MOBayesOptSearcher(SPACE, ["f1", "f2"], random_seed=0, rho=0.1)
    obs = [[1.0, 30.0], [3.0, 10.0], [2.0, 20.0]]
    weights = np.random.default_rng(0).dirichlet(np.ones(2))
    got = searcher._targets(obs)
    scaled = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    want = (scaled * weights).max(axis=1) + 0.1 * (scaled @ weights)
    assert np.allclose(got, want)
    again = searcher._targets(obs)  # fresh weights for every suggestion
    assert not np.allclose(got, again)
    with pytest.raises(InvalidArgumentError, match=r"rho must be a number in \[0.0, 1.0\]"):
        MOBayesOptSearcher(SPACE, ["f1", "f2"], rho=2)


def test_bo_suggestions_spread_along_the_front() -> None:
    """After 10 random configs, the model's 30 land near the Pareto set and spread over it."""
    searcher = MOBayesOptSearcher(SPACE, ["f1", "f2"], random_seed=1, num_init_random=10)
    configs = feed(searcher, 40, front_problem)
    model = configs[10:]
    near = [c for c in model if c["y"] < 0.05]
    assert len(near) >= 24, [round(c["y"], 3) for c in model]
    xs = np.array([c["x"] for c in near])
    # fresh weights each time: 10-90% of x over 0.09-0.81 here; fixed equal weights: 0.30-0.66
    assert np.percentile(xs, 10) < 0.2 and np.percentile(xs, 90) > 0.7, np.sort(xs)
    values = np.array([[front_problem(c)["f1"], front_problem(c)["f2"]] for c in configs])
    assert pareto_mask(values)[10:].sum() >= 10  # most of the final front came from the model


def test_bo_modes_unusable_reports_and_state_round_trip() -> None:
    space = {**SPACE, "opt": choice(["a", "b"])}
    a = MOBayesOptSearcher(space, ["f1", "score"], mode=["min", "max"], random_seed=2,
                           num_init_random=4)

    def objective(config: dict[str, Any]) -> dict[str, float]:
        f = front_problem(config)
        return {"f1": f["f1"], "score": -f["f2"]}

    feed(a, 8, objective)
    late = Trial(trial_id=100, config={"x": 0.5, "y": 0.5, "opt": "a"})
    for bad in ({"f1": 1.0}, {"f1": math.nan, "score": 1.0}, {"f1": 1.0, "score": math.inf}):
        a.on_trial_complete(late, bad)
    state = a.state()
    assert len(state.observations) == 8
    assert all(len(v) == 2 for _, _, v in state.observations)
    first = state.observations[0]
    assert first[2] == [objective(first[1])["f1"], -objective(first[1])["score"]]
    b = MOBayesOptSearcher(space, ["f1", "score"], mode=["min", "max"], random_seed=7,
                           num_init_random=4)
    b.restore(msgspec.json.decode(msgspec.json.encode(state)))
    assert feed(a, 3, objective, 8) == feed(b, 3, objective, 8)


def test_linear_scalarization_uses_the_fixed_weights_and_finds_their_optimum() -> None:
    searcher = LinearScalarizationSearcher(SPACE, ["f1", "f2"], mode=["min", "max"],
                                           scalarization_weights=[1, 3], random_seed=0,
                                           num_init_random=8)
    assert np.allclose(searcher._targets([[1.0, -2.0], [0.5, 1.0]]), [-5.0, 3.5])
    configs = feed(searcher, 30, lambda c: {"f1": front_problem(c)["f1"],
                                            "f2": -front_problem(c)["f2"]})
    # f1 + 3 f2 = x + y + 3 (1 - x)^2 + 3 y is least at y = 0, x = 5/6
    best = min(configs[8:], key=lambda c: c["x"] + 4 * c["y"] + 3 * (1 - c["x"]) ** 2)
    assert abs(best["x"] - 5 / 6) < 0.05 and best["y"] < 0.02, best
    assert np.allclose(MOLinearScalarizationBayesOpt(SPACE, ["a", "b"]).searcher.weights, 1)
    for bad, match in (([1.0], "one weight per metric"), ([1.0, -1.0], r"\[1\] must be"),
                       ([0, 0], "not all be 0"), ([1.0, math.nan], "must be a number")):
        with pytest.raises(InvalidArgumentError, match=match):
            MOLinearScalarizationBayesOpt(SPACE, ["a", "b"], scalarization_weights=bad)


# -- schedulers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls", [MOREA, MORandomScalarizationBayesOpt, MOLinearScalarizationBayesOpt]
)
def test_scheduler_arguments(cls: Any) -> None:
    scheduler = cls(SPACE, metrics=["f1", "f2"], mode="max", random_seed=0)
    assert scheduler.metric == ["f1", "f2"] and scheduler.mode == ["max", "max"]
    assert scheduler.searcher.metrics == ["f1", "f2"]
    assert scheduler.searcher.modes == ["max", "max"]
    with pytest.raises(InvalidArgumentError, match="at least two objectives"):
        cls(SPACE, "f1")
    with pytest.raises(InvalidArgumentError, match="repeat"):
        cls(SPACE, ["f1", "f1"])
    with pytest.raises(InvalidArgumentError, match="two names for the same setting"):
        cls(SPACE, ["a", "b"], metrics=["a", "c"])
    with pytest.raises(InvalidArgumentError, match="mode"):
        cls(SPACE, ["a", "b"], mode=["min"])


def test_a_searcher_instance_must_optimize_the_schedulers_objectives() -> None:
    from aiotune.schedulers import FIFOScheduler

    searcher = MOREASearcher(SPACE, ["f1", "f2"], mode=["min", "max"])
    FIFOScheduler(SPACE, ["f1", "f2"], ["min", "max"], searcher=searcher)
    with pytest.raises(InvalidArgumentError, match="searcher optimizes"):
        FIFOScheduler(SPACE, ["f1", "f2"], "min", searcher=searcher)


class TestMOREAConformance(SchedulerTestCase):
    """The shared battery; the epoch is the second objective."""

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return MOREA(config_space, [metric, "epoch"], mode=[mode, "min"], random_seed=seed,
                     population_size=4, sample_size=2)


class TestMORandomScalarizationBayesOptConformance(SchedulerTestCase):
    """The shared battery; the epoch is the second objective."""

    def make_scheduler(
        self, config_space: dict[str, Any], metric: str, mode: str, seed: int
    ) -> Scheduler:
        return MORandomScalarizationBayesOpt(
            config_space, [metric, "epoch"], mode=[mode, "min"], random_seed=seed,
            searcher_kwargs={"num_init_random": 3},
        )


def test_simulated_run_resumes_and_finds_a_front(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiotune import StoppingCriterion, Tuner
    from aiotune.backends import SimulatorBackend
    from aiotune.blackbox.learning_curves import SyntheticLearningCurves

    monkeypatch.setenv("AIOTUNE_RESULTS", str(tmp_path))
    bb = SyntheticLearningCurves(max_epochs=9, seed=0)
    objectives = ["valid_error", "elapsed_time"]
    tuner = Tuner(
        trial_backend=SimulatorBackend(bb, seed=0),
        scheduler=MORandomScalarizationBayesOpt(bb.config_space, objectives, random_seed=0),
        stop_criterion=StoppingCriterion(max_num_trials_started=16),
        n_workers=2,
        tuner_name="mobo",
        suffix_tuner_name=False,
        print_update_interval=3600.0,
    )
    tuner.run()
    again = Tuner.load(tmp_path / "mobo", trial_backend=SimulatorBackend(bb, seed=0),
                       stop_criterion=StoppingCriterion(max_num_trials_started=24))
    assert isinstance(again.scheduler, MORandomScalarizationBayesOpt)
    before = tuner.scheduler.searcher.state().observations  # type: ignore[attr-defined]
    assert again.scheduler.searcher.state().observations == before  # restored, not rebuilt
    assert len(before) >= 15 and all(len(v) == 2 for _, _, v in before)
    again.run()
    assert again.status.num_trials_started == 25
    front = again.pareto_front()
    assert front and all(len(values) == 2 for _, _, values in front)
