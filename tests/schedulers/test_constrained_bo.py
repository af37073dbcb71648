"""ConstrainedBayesianOptimization: the acquisition by hand and against finite differences,
a constrained problem whose unconstrained optimum is infeasible, bad input, state, battery."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import pytest
from scipy.special import ndtr

from aiotune.config_space import uniform
from aiotune.errors import InvalidArgumentError
from aiotune.schedulers import ConstrainedBayesianOptimization
from aiotune.schedulers.searchers import BayesOptSearcher, ConstrainedBayesOptSearcher
from aiotune.schedulers.searchers.gp.acquisition import ConstrainedEI, expected_improvement
from aiotune.schedulers.searchers.gp.model import GPHyperparameters, GPPosterior
from aiotune.testing.scheduler_case import SchedulerTestCase
from aiotune.trial import Trial

SPACE = {"x": uniform(0.0, 1.0), "y": uniform(0.0, 1.0)}


def problem(config: dict[str, Any]) -> dict[str, float]:
    """Least at (0.8, 0.8), but feasible only where x + y <= 1: there the best is (0.5, 0.5)."""
    x, y = config["x"], config["y"]
    return {"loss": (x - 0.8) ** 2 + (y - 0.8) ** 2, "excess": x + y - 1.0}


def run(searcher: Any, n: int, first_id: int = 0) -> list[dict[str, Any]]:
    configs = []
    for trial_id in range(first_id, first_id + n):
        config = searcher.suggest()
        trial = Trial(trial_id=trial_id, config=config)
        searcher.on_trial_add(trial)
        searcher.on_trial_complete(trial, problem(config))
        configs.append(config)
    return configs


def test_acquisition_is_ei_times_probability_of_feasibility_with_its_gradient() -> None:
    X = np.array([[0.1], [0.4], [0.9]])
    hyp = GPHyperparameters(np.array([0.3]), 1.0, 1e-6)
    objective = GPPosterior(X, np.array([0.5, -1.0, 0.5]), hyp)
    constraint = GPPosterior(X, np.array([-1.0, 0.2, 1.0]), hyp)
    acq = ConstrainedEI(objective, -1.0, constraint, 0.1)
    grid = np.linspace(0.0, 1.0, 7)[:, None]
    m, v = objective.predict(grid)
    mc, vc = constraint.predict(grid)
    want = expected_improvement(m, np.sqrt(v), -1.0) * ndtr((0.1 - mc) / np.sqrt(vc))
    assert np.allclose(acq(grid), want)
    assert np.allclose(ConstrainedEI(objective, None, constraint, 0.1)(grid),
                       ndtr((0.1 - mc) / np.sqrt(vc)))
    for best in (-1.0, None):
        a = ConstrainedEI(objective, best, constraint, 0.1)
        for x0 in (0.25, 0.6):
            value, grad = a.with_grad(np.array([x0]))
            h = 1e-6
            numeric = (a(np.array([[x0 + h]]))[0] - a(np.array([[x0 - h]]))[0]) / (2 * h)
            assert value == pytest.approx(a(np.array([[x0]]))[0])
            assert grad[0] == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_finds_the_constrained_optimum_where_plain_bo_chases_the_infeasible_one() -> None:
    constrained = ConstrainedBayesOptSearcher(SPACE, "loss", constraint_attr="excess",
                                              random_seed=0, num_init_random=8)
    plain = BayesOptSearcher(SPACE, "loss", random_seed=0, num_init_random=8)
    ours, theirs = run(constrained, 30)[8:], run(plain, 30)[8:]

    def feasible(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [c for c in configs if problem(c)["excess"] <= 0]

    assert len(feasible(ours)) >= 15 > 5 >= len(feasible(theirs))
    best = min(feasible(ours), key=lambda c: problem(c)["loss"])
    assert problem(best)["loss"] < 0.19, best  # the constrained optimum is 0.18 at (0.5, 0.5)


def test_parallel_suggestions_do_not_pile_up_where_one_already_runs() -> None:
    """Gramacy et al.'s toy (linear objective, binding constraint): four suggestions in a
    row, each pending when the next is asked; without the pending configs in the incumbent
    and the constraint GP, all four were the same point."""

    def toy(config: dict[str, Any]) -> dict[str, float]:
        x, y = config["x"], config["y"]
        c1 = 1.5 - x - 2 * y - 0.5 * math.sin(2 * math.pi * (x**2 - 2 * y))
        return {"loss": x + y, "c": max(c1, x**2 + y**2 - 1.5)}

    for seed in range(4):
        searcher = ConstrainedBayesOptSearcher(SPACE, "loss", constraint_attr="c",
                                               random_seed=seed, num_init_random=8)
        for trial_id in range(16):
            config = searcher.suggest()
            trial = Trial(trial_id=trial_id, config=config)
            searcher.on_trial_add(trial)
            searcher.on_trial_complete(trial, toy(config))
        batch = []
        for trial_id in range(16, 20):
            config = searcher.suggest()
            searcher.on_trial_add(Trial(trial_id=trial_id, config=config))
            batch.append([config["x"], config["y"]])
        points = np.array(batch)
        gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
        assert gaps.min() > 1e-4, (seed, points)


def test_no_feasible_config_yet_means_search_for_one() -> None:
    searcher = ConstrainedBayesOptSearcher(SPACE, "loss", constraint_attr="excess",
                                           random_seed=1, num_init_random=1)
    corner = Trial(trial_id=0, config={"x": 0.95, "y": 0.95})  # infeasible (excess 0.9)
    searcher.on_trial_add(corner)
    searcher.on_trial_complete(corner, problem(corner.config))
    assert searcher.suggest() is not None  # a random first config was drawn already
    nxt = run(searcher, 6, first_id=1)
    assert any(problem(c)["excess"] <= 0 for c in nxt)


def test_reports_without_a_usable_constraint_are_ignored_and_state_round_trips() -> None:
    a = ConstrainedBayesOptSearcher(SPACE, "loss", constraint_attr="excess", mode="min",
                                    random_seed=2, num_init_random=4)
    run(a, 10)
    t = Trial(trial_id=50, config={"x": 0.5, "y": 0.5})
    for bad in ({"loss": 1.0}, {"loss": 1.0, "excess": math.nan}, {"loss": 1.0, "excess": "x"},
                {"loss": math.nan, "excess": 0.0}):
        a.on_trial_complete(t, bad)
    state = a.state()
    assert len(state.observations) == 10 and state.constraint_theta  # a fitted constraint GP
    b = ConstrainedBayesOptSearcher(SPACE, "loss", constraint_attr="excess", random_seed=9,
                                    num_init_random=4)
    b.restore(msgspec.json.decode(msgspec.json.encode(state)))
    assert run(a, 3, 10) == run(b, 3, 10)


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(InvalidArgumentError, match="constraint_attr must name"):
        ConstrainedBayesianOptimization(SPACE, "loss", constraint_attr="")
    with pytest.raises(InvalidArgumentError, match="is the metric itself"):
        ConstrainedBayesianOptimization(SPACE, "loss", constraint_attr="loss")
    s = ConstrainedBayesianOptimization(SPACE, "acc", "mem", mode="max", num_init_random=3)
    assert s.searcher.constraint_attr == "mem" and s.searcher.num_init_random == 3


class TestConstrainedBOConformance(SchedulerTestCase):
    """The shared battery; the constraint (epoch - 2) holds in the first two epochs."""

    def make_scheduler(self, config_space: dict[str, Any], metric: str, mode: str,
                       seed: int) -> Any:
        return ConstrainedBayesianOptimization(config_space, metric, "epoch", mode=mode,
                                               random_seed=seed, num_init_random=3)
